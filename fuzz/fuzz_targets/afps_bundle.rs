//! The `.afps` / `.afps-bundle` readers: manifest, companion files,
//! bundle.json, RECORD integrity.
//!
//! Input: either a ZIP (starts with `PK`), read as is, or a list of files
//! `name NUL content NUL name NUL content …` that is zipped first, so the
//! fuzzer works on manifests and bundle.json rather than on CRCs.
//! Invariants: the three readers agree with each other; a bundle that
//! reads has its root package, and its integrity recomputes to itself.
#![no_main]

use appstrate_afps::bundle::{read_afps, read_afps_bundle, read_bundle};
use appstrate_afps::{Limits, write_stored_zip};
use libfuzzer_sys::fuzz_target;

fn zip_of(data: &[u8]) -> Vec<u8> {
    let mut parts = data.split(|b| *b == 0);
    let mut entries = Vec::new();
    while let (Some(name), Some(content)) = (parts.next(), parts.next()) {
        entries.push((String::from_utf8_lossy(name).into_owned(), content.to_vec()));
    }
    write_stored_zip(&entries)
}

fuzz_target!(|data: &[u8]| {
    let archive = if data.starts_with(b"PK") {
        data.to_vec()
    } else {
        zip_of(data)
    };
    let limits = Limits::default();
    let either = read_bundle(&archive, &limits);
    let as_bundle = read_afps_bundle(&archive, &limits);
    let as_afps = read_afps(&archive, &limits);
    if let Ok(bundle) = &as_bundle {
        let root = bundle.root_package();
        assert_eq!(
            bundle.get(&root.identity).map(|p| &p.identity),
            Some(&root.identity)
        );
        assert_eq!(bundle.compute_integrity(), bundle.integrity);
        assert!(either.is_ok(), "read_bundle refused a valid .afps-bundle");
    }
    if let Ok(package) = &as_afps {
        assert!(package.identity.starts_with('@'));
        let _ = package.integrity_without_signature();
        let _ = package.package_type();
    }
    if let Ok(bundle) = &either {
        for package in &bundle.packages {
            let _ = package.text("prompt.md");
        }
    }
});
