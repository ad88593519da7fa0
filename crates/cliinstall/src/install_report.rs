//! `appstrate doctor`: every `appstrate` on PATH with its version and
//! channel, the local Docker-tier install and its compose drift
//! (`docs/install.md`).

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::dual_install::{Hit, find_appstrate_on_path};
use appstrate_selfhost::compose_defaults::Finding;
use appstrate_selfhost::process;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Installation {
    pub path_entry: String,
    pub binary: String,
    pub real_path: String,
    pub version: Option<String>,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalInstall {
    pub dir: String,
    pub project_name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub installations: Vec<Installation>,
    pub running_index: i64,
    pub dual_install: bool,
    pub multi_source: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_install: Option<LocalInstall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose_drift: Option<Vec<Finding>>,
}

const KNOWN_SOURCES: [&str; 4] = ["curl", "bun", "cargo", "unknown"];

/// Asks one binary who it is: `__install-source`, else `--version`.
pub async fn probe_binary(hit: &Hit) -> Installation {
    let limit = Some(Duration::from_millis(500));
    let info = process::capture(&hit.binary, &["__install-source"], None, limit).await;
    let mut inst = Installation {
        path_entry: hit.path_entry.clone(),
        binary: hit.binary.clone(),
        real_path: hit.real_path.clone(),
        version: None,
        source: "unknown".into(),
        probe_error: None,
    };
    if info.ok
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(info.stdout.trim())
        && let Some(version) = json
            .get("version")
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    {
        inst.version = Some(version.to_string());
        let source = json
            .get("source")
            .and_then(|s| s.as_str())
            .unwrap_or("unknown");
        inst.source = if KNOWN_SOURCES.contains(&source) {
            source
        } else {
            "unknown"
        }
        .to_string();
        return inst;
    }
    let v = process::capture(&hit.binary, &["--version"], None, limit).await;
    if v.ok {
        // A long `--version` goes on after its first line (commit, build…).
        inst.version = Some(v.stdout.lines().next().unwrap_or("").trim().to_string());
    } else if v.stderr == "timeout" {
        inst.probe_error = Some("timeout".into());
    } else {
        let err = v.stderr.trim();
        inst.probe_error = Some(if err.is_empty() {
            format!("exit {}", v.code)
        } else {
            err.to_string()
        });
    }
    inst
}

pub async fn build_report(path: &str, exec_path: &Path, default_dir: &Path) -> Report {
    let hits = find_appstrate_on_path(path);
    let installations: Vec<Installation> =
        futures_util::future::join_all(hits.iter().map(probe_binary)).await;
    let exec = exec_path.to_string_lossy().into_owned();
    let exec_real = std::fs::canonicalize(exec_path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| exec.clone());
    let running_index = installations
        .iter()
        .position(|i| i.binary == exec || i.real_path == exec || i.real_path == exec_real)
        .map(|i| i as i64)
        .unwrap_or(-1);
    let mut sources: Vec<&str> = installations.iter().map(|i| i.source.as_str()).collect();
    sources.sort();
    sources.dedup();
    let local_install =
        appstrate_selfhost::project::read_project_file(default_dir).map(|p| LocalInstall {
            dir: default_dir.to_string_lossy().into_owned(),
            project_name: p.project_name,
        });
    let compose_drift = local_install.as_ref().and_then(|_| {
        let text = std::fs::read_to_string(default_dir.join("docker-compose.yml")).ok()?;
        let findings = appstrate_selfhost::compose_defaults::analyze(&text);
        (!findings.is_empty()).then_some(findings)
    });
    Report {
        dual_install: installations.len() > 1,
        multi_source: sources.len() > 1,
        installations,
        running_index,
        local_install,
        compose_drift,
    }
}

fn removal_hint(source: &str) -> String {
    match source {
        "curl" => {
            "rm <path-from-doctor> (the bootstrap installer copies one binary to one path).".into()
        }
        "bun" => "bun remove -g appstrate".into(),
        "cargo" => "cargo uninstall appstrate".into(),
        _ => format!(
            "unknown channel — see {}",
            crate::self_update::Channel::Unknown.upgrade_hint()
        ),
    }
}

/// The body of the `Installations` note.
pub fn format_report(r: &Report, exec_path: &Path) -> String {
    let mut out: Vec<String> = Vec::new();
    installations_section(&mut out, r, exec_path);
    if let Some(local) = &r.local_install {
        local_install_section(&mut out, local);
    }
    if let Some(drift) = &r.compose_drift {
        drift_section(&mut out, drift);
    }
    if r.dual_install {
        dual_install_section(&mut out, r);
    }
    out.join("\n")
}

/// Every `appstrate` on PATH: `★` the running one, `←` the PATH winner.
fn installations_section(out: &mut Vec<String>, r: &Report, exec_path: &Path) {
    if r.installations.is_empty() {
        out.push("No `appstrate` binary found on $PATH.".into());
        out.push(String::new());
        out.push(format!("Running binary: {}", exec_path.display()));
    } else {
        let n = r.installations.len();
        out.push(if n == 1 {
            "Found 1 installation of `appstrate` on $PATH:".into()
        } else {
            format!("Found {n} installations of `appstrate` on $PATH:")
        });
        out.push(String::new());
        let width = r
            .installations
            .iter()
            .map(|i| i.binary.chars().count())
            .max()
            .unwrap_or(0);
        let src_width = r
            .installations
            .iter()
            .map(|i| i.source.len() + 2)
            .max()
            .unwrap_or(0);
        for (idx, inst) in r.installations.iter().enumerate() {
            let running = if idx as i64 == r.running_index {
                '★'
            } else {
                ' '
            };
            let winner = if idx == 0 { '←' } else { ' ' };
            let src = format!("[{}]", inst.source);
            let version = inst
                .version
                .clone()
                .unwrap_or_else(|| "(probe failed)".into());
            out.push(format!(
                "  {running}{winner} {:<width$}  {src:<src_width$}  {version}",
                inst.binary
            ));
            if let Some(e) = &inst.probe_error {
                out.push(format!("        probe error: {e}"));
            }
        }
        out.push(String::new());
        out.push("  ★ = running CLI".into());
        out.push("  ← = first on $PATH (resolved when you type 'appstrate')".into());
    }
}

fn local_install_section(out: &mut Vec<String>, local: &LocalInstall) {
    out.push(String::new());
    out.push(format!(
        "Local Docker-tier install detected at {} (project: {}).",
        local.dir, local.project_name
    ));
    out.push("Manage the stack via:".into());
    out.push("  • appstrate logs -f".into());
    out.push("  • appstrate status".into());
    out.push("  • appstrate stop / appstrate start".into());
    out.push("  • appstrate uninstall".into());
    out.push("  • appstrate uninstall --purge   (destroys volumes and the install dir)".into());
}

/// Compose defaults that duplicate or diverge from the platform's.
fn drift_section(out: &mut Vec<String>, drift: &[Finding]) {
    out.push(String::new());
    out.push(format!(
            "Compose drift: {} env default(s) in your on-disk docker-compose.yml mirror or diverge from the platform schema.",
            drift.len()
        ));
    let dups: Vec<_> = drift
        .iter()
        .filter(|f| matches!(f, Finding::Duplicate { .. }))
        .collect();
    let drifts: Vec<_> = drift
        .iter()
        .filter(|f| matches!(f, Finding::AllowlistDrift { .. }))
        .collect();
    for f in &dups {
        if let Finding::Duplicate {
            line,
            var_name,
            yaml_default,
            ..
        } = f
        {
            out.push(format!(
                "  • line {line}: {var_name}={}",
                serde_json::Value::from(yaml_default.as_str())
            ));
        }
    }
    if !dups.is_empty() {
        out.push("  Fix: appstrate install --upgrade-compose".into());
    }
    if !drifts.is_empty() {
        out.push("Intentional overrides whose value diverged from the shipped template:".into());
        for f in &drifts {
            if let Finding::AllowlistDrift {
                line,
                var_name,
                yaml_default,
                expected_yaml_default,
                ..
            } = f
            {
                out.push(format!(
                    "  • line {line}: {var_name}={} (template default {})",
                    serde_json::Value::from(yaml_default.as_str()),
                    serde_json::Value::from(expected_yaml_default.as_str())
                ));
            }
        }
        out.push("Left untouched by --upgrade-compose — review by hand if unexpected.".into());
    }
}

/// How to remove the installations that do not win PATH resolution.
fn dual_install_section(out: &mut Vec<String>, r: &Report) {
    out.push(String::new());
    out.push("Multiple installations detected.".into());
    let winner = r.installations[0].source.clone();
    if r.multi_source {
        out.push(
            "Different channels are present. To remove the channel that is NOT winning resolution:"
                .into(),
        );
        let mut seen: Vec<&str> = Vec::new();
        for inst in &r.installations[1..] {
            if inst.source != winner && !seen.contains(&inst.source.as_str()) {
                seen.push(&inst.source);
                out.push(format!(
                    "  • {} channel → {}",
                    inst.source,
                    removal_hint(&inst.source)
                ));
            }
        }
    } else {
        out.push("All installations report the same channel — clean up by hand or via:".into());
        out.push(format!("  • {}", removal_hint(&winner)));
    }
}

/// The outro line.
pub fn outro(r: &Report) -> &'static str {
    if r.dual_install {
        "Detected more than one installation. See above for cleanup hints."
    } else if r.installations.is_empty() {
        "No `appstrate` on $PATH — the running binary is not reachable by name."
    } else {
        "Healthy — single installation on PATH."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary that predates `__install-source` is known by its
    /// `--version`; a long one (commit, build date…) gives its first line.
    #[tokio::test]
    async fn version_probe_keeps_the_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("appstrate");
        std::fs::write(
            &binary,
            "#!/bin/sh\n[ \"$1\" = --version ] || exit 2\nprintf 'appstrate 0.9.0\\ncommit:  0123456789ab\\n'\n",
        )
        .unwrap();
        appstrate_fsutil::set_mode(&binary, 0o755).unwrap();
        let path = binary.display().to_string();
        let inst = probe_binary(&Hit {
            path_entry: dir.path().display().to_string(),
            binary: path.clone(),
            real_path: path,
        })
        .await;
        assert_eq!(inst.version.as_deref(), Some("appstrate 0.9.0"));
        assert_eq!(inst.source, "unknown");
    }
}
