//! Negative cases (tampered files, reordered RECORD lines, edited digests),
//! hostile archives and L1/L3 conformance cases (docs/afps.md#integrity).

mod common;

use appstrate_afps::archive::extract;
use appstrate_afps::signing::{
    FailureReason, TrustRoot, TrustedKey, canonical_bundle_digest, generate_key_pair,
    sign_child_key, sign_digest, verify_signature,
};
use appstrate_afps::{ErrorCode, Limits, read_bundle, write_stored_zip};
use common::{RawEntry, agent_zip, build_zip, read};
use serde_json::json;

fn code(bytes: &[u8]) -> ErrorCode {
    read_bundle(bytes, &Limits::default())
        .expect_err("must be refused")
        .code
}

fn message(bytes: &[u8]) -> String {
    read_bundle(bytes, &Limits::default())
        .expect_err("must be refused")
        .message
}

/// The platform bundle with one entry edited.
fn edited_bundle(edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    let bytes = read("vectors/reference-unsigned.afps-bundle");
    let files = extract(&bytes, &Limits::default(), "t").expect("extracts");
    let order = [
        "packages/@afps/conformance-ref/1.0.0/RECORD",
        "packages/@afps/conformance-ref/1.0.0/manifest.json",
        "packages/@afps/conformance-ref/1.0.0/prompt.md",
        "bundle.json",
    ];
    let mut entries: Vec<(String, Vec<u8>)> = order
        .iter()
        .map(|n| (n.to_string(), files[*n].clone()))
        .collect();
    edit(&mut entries);
    write_stored_zip(&entries)
}

#[test]
fn unedited_rewrite_still_reads() {
    assert!(read_bundle(&edited_bundle(|_| {}), &Limits::default()).is_ok());
}

#[test]
fn one_tampered_byte_is_record_mismatch() {
    let b = edited_bundle(|e| e[2].1[0] ^= 0x01);
    assert_eq!(code(&b), ErrorCode::RecordMismatch);
    assert!(message(&b).contains("prompt.md"));
}

#[test]
fn reordered_record_lines_are_record_malformed() {
    let b = edited_bundle(|e| {
        let text = String::from_utf8(e[0].1.clone()).expect("utf8");
        let mut lines: Vec<&str> = text.lines().collect();
        lines.reverse();
        e[0].1 = format!("{}\n", lines.join("\n")).into_bytes();
    });
    assert_eq!(code(&b), ErrorCode::RecordMalformed);
}

#[test]
fn record_problems_have_their_codes() {
    let crlf = edited_bundle(|e| {
        e[0].1 = String::from_utf8(e[0].1.clone())
            .expect("utf8")
            .replace('\n', "\r\n")
            .into_bytes()
    });
    assert_eq!(code(&crlf), ErrorCode::RecordMalformed);
    let missing = edited_bundle(|e| {
        e.remove(0);
    });
    assert_eq!(code(&missing), ErrorCode::RecordMissing);
    let extra_file = edited_bundle(|e| {
        e.insert(
            1,
            (
                "packages/@afps/conformance-ref/1.0.0/extra.txt".into(),
                b"x".to_vec(),
            ),
        )
    });
    assert_eq!(code(&extra_file), ErrorCode::RecordMismatch);
    let missing_file = edited_bundle(|e| {
        e.remove(2);
    });
    assert_eq!(code(&missing_file), ErrorCode::RecordMismatch);
}

#[test]
fn edited_bundle_integrity_is_integrity_mismatch() {
    let b = edited_bundle(|e| {
        let text = String::from_utf8(e[3].1.clone()).expect("utf8");
        e[3].1 = text
            .replace("sha256-UOsWdr6E", "sha256-AOsWdr6E")
            .into_bytes();
    });
    assert_eq!(code(&b), ErrorCode::IntegrityMismatch);
    let pkg = edited_bundle(|e| {
        let text = String::from_utf8(e[3].1.clone()).expect("utf8");
        e[3].1 = text.replace("sha256-44Mc", "sha256-45Mc").into_bytes();
    });
    assert_eq!(code(&pkg), ErrorCode::IntegrityMismatch);
}

#[test]
fn bundle_json_problems_have_their_codes() {
    let set = |text: &str| {
        let t = text.to_string();
        edited_bundle(move |e| e[3].1 = t.into_bytes())
    };
    assert_eq!(code(&set("not json")), ErrorCode::BundleJsonInvalid);
    assert_eq!(code(&set("[]")), ErrorCode::BundleJsonInvalid);
    let v2 = String::from_utf8(read_bundle_json())
        .expect("utf8")
        .replace("\"1.0\"", "\"2.0\"");
    assert_eq!(code(&set(&v2)), ErrorCode::VersionUnsupported);
    let bad_root = String::from_utf8(read_bundle_json())
        .expect("utf8")
        .replace(
            "\"root\":\"@afps/conformance-ref@1.0.0\"",
            "\"root\":\"@afps/other@1.0.0\"",
        );
    assert_eq!(code(&set(&bad_root)), ErrorCode::BundleJsonInvalid);
}

fn read_bundle_json() -> Vec<u8> {
    let files = extract(
        &read("vectors/reference-unsigned.afps-bundle"),
        &Limits::default(),
        "t",
    )
    .expect("extracts");
    files["bundle.json"].clone()
}

#[test]
fn hostile_entry_names_are_refused() {
    for (name, want, words) in [
        ("../evil.txt", ErrorCode::ArchiveInvalid, "traversal"),
        ("a/../../evil.txt", ErrorCode::ArchiveInvalid, "traversal"),
        ("./x", ErrorCode::ArchiveInvalid, "traversal"),
        ("a//b", ErrorCode::ArchiveInvalid, "traversal"),
        ("/etc/passwd", ErrorCode::ArchiveInvalid, "absolute"),
        ("dir\\evil.txt", ErrorCode::ArchiveInvalid, "backslash"),
        ("nul\0byte", ErrorCode::ArchiveInvalid, "null byte"),
        ("a,b.txt", ErrorCode::ArchiveInvalid, "comma or newline"),
        ("a\nb.txt", ErrorCode::ArchiveInvalid, "comma or newline"),
        ("a\rb.txt", ErrorCode::ArchiveInvalid, "comma or newline"),
        (
            "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r.txt",
            ErrorCode::LimitsExceeded,
            "depth 18 exceeds limit 16",
        ),
    ] {
        let z = agent_zip(vec![RawEntry::stored(name, b"x")]);
        let e = read_bundle(&z, &Limits::default()).expect_err(name);
        assert_eq!(e.code, want, "{name:?}");
        assert!(e.message.contains(words), "{name:?}: {}", e.message);
    }
    // Depth 16 is fine.
    let ok = "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p.txt";
    assert!(
        read_bundle(
            &agent_zip(vec![RawEntry::stored(ok, b"x")]),
            &Limits::default()
        )
        .is_ok()
    );
}

#[test]
fn symlink_entries_are_refused() {
    let mut link = RawEntry::stored("link", b"/etc/passwd");
    link.unix_mode = Some(0o120777);
    let e = read_bundle(&agent_zip(vec![link]), &Limits::default()).expect_err("symlink");
    assert_eq!(e.code, ErrorCode::ArchiveInvalid);
    assert!(e.message.contains("symlink"));
    // A regular unix file mode is fine.
    let mut file = RawEntry::stored("notes.txt", b"x");
    file.unix_mode = Some(0o100644);
    assert!(read_bundle(&agent_zip(vec![file]), &Limits::default()).is_ok());
}

#[test]
fn too_many_entries_are_refused_before_inflating() {
    let mut entries = vec![RawEntry::stored(
        "manifest.json",
        common::MANIFEST.as_bytes(),
    )];
    for i in 0..20_000 {
        entries.push(RawEntry::stored(&format!("f/{i}"), b""));
    }
    let z = build_zip(&entries);
    let e = read_bundle(&z, &Limits::default()).expect_err("too many");
    assert_eq!(e.code, ErrorCode::LimitsExceeded);
    // Raising the limit through the environment lookup lets it through the count check.
    let raised =
        Limits::from_lookup(|k| (k == "APPSTRATE_BUNDLE_MAX_FILES").then(|| "30000".to_string()));
    assert_eq!(raised.max_files, 30_000);
    let e = read_bundle(&z, &raised).expect_err("no prompt.md");
    assert_eq!(e.code, ErrorCode::ArchiveInvalid);
}

#[test]
fn limits_are_raise_only() {
    let lowered = Limits::from_lookup(|_| Some("1".into()));
    assert_eq!(lowered, Limits::default());
    let junk = Limits::from_lookup(|_| Some("lots".into()));
    assert_eq!(junk, Limits::default());
    let raised =
        Limits::from_lookup(|k| (k == "APPSTRATE_BUNDLE_MAX_SIZE").then(|| "104857600".into()));
    assert_eq!(raised.max_compressed_bytes, 100 * 1024 * 1024);
    assert_eq!(raised.max_file_bytes, Limits::default().max_file_bytes);
}

#[test]
fn oversized_files_and_totals_are_refused_while_inflating() {
    let limits = Limits {
        max_file_bytes: 1000,
        max_decompressed_bytes: 1500,
        ..Limits::default()
    };
    let big = agent_zip(vec![RawEntry::deflated("big.bin", &[7u8; 5000])]);
    let e = read_bundle(&big, &limits).expect_err("file cap");
    assert_eq!(e.code, ErrorCode::LimitsExceeded);
    assert!(e.message.contains("per-file limit"));
    let two = agent_zip(vec![
        RawEntry::deflated("a.bin", &[1u8; 900]),
        RawEntry::deflated("b.bin", &[2u8; 900]),
    ]);
    let e = read_bundle(&two, &limits).expect_err("total cap");
    assert_eq!(e.code, ErrorCode::LimitsExceeded);
    assert!(e.message.contains("decompressed size exceeds"));
    let small = Limits {
        max_compressed_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(
        read_bundle(&big, &small).expect_err("compressed cap").code,
        ErrorCode::LimitsExceeded
    );
}

#[test]
fn lying_sizes_and_corruption_are_archive_invalid() {
    let mut liar = RawEntry::deflated("x.txt", b"hello hello hello");
    liar.uncompressed = 3;
    assert_eq!(code(&agent_zip(vec![liar])), ErrorCode::ArchiveInvalid);
    let mut bad_crc = RawEntry::stored("x.txt", b"hello");
    bad_crc.crc ^= 1;
    assert_eq!(code(&agent_zip(vec![bad_crc])), ErrorCode::ArchiveInvalid);
    let mut bad_method = RawEntry::stored("x.txt", b"hello");
    bad_method.method = 12;
    assert_eq!(
        code(&agent_zip(vec![bad_method])),
        ErrorCode::ArchiveInvalid
    );
    let mut garbage = RawEntry::stored("x.txt", b"\xff\xff\xff\xff");
    garbage.method = 8;
    assert_eq!(code(&agent_zip(vec![garbage])), ErrorCode::ArchiveInvalid);
    assert_eq!(code(b"not a zip at all"), ErrorCode::ArchiveInvalid);
    assert!(message(b"not a zip at all").contains("not a ZIP archive"));
    assert_eq!(code(b"PK"), ErrorCode::ArchiveInvalid);
    let z = agent_zip(vec![]);
    assert_eq!(code(&z[..z.len() - 5]), ErrorCode::ArchiveInvalid);
    let dup = agent_zip(vec![RawEntry::stored("prompt.md", b"again")]);
    assert_eq!(code(&dup), ErrorCode::ArchiveInvalid);
}

#[test]
fn afps_loader_rules() {
    // L1.3 missing manifest, L1.4 missing prompt, L1.5 wrapper, L1.18 __MACOSX, L1.10-13 companions.
    let no_manifest = build_zip(&[RawEntry::stored("prompt.md", b"x")]);
    assert!(message(&no_manifest).to_lowercase().contains("manifest"));
    let no_prompt = build_zip(&[RawEntry::stored(
        "manifest.json",
        common::MANIFEST.as_bytes(),
    )]);
    assert!(message(&no_prompt).contains("prompt"));
    let blank = build_zip(&[
        RawEntry::stored("manifest.json", common::MANIFEST.as_bytes()),
        RawEntry::stored("prompt.md", b" \n\t\r"),
    ]);
    assert!(message(&blank).contains("whitespace"));
    let wrapped = build_zip(&[
        RawEntry::stored("wrap/manifest.json", common::MANIFEST.as_bytes()),
        RawEntry::deflated("wrap/prompt.md", b"hi"),
        RawEntry::stored("__MACOSX/wrap/._prompt.md", b"junk"),
        RawEntry::stored("wrap/", b""),
    ]);
    let b = read_bundle(&wrapped, &Limits::default()).expect("wrapper stripped");
    assert_eq!(b.root, "@t/agent@1.0.0");
    assert_eq!(
        b.root_package().files.keys().collect::<Vec<_>>(),
        ["manifest.json", "prompt.md"]
    );
    let skill = |md: &[u8]| {
        build_zip(&[
            RawEntry::stored(
                "manifest.json",
                br#"{"name":"@t/s","version":"1.0.0","type":"skill"}"#,
            ),
            RawEntry::stored("SKILL.md", md),
        ])
    };
    assert!(read_bundle(&skill(b"---\nname: s\n---\nBody"), &Limits::default()).is_ok());
    assert!(message(&skill(b"---\ndescription: d\n---\n")).contains("name"));
    let no_skill = build_zip(&[RawEntry::stored(
        "manifest.json",
        br#"{"name":"@t/s","version":"1.0.0","type":"skill"}"#,
    )]);
    assert!(message(&no_skill).contains("SKILL.md"));
    let mcp = |with_entry: bool| {
        let mut e = vec![RawEntry::stored(
            "manifest.json",
            br#"{"name":"@t/m","version":"1.0.0","type":"mcp-server","server":{"entry_point":"server/index.js"}}"#,
        )];
        if with_entry {
            e.push(RawEntry::stored("server/index.js", b"x"));
        }
        build_zip(&e)
    };
    assert!(read_bundle(&mcp(true), &Limits::default()).is_ok());
    assert!(message(&mcp(false)).contains("entry_point"));
    let unscoped = build_zip(&[
        RawEntry::stored(
            "manifest.json",
            br#"{"name":"x","version":"1","type":"agent"}"#,
        ),
        RawEntry::stored("prompt.md", b"x"),
    ]);
    assert_eq!(code(&unscoped), ErrorCode::BundleJsonInvalid);
}

fn trust_of(keys: &[&appstrate_afps::signing::KeyPair]) -> TrustRoot {
    TrustRoot {
        keys: keys
            .iter()
            .map(|k| TrustedKey {
                key_id: k.key_id.clone(),
                public_key: k.public_key.clone(),
                comment: None,
            })
            .collect(),
    }
}

#[test]
fn signature_failure_reasons() {
    let b =
        read_bundle(&read("reference/bundle-unsigned.afps"), &Limits::default()).expect("reads");
    let digest = canonical_bundle_digest(&b).expect("digest");
    let root = generate_key_pair().expect("key");
    let child = generate_key_pair().expect("key");
    let stranger = generate_key_pair().expect("key");
    let trust = trust_of(&[&root]);
    let sig = |k: &appstrate_afps::signing::KeyPair, chain| {
        serde_json::to_value(
            sign_digest(digest.as_bytes(), &k.private_key, &k.key_id, chain).expect("sign"),
        )
        .expect("json")
    };
    let reason = |doc: &serde_json::Value, d: &[u8]| {
        verify_signature(d, doc, &trust).expect_err("fails").reason
    };

    // L3.1 direct trust.
    assert_eq!(
        verify_signature(digest.as_bytes(), &sig(&root, None), &trust).expect("ok"),
        root.key_id
    );
    // L3.2 flipped digest byte.
    let mut flipped = digest.clone().into_bytes();
    flipped[10] ^= 1;
    assert_eq!(
        reason(&sig(&root, None), &flipped),
        FailureReason::SignatureInvalid
    );
    // L3.3 unknown key, no chain.
    assert_eq!(
        reason(&sig(&stranger, None), digest.as_bytes()),
        FailureReason::ChainMissing
    );
    // L3.4 one-hop chain.
    let cert = sign_child_key(
        &child.key_id,
        &child.public_key,
        &root.private_key,
        &root.key_id,
    )
    .expect("cert");
    let doc = sig(&child, Some(vec![cert.clone()]));
    assert_eq!(
        verify_signature(digest.as_bytes(), &doc, &trust).expect("chain ok"),
        child.key_id
    );
    // Signer absent from the chain.
    let other_cert = sign_child_key(
        &stranger.key_id,
        &stranger.public_key,
        &root.private_key,
        &root.key_id,
    )
    .expect("cert");
    assert_eq!(
        reason(&sig(&child, Some(vec![other_cert])), digest.as_bytes()),
        FailureReason::ChainMissing
    );
    // L3.5 foreign chain root.
    let foreign = sign_child_key(
        &child.key_id,
        &child.public_key,
        &stranger.private_key,
        &stranger.key_id,
    )
    .expect("cert");
    assert_eq!(
        reason(&sig(&child, Some(vec![foreign])), digest.as_bytes()),
        FailureReason::ChainUntrusted
    );
    let mut rootless = cert.clone();
    rootless.parent_key_id = None;
    assert_eq!(
        reason(&sig(&child, Some(vec![rootless])), digest.as_bytes()),
        FailureReason::ChainUntrusted
    );
    // Broken chain: certificate signed by the wrong key but claiming the trusted parent.
    let forged = sign_child_key(
        &child.key_id,
        &child.public_key,
        &stranger.private_key,
        &root.key_id,
    )
    .expect("cert");
    assert_eq!(
        reason(&sig(&child, Some(vec![forged])), digest.as_bytes()),
        FailureReason::ChainInvalid
    );
    // L3.7 loop.
    let a = sign_child_key(
        &child.key_id,
        &child.public_key,
        &stranger.private_key,
        &stranger.key_id,
    )
    .expect("cert");
    let b2 = sign_child_key(
        &stranger.key_id,
        &stranger.public_key,
        &child.private_key,
        &child.key_id,
    )
    .expect("cert");
    assert_eq!(
        reason(&sig(&child, Some(vec![a, b2])), digest.as_bytes()),
        FailureReason::ChainInvalid
    );
    // L3.6 alg.
    let mut rsa = sig(&root, None);
    rsa["alg"] = json!("rsa");
    assert_eq!(
        reason(&rsa, digest.as_bytes()),
        FailureReason::AlgUnsupported
    );
    // Malformed documents.
    for bad in [
        json!("str"),
        json!({"alg": "ed25519", "keyId": root.key_id}),
        json!({"alg": "ed25519", "keyId": root.key_id, "signature": "AAAA"}),
        json!({"alg": "ed25519", "keyId": "x", "signature": "AAAA", "chain": {}}),
        json!({"alg": "ed25519", "keyId": "x", "signature": "AAAA", "chain": [1]}),
        json!({"alg": "ed25519", "keyId": "x", "signature": "AAAA", "chain": [{"keyId": "x", "publicKey": "AA", "signature": "AA", "parentKeyId": 3}]}),
        json!({"alg": "ed25519", "keyId": "x", "signature": "AAAA", "chain": [{"keyId": "x", "publicKey": "AA", "signature": "AA", "parentKeyId": root.key_id}]}),
    ] {
        assert_eq!(
            reason(&bad, digest.as_bytes()),
            FailureReason::Malformed,
            "{bad}"
        );
    }
}
