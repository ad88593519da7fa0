//! RECORD parsing (package integrity).
//!
//! Input: the RECORD body (lossy UTF-8). Invariant: what parses serialises
//! to the canonical body, which parses back to the same entries and is a
//! fixed point of parse + serialise.
#![no_main]

use appstrate_afps::integrity::{parse_record, record_integrity, serialize_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    let Ok(entries) = parse_record(&body) else {
        return;
    };
    let canonical = serialize_record(&entries).expect("parsed entries have no duplicates");
    let mut reparsed = parse_record(&canonical).expect("canonical RECORD parses");
    let mut sorted = entries.clone();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    reparsed.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(reparsed, sorted);
    let twice = serialize_record(&reparsed).expect("no duplicates");
    assert_eq!(twice, canonical, "canonical RECORD is not a fixed point");
    assert!(record_integrity(&canonical).starts_with("sha256-"));
});
