//! When and how long to wait before asking the model again.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Pi's defaults: 4 retries, exponential from 1 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(1000),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    pub fn disabled() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// `MODEL_RETRY_ENABLED=false` turns retries off (docs/run.md "Models").
    pub fn from_env_value(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Self::disabled(),
            _ => Self::default(),
        }
    }

    /// The wait before retry number `attempt` (1-based). A server's
    /// `Retry-After` wins, capped; otherwise exponential backoff with jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let jitter = rand::random::<f64>() * 0.25;
        exp.mul_f64(1.0 + jitter).min(self.max_delay)
    }
}

/// Parses `retry-after-ms` (OpenAI) or `Retry-After` in seconds. An HTTP
/// date is rare from model providers and is treated as "no hint".
pub fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    // Seconds or an HTTP date: the one parser `api` uses too.
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| appstrate_retryafter::parse(v, std::time::SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_ms_and_http_dates() {
        use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(later);
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).expect("ascii"));
        let wait = parse_retry_after(&h).expect("an HTTP date is a wait");
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn retry_after_wins_and_backoff_grows() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(3, Some(Duration::ZERO)), Duration::ZERO);
        assert_eq!(p.delay(1, Some(Duration::from_secs(999))), p.max_delay);
        let d1 = p.delay(1, None);
        let d3 = p.delay(3, None);
        assert!(d1 >= Duration::from_millis(1000) && d1 <= Duration::from_millis(1250));
        assert!(d3 >= Duration::from_millis(4000) && d3 <= Duration::from_millis(5000));
        assert_eq!(RetryPolicy::from_env_value(Some("false")).max_retries, 0);
    }

    #[test]
    fn parses_retry_after_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "2".parse().expect("header"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().expect("header"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(150)));
    }
}
