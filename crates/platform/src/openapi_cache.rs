//! The instance's OpenAPI document with the per-profile ETag cache
//! (docs/files.md#openapi-cache, docs/platform-api.md#openapi-document).
//!
//! `<cache dir>/openapi-<encodeURIComponent(profile)>.json` holds the
//! compact `JSON.stringify` of the document and `.etag` the raw `ETag`
//! value. A cached copy with an ETag is revalidated with `If-None-Match`: a
//! 304 costs one round trip and no download. A cache that cannot be read or
//! parsed is a miss, never an error; failing to write it is silent.

use std::fs;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::Value;

use crate::error::{PlatformError, Result};
use crate::fsutil;
use crate::session::Session;

/// How the cache is used for one fetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CachePolicy {
    /// `--no-cache`: neither read nor write.
    pub no_cache: bool,
    /// `--refresh`: do not read, but write.
    pub refresh: bool,
}

/// How much of a cached document to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The whole document (`show`, `export`).
    Full,
    /// Only what `list` reads (see `appstrate_openapi::index`); a fresh
    /// download is still parsed whole, since the cache stores all of it.
    OperationsIndex,
}

/// The document and, for callers that re-serialise it, whether it came from
/// the cache.
pub struct Fetched {
    pub document: Value,
    pub from_cache: bool,
}

/// The cache file and its ETag sibling for `profile` under `cache_dir`.
pub fn cache_paths(cache_dir: &Path, profile: &str) -> (PathBuf, PathBuf) {
    let stem = format!("openapi-{}", crate::agents::encode_component(profile));
    (
        cache_dir.join(format!("{stem}.json")),
        cache_dir.join(format!("{stem}.etag")),
    )
}

struct Cached {
    document: Value,
    etag: Option<String>,
}

fn read_cache(json_path: &Path, etag_path: &Path, view: View) -> Option<Cached> {
    let bytes = fs::read(json_path).ok()?;
    let document = match view {
        View::Full => appstrate_openapi::parse_document(&bytes),
        View::OperationsIndex => appstrate_openapi::parse_operations_index(&bytes),
    }
    .ok()?;
    let etag = fs::read_to_string(etag_path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Some(Cached { document, etag })
}

fn write_cache(
    cache_dir: &Path,
    json_path: &Path,
    etag_path: &Path,
    document: &Value,
    etag: Option<&str>,
) {
    let result = (|| -> std::io::Result<()> {
        fsutil::create_private_dir(cache_dir)?;
        fsutil::write_private_atomic(json_path, appstrate_jsjson::stringify(document).as_bytes())?;
        match etag {
            Some(etag) => fsutil::write_private_atomic(etag_path, etag.as_bytes()),
            None => match fs::remove_file(etag_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
    })();
    // Silent on purpose: the user still gets the document.
    let _ = result;
}

/// `GET /api/openapi.json` for the session's profile, through the cache.
pub async fn fetch_openapi(session: &Session, policy: CachePolicy, view: View) -> Result<Fetched> {
    let cache_dir = session.env().cache_dir();
    let (json_path, etag_path) = cache_paths(&cache_dir, session.profile_name());
    let cached = if policy.no_cache || policy.refresh {
        None
    } else {
        read_cache(&json_path, &etag_path, view)
    };
    let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
    if let Some(etag) = cached.as_ref().and_then(|c| c.etag.clone()) {
        headers.push(("If-None-Match".to_string(), etag));
    }
    let response = session
        .request_limited(
            Method::GET,
            "/api/openapi.json",
            &headers,
            None,
            crate::http::OPENAPI_REPLY_LIMIT,
        )
        .await?;
    if response.status == 304 {
        return match cached {
            Some(cached) => Ok(Fetched {
                document: cached.document,
                from_cache: true,
            }),
            None => Err(PlatformError::Other(
                "Server responded 304 Not Modified but no cached schema is available. Re-run with --refresh.".into(),
            )),
        };
    }
    if response.status == 401 {
        return Err(PlatformError::Auth(format!(
            "Unauthorized — your session may have been revoked. Run: appstrate login --profile {}",
            session.profile_name()
        )));
    }
    if !(200..300).contains(&response.status) {
        let body = String::from_utf8_lossy(&response.body);
        // First 200 UTF-16 units, like `body.slice(0, 200)`.
        let mut units = 0;
        let excerpt: String = body
            .chars()
            .take_while(|c| {
                units += c.len_utf16();
                units <= 200
            })
            .collect();
        let tail = if excerpt.is_empty() {
            String::new()
        } else {
            format!(" — {excerpt}")
        };
        return Err(PlatformError::Other(format!(
            "Failed to fetch OpenAPI schema: HTTP {} {}{tail}",
            response.status, response.reason
        )));
    }
    let document = appstrate_openapi::parse_document(&response.body)
        .map_err(|e| PlatformError::Other(e.to_string()))?;
    if !policy.no_cache {
        let etag = response
            .headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok());
        write_cache(&cache_dir, &json_path, &etag_path, &document, etag);
    }
    Ok(Fetched {
        document,
        from_cache: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_encode_the_profile_like_encode_uri_component() {
        let dir = Path::new("/c");
        assert_eq!(
            cache_paths(dir, "weird/name").0,
            PathBuf::from("/c/openapi-weird%2Fname.json")
        );
        assert_eq!(
            cache_paths(dir, "a b!~*'()é").1,
            PathBuf::from("/c/openapi-a%20b!~*'()%C3%A9.etag")
        );
    }
}
