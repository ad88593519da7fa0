//! Small text helpers with JavaScript string semantics, for outputs that
//! must line up exactly as the original's did.

/// `s.padEnd(width)`: pads with spaces to `width` UTF-16 code units.
pub fn pad_end(s: &str, width: usize) -> String {
    let len = s.encode_utf16().count();
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
    out
}

#[cfg(test)]
mod tests {
    use super::pad_end;

    #[test]
    fn pads_by_utf16_units() {
        assert_eq!(pad_end("ab", 4), "ab  ");
        assert_eq!(pad_end("abcdef", 4), "abcdef");
        assert_eq!(pad_end("é", 3), "é  ");
        assert_eq!(pad_end("😀", 3), "😀 ");
    }
}
