//! Stale `${VAR:-default}` values in an on-disk compose file that mirror
//! the platform's own defaults (`docs/install.md`): found by `doctor`,
//! removed by `install --upgrade-compose`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, Result};

/// The platform schema's defaults (`packages/env/src/index.ts`).
pub const CODE_DEFAULTS: &[(&str, &str)] = &[
    ("APP_URL", "http://localhost:3000"),
    ("AUTH_DISABLE_SIGNUP", "false"),
    ("AUTH_DISABLE_ORG_CREATION", "false"),
    ("AUTH_PLATFORM_ADMIN_EMAILS", ""),
    ("AUTH_ALLOWED_SIGNUP_DOMAINS", ""),
    ("AUTH_BOOTSTRAP_OWNER_EMAIL", ""),
    ("AUTH_BOOTSTRAP_ORG_NAME", "Default"),
    ("AUTH_BOOTSTRAP_TOKEN", ""),
    ("AFPS_TRUST_ROOT", "[]"),
    ("AFPS_SIGNATURE_POLICY", "off"),
    ("BETTER_AUTH_ACTIVE_KID", "k1"),
    ("BETTER_AUTH_SECRETS", "{}"),
    ("CONNECTION_ENCRYPTION_KEY_ID", "k1"),
    ("CONNECTION_ENCRYPTION_KEYS", "{}"),
    ("LOG_LEVEL", "info"),
    ("OTEL_ENABLED", "false"),
    ("OTEL_SERVICE_NAME", "appstrate-api"),
    ("OTEL_TRUST_INCOMING_TRACE", "false"),
    (
        "MODULES",
        "oidc,webhooks,mcp,core-providers,@appstrate/module-chat",
    ),
    ("OAUTH_REFRESH_WORKER_ENABLED", "false"),
    ("INTEGRATION_REFRESH_MAX_FAILURES", "5"),
    ("INTEGRATION_REFRESH_GRACE_SECONDS", "3600"),
    ("REMOTE_RUN_SINK_DEFAULT_TTL_SECONDS", "7200"),
    ("REMOTE_RUN_SINK_MAX_TTL_SECONDS", "86400"),
    ("REMOTE_RUN_REPLAY_WINDOW_SECONDS", "600"),
    ("REMOTE_RUN_BUFFER_FLUSH_MS", "5000"),
    ("REMOTE_RUN_EVENT_LIMITS", "{}"),
    ("RUN_HEARTBEAT_INTERVAL_SECONDS", "15"),
    ("RUN_STALL_THRESHOLD_SECONDS", "60"),
    ("RUN_WATCHDOG_INTERVAL_SECONDS", "15"),
    ("RUN_BOOT_DEADLINE_SECONDS", "300"),
    ("RUNTIME_IMAGE_WARM_INTERVAL_SECONDS", "300"),
    ("SIDECAR_MAX_REQUEST_BODY_BYTES", "10485760"),
    ("SIDECAR_MAX_MCP_ENVELOPE_BYTES", "16777216"),
    ("SYSTEM_PROVIDER_KEYS", "[]"),
    ("SYSTEM_PROXIES", "[]"),
    ("TRUST_PROXY", "false"),
    ("WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS", "300"),
    ("PORT", "3000"),
    ("DOCKER_SOCKET", "/var/run/docker.sock"),
    ("RUN_ADAPTER", "process"),
    ("INTEGRATION_RUNTIME_ADAPTER", "docker"),
    (
        "TRUSTED_ORIGINS",
        "http://localhost:3000,http://localhost:5173",
    ),
    ("PI_IMAGE", "appstrate-pi:latest"),
    ("SIDECAR_IMAGE", "appstrate-sidecar:latest"),
    ("PGLITE_DATA_DIR", "./data/pglite"),
    ("FS_STORAGE_PATH", "./data/storage"),
    ("NODE_ENV", "development"),
    ("API_BODY_LIMIT_BYTES", "10485760"),
    ("SMTP_PORT", "587"),
    ("LLM_PROXY_CACHE_MODE", "off"),
    ("LLM_PROXY_CACHE_MAX_AGE", "3600"),
    ("PLATFORM_RUN_LIMITS", "{}"),
    ("INLINE_RUN_LIMITS", "{}"),
    ("LLM_PROXY_LIMITS", "{}"),
    ("CREDENTIAL_PROXY_LIMITS", "{}"),
    ("OIDC_INSTANCE_CLIENTS", "[]"),
];

/// Intentional YAML overrides and the YAML default they are expected to have.
pub const ALLOWLIST: &[(&str, &str)] = &[
    ("RUN_ADAPTER", "docker"),
    ("TRUSTED_ORIGINS", ""),
    ("S3_BUCKET", "appstrate"),
    ("S3_REGION", "us-east-1"),
    ("PORT", "3000"),
    ("DOCKER_SOCKET", "/var/run/docker.sock"),
    (
        "PI_IMAGE",
        "ghcr.io/appstrate/appstrate-pi:${APPSTRATE_VERSION:-latest}",
    ),
    (
        "SIDECAR_IMAGE",
        "ghcr.io/appstrate/appstrate-sidecar:${APPSTRATE_VERSION:-latest}",
    ),
    ("BETTER_AUTH_SECRETS", ""),
];

fn lookup(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum Finding {
    #[serde(rename = "duplicate", rename_all = "camelCase")]
    Duplicate {
        line: usize,
        var_name: String,
        yaml_default: String,
        code_default: String,
        raw: String,
    },
    #[serde(rename = "allowlist-drift", rename_all = "camelCase")]
    AllowlistDrift {
        line: usize,
        var_name: String,
        yaml_default: String,
        expected_yaml_default: String,
        raw: String,
    },
}

/// Every `${NAME:-default}` on a line.
pub fn extract_defaults(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find('}') else { break };
        let inner = &rest[..end];
        if let Some((name, default)) = inner.split_once(":-") {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if valid {
                out.push((name.to_string(), default.to_string()));
            }
        }
        rest = &rest[end + 1..];
    }
    out
}

pub fn analyze(text: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        for (name, default) in extract_defaults(raw) {
            if let Some(expected) = lookup(ALLOWLIST, &name) {
                if default != expected {
                    findings.push(Finding::AllowlistDrift {
                        line: i + 1,
                        var_name: name,
                        yaml_default: default,
                        expected_yaml_default: expected.into(),
                        raw: raw.into(),
                    });
                }
            } else if let Some(code) = lookup(CODE_DEFAULTS, &name)
                && default == code
            {
                findings.push(Finding::Duplicate {
                    line: i + 1,
                    var_name: name,
                    yaml_default: default,
                    code_default: code.into(),
                    raw: raw.into(),
                });
            }
        }
    }
    findings
}

/// `  - VAR=${VAR:-x}` → `  - VAR`; `None` when the line has another shape.
fn bare_passthrough(line: &str, var: &str) -> Option<String> {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let after_dash = trimmed.strip_prefix('-')?;
    let spaces = after_dash.len() - after_dash.trim_start().len();
    let body = after_dash.trim();
    let expected_prefix = format!("{var}=${{{var}:-");
    let default = body.strip_prefix(&expected_prefix)?.strip_suffix('}')?;
    if default.contains('}') || default.contains('#') {
        return None;
    }
    Some(format!("{indent}-{}{var}", &after_dash[..spaces]))
}

pub const REFUSED_REASON: &str = "duplicated default is not a bare `- VAR=${VAR:-default}` sequence entry (mapping form, inline interpolation, or trailing comment) — edit by hand";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub text: String,
    pub rewritten: Vec<Finding>,
    pub refused: Vec<Finding>,
    pub drift: Vec<Finding>,
}

pub fn repair(text: &str) -> Repair {
    let findings = analyze(text);
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let (mut rewritten, mut refused, mut drift) = (Vec::new(), Vec::new(), Vec::new());
    for f in findings {
        match &f {
            Finding::Duplicate { line, var_name, .. } => {
                let idx = line - 1;
                let current = lines[idx].clone();
                let (body, cr) = match current.strip_suffix('\r') {
                    Some(b) => (b.to_string(), "\r"),
                    None => (current.clone(), ""),
                };
                match bare_passthrough(&body, var_name) {
                    Some(new) => {
                        lines[idx] = format!("{new}{cr}");
                        rewritten.push(f);
                    }
                    None => refused.push(f),
                }
            }
            Finding::AllowlistDrift { .. } => drift.push(f),
        }
    }
    Repair {
        text: lines.join("\n"),
        rewritten,
        refused,
        drift,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeStatus {
    Clean,
    RefusedOnly,
    Upgraded { backup: PathBuf },
}

/// `install --upgrade-compose`: repairs `<dir>/docker-compose.yml` in
/// place, keeping a `.backup`. Never touches `.env`, never runs Docker.
pub fn upgrade_compose(dir: &Path) -> Result<(UpgradeStatus, Repair)> {
    let path = dir.join("docker-compose.yml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(format!(
                "No docker-compose.yml found under {}.",
                dir.display()
            )));
        }
        Err(e) => return Err(Error::new(format!("Cannot read {}: {e}", path.display()))),
    };
    let result = repair(&text);
    if result.rewritten.is_empty() {
        let status = if result.refused.is_empty() && result.drift.is_empty() {
            UpgradeStatus::Clean
        } else {
            UpgradeStatus::RefusedOnly
        };
        return Ok((status, result));
    }
    let backup = dir.join("docker-compose.yml.backup");
    std::fs::copy(&path, &backup)
        .map_err(|e| Error::new(format!("Cannot back up {}: {e}", path.display())))?;
    let mode = appstrate_fsutil::mode_of_path(&path).unwrap_or(0o644);
    appstrate_fsutil::write_atomic(&path, result.text.as_bytes(), mode)
        .map_err(|e| Error::new(format!("Cannot write {}: {e}", path.display())))?;
    Ok((UpgradeStatus::Upgraded { backup }, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::compose_template;
    use crate::tier::Tier;

    #[test]
    fn shipped_templates_are_clean() {
        for t in [Tier::T1, Tier::T2, Tier::T3] {
            assert!(analyze(compose_template(t).unwrap()).is_empty());
        }
    }

    #[test]
    fn extraction_and_analysis() {
        assert_eq!(
            extract_defaults("a ${A:-1} b ${b:-x} ${C_2:-} ${D:?e}"),
            vec![("A".into(), "1".into()), ("C_2".into(), String::new())]
        );
        let text = "x:\n  - MODULES=${MODULES:-oidc,webhooks,mcp,core-providers,@appstrate/module-chat}\n  - LOG_LEVEL=${LOG_LEVEL:-debug}\n  - RUN_ADAPTER=${RUN_ADAPTER:-process}\n  - UNTRACKED=${UNTRACKED:-1}\n";
        let f = analyze(text);
        assert_eq!(f.len(), 2);
        assert!(
            matches!(&f[0], Finding::Duplicate { line: 2, var_name, .. } if var_name == "MODULES")
        );
        assert!(
            matches!(&f[1], Finding::AllowlistDrift { line: 4, expected_yaml_default, .. } if expected_yaml_default == "docker")
        );
        let json = serde_json::to_string(&f[0]).unwrap();
        assert!(
            json.starts_with("{\"kind\":\"duplicate\",\"line\":2,\"varName\":\"MODULES\""),
            "{json}"
        );
    }

    #[test]
    fn repair_rules() {
        let text = "    - LOG_LEVEL=${LOG_LEVEL:-info}\n    LOG_LEVEL: ${LOG_LEVEL:-info}\n    - LOG_LEVEL=${LOG_LEVEL:-info} # c\n    - KEEP=1\n";
        let r = repair(text);
        assert_eq!(
            r.text,
            "    - LOG_LEVEL\n    LOG_LEVEL: ${LOG_LEVEL:-info}\n    - LOG_LEVEL=${LOG_LEVEL:-info} # c\n    - KEEP=1\n"
        );
        assert_eq!((r.rewritten.len(), r.refused.len()), (1, 2));
        assert_eq!(repair(&r.text).text, r.text, "idempotent");
        assert!(repair(&r.text).rewritten.is_empty());
    }

    #[test]
    fn upgrade_statuses() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            upgrade_compose(dir.path())
                .unwrap_err()
                .message
                .contains("No docker-compose.yml found")
        );
        std::fs::write(dir.path().join("docker-compose.yml"), "  - A=1\n").unwrap();
        assert_eq!(upgrade_compose(dir.path()).unwrap().0, UpgradeStatus::Clean);
        std::fs::write(
            dir.path().join("docker-compose.yml"),
            "  LOG_LEVEL: ${LOG_LEVEL:-info}\n",
        )
        .unwrap();
        assert_eq!(
            upgrade_compose(dir.path()).unwrap().0,
            UpgradeStatus::RefusedOnly
        );
        assert!(!dir.path().join("docker-compose.yml.backup").exists());
        std::fs::write(
            dir.path().join("docker-compose.yml"),
            "  - LOG_LEVEL=${LOG_LEVEL:-info}\n",
        )
        .unwrap();
        assert!(matches!(
            upgrade_compose(dir.path()).unwrap().0,
            UpgradeStatus::Upgraded { .. }
        ));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("docker-compose.yml")).unwrap(),
            "  - LOG_LEVEL\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("docker-compose.yml.backup")).unwrap(),
            "  - LOG_LEVEL=${LOG_LEVEL:-info}\n"
        );
    }
}
