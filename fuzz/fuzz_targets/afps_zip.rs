//! The bounded ZIP reader behind every `.afps` / `.afps-bundle`.
//!
//! Input: the archive bytes. Invariants: every kept entry name passes the
//! name hygiene; no file exceeds the per-file cap nor the total the
//! decompressed cap; writing the files back out and reading them again
//! gives the same files.
#![no_main]

use appstrate_afps::Limits;
use appstrate_afps::archive::{check_entry_name, extract};
use appstrate_afps::write_stored_zip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(files) = extract(data, &limits, "fuzz") else {
        return;
    };
    let mut total = 0u64;
    for (name, bytes) in &files {
        assert!(
            matches!(check_entry_name(name, &limits, "fuzz"), Ok(true)),
            "{name:?}"
        );
        assert!(bytes.len() as u64 <= limits.max_file_bytes);
        total += bytes.len() as u64;
    }
    assert!(total <= limits.max_decompressed_bytes);
    let entries: Vec<(String, Vec<u8>)> = files.clone().into_iter().collect();
    let rewritten = write_stored_zip(&entries);
    let again = extract(&rewritten, &limits, "fuzz").expect("our own ZIP reads back");
    assert_eq!(again, files);
});
