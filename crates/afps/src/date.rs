//! JavaScript `Date` text the platform writes (`toISOString`).

/// `new Date(ms).toISOString()` for a millisecond timestamp
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`). `None` when out of the supported range.
pub fn iso_from_millis(ms: f64) -> Option<String> {
    if !ms.is_finite() {
        return None;
    }
    let ms = ms.trunc() as i128;
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()?;
    let year = dt.year();
    let y = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", -year)
    } else {
        format!("+{year:06}")
    };
    Some(format!(
        "{y}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_strings_like_javascript() {
        assert_eq!(
            iso_from_millis(1_700_000_000.0).as_deref(),
            Some("1970-01-20T16:13:20.000Z")
        );
        assert_eq!(
            iso_from_millis(1_700_000_000_123.9).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(iso_from_millis(f64::NAN), None);
    }
}
