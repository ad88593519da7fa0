//! Signing, writer and Mustache vectors.

mod common;

use appstrate_afps::integrity::sri_sha256;
use appstrate_afps::mustache::{render, render_prompt};
use appstrate_afps::signing::{
    FailureReason, KeyPair, Policy, PolicyOutcome, TrustRoot, canonical_bundle_digest,
    read_bundle_signature, sign_bundle, sign_digest, verify_signature, verify_with_policy,
};
use appstrate_afps::writer::{bundle_entries, write_bundle};
use appstrate_afps::{ExecutionContext, Limits, read_bundle};
use common::{json, read, s, vectors};
use sha2::{Digest, Sha256};

fn trust(dir: &str) -> TrustRoot {
    serde_json::from_value(json(&format!("{dir}/trust-root.json"))).expect("trust root")
}

fn key(dir: &str) -> KeyPair {
    serde_json::from_value(json(&format!("{dir}/key.json"))).expect("key")
}

#[test]
fn canonical_digests_and_signatures_match_vectors() {
    let v = vectors();
    for (archive, dir) in [
        ("reference/bundle.afps", "reference"),
        ("briefing-agent/agent.afps", "briefing-agent"),
    ] {
        let b = read_bundle(&read(archive), &Limits::default()).expect("reads");
        let digest = canonical_bundle_digest(&b).expect("digest");
        assert_eq!(digest, s(&v, &[archive, "canonical_digest_utf8"]));
        let doc = read_bundle_signature(&b).expect("signed").expect("json");
        assert_eq!(doc["keyId"], s(&v, &[archive, "signature_keyId"]));
        let verified = verify_signature(digest.as_bytes(), &doc, &trust(dir));
        assert_eq!(
            verified.is_ok(),
            v[archive]["signature_verifies_with_trust_root"]
                .as_bool()
                .expect("bool")
        );
        assert_eq!(verified.expect("ok"), s(&v, &[archive, "signature_keyId"]));
        // Ed25519 is deterministic: re-signing reproduces the stored bytes.
        let k = key(dir);
        let again = sign_digest(digest.as_bytes(), &k.private_key, &k.key_id, None).expect("sign");
        assert_eq!(again.signature, doc["signature"].as_str().expect("sig"));
        assert_eq!(
            appstrate_afps::signing::key_id_from_public_key(
                &appstrate_afps::signing::decode_b64(&k.public_key).expect("b64")
            ),
            k.key_id
        );
        assert_eq!(
            verify_with_policy(&b, Policy::Required, Some(&trust(dir))).expect("verified"),
            PolicyOutcome::Verified(k.key_id.clone())
        );
        // The unsigned digest is the same whether or not signature.sig is present.
        let unsigned_digest_of_signed = digest.clone();
        if archive == "reference/bundle.afps" {
            let u = read_bundle(&read("reference/bundle-unsigned.afps"), &Limits::default())
                .expect("reads");
            assert_eq!(
                canonical_bundle_digest(&u).expect("digest"),
                unsigned_digest_of_signed
            );
        }
    }
}

#[test]
fn policy_on_the_unsigned_reference() {
    let u =
        read_bundle(&read("reference/bundle-unsigned.afps"), &Limits::default()).expect("reads");
    let t = trust("reference");
    assert_eq!(
        verify_with_policy(&u, Policy::Off, None).expect("off"),
        PolicyOutcome::Off
    );
    assert_eq!(
        verify_with_policy(&u, Policy::Warn, Some(&t)).expect("warn"),
        PolicyOutcome::UnsignedWarned
    );
    let e = verify_with_policy(&u, Policy::Required, Some(&t)).expect_err("unsigned");
    assert_eq!(e.code, "unsigned_required");
    let signed = read_bundle(&read("reference/bundle.afps"), &Limits::default()).expect("reads");
    assert_eq!(
        verify_with_policy(&signed, Policy::Warn, None)
            .expect_err("no trust root")
            .code,
        "unsigned_required"
    );
    // The briefing key is not trusted by the reference trust root.
    let briefing =
        read_bundle(&read("briefing-agent/agent.afps"), &Limits::default()).expect("reads");
    match verify_with_policy(&briefing, Policy::Warn, Some(&t)).expect("warned") {
        PolicyOutcome::Warned(f) => assert_eq!(f.reason, FailureReason::ChainMissing),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        verify_with_policy(&briefing, Policy::Required, Some(&t))
            .expect_err("untrusted")
            .code,
        "chain_missing"
    );
}

#[test]
fn signing_the_unsigned_reference_reproduces_the_signed_fixture() {
    let u =
        read_bundle(&read("reference/bundle-unsigned.afps"), &Limits::default()).expect("reads");
    let signed = sign_bundle(&u, &key("reference"), None).expect("signs");
    let fixture = read_bundle(&read("reference/bundle.afps"), &Limits::default()).expect("reads");
    assert_eq!(
        signed.root_package().file("signature.sig"),
        fixture.root_package().file("signature.sig")
    );
    assert_eq!(signed.root_package().record, fixture.root_package().record);
    assert_eq!(signed.integrity, fixture.integrity);
}

#[test]
fn writer_reproduces_the_platform_bundle() {
    let v = vectors();
    let k = "vectors/reference-unsigned.afps-bundle";
    let mut b =
        read_bundle(&read("reference/bundle-unsigned.afps"), &Limits::default()).expect("reads");
    let mut meta = serde_json::Map::new();
    meta.insert("builder".into(), "appstrate-platform".into());
    b.metadata = Some(meta);
    let entries = bundle_entries(&b).expect("entries");
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<&str> = v[k]["entry_order"]
        .as_array()
        .expect("order")
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert_eq!(names, expected);
    let bundle_json = &entries.last().expect("bundle.json").1;
    assert_eq!(
        std::str::from_utf8(bundle_json).expect("utf8"),
        s(&v, &[k, "bundle_json"])
    );
    let bytes = write_bundle(&b).expect("writes");
    // Logical content equals the platform's archive.
    let ours = read_bundle(&bytes, &Limits::default()).expect("reads back");
    let theirs = read_bundle(&read(k), &Limits::default()).expect("reads");
    assert_eq!(ours, theirs);
    // Byte-identical to the platform's writer run with TZ=UTC.
    assert_eq!(sri_sha256(&bytes), s(&v, &[k, "archive_sha256_sri"]));
    assert_eq!(bytes, read(k));
    // Deterministic output.
    assert_eq!(
        sri_sha256(&bytes),
        sri_sha256(&write_bundle(&b).expect("writes"))
    );
}

fn ctx(dir: &str) -> ExecutionContext {
    let mut c: ExecutionContext =
        serde_json::from_value(json(&format!("{dir}/context.json"))).expect("context");
    c.apply_snapshot(
        json(&format!("{dir}/snapshot.json"))
            .as_object()
            .expect("object"),
    );
    c
}

#[test]
fn mustache_renders_match_vectors() {
    let v = vectors();
    for (archive, dir, key) in [
        ("reference/bundle.afps", "reference", "reference"),
        ("briefing-agent/agent.afps", "briefing-agent", "briefing"),
    ] {
        let b = read_bundle(&read(archive), &Limits::default()).expect("reads");
        let template = b.root_package().text("prompt.md").expect("prompt");
        let out = render_prompt(&template, &ctx(dir)).expect("renders");
        let expected = read(&format!(
            "vectors/{}",
            s(&v, &["mustache_render", key, "output_file"])
        ));
        assert_eq!(out, String::from_utf8(expected).expect("utf8"), "{key}");
        assert_eq!(
            hex::encode(Sha256::digest(out.as_bytes())),
            s(&v, &["mustache_render", key, "sha256_hex"])
        );
    }
    // The briefing template also comes unpacked in source/.
    let src = String::from_utf8(read("briefing-agent/source/prompt.md")).expect("utf8");
    let out = render_prompt(&src, &ctx("briefing-agent")).expect("renders");
    assert_eq!(
        out.as_bytes(),
        read("vectors/briefing.mustache-rendered.md").as_slice()
    );
}

#[test]
fn mustache_js_quirks_match_vectors() {
    let v = vectors();
    let q = &v["mustache_render"]["quirks_mustache_js_4_2_0_escape_disabled"];
    let out = render(q["template"].as_str().expect("template"), &q["view"]).expect("renders");
    assert_eq!(out, q["output"].as_str().expect("output"));
}
