//! Ed25519 bundle signatures, key chains, trust roots and the signature
//! policy (docs/afps.md#signing).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::bundle::{Bundle, Package};
use crate::error::{BundleError, ErrorCode};
use crate::integrity::bundle_integrity;
use appstrate_jsjson::{stringify, stringify_pretty};

/// Name of the signature file in the root package.
pub const SIGNATURE_FILE: &str = "signature.sig";

/// A `signature.sig` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureDoc {
    /// Always `ed25519` when written.
    pub alg: String,
    /// Signer's key id.
    pub key_id: String,
    /// Base64 of the 64-byte signature over the canonical digest.
    pub signature: String,
    /// Certificates from the signer up to a trusted key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<ChainEntry>>,
}

impl SignatureDoc {
    /// The bytes writers store: 2-space JSON plus `\n`.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        format!("{}\n", stringify_pretty(&v)).into_bytes()
    }
}

/// One chain certificate: the parent's signature over the child's raw key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainEntry {
    /// Child key id.
    pub key_id: String,
    /// Child raw public key, base64.
    pub public_key: String,
    /// Parent's signature over the child's raw public key, base64.
    pub signature: String,
    /// Parent key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_key_id: Option<String>,
}

/// A trusted key of a trust-root file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedKey {
    /// Key id.
    pub key_id: String,
    /// Raw public key, base64.
    pub public_key: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A trust-root file: `{"keys": [{keyId, publicKey, comment?}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRoot {
    /// Trusted keys.
    pub keys: Vec<TrustedKey>,
}

/// A key file as `keygen` writes it. `private_key` is the 32-byte seed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPair {
    /// Key id (first 16 hex chars of SHA-256 of the public key by default).
    pub key_id: String,
    /// Raw public key, base64.
    pub public_key: String,
    /// Raw 32-byte seed, base64. Secret.
    pub private_key: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Why a signature does not verify (stable spellings via `as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// Bad document shape or encodings.
    Malformed,
    /// `alg` other than `ed25519`.
    AlgUnsupported,
    /// Signer not trusted and not in a chain.
    ChainMissing,
    /// Chain does not reach a trusted key.
    ChainUntrusted,
    /// A chain certificate is wrong, or the chain loops.
    ChainInvalid,
    /// The final signature check failed.
    SignatureInvalid,
}

impl FailureReason {
    /// `malformed`, `alg_unsupported`, `chain_missing`, `chain_untrusted`,
    /// `chain_invalid` or `signature_invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Malformed => "malformed",
            FailureReason::AlgUnsupported => "alg_unsupported",
            FailureReason::ChainMissing => "chain_missing",
            FailureReason::ChainUntrusted => "chain_untrusted",
            FailureReason::ChainInvalid => "chain_invalid",
            FailureReason::SignatureInvalid => "signature_invalid",
        }
    }
}

/// A verification failure: reason plus optional detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", reason.as_str(), detail.as_ref().map(|d| format!(" — {d}")).unwrap_or_default())]
pub struct VerifyFailure {
    /// Stable reason.
    pub reason: FailureReason,
    /// What exactly failed.
    pub detail: Option<String>,
}

fn fail<T>(reason: FailureReason, detail: impl Into<String>) -> Result<T, VerifyFailure> {
    Err(VerifyFailure {
        reason,
        detail: Some(detail.into()),
    })
}

/// Decode base64 leniently, as Node's `Buffer.from(s, "base64")` does for
/// well-formed input: standard or URL-safe alphabet, padding optional,
/// whitespace ignored. `None` for characters outside the alphabets.
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim_end_matches('=');
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(trimmed).ok()
}

/// Key id: the first 16 hex characters of SHA-256 of the raw public key.
pub fn key_id_from_public_key(public_key: &[u8]) -> String {
    hex::encode(Sha256::digest(public_key))[..16].to_string()
}

/// A fresh Ed25519 key pair from the OS random source.
pub fn generate_key_pair() -> Result<KeyPair, BundleError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        BundleError::new(
            ErrorCode::ToolBundleFailed,
            format!("no OS randomness: {e}"),
        )
    })?;
    let key = SigningKey::from_bytes(&seed);
    let public = key.verifying_key().to_bytes();
    let pair = KeyPair {
        key_id: key_id_from_public_key(&public),
        public_key: STANDARD.encode(public),
        private_key: STANDARD.encode(seed),
    };
    seed.fill(0);
    Ok(pair)
}

fn signing_key(private_key_b64: &str) -> Result<SigningKey, String> {
    let seed = decode_b64(private_key_b64).ok_or("private key is not valid base64")?;
    let seed: [u8; 32] = seed.try_into().map_err(|v: Vec<u8>| {
        format!(
            "Ed25519 private-key seed must be 32 bytes (got {})",
            v.len()
        )
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

fn verifying_key(public_key_b64: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = decode_b64(public_key_b64)?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// The canonical digest string that is signed: the bundle as if
/// `signature.sig` were absent from the root, as
/// `{"bundleFormatVersion":…,"root":…,"integrity":…}` (that key order).
pub fn canonical_bundle_digest(bundle: &Bundle) -> Result<String, BundleError> {
    let root = bundle.get(&bundle.root).ok_or_else(|| {
        BundleError::new(
            ErrorCode::BundleJsonInvalid,
            format!("root {} not in packages", bundle.root),
        )
    })?;
    let root_unsigned = root.integrity_without_signature()?;
    let integrity = bundle_integrity(bundle.packages.iter().map(|p| {
        let integrity = if p.identity == bundle.root {
            root_unsigned.as_str()
        } else {
            p.integrity.as_str()
        };
        (p.identity.as_str(), p.path.as_str(), integrity)
    }));
    let mut m = Map::new();
    m.insert(
        "bundleFormatVersion".into(),
        Value::String(bundle.format_version.clone()),
    );
    m.insert("root".into(), Value::String(bundle.root.clone()));
    m.insert("integrity".into(), Value::String(integrity));
    Ok(stringify(&Value::Object(m)))
}

/// Sign digest bytes with a base64 seed.
pub fn sign_digest(
    digest: &[u8],
    private_key_b64: &str,
    key_id: &str,
    chain: Option<Vec<ChainEntry>>,
) -> Result<SignatureDoc, String> {
    let key = signing_key(private_key_b64)?;
    Ok(SignatureDoc {
        alg: "ed25519".into(),
        key_id: key_id.into(),
        signature: STANDARD.encode(key.sign(digest).to_bytes()),
        chain: chain.filter(|c| !c.is_empty()),
    })
}

/// Certify a child key with a parent key (one chain link).
pub fn sign_child_key(
    child_key_id: &str,
    child_public_key_b64: &str,
    parent_private_key_b64: &str,
    parent_key_id: &str,
) -> Result<ChainEntry, String> {
    let child = decode_b64(child_public_key_b64).ok_or("child public key is not valid base64")?;
    if child.len() != 32 {
        return Err(format!(
            "child public key must decode to 32 bytes (got {})",
            child.len()
        ));
    }
    let parent = signing_key(parent_private_key_b64)?;
    Ok(ChainEntry {
        key_id: child_key_id.into(),
        public_key: child_public_key_b64.into(),
        signature: STANDARD.encode(parent.sign(&child).to_bytes()),
        parent_key_id: Some(parent_key_id.into()),
    })
}

/// Parse a signature document with the platform's shape rules.
pub fn parse_signature_doc(raw: &Value) -> Result<SignatureDoc, VerifyFailure> {
    let Some(obj) = raw.as_object() else {
        return fail(
            FailureReason::Malformed,
            "signature document must be a JSON object",
        );
    };
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(alg), Some(key_id), Some(signature)) = (s("alg"), s("keyId"), s("signature")) else {
        return fail(FailureReason::Malformed, "missing alg/keyId/signature");
    };
    let chain = match obj.get("chain") {
        None => None,
        Some(Value::Array(entries)) => {
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let Some(e) = e.as_object() else {
                    return fail(FailureReason::Malformed, "chain entry must be an object");
                };
                let g = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
                let (Some(key_id), Some(public_key), Some(signature)) =
                    (g("keyId"), g("publicKey"), g("signature"))
                else {
                    return fail(
                        FailureReason::Malformed,
                        "chain entry missing keyId/publicKey/signature",
                    );
                };
                let parent_key_id = match e.get("parentKeyId") {
                    None => None,
                    Some(Value::String(p)) => Some(p.clone()),
                    Some(_) => {
                        return fail(
                            FailureReason::Malformed,
                            "chain entry parentKeyId must be string",
                        );
                    }
                };
                out.push(ChainEntry {
                    key_id,
                    public_key,
                    signature,
                    parent_key_id,
                });
            }
            Some(out)
        }
        Some(_) => return fail(FailureReason::Malformed, "chain must be an array"),
    };
    Ok(SignatureDoc {
        alg,
        key_id,
        signature,
        chain,
    })
}

fn resolve_signing_key(doc: &SignatureDoc, trust: &TrustRoot) -> Result<String, VerifyFailure> {
    let trusted = |id: &str| trust.keys.iter().find(|k| k.key_id == id);
    if let Some(k) = trusted(&doc.key_id) {
        return Ok(k.public_key.clone());
    }
    let chain = doc.chain.as_deref().unwrap_or_default();
    if chain.is_empty() {
        return fail(
            FailureReason::ChainMissing,
            format!(
                "signing keyId {} not in trust root and no chain provided",
                doc.key_id
            ),
        );
    }
    // Later entries win on duplicate ids, as a JS Map built from the array does.
    let by_id = |id: &str| chain.iter().rev().find(|e| e.key_id == id);
    let Some(signer) = by_id(&doc.key_id) else {
        return fail(
            FailureReason::ChainMissing,
            format!("signing keyId {} not in chain", doc.key_id),
        );
    };
    let mut seen = std::collections::HashSet::new();
    let mut current = signer;
    loop {
        if !seen.insert(current.key_id.clone()) {
            return fail(FailureReason::ChainInvalid, "chain loop detected");
        }
        let Some(parent_id) = current.parent_key_id.as_deref().filter(|p| !p.is_empty()) else {
            return fail(
                FailureReason::ChainUntrusted,
                format!("chain root {} not trusted", current.key_id),
            );
        };
        let rooted = trusted(parent_id);
        let parent_entry = by_id(parent_id);
        let parent_pub = match (rooted, parent_entry) {
            (Some(r), _) => &r.public_key,
            (None, Some(p)) => &p.public_key,
            (None, None) => {
                return fail(
                    FailureReason::ChainUntrusted,
                    format!("parent {parent_id} not in trust root or chain"),
                );
            }
        };
        let child = decode_b64(&current.public_key).unwrap_or_default();
        let sig = decode_b64(&current.signature).unwrap_or_default();
        if child.len() != 32 || sig.len() != 64 {
            return fail(
                FailureReason::Malformed,
                "chain entry public key must be 32 bytes and signature 64 bytes",
            );
        }
        let Some(parent_key) = verifying_key(parent_pub) else {
            return fail(
                FailureReason::Malformed,
                format!("public key of {parent_id} is not a 32-byte Ed25519 key"),
            );
        };
        let sig = Signature::from_slice(&sig).map_err(|_| VerifyFailure {
            reason: FailureReason::Malformed,
            detail: None,
        })?;
        if parent_key.verify_strict(&child, &sig).is_err() {
            return fail(
                FailureReason::ChainInvalid,
                format!(
                    "signature on {} is not valid under parent {parent_id}",
                    current.key_id
                ),
            );
        }
        if rooted.is_some() {
            return Ok(signer.public_key.clone());
        }
        current = parent_entry.unwrap_or(current);
    }
}

/// Verify a signature document over digest bytes against a trust root.
/// Returns the signer's key id.
pub fn verify_signature(
    digest: &[u8],
    doc: &Value,
    trust: &TrustRoot,
) -> Result<String, VerifyFailure> {
    let doc = parse_signature_doc(doc)?;
    if doc.alg != "ed25519" {
        return fail(FailureReason::AlgUnsupported, doc.alg);
    }
    let public = resolve_signing_key(&doc, trust)?;
    let sig = decode_b64(&doc.signature).unwrap_or_default();
    if sig.len() != 64 {
        return fail(
            FailureReason::Malformed,
            "signature must decode to 64 bytes",
        );
    }
    let Some(key) = verifying_key(&public) else {
        return fail(
            FailureReason::Malformed,
            "public key must be a 32-byte Ed25519 key",
        );
    };
    let sig = Signature::from_slice(&sig).map_err(|_| VerifyFailure {
        reason: FailureReason::Malformed,
        detail: None,
    })?;
    if key.verify_strict(digest, &sig).is_err() {
        return Err(VerifyFailure {
            reason: FailureReason::SignatureInvalid,
            detail: None,
        });
    }
    Ok(doc.key_id)
}

/// The root package's `signature.sig`: `None` when absent, the parsed
/// JSON otherwise (`Err` when it is not JSON).
pub fn read_bundle_signature(bundle: &Bundle) -> Option<Result<Value, VerifyFailure>> {
    let raw = bundle.root_package().file(SIGNATURE_FILE)?;
    Some(
        serde_json::from_str(&crate::manifest::decode_text(raw)).map_err(|e| VerifyFailure {
            reason: FailureReason::Malformed,
            detail: Some(format!("signature.sig is not JSON: {e}")),
        }),
    )
}

/// Signature policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Do not look at signatures.
    Off,
    /// Report problems, do not fail.
    Warn,
    /// Fail unless the signature verifies.
    Required,
}

impl Policy {
    /// `off`, `warn` or `required`.
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "off" => Some(Policy::Off),
            "warn" => Some(Policy::Warn),
            "required" => Some(Policy::Required),
            _ => None,
        }
    }
}

/// What a policy check concluded without failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOutcome {
    /// Policy `off`.
    Off,
    /// Unsigned under `warn`.
    UnsignedWarned,
    /// Verified by this key id.
    Verified(String),
    /// Failed under `warn`.
    Warned(VerifyFailure),
}

/// A policy failure: `unsigned_required` or a [`FailureReason`] spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// `unsigned_required`, or the failure reason.
    pub code: String,
    /// One line.
    pub message: String,
    /// Detail of the failure.
    pub detail: Option<String>,
}

/// Apply a signature policy (`verifyBundleWithPolicy`).
pub fn verify_with_policy(
    bundle: &Bundle,
    policy: Policy,
    trust: Option<&TrustRoot>,
) -> Result<PolicyOutcome, PolicyError> {
    if policy == Policy::Off {
        return Ok(PolicyOutcome::Off);
    }
    let Some(doc) = read_bundle_signature(bundle) else {
        if policy == Policy::Required {
            return Err(PolicyError {
                code: "unsigned_required".into(),
                message: "Bundle is unsigned and policy is required".into(),
                detail: None,
            });
        }
        return Ok(PolicyOutcome::UnsignedWarned);
    };
    let Some(trust) = trust else {
        return Err(PolicyError {
            code: "unsigned_required".into(),
            message: "trustRoot is required when policy is not 'off'".into(),
            detail: None,
        });
    };
    let result = doc.and_then(|doc| {
        let digest = canonical_bundle_digest(bundle).map_err(|e| VerifyFailure {
            reason: FailureReason::Malformed,
            detail: Some(e.message),
        })?;
        verify_signature(digest.as_bytes(), &doc, trust)
    });
    match result {
        Ok(key_id) => Ok(PolicyOutcome::Verified(key_id)),
        Err(f) if policy == Policy::Required => Err(PolicyError {
            code: f.reason.as_str().into(),
            message: format!(
                "Bundle signature verification failed: {}",
                f.reason.as_str()
            ),
            detail: f.detail,
        }),
        Err(f) => Ok(PolicyOutcome::Warned(f)),
    }
}

/// Sign a bundle: compute the canonical digest, store `signature.sig` in
/// the root package, recompute the root RECORD and the bundle integrity.
pub fn sign_bundle(
    bundle: &Bundle,
    key: &KeyPair,
    chain: Option<Vec<ChainEntry>>,
) -> Result<Bundle, BundleError> {
    let digest = canonical_bundle_digest(bundle)?;
    let doc = sign_digest(digest.as_bytes(), &key.private_key, &key.key_id, chain)
        .map_err(|e| BundleError::new(ErrorCode::ToolBundleFailed, format!("cannot sign: {e}")))?;
    let mut out = bundle.clone();
    let root = out
        .packages
        .iter_mut()
        .find(|p| p.identity == bundle.root)
        .ok_or_else(|| BundleError::new(ErrorCode::BundleJsonInvalid, "root package missing"))?;
    let mut files = root.files.clone();
    files.insert(SIGNATURE_FILE.into(), doc.to_file_bytes());
    let updated = Package::from_files(root.identity.clone(), root.manifest.clone(), files)?;
    root.files = updated.files;
    root.record = updated.record;
    root.integrity = updated.integrity;
    out.integrity = out.compute_integrity();
    Ok(out)
}
