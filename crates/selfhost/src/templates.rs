//! The compose files of tiers 1–3, embedded byte for byte from the
//! platform's `examples/self-hosting/docker-compose.tier{1,2,3}.yml`.

use crate::tier::Tier;

const TIER1: &str = include_str!("../templates/docker-compose.tier1.yml");
const TIER2: &str = include_str!("../templates/docker-compose.tier2.yml");
const TIER3: &str = include_str!("../templates/docker-compose.tier3.yml");

/// The template for a Docker tier; `None` for Tier 0.
pub fn compose_template(tier: Tier) -> Option<&'static str> {
    match tier {
        Tier::T0 => None,
        Tier::T1 => Some(TIER1),
        Tier::T2 => Some(TIER2),
        Tier::T3 => Some(TIER3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{Bootstrap, EnvInputs, generate_env};
    use crate::tier::top_level_services;

    fn required_keys(template: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = template;
        while let Some(i) = rest.find("${") {
            rest = &rest[i + 2..];
            let end = rest.find('}').unwrap_or(rest.len());
            let inner = &rest[..end];
            if let Some((name, _)) = inner.split_once(":?") {
                out.push(name.to_string());
            }
        }
        out
    }

    #[test]
    fn services_per_tier() {
        let s1 = top_level_services(compose_template(Tier::T1).unwrap());
        let s2 = top_level_services(compose_template(Tier::T2).unwrap());
        let s3 = top_level_services(compose_template(Tier::T3).unwrap());
        let has = |v: &Vec<String>, s: &str| v.iter().any(|x| x == s);
        assert!(has(&s1, "postgres") && !has(&s1, "redis") && !has(&s1, "minio"));
        assert!(has(&s2, "postgres") && has(&s2, "redis") && !has(&s2, "minio"));
        assert!(
            has(&s3, "postgres")
                && has(&s3, "redis")
                && has(&s3, "minio")
                && has(&s3, "minio-init")
        );
        for s in [&s1, &s2, &s3] {
            for name in [
                "migrate",
                "appstrate",
                "pi-pull",
                "sidecar-pull",
                "mcp-runner-node-pull",
                "mcp-runner-binary-pull",
            ] {
                assert!(has(s, name), "{name}");
            }
        }
        for t in [Tier::T1, Tier::T2, Tier::T3] {
            let body = compose_template(t).unwrap();
            assert!(body.contains("\"${PORT:-3000}:3000\""));
            assert!(body.contains("${APPSTRATE_VERSION:-1.0.0-beta.41}"));
            assert!(!body.lines().any(|l| l.starts_with("name:")));
        }
    }

    /// The lockstep guard: every generated key is used by the template, and
    /// every loud-fail `${KEY:?}` of the template is generated.
    #[test]
    fn env_and_templates_in_lockstep() {
        let token = Bootstrap {
            token: Some("t".into()),
            ..Default::default()
        };
        for t in [Tier::T1, Tier::T2, Tier::T3] {
            let body = compose_template(t).unwrap();
            let env = generate_env(&EnvInputs {
                tier: t,
                app_url: "https://a.example.com",
                port: 8080,
                bootstrap: &token,
                image_tag: "1.2.3",
                docker_gid: Some(998),
            })
            .unwrap();
            for key in env.keys() {
                let word = body
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|w| w == key);
                assert!(word, "tier {}: {key} not in template", t.number());
            }
            for key in required_keys(body) {
                assert!(
                    env.contains_key(&key),
                    "tier {}: {key} required but not generated",
                    t.number()
                );
            }
            assert!(env.contains_key("CONNECT_SESSION_SECRET"));
        }
    }
}
