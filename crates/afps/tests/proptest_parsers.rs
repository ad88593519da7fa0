//! Property tests for the archive reader and the RECORD parser: arbitrary
//! and mutated input never panics, refusals carry a stable code, and
//! RECORD serialisation round-trips.

mod common;

use appstrate_afps::integrity::{
    RecordEntry, compute_record_entries, parse_record, serialize_record,
};
use appstrate_afps::{ErrorCode, Limits, read_bundle};
use proptest::prelude::*;

fn small_limits() -> Limits {
    Limits {
        max_file_bytes: 1 << 16,
        max_decompressed_bytes: 1 << 18,
        max_files: 64,
        ..Limits::default()
    }
}

fn seed_archives() -> Vec<Vec<u8>> {
    vec![
        common::read("reference/bundle.afps"),
        common::read("vectors/reference-unsigned.afps-bundle"),
        common::agent_zip(vec![common::RawEntry::deflated(
            "notes/a.txt",
            b"hello hello hello",
        )]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        .. ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_bundle(&bytes, &small_limits());
        let mut pk = b"PK\x03\x04".to_vec();
        pk.extend_from_slice(&bytes);
        let _ = read_bundle(&pk, &small_limits());
    }

    #[test]
    fn mutated_archives_are_read_or_refused_with_a_code(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = seed_archives().swap_remove(which);
        for (i, b) in edits {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        if let Some(c) = cut {
            bytes.truncate(c.index(bytes.len()));
        }
        match read_bundle(&bytes, &small_limits()) {
            Ok(b) => {
                // Whatever was accepted is internally consistent.
                prop_assert_eq!(b.compute_integrity(), b.integrity.clone());
                for p in &b.packages {
                    prop_assert!(p.files.values().all(|f| f.len() as u64 <= small_limits().max_file_bytes));
                }
            }
            Err(e) => prop_assert!(!e.code.as_str().is_empty() && !e.message.is_empty()),
        }
    }

    #[test]
    fn record_parser_never_panics(body in "\\PC{0,200}") {
        if let Err(e) = parse_record(&body) {
            prop_assert_eq!(e.code, ErrorCode::RecordMalformed);
        }
    }

    #[test]
    fn record_lines_from_pieces(lines in proptest::collection::vec(("[a-z/._,\r]{0,12}", "(sha256=)?[A-Za-z0-9+/]{0,8}", "-?[0-9]{0,4}x?"), 0..6)) {
        let body: String = lines.iter().map(|(p, h, s)| format!("{p},{h},{s}\n")).collect();
        match parse_record(&body) {
            Ok(entries) => {
                for e in &entries {
                    prop_assert!(!e.path.is_empty() && e.hash.starts_with("sha256=") && !e.path.contains(['\r', ',']));
                }
            }
            Err(e) => prop_assert_eq!(e.code, ErrorCode::RecordMalformed),
        }
    }

    #[test]
    fn serialised_records_round_trip(files in proptest::collection::btree_map("[a-zA-Z0-9_./-]{1,20}", proptest::collection::vec(any::<u8>(), 0..64), 0..12)) {
        let files: std::collections::BTreeMap<String, Vec<u8>> = files.into_iter().filter(|(k, _)| k != "RECORD").collect();
        let entries = compute_record_entries(&files);
        let body = serialize_record(&entries).expect("no duplicates");
        let parsed: Vec<RecordEntry> = parse_record(&body).expect("canonical parses");
        prop_assert_eq!(parsed.len(), files.len());
        prop_assert_eq!(serialize_record(&parsed).expect("again"), body);
    }
}
