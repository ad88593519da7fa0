//! The `Retry-After` response header (RFC 9110 §10.2.3) as a wait, for every
//! client that retries: `appstrate api` (curl's semantics) and the model
//! clients of `appstrate run`. Callers apply their own caps.

// Keep the shape: short functions, no flag soup in signatures.
#![warn(clippy::too_many_lines, clippy::fn_params_excessive_bools)]

use std::time::{Duration, SystemTime};

/// The wait a `Retry-After` value asks for, measured from `now`:
/// delay-seconds (a fractional value is accepted, as curl does) or an
/// HTTP-date. `None` for anything else, a negative or non-finite number, or
/// a date that has already passed.
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    when.duration_since(now).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn delay_seconds() {
        let now = at(0);
        assert_eq!(parse("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse("1.5", now), Some(Duration::from_millis(1500)));
        assert_eq!(parse("-1", now), None);
        assert_eq!(parse("inf", now), None);
        assert_eq!(parse("NaN", now), None);
        assert_eq!(parse("", now), None);
        assert_eq!(parse("soon", now), None);
    }

    #[test]
    fn http_dates() {
        // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s after the epoch.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            parse(date, at(784_111_777 - 30)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse(date, at(784_111_777)), Some(Duration::ZERO));
        assert_eq!(parse(date, at(784_111_777 + 1)), None, "already passed");
        // The obsolete forms HTTP still allows.
        let rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
        assert_eq!(
            parse(rfc850, at(784_111_777 - 5)),
            Some(Duration::from_secs(5))
        );
        let asctime = "Sun Nov  6 08:49:37 1994";
        assert_eq!(
            parse(asctime, at(784_111_777 - 5)),
            Some(Duration::from_secs(5))
        );
    }
}
