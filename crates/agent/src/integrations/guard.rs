//! What an integration request may reach (docs/run.md "Integrations"): the
//! auth's `authorized_uris` globs, and no loopback, private, link-local or
//! unspecified address unless the run allows private targets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// `authorized_uris` glob: `**` matches anything, `*` anything but `/`.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p {
            [] => t.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| go(rest, &t[i..])),
            [b'*', rest @ ..] => {
                let segment = t.iter().position(|c| *c == b'/').unwrap_or(t.len());
                (0..=segment).any(|i| go(rest, &t[i..]))
            }
            [c, rest @ ..] => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// True when `url` matches one of the globs.
pub fn allowed_by(globs: &[String], url: &Url) -> bool {
    globs.iter().any(|g| glob_matches(g, url.as_str()))
}

/// An absolute http(s) URL without userinfo or fragment.
pub fn clean_target(text: &str) -> Result<Url, String> {
    let mut url = Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| "target must be an absolute http(s) URL".to_string())?;
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    Ok(url)
}

/// Why an address is refused, or `None` for a public one.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_reason(v4);
            }
            v6_reason(v6)
        }
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private")
    } else if ip.is_multicast() {
        Some("reserved")
    } else {
        None
    }
}

/// Resolves the URL's host and checks every address; returns the address
/// to connect to, so a second lookup cannot swap in another one.
pub async fn resolve_checked(url: &Url, allow_private: bool) -> Result<SocketAddr, String> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| format!("cannot resolve {bare}: {e}"))?
            .collect(),
    };
    let first = *addrs
        .first()
        .ok_or_else(|| format!("cannot resolve {bare}: no address"))?;
    if !allow_private
        && let Some((addr, reason)) = addrs
            .iter()
            .find_map(|a| blocked_reason(a.ip()).map(|r| (a, r)))
    {
        return Err(format!(
            "refused: {bare} resolves to a {reason} address ({}); set APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE=1 to allow private targets",
            addr.ip()
        ));
    }
    Ok(first)
}

/// Same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_one_segment_or_anything() {
        let g = "https://api.example.com/v1/*/items";
        assert!(glob_matches(g, "https://api.example.com/v1/42/items"));
        assert!(!glob_matches(g, "https://api.example.com/v1/4/2/items"));
        let all = "https://api.example.com/**";
        assert!(glob_matches(all, "https://api.example.com/a/b/c?x=1"));
        assert!(!glob_matches(all, "https://api.example.com.evil.net/a"));
        assert!(!glob_matches(
            all,
            "https://evil.net/https://api.example.com/"
        ));
    }

    #[test]
    fn addresses_are_classified() {
        for (ip, reason) in [
            ("127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fe80::1", Some("link-local")),
            ("fd00::1", Some("private")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("8.8.8.8", None),
            ("2606:4700::1111", None),
        ] {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert_eq!(blocked_reason(parsed), reason, "{ip}");
        }
    }

    #[test]
    fn targets_lose_userinfo_and_fragment() {
        let u = clean_target("https://user:pw@api.example.com/x?q=1#frag").expect("valid");
        assert_eq!(u.as_str(), "https://api.example.com/x?q=1");
        assert!(clean_target("ftp://example.com/").is_err());
        assert!(clean_target("/relative").is_err());
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let u = Url::parse("http://127.0.0.1:9/x").expect("url");
        let err = resolve_checked(&u, false).await.expect_err("refused");
        assert!(err.contains("loopback"), "{err}");
        assert!(resolve_checked(&u, true).await.is_ok());
        let localhost = Url::parse("http://localhost:9/").expect("url");
        assert!(resolve_checked(&localhost, false).await.is_err());
    }
}
