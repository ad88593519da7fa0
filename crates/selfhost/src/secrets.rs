//! Generating a fresh `.env` for a tier (`docs/install.md`). Every secret
//! comes from the operating system's random source.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::appurl;
use crate::envfile::EnvMap;
use crate::tier::Tier;
use crate::{Error, Result};

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    OsRng.try_fill_bytes(&mut buf).map_err(|e| {
        Error::new(format!(
            "Cannot read the operating system's random source: {e}"
        ))
    })?;
    Ok(buf)
}

/// 32 random bytes as 64 lowercase hex characters.
pub fn hex_secret() -> Result<String> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// 32 random bytes, standard base64 with padding (44 characters).
pub fn base64_key() -> Result<String> {
    Ok(STANDARD.encode(random_bytes::<32>()?))
}

/// 24 random bytes, base64url without padding (32 characters).
pub fn password() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<24>()?))
}

/// 32 random bytes, base64url without padding (43 characters).
pub fn bootstrap_token() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// Closed mode: an owner email (with an optional org name), or a one-time
/// bootstrap token, or neither (open mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bootstrap {
    pub owner_email: Option<String>,
    pub org_name: Option<String>,
    pub token: Option<String>,
}

impl Bootstrap {
    pub fn is_open(&self) -> bool {
        self.owner_email.is_none() && self.token.is_none()
    }
}

/// What goes into a fresh `.env` besides secrets.
#[derive(Debug, Clone)]
pub struct EnvInputs<'a> {
    pub tier: Tier,
    pub app_url: &'a str,
    pub port: u16,
    pub bootstrap: &'a Bootstrap,
    /// The Docker image tag (tiers 1–3).
    pub image_tag: &'a str,
    /// `DOCKER_GID` detected from the Docker socket (tiers 1–3), if any.
    pub docker_gid: Option<u32>,
}

pub fn generate_env(inputs: &EnvInputs<'_>) -> Result<EnvMap> {
    let mut env = EnvMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set("APP_URL", inputs.app_url.to_string());
    set("TRUSTED_ORIGINS", inputs.app_url.to_string());
    set("BETTER_AUTH_SECRET", hex_secret()?);
    set("CONNECTION_ENCRYPTION_KEY", base64_key()?);
    set("CONNECT_SESSION_SECRET", hex_secret()?);
    set("RUN_TOKEN_SECRET", hex_secret()?);
    set("UPLOAD_SIGNING_SECRET", hex_secret()?);
    if appurl::is_remote_app_url(inputs.app_url) {
        set("TRUST_PROXY", "true".into());
    }
    if inputs.port != 3000 {
        set("PORT", inputs.port.to_string());
    }
    let b = inputs.bootstrap;
    if let Some(email) = &b.owner_email {
        set("AUTH_DISABLE_SIGNUP", "true".into());
        set("AUTH_DISABLE_ORG_CREATION", "true".into());
        set("AUTH_PLATFORM_ADMIN_EMAILS", email.clone());
        set("AUTH_BOOTSTRAP_OWNER_EMAIL", email.clone());
    } else if let Some(token) = &b.token {
        set("AUTH_DISABLE_SIGNUP", "true".into());
        set("AUTH_DISABLE_ORG_CREATION", "true".into());
        set("AUTH_BOOTSTRAP_TOKEN", token.clone());
    }
    if !b.is_open()
        && let Some(org) = &b.org_name
    {
        set("AUTH_BOOTSTRAP_ORG_NAME", org.clone());
    }
    if inputs.tier.uses_docker() {
        set("APPSTRATE_VERSION", inputs.image_tag.to_string());
        set("POSTGRES_USER", "appstrate".into());
        set("POSTGRES_PASSWORD", password()?);
        if let Some(gid) = inputs.docker_gid {
            set("DOCKER_GID", gid.to_string());
        }
    }
    if inputs.tier == Tier::T3 {
        set("MINIO_ROOT_USER", "appstrate".into());
        set("MINIO_ROOT_PASSWORD", password()?);
        set("S3_BUCKET", "appstrate".into());
        set("S3_REGION", "us-east-1".into());
    }
    Ok(env)
}

/// `APPSTRATE_VERSION` from the environment (trimmed) or the platform
/// release this CLI pins.
pub fn docker_image_tag(env_override: Option<&str>) -> String {
    env_override
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(crate::PLATFORM_VERSION)
        .to_string()
}

/// The group owning the Docker socket, so the platform container can use
/// it (the templates' `group_add`). `None` when the socket is absent or
/// owned by root (the compose default 0 already fits).
pub fn detect_docker_gid(socket: &std::path::Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let gid = std::fs::metadata(socket).ok()?.gid();
        (gid != 0).then_some(gid)
    }
    #[cfg(not(unix))]
    {
        let _ = socket;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(tier: Tier, b: &'a Bootstrap, port: u16, url: &'a str) -> EnvInputs<'a> {
        EnvInputs {
            tier,
            app_url: url,
            port,
            bootstrap: b,
            image_tag: "1.2.3",
            docker_gid: None,
        }
    }

    fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
        s.chars().all(f)
    }

    #[test]
    fn keys_per_tier() {
        let open = Bootstrap::default();
        let t0 = generate_env(&inputs(Tier::T0, &open, 3000, "http://localhost:3000")).unwrap();
        assert_eq!(t0.len(), 7);
        assert!(!t0.contains_key("APPSTRATE_VERSION"));
        let t1 = generate_env(&inputs(Tier::T1, &open, 3000, "http://localhost:3000")).unwrap();
        assert_eq!(t1.len(), 10);
        assert_eq!(t1["POSTGRES_USER"], "appstrate");
        assert_eq!(t1["APPSTRATE_VERSION"], "1.2.3");
        let t2 = generate_env(&inputs(Tier::T2, &open, 3000, "http://localhost:3000")).unwrap();
        assert_eq!(t2.keys().collect::<Vec<_>>(), t1.keys().collect::<Vec<_>>());
        let t3 = generate_env(&inputs(Tier::T3, &open, 3000, "http://localhost:3000")).unwrap();
        assert_eq!(t3.len(), 14);
        assert_eq!(t3["MINIO_ROOT_USER"], "appstrate");
        assert_eq!(t3["S3_BUCKET"], "appstrate");
        assert_eq!(t3["S3_REGION"], "us-east-1");
        assert!(!t3.contains_key("MINIO_CONSOLE_PORT"));
    }

    #[test]
    fn formats_and_freshness() {
        let open = Bootstrap::default();
        let a = generate_env(&inputs(Tier::T3, &open, 3000, "http://localhost:3000")).unwrap();
        let b = generate_env(&inputs(Tier::T3, &open, 3000, "http://localhost:3000")).unwrap();
        for k in [
            "BETTER_AUTH_SECRET",
            "CONNECT_SESSION_SECRET",
            "RUN_TOKEN_SECRET",
            "UPLOAD_SIGNING_SECRET",
        ] {
            assert_eq!(a[k].len(), 64);
            assert!(all(&a[k], |c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
            assert_ne!(a[k], b[k]);
        }
        let key = &a["CONNECTION_ENCRYPTION_KEY"];
        assert_eq!(key.len(), 44);
        assert!(
            key.ends_with('=')
                && all(&key[..43], |c| c.is_ascii_alphanumeric()
                    || c == '+'
                    || c == '/')
        );
        for k in ["POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"] {
            assert_eq!(a[k].len(), 32);
            assert!(all(&a[k], |c| c.is_ascii_alphanumeric()
                || c == '_'
                || c == '-'));
            assert_ne!(a[k], b[k]);
        }
        assert_eq!(a["APP_URL"], "http://localhost:3000");
        assert_eq!(a["TRUSTED_ORIGINS"], a["APP_URL"]);
        let t = bootstrap_token().unwrap();
        assert_eq!(t.len(), 43);
        assert!(all(&t, |c| c.is_ascii_alphanumeric()
            || c == '_'
            || c == '-'));
    }

    #[test]
    fn port_proxy_and_bootstrap() {
        let open = Bootstrap::default();
        let e = generate_env(&inputs(Tier::T0, &open, 3000, "http://localhost:3000")).unwrap();
        assert!(!e.contains_key("PORT") && !e.contains_key("TRUST_PROXY"));
        let e = generate_env(&inputs(Tier::T2, &open, 8080, "https://a.example.com")).unwrap();
        assert_eq!(e["PORT"], "8080");
        assert_eq!(e["TRUST_PROXY"], "true");
        assert_eq!(e["TRUSTED_ORIGINS"], "https://a.example.com");
        let email = Bootstrap {
            owner_email: Some("a@b.co".into()),
            org_name: Some("Acme".into()),
            token: None,
        };
        let e = generate_env(&inputs(Tier::T0, &email, 3000, "http://localhost:3000")).unwrap();
        assert_eq!(e["AUTH_DISABLE_SIGNUP"], "true");
        assert_eq!(e["AUTH_DISABLE_ORG_CREATION"], "true");
        assert_eq!(e["AUTH_PLATFORM_ADMIN_EMAILS"], "a@b.co");
        assert_eq!(e["AUTH_BOOTSTRAP_OWNER_EMAIL"], "a@b.co");
        assert_eq!(e["AUTH_BOOTSTRAP_ORG_NAME"], "Acme");
        let no_org = Bootstrap {
            org_name: None,
            ..email
        };
        let e = generate_env(&inputs(Tier::T1, &no_org, 3000, "http://localhost:3000")).unwrap();
        assert!(!e.contains_key("AUTH_BOOTSTRAP_ORG_NAME"));
        let e = generate_env(&inputs(Tier::T1, &open, 3000, "http://localhost:3000")).unwrap();
        assert!(!e.keys().any(|k| k.starts_with("AUTH_")));
    }

    #[test]
    fn image_tag_and_gid() {
        assert_eq!(docker_image_tag(Some(" 2.0.0 ")), "2.0.0");
        assert_eq!(docker_image_tag(Some("  ")), crate::PLATFORM_VERSION);
        assert_eq!(docker_image_tag(None), crate::PLATFORM_VERSION);
        assert_eq!(
            detect_docker_gid(std::path::Path::new("/nonexistent/docker.sock")),
            None
        );
    }
}
