//! The token record stored per profile (docs/files.md#token-record), and
//! decoding of the access token's JWT payload
//! (docs/platform-api.md#access-token). The CLI never verifies the JWT
//! signature: the server does.

use base64::Engine;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{PlatformError, Result};

/// What is stored for a profile. The refresh fields are absent only in
/// legacy (1.x) records, which still work until the access token expires.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub access_token: Zeroizing<String>,
    /// Epoch milliseconds, computed locally at save time.
    pub expires_at: i64,
    pub refresh: Option<RefreshToken>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token: Zeroizing<String>,
    pub expires_at: i64,
}

// Never print a token, even in debug output.
impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("access_token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_expires_at",
                &self.refresh.as_ref().map(|r| r.expires_at),
            )
            .finish()
    }
}

impl TokenRecord {
    /// The compact JSON the original writes (field order matters for
    /// byte-compatibility of keyring entries).
    pub fn to_json(&self) -> Zeroizing<String> {
        let mut map = Map::new();
        map.insert(
            "accessToken".into(),
            Value::String(self.access_token.to_string()),
        );
        map.insert("expiresAt".into(), Value::from(self.expires_at));
        if let Some(refresh) = &self.refresh {
            map.insert(
                "refreshToken".into(),
                Value::String(refresh.token.to_string()),
            );
            map.insert("refreshExpiresAt".into(), Value::from(refresh.expires_at));
        }
        Zeroizing::new(Value::Object(map).to_string())
    }

    /// Parses a stored record; anything malformed (including a record with
    /// only one of the two refresh fields) is `None`.
    pub fn from_value(value: &Value) -> Option<TokenRecord> {
        let obj = value.as_object()?;
        let access = obj.get("accessToken")?.as_str()?;
        let expires_at = as_millis(obj.get("expiresAt")?)?;
        let refresh = match (obj.get("refreshToken"), obj.get("refreshExpiresAt")) {
            (None, None) => None,
            (Some(token), Some(exp)) => Some(RefreshToken {
                token: Zeroizing::new(token.as_str()?.to_string()),
                expires_at: as_millis(exp)?,
            }),
            _ => return None,
        };
        Some(TokenRecord {
            access_token: Zeroizing::new(access.to_string()),
            expires_at,
            refresh,
        })
    }

    pub fn from_json(text: &str) -> Option<TokenRecord> {
        serde_json::from_str::<Value>(text)
            .ok()
            .as_ref()
            .and_then(Self::from_value)
    }

    /// When the sign-in ends (epoch ms): the refresh token's expiry, or the
    /// access token's for a legacy record, which cannot be refreshed.
    pub fn signed_in_until(&self) -> i64 {
        self.refresh
            .as_ref()
            .map_or(self.expires_at, |refresh| refresh.expires_at)
    }

    /// A record whose refresh token has expired is dead (`<=`, no grace).
    pub fn is_dead(&self, now_ms: i64) -> bool {
        match &self.refresh {
            Some(refresh) => refresh.expires_at <= now_ms,
            None => false,
        }
    }
}

fn as_millis(value: &Value) -> Option<i64> {
    let n = value.as_f64()?;
    n.is_finite().then_some(n as i64)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The decoded payload of an access token.
pub fn decode_jwt_payload(token: &str) -> Result<Map<String, Value>> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(PlatformError::Auth(
            "Malformed access token — expected JWT (header.payload.signature).".into(),
        ));
    }
    // Lenient like Node's decoder: either alphabet, padding optional,
    // stray characters skipped.
    let cleaned: String = parts[1]
        .chars()
        .filter_map(|c| match c {
            '+' => Some('-'),
            '/' => Some('_'),
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect();
    let bad = || {
        PlatformError::Auth("Malformed access token — payload is not valid base64url JSON.".into())
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cleaned.as_bytes())
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(PlatformError::Auth(
            "Malformed access token — payload is not an object.".into(),
        )),
    }
}

/// `sub` and `email` of an access token (login).
pub fn identity(token: &str) -> Result<(String, String)> {
    let claims = decode_jwt_payload(token)?;
    let claim = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                PlatformError::Auth(format!("Access token is missing the `{name}` claim."))
            })
    };
    Ok((claim("sub")?, claim("email")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn jwt(payload: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn record_round_trip_in_original_field_order() {
        let rec = TokenRecord {
            access_token: Zeroizing::new("a".into()),
            expires_at: 1,
            refresh: Some(RefreshToken {
                token: Zeroizing::new("r".into()),
                expires_at: 2,
            }),
        };
        assert_eq!(
            rec.to_json().as_str(),
            r#"{"accessToken":"a","expiresAt":1,"refreshToken":"r","refreshExpiresAt":2}"#
        );
        assert_eq!(TokenRecord::from_json(&rec.to_json()), Some(rec));
    }

    #[test]
    fn malformed_and_half_refresh_records_are_absent() {
        for bad in [
            r#"{"accessToken":"a"}"#,
            r#"{"accessToken":1,"expiresAt":1}"#,
            r#"{"accessToken":"a","expiresAt":1,"refreshToken":"r"}"#,
            r#"{"accessToken":"a","expiresAt":1,"refreshExpiresAt":5}"#,
            "[]",
            "not json",
        ] {
            assert!(TokenRecord::from_json(bad).is_none(), "{bad}");
        }
        let legacy = TokenRecord::from_json(r#"{"accessToken":"a","expiresAt":1}"#).unwrap();
        assert!(legacy.refresh.is_none());
    }

    #[test]
    fn dead_boundary_is_inclusive() {
        let rec = TokenRecord::from_json(
            r#"{"accessToken":"a","expiresAt":1,"refreshToken":"r","refreshExpiresAt":100}"#,
        )
        .unwrap();
        assert!(rec.is_dead(100));
        assert!(!rec.is_dead(99));
    }

    #[test]
    fn jwt_identity_rules() {
        assert_eq!(
            identity(&jwt(r#"{"sub":"u","email":"e@x","x":1}"#)).unwrap(),
            ("u".into(), "e@x".into())
        );
        for (token, want) in [
            ("a.b".to_string(), "expected JWT"),
            ("a.b.c.d".to_string(), "expected JWT"),
            ("a.!!!.c".to_string(), "not valid base64url JSON"),
            (jwt("not json"), "not valid base64url JSON"),
            (jwt("\"s\""), "not an object"),
            (jwt("42"), "not an object"),
            (jwt("null"), "not an object"),
            (jwt(r#"{"email":"e"}"#), "`sub`"),
            (jwt(r#"{"sub":"","email":"e"}"#), "`sub`"),
            (jwt(r#"{"sub":1,"email":"e"}"#), "`sub`"),
            (jwt(r#"{"sub":"u","email":null}"#), "`email`"),
            (jwt(r#"{"sub":"u","email":""}"#), "`email`"),
        ] {
            let err = identity(&token).unwrap_err().to_string();
            assert!(err.contains(want), "{token}: {err}");
        }
    }
}
