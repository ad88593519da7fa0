//! `docker compose ls --all --format json` (`docs/install.md`).

use std::path::Path;

use crate::process;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeProject {
    pub name: String,
    pub config_files: Vec<String>,
}

/// Asks `docker compose ls --all --format json` for the project named
/// exactly `name`; `None` when docker fails or does not list it.
pub async fn listed_project(name: &str) -> Option<ComposeProject> {
    let out = process::capture(
        "docker",
        &["compose", "ls", "--all", "--format", "json"],
        None,
        None,
    )
    .await;
    if !out.ok {
        return None;
    }
    find_project(&out.stdout, name)
}

/// Finds the project named exactly `name` in the output (a JSON array, a
/// single object, or NDJSON).
pub fn find_project(stdout: &str, name: &str) -> Option<ComposeProject> {
    let text = stdout.trim();
    if text.is_empty() {
        return None;
    }
    let entries: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(other) => vec![other],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    };
    entries.into_iter().find_map(|entry| {
        let entry_name = entry
            .get("Name")
            .or_else(|| entry.get("name"))
            .and_then(|v| v.as_str())?;
        if entry_name != name {
            return None;
        }
        let files = entry
            .get("ConfigFiles")
            .or_else(|| entry.get("configFiles"))
            .and_then(|v| v.as_str())
            .unwrap_or("");
        Some(ComposeProject {
            name: entry_name.to_string(),
            config_files: files
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        })
    })
}

impl ComposeProject {
    /// Whether this project runs from `<dir>/docker-compose.yml`.
    pub fn is_from(&self, dir: &Path) -> bool {
        let ours = dir.join("docker-compose.yml");
        self.config_files.iter().any(|f| Path::new(f) == ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_array_ndjson_and_matches_exactly() {
        let arr = r#"[{"Name":"appstrate-a-1","Status":"running(3)","ConfigFiles":"/x/docker-compose.yml, /x/o.yml"}]"#;
        let p = find_project(arr, "appstrate-a-1").unwrap();
        assert_eq!(p.config_files, vec!["/x/docker-compose.yml", "/x/o.yml"]);
        assert!(p.is_from(Path::new("/x")));
        assert!(!p.is_from(Path::new("/y")));
        let nd = "{\"Name\":\"other\"}\nnot json\n{\"name\":\"appstrate-a-1\",\"configFiles\":\"/z/docker-compose.yml\"}\n";
        assert_eq!(
            find_project(nd, "appstrate-a-1").unwrap().config_files,
            vec!["/z/docker-compose.yml"]
        );
        assert!(find_project("[]", "x").is_none());
        assert!(find_project("", "x").is_none());
        assert!(
            find_project(arr, "appstrate-a").is_none(),
            "no substring match"
        );
        assert!(find_project(r#"{"Name":"x"}"#, "x").is_some());
    }
}
