//! Instance URL validation and normalisation
//! (docs/platform-api.md#instance-url), and the verification-URL checks of
//! the device flow (docs/platform-api.md#device-code).

use url::Url;

use crate::error::{PlatformError, Result};

/// Whether `host` (as the URL parser prints it) is a loopback host that may
/// be reached over plain http.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    matches!(
        host.as_str(),
        "localhost"
            | "127.0.0.1"
            | "[::1]"
            | "::1"
            | "[::ffff:127.0.0.1]"
            | "::ffff:127.0.0.1"
            | "[::ffff:7f00:1]"
            | "::ffff:7f00:1"
    )
}

/// Validates an instance URL and returns it trimmed with one trailing `/`
/// removed (no other normalisation: the path prefix is kept).
pub fn normalize_instance(raw: &str, insecure: bool) -> Result<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PlatformError::Instance("Instance URL is empty.".into()));
    }
    if !trimmed.contains("://") {
        return Err(missing_scheme(trimmed));
    }
    let url = Url::parse(trimmed)
        .map_err(|_| PlatformError::Instance(format!("Invalid instance URL: \"{trimmed}\"")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or("");
            if !is_loopback_host(host) && !insecure {
                return Err(PlatformError::Instance(format!(
                    "Refusing to send credentials to a non-HTTPS, non-loopback instance: {trimmed}\n  - Use https:// (recommended), or\n  - Pass --allow-http / set APPSTRATE_INSECURE=1 to acknowledge the risk."
                )));
            }
        }
        other => {
            return Err(PlatformError::Instance(format!(
                "Unsupported instance URL protocol \"{other}\" (expected http:// or https://)."
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(PlatformError::Instance(format!(
            "Invalid instance URL: \"{trimmed}\""
        )));
    }
    Ok(trimmed.strip_suffix('/').unwrap_or(trimmed).to_string())
}

/// `127.0.0.1:9` or `example.com`: the URL the user most likely meant,
/// http:// for a loopback host (a local dev server), https:// otherwise.
fn missing_scheme(raw: &str) -> PlatformError {
    let host = raw.split([':', '/']).next().unwrap_or("");
    let scheme = if is_loopback_host(host) {
        "http"
    } else {
        "https"
    };
    PlatformError::Instance(format!(
        "Invalid instance URL: \"{raw}\" has no http:// or https://. Run: appstrate login --instance {scheme}://{raw}"
    ))
}

/// The origin (`scheme://host[:port]`) of a normalised instance URL.
pub fn origin_of(instance: &str) -> Option<String> {
    Url::parse(instance)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

fn effective_port(url: &Url) -> u16 {
    url.port_or_known_default().unwrap_or(0)
}

fn strip_dot(host: &str) -> &str {
    host.strip_suffix('.').unwrap_or(host)
}

/// Checks a verification URI from the device-code response against the
/// instance (docs/platform-api.md#device-code). The reason is returned for diagnostics; the user sees
/// the canonical `invalid_request` sentence.
pub fn check_verification_url(uri: &str, instance: &str, insecure: bool) -> Result<(), String> {
    let parsed =
        Url::parse(uri).map_err(|_| format!("Refusing unparseable verification URL: \"{uri}\""))?;
    let scheme = parsed.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "Refusing non-http(s) verification URL: {scheme}: (got \"{uri}\")"
        ));
    }
    let inst = Url::parse(instance).map_err(|_| format!("Invalid instance URL: \"{instance}\""))?;
    let host = strip_dot(parsed.host_str().unwrap_or(""));
    let inst_host = strip_dot(inst.host_str().unwrap_or(""));
    if !host.eq_ignore_ascii_case(inst_host) {
        return Err(format!(
            "Refusing verification URL with host \"{host}\" — expected \"{inst_host}\" to match the instance."
        ));
    }
    let (port, inst_port) = (effective_port(&parsed), effective_port(&inst));
    if port != inst_port {
        return Err(format!(
            "Refusing verification URL on port {port} — instance is on port {inst_port}."
        ));
    }
    if scheme == "http" && !is_loopback_host(host) && !insecure {
        return Err(format!(
            "Refusing http:// verification URL on a non-loopback host: \"{uri}\". Pass --allow-http / set APPSTRATE_INSECURE=1 to acknowledge the risk."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_one_trailing_slash_and_trims() {
        assert_eq!(
            normalize_instance("  https://a.io//  ", false).unwrap(),
            "https://a.io/"
        );
        assert_eq!(
            normalize_instance("https://a.io/", false).unwrap(),
            "https://a.io"
        );
        assert_eq!(
            normalize_instance("https://a.io/base", false).unwrap(),
            "https://a.io/base"
        );
    }

    #[test]
    fn http_only_on_loopback_unless_insecure() {
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "http://[::1]:8080",
        ] {
            assert!(normalize_instance(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "http://192.168.1.2:3000",
            "http://8.8.8.8",
        ] {
            let err = normalize_instance(bad, false).unwrap_err().to_string();
            assert!(err.contains("Refusing to send credentials"), "{err}");
            assert!(normalize_instance(bad, true).is_ok());
        }
    }

    #[test]
    fn rejects_bad_urls() {
        assert_eq!(
            normalize_instance("  ", false).unwrap_err().to_string(),
            "Instance URL is empty."
        );
        assert!(
            normalize_instance("not a url", false)
                .unwrap_err()
                .to_string()
                .starts_with("Invalid instance URL")
        );
        assert!(normalize_instance("://missing-scheme", false).is_err());
        let ftp = normalize_instance("ftp://localhost", true)
            .unwrap_err()
            .to_string();
        assert_eq!(
            ftp,
            "Unsupported instance URL protocol \"ftp\" (expected http:// or https://)."
        );
        let bare = normalize_instance("127.0.0.1:9", false)
            .unwrap_err()
            .to_string();
        assert!(
            bare.ends_with("Run: appstrate login --instance http://127.0.0.1:9"),
            "{bare}"
        );
        let remote = normalize_instance("example.com", false)
            .unwrap_err()
            .to_string();
        assert!(
            remote.ends_with("--instance https://example.com"),
            "{remote}"
        );
        assert!(normalize_instance("file:///etc", true).is_err());
        assert!(normalize_instance("ws://localhost", true).is_err());
    }

    #[test]
    fn verification_url_rules() {
        let inst = "https://app.example.com";
        assert!(
            check_verification_url("https://app.example.com/activate?user_code=X", inst, false)
                .is_ok()
        );
        assert!(
            check_verification_url("https://app.example.com.:443/activate", inst, false).is_ok()
        );
        for scheme in [
            "file:///x",
            "javascript:alert(1)",
            "customscheme://x",
            "data:text/plain,x",
            "ftp://app.example.com/",
        ] {
            assert!(
                check_verification_url(scheme, inst, false).is_err(),
                "{scheme}"
            );
        }
        assert!(
            check_verification_url("https://evil.com/activate", inst, false)
                .unwrap_err()
                .contains("expected \"app.example.com\"")
        );
        assert!(
            check_verification_url("https://app.example.com:8443/a", inst, false)
                .unwrap_err()
                .contains("port 8443")
        );
        assert!(
            check_verification_url("::nope", inst, false)
                .unwrap_err()
                .contains("unparseable")
        );
        assert!(check_verification_url("http://localhost:80/a", "http://localhost", false).is_ok());
    }
}
