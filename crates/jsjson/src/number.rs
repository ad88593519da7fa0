//! `Number.prototype.toString()` for JSON numbers.

use std::fmt::Write as _;

use serde_json::Number;

/// A JSON number as JavaScript prints it: every number is a double, so
/// integers beyond 2^53 lose precision; `1.0` prints `1`; exponents follow
/// `Number.prototype.toString`.
pub fn number_to_string(n: &Number) -> String {
    const SAFE: u64 = 1 << 53;
    if let Some(u) = n.as_u64()
        && u <= SAFE
    {
        return u.to_string();
    }
    if let Some(i) = n.as_i64()
        && i.unsigned_abs() <= SAFE
    {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) => f64_to_string(f),
        None => n.to_string(),
    }
}

/// `Number.prototype.toString()` for a double (ECMA-262 Number::toString,
/// radix 10). Rust's `{:e}` gives the shortest round-trip digits, which is
/// what the algorithm starts from.
pub fn f64_to_string(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let n = exponent + 1;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e >= 0 { '+' } else { '-' }, e.abs());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_doubles() {
        assert_eq!(f64_to_string(f64::NAN), "NaN");
        assert_eq!(f64_to_string(f64::INFINITY), "Infinity");
        assert_eq!(f64_to_string(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(f64_to_string(-0.0), "0");
        assert_eq!(f64_to_string(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f64_to_string(-1.25e-7), "-1.25e-7");
        assert_eq!(f64_to_string(1e21), "1e+21");
    }

    #[test]
    fn integers_beyond_2_pow_53_round_like_doubles() {
        let n = |s: &str| serde_json::from_str::<Number>(s).map(|n| number_to_string(&n));
        assert_eq!(
            n("9007199254740992").ok().as_deref(),
            Some("9007199254740992")
        );
        assert_eq!(
            n("9007199254740993").ok().as_deref(),
            Some("9007199254740992")
        );
        assert_eq!(
            n("-9007199254740993").ok().as_deref(),
            Some("-9007199254740992")
        );
        assert_eq!(n("-42").ok().as_deref(), Some("-42"));
        assert_eq!(n("1.0").ok().as_deref(), Some("1"));
        assert_eq!(n("-0.0").ok().as_deref(), Some("0"));
    }
}
