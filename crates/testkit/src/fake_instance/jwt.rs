//! ES256 signing of access tokens with a key generated per fake instance
//! (docs/platform-api.md#access-token). The real platform signs through Better Auth's JWKS; the
//! fake publishes its public key the same way (`GET /api/auth/jwks`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};

/// The instance's signing key and its JWKS key id.
pub(crate) struct JwtSigner {
    key: SigningKey,
    kid: String,
}

impl JwtSigner {
    /// A fresh P-256 key from the OS random generator.
    pub(crate) fn generate() -> Self {
        let key = loop {
            let bytes: [u8; 32] = rand::random();
            // A random 32-byte string is a valid scalar except with negligible
            // probability (zero or ≥ the group order); draw again then.
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                break key;
            }
        };
        let kid = hex::encode(rand::random::<[u8; 8]>());
        JwtSigner { key, kid }
    }

    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }

    /// Compact JWS `header.payload.signature` over `claims`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": "ES256", "kid": self.kid, "typ": "JWT" });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// The claims of `token` if it is a well-formed ES256 JWT signed by this
    /// key; `None` for anything else (never panics on odd input).
    pub(crate) fn verify(&self, token: &str) -> Option<Value> {
        verify_es256(&self.verifying_key(), token)
    }

    /// The public key as a JWKS document.
    pub(crate) fn jwks(&self) -> Value {
        let point = self.verifying_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return json!({ "keys": [] });
        };
        json!({ "keys": [{
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }
}

/// Verify an ES256 compact JWS against `key` and return its claims.
pub fn verify_es256(key: &VerifyingKey, token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return None;
    }
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
    key.verify(parts_prefix(token)?.as_bytes(), &signature)
        .ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.is_object().then_some(claims)
}

/// `header.payload` of a compact JWS (everything before the last dot).
fn parts_prefix(token: &str) -> Option<&str> {
    token.rsplit_once('.').map(|(prefix, _)| prefix)
}

/// Decode the payload of a JWT without verifying it (what the CLI does).
pub fn decode_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.is_object().then_some(claims)
}
