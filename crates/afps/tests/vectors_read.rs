//! Every reading/integrity value of vectors.json, asserted.

mod common;

use appstrate_afps::integrity::{bundle_integrity, sri_sha256};
use appstrate_afps::{ArchiveKind, ErrorCode, Limits, read_afps_bundle, read_bundle};
use common::{read, s, vectors};

#[test]
fn reference_signed_afps_matches_every_vector() {
    let v = vectors();
    let k = "reference/bundle.afps";
    let bytes = read("reference/bundle.afps");
    assert_eq!(sri_sha256(&bytes), s(&v, &[k, "archive_sha256_sri"]));
    let b = read_bundle(&bytes, &Limits::default()).expect("reads");
    assert_eq!(b.kind, ArchiveKind::Afps);
    assert_eq!(b.root, s(&v, &[k, "identity"]));
    assert_eq!(b.format_version, "1.0");
    let root = b.root_package();
    assert_eq!(root.record, s(&v, &[k, "record_with_signature"]));
    assert_eq!(root.integrity, s(&v, &[k, "package_integrity"]));
    assert_eq!(b.integrity, s(&v, &[k, "bundle_integrity"]));
    assert_eq!(b.compute_integrity(), s(&v, &[k, "bundle_integrity"]));
    let unsigned = root.integrity_without_signature().expect("record");
    assert_eq!(unsigned, s(&v, &[k, "package_integrity_without_signature"]));
    assert_eq!(
        bundle_integrity([(
            root.identity.as_str(),
            root.path.as_str(),
            unsigned.as_str()
        )]),
        s(&v, &[k, "bundle_integrity_without_signature"])
    );
    let files: Vec<&str> = root.files.keys().map(String::as_str).collect();
    assert_eq!(files, ["manifest.json", "prompt.md", "signature.sig"]);
    assert_eq!(root.package_type(), Some("agent"));
}

#[test]
fn multi_package_reader_rejects_a_plain_afps() {
    let v = vectors();
    let e = read_afps_bundle(&read("reference/bundle.afps"), &Limits::default())
        .expect_err("no bundle.json");
    assert_eq!(e.code, ErrorCode::BundleJsonMissing);
    assert_eq!(
        format!("BundleError {} '{}'", e.code, e.message),
        s(
            &v,
            &["reference/bundle.afps", "readBundleFromBuffer_result"]
        )
    );
}

#[test]
fn reference_unsigned_afps_matches_vectors() {
    let v = vectors();
    let k = "reference/bundle-unsigned.afps";
    let bytes = read(k);
    assert_eq!(sri_sha256(&bytes), s(&v, &[k, "archive_sha256_sri"]));
    let b = read_bundle(&bytes, &Limits::default()).expect("reads");
    assert_eq!(b.root_package().integrity, s(&v, &[k, "package_integrity"]));
    assert_eq!(b.integrity, s(&v, &[k, "bundle_integrity"]));
    assert!(b.root_package().file("signature.sig").is_none());
}

#[test]
fn briefing_afps_matches_vectors() {
    let v = vectors();
    let k = "briefing-agent/agent.afps";
    let b = read_bundle(&read(k), &Limits::default()).expect("reads");
    assert_eq!(b.root, s(&v, &[k, "identity"]));
    let root = b.root_package();
    assert_eq!(root.integrity, s(&v, &[k, "package_integrity"]));
    assert_eq!(b.integrity, s(&v, &[k, "bundle_integrity"]));
    let unsigned = root.integrity_without_signature().expect("record");
    assert_eq!(unsigned, s(&v, &[k, "package_integrity_without_signature"]));
    assert_eq!(
        bundle_integrity([(
            root.identity.as_str(),
            root.path.as_str(),
            unsigned.as_str()
        )]),
        s(&v, &[k, "bundle_integrity_without_signature"])
    );
    // The unpacked source is the same manifest and prompt.
    assert_eq!(
        root.file("manifest.json"),
        Some(read("briefing-agent/source/manifest.json").as_slice())
    );
    assert_eq!(
        root.file("prompt.md"),
        Some(read("briefing-agent/source/prompt.md").as_slice())
    );
}

#[test]
fn multi_package_bundle_reads_to_the_same_logical_content() {
    let v = vectors();
    let k = "vectors/reference-unsigned.afps-bundle";
    let bytes = read("vectors/reference-unsigned.afps-bundle");
    assert_eq!(sri_sha256(&bytes), s(&v, &[k, "archive_sha256_sri"]));
    let b = read_bundle(&bytes, &Limits::default()).expect("reads");
    assert_eq!(b.kind, ArchiveKind::AfpsBundle);
    let strict = read_afps_bundle(&bytes, &Limits::default()).expect("strict reader");
    assert_eq!(strict, b);
    let single =
        read_bundle(&read("reference/bundle-unsigned.afps"), &Limits::default()).expect("reads");
    assert_eq!(b.integrity, single.integrity);
    assert_eq!(b.root, single.root);
    assert_eq!(b.root_package().files, single.root_package().files);
    assert_eq!(b.root_package().record, single.root_package().record);
    let meta = b.metadata.as_ref().expect("metadata");
    assert_eq!(meta["builder"], "appstrate-platform");
}
