//! The public URL of an install, and the owner email (`docs/install.md`).

use crate::{Error, Result};

/// `http://localhost:<port>`, or `http://localhost` for port 80.
pub fn app_url_for_port(port: u16) -> String {
    if port == 80 {
        "http://localhost".into()
    } else {
        format!("http://localhost:{port}")
    }
}

/// Validates an `--app-url` and returns its origin (lower-case host, no
/// default port, no trailing slash). A bare `?` or `#` is refused too.
pub fn parse_app_url(raw: &str) -> Result<String> {
    let trimmed = raw.trim();
    let bad = |why: &str| Error::new(format!("Invalid app URL \"{raw}\". {why}"));
    let url = url::Url::parse(trimmed).map_err(|_| {
        bad("Expected an absolute URL like https://appstrate.example.com or http://localhost:3000.")
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad("Only http:// and https:// schemes are supported."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("Credentials in the URL are not supported."));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "Use the origin only (no path, query, or fragment) — Appstrate must be served at the domain root.",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(
            "Expected an absolute URL like https://appstrate.example.com or http://localhost:3000.",
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

fn scheme_host_port(origin: &str) -> Option<(String, String, u16)> {
    let url = url::Url::parse(origin).ok()?;
    let host = match url.host()? {
        url::Host::Ipv6(ip) => format!("[{ip}]"),
        other => other.to_string(),
    };
    Some((url.scheme().to_string(), host, url.port_or_known_default()?))
}

/// Any https URL, or http to a host other than the loopback names.
pub fn is_remote_app_url(origin: &str) -> bool {
    match scheme_host_port(origin) {
        Some((scheme, host, _)) => scheme == "https" || !is_loopback_host(&host),
        None => false,
    }
}

/// A plain-http loopback URL is reached directly, so its port must be the
/// port the platform binds.
pub fn assert_loopback_port_matches(origin: &str, port: u16) -> Result<()> {
    let Some((scheme, host, url_port)) = scheme_host_port(origin) else {
        return Ok(());
    };
    if scheme == "http" && is_loopback_host(&host) && url_port != port {
        return Err(Error::new(format!(
            "App URL {origin} doesn't match the platform bind port {port} — a plain-http localhost URL is accessed directly (no reverse proxy), so the ports must agree. Did you mean `--port {url_port}` (without --app-url)?"
        )));
    }
    Ok(())
}

/// `^[^\s@]+@[^\s@]+\.[^\s@]+$`
pub fn is_valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let ok = |p: &str| !p.is_empty() && !p.chars().any(|c| c.is_whitespace() || c == '@');
    if !ok(local) || domain.contains('@') || domain.chars().any(char::is_whitespace) {
        return false;
    }
    // Some dot with a non-empty part on each side.
    domain
        .char_indices()
        .filter(|(_, c)| *c == '.')
        .any(|(i, _)| i > 0 && i + 1 < domain.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_vectors() {
        assert_eq!(
            parse_app_url("https://appstrate.example.com").unwrap(),
            "https://appstrate.example.com"
        );
        assert_eq!(
            parse_app_url("http://localhost:8080").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            parse_app_url(" HTTPS://A.Example.COM/ ").unwrap(),
            "https://a.example.com"
        );
        assert_eq!(parse_app_url("https://a.io:443").unwrap(), "https://a.io");
        assert_eq!(parse_app_url("http://a.io:80/").unwrap(), "http://a.io");
        for (bad, why) in [
            ("/relative", "Expected an absolute URL"),
            ("garbage", "Expected an absolute URL"),
            ("ftp://a.io", "Only http://"),
            ("ws://a.io", "Only http://"),
            ("https://a.io/x", "origin only"),
            ("https://a.io/?q=1", "origin only"),
            ("https://a.io/#f", "origin only"),
            ("https://a.io/?", "origin only"),
            ("https://u:p@a.io", "Credentials"),
        ] {
            let err = parse_app_url(bad).unwrap_err().message;
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn remote_and_loopback() {
        assert!(!is_remote_app_url("http://localhost:3000"));
        assert!(!is_remote_app_url("http://127.0.0.1:3000"));
        assert!(!is_remote_app_url("http://[::1]:3000"));
        assert!(is_remote_app_url("https://localhost"));
        assert!(is_remote_app_url("http://a.example.com"));
        assert!(
            assert_loopback_port_matches("http://localhost:4000", 3000)
                .unwrap_err()
                .message
                .contains("--port 4000")
        );
        assert!(assert_loopback_port_matches("http://127.0.0.1:4000", 3000).is_err());
        assert!(
            assert_loopback_port_matches("http://localhost", 3000)
                .unwrap_err()
                .message
                .contains("--port 80")
        );
        assert!(assert_loopback_port_matches("http://[::1]:3000", 3000).is_ok());
        assert!(assert_loopback_port_matches("https://localhost:4000", 3000).is_ok());
        assert!(assert_loopback_port_matches("http://a.io:4000", 3000).is_ok());
        assert_eq!(app_url_for_port(80), "http://localhost");
        assert_eq!(app_url_for_port(3000), "http://localhost:3000");
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last@sub.example.org"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "a@@b.co", "a b@c.io", "@b.co", "a@.", "a@b.",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
