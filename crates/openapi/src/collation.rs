//! `String.prototype.localeCompare` as the original CLI ran it (ICU root
//! collation, default strength), reproduced exactly for ASCII, which is what
//! API paths and status codes are made of.
//!
//! ICU compares whole strings level by level: first the primary weights
//! (white space < punctuation < symbols < digits < letters, letters without
//! case), then, only when those are all equal, the case (lower before
//! upper). Control characters other than TAB..CR are ignored entirely.
//!
//! Characters outside ASCII are ordered after `z`/`Z` by code point, with no
//! accent or case level: an approximation documented in COMPATIBILITY.md.

use std::cmp::Ordering;

/// The ASCII characters that carry a primary weight, lowest first, as ICU's
/// root collation orders them (letters listed once, lower case).
const PRIMARY_ORDER: &[u8] =
    b"\t\n\x0b\x0c\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz";

const fn primary_table() -> [u16; 128] {
    let mut table = [0u16; 128];
    let mut i = 0;
    while i < PRIMARY_ORDER.len() {
        table[PRIMARY_ORDER[i] as usize] = (i + 1) as u16;
        i += 1;
    }
    // Upper-case letters share the primary weight of their lower case.
    let mut c = b'A';
    while c <= b'Z' {
        table[c as usize] = table[(c + 32) as usize];
        c += 1;
    }
    table
}

/// Primary weight per ASCII byte; 0 = completely ignorable.
static PRIMARY: [u16; 128] = primary_table();

/// Primary weight of a character, `None` when ICU ignores it.
fn primary(c: char) -> Option<u32> {
    let code = c as u32;
    if code < 128 {
        match PRIMARY[code as usize] {
            0 => None,
            w => Some(u32::from(w)),
        }
    } else {
        Some(1_000 + code)
    }
}

/// Tertiary (case) weight: upper case after lower case.
fn tertiary(c: char) -> u8 {
    u8::from(c.is_ascii_uppercase())
}

/// Compares like `a.localeCompare(b)`; `Equal` for strings ICU considers
/// equal (e.g. differing only by ignorable control characters).
pub fn locale_compare(a: &str, b: &str) -> Ordering {
    sort_key(a).cmp(&sort_key(b))
}

/// A key whose plain ordering is `locale_compare`'s: the primary weights, a
/// 0 separator (below every weight, so a shorter primary sequence sorts
/// first), then the case weights. Compute once per string when sorting.
pub fn sort_key(s: &str) -> Vec<u32> {
    let mut key: Vec<u32> = Vec::with_capacity(s.len() * 2 + 1);
    key.extend(s.chars().filter_map(primary));
    key.push(0);
    key.extend(
        s.chars()
            .filter(|c| primary(*c).is_some())
            .map(|c| u32::from(tertiary(c))),
    );
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(items: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| locale_compare(a, b));
        v
    }

    #[test]
    fn printable_ascii_in_icu_order() {
        let chars: Vec<String> = (32u8..127).map(|b| (b as char).to_string()).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        // Reference order printed by node 20 (ICU 78):
        // [..." "..."~"].sort((a, b) => a.localeCompare(b)).join("")
        assert_eq!(
            sorted(&refs).concat(),
            " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ"
        );
    }

    #[test]
    fn levels_and_ignorables() {
        assert_eq!(
            sorted(&[
                "a/B", "a/b", "Ab", "aa", "a-b", "a_b", "a/b/c", "a{b", "ab", "a1", "A", "a",
                "a\t", "a b"
            ]),
            [
                "a", "A", "a\t", "a b", "a_b", "a-b", "a{b", "a/b", "a/B", "a/b/c", "a1", "aa",
                "ab", "Ab"
            ]
        );
        assert_eq!(locale_compare("x\u{0}y", "xy"), Ordering::Equal);
        assert_eq!(locale_compare("a-", "a"), Ordering::Greater);
        assert_eq!(
            locale_compare("/api/runs/{id}", "/api/runs/cancel"),
            Ordering::Less
        );
    }
}
