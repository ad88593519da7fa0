//! Tiers and inferring the tier of an existing install (`docs/install.md`).

use std::path::Path;

use crate::envfile::parse_env_file;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    T0,
    T1,
    T2,
    T3,
}

impl Tier {
    pub fn number(self) -> u8 {
        match self {
            Tier::T0 => 0,
            Tier::T1 => 1,
            Tier::T2 => 2,
            Tier::T3 => 3,
        }
    }

    pub fn from_number(n: u8) -> Option<Tier> {
        match n {
            0 => Some(Tier::T0),
            1 => Some(Tier::T1),
            2 => Some(Tier::T2),
            3 => Some(Tier::T3),
            _ => None,
        }
    }

    /// Strict `0`–`3` (the original's `Number()` also took `""`, `" 2 "`, `0x2`).
    pub fn parse(raw: &str) -> Result<Tier> {
        match raw {
            "0" => Ok(Tier::T0),
            "1" => Ok(Tier::T1),
            "2" => Ok(Tier::T2),
            "3" => Ok(Tier::T3),
            _ => Err(Error::new(format!(
                "Invalid --tier value \"{raw}\". Expected 0, 1, 2, or 3."
            ))),
        }
    }

    pub fn uses_docker(self) -> bool {
        self != Tier::T0
    }

    /// The picker label.
    pub fn label(self) -> &'static str {
        match self {
            Tier::T3 => "Tier 3 — Advanced (PostgreSQL + Redis + bundled MinIO object storage)",
            Tier::T2 => {
                "Tier 2 — Production (PostgreSQL + Redis, filesystem storage) — recommended"
            }
            Tier::T1 => "Tier 1 — Minimal (PostgreSQL only, dev/testing)",
            Tier::T0 => "Tier 0 — Hobby (no Docker, evaluation only)",
        }
    }
}

const COMPOSE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The tier of an existing install, from its compose file's services, or 0
/// for a `.env` with no database settings and no compose file.
pub fn infer_installed_tier(dir: &Path) -> Option<Tier> {
    for name in COMPOSE_NAMES {
        if let Ok(body) = std::fs::read_to_string(dir.join(name)) {
            let services = top_level_services(&body);
            let has = |s: &str| services.iter().any(|x| x == s);
            return if has("minio") {
                Some(Tier::T3)
            } else if has("redis") {
                Some(Tier::T2)
            } else if has("postgres") {
                Some(Tier::T1)
            } else {
                None
            };
        }
    }
    let env = parse_env_file(&std::fs::read_to_string(dir.join(".env")).ok()?);
    if env.contains_key("POSTGRES_PASSWORD") || env.contains_key("DATABASE_URL") {
        None
    } else {
        Some(Tier::T0)
    }
}

fn is_comment_tail(rest: &str) -> bool {
    let rest = rest.trim_start();
    rest.is_empty() || rest.starts_with('#')
}

/// Top-level keys of the `services:` block, without a YAML parser.
pub fn top_level_services(body: &str) -> Vec<String> {
    let lines: Vec<&str> = body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let Some(start) = lines
        .iter()
        .position(|l| l.strip_prefix("services:").is_some_and(is_comment_tail))
    else {
        return Vec::new();
    };
    let mut indent = None;
    let mut out = Vec::new();
    for line in &lines[start + 1..] {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let this_indent = line.len() - trimmed.len();
        if this_indent == 0 {
            break;
        }
        let want = *indent.get_or_insert(this_indent);
        if this_indent != want {
            continue;
        }
        if let Some((key, rest)) = trimmed.split_once(':')
            && !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && is_comment_tail(rest)
        {
            out.push(key.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_tier_parse() {
        for (raw, n) in [("0", 0), ("1", 1), ("2", 2), ("3", 3)] {
            assert_eq!(Tier::parse(raw).unwrap().number(), n);
        }
        for bad in ["4", "-1", "standard", "1.5", "NaN", "", " 2 ", "0x2"] {
            let err = Tier::parse(bad).unwrap_err();
            assert!(err.message.starts_with("Invalid --tier"), "{bad}");
        }
    }

    #[test]
    fn infers_tiers() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(infer_installed_tier(dir.path()), None);
        for (tier, want) in [(1, Tier::T1), (2, Tier::T2), (3, Tier::T3)] {
            std::fs::write(
                dir.path().join("docker-compose.yml"),
                crate::templates::compose_template(Tier::from_number(tier).unwrap()).unwrap(),
            )
            .unwrap();
            assert_eq!(infer_installed_tier(dir.path()), Some(want));
        }
        std::fs::write(
            dir.path().join("docker-compose.yml"),
            "services:\r\n    postgres:\r\n        image: x\r\n    redis: # cache\r\n",
        )
        .unwrap();
        assert_eq!(infer_installed_tier(dir.path()), Some(Tier::T2));
        std::fs::write(
            dir.path().join("docker-compose.yml"),
            "services:\n  web:\n    minio:\n  # minio:\nvolumes:\n  minio:\n",
        )
        .unwrap();
        assert_eq!(infer_installed_tier(dir.path()), None);
        std::fs::remove_file(dir.path().join("docker-compose.yml")).unwrap();
        std::fs::write(dir.path().join("compose.yaml"), "services:\n  postgres:\n").unwrap();
        assert_eq!(infer_installed_tier(dir.path()), Some(Tier::T1));
        std::fs::remove_file(dir.path().join("compose.yaml")).unwrap();
        std::fs::write(dir.path().join(".env"), "APP_URL=x\n").unwrap();
        assert_eq!(infer_installed_tier(dir.path()), Some(Tier::T0));
        std::fs::write(dir.path().join(".env"), "POSTGRES_PASSWORD=x\n").unwrap();
        assert_eq!(infer_installed_tier(dir.path()), None);
        std::fs::write(dir.path().join(".env"), "DATABASE_URL=x\n").unwrap();
        assert_eq!(infer_installed_tier(dir.path()), None);
    }
}
