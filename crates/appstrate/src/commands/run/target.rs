//! What `appstrate run <target>` names (docs/run.md "Targets"): an agent on
//! the instance, `@scope/name[@version|@dist-tag|@range]`, or a package
//! file on this machine.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Agent(AgentRef),
    Path(PathBuf),
}

/// `@scope/name` and the raw text after a second `@`, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRef {
    /// `@scope/name`.
    pub id: String,
    pub spec: Option<String>,
}

impl AgentRef {
    /// `@scope/name` or `@scope/name@spec`.
    pub fn label(&self, spec: Option<&str>) -> String {
        match spec {
            Some(spec) => format!("{}@{spec}", self.id),
            None => self.id.clone(),
        }
    }
}

/// Paths are recognised by their start (`./`, `../`, `/`, `~/`, a drive
/// letter); `@scope/name[@spec]` with lowercase `[a-z0-9][a-z0-9-]*`
/// segments is an agent; anything else is a path. `~` is left as it is
/// when the shell did not expand it.
pub fn parse_target(text: &str) -> Result<Target, String> {
    if looks_like_path(text) {
        return Ok(Target::Path(PathBuf::from(text)));
    }
    let Some(rest) = text.strip_prefix('@') else {
        return Ok(Target::Path(PathBuf::from(text)));
    };
    let Some((scope, after)) = rest.split_once('/') else {
        return Ok(Target::Path(PathBuf::from(text)));
    };
    let (name, spec) = match after.split_once('@') {
        Some((name, spec)) => (name, Some(spec)),
        None => (after, None),
    };
    if !is_segment(scope) || !is_segment(name) {
        return Ok(Target::Path(PathBuf::from(text)));
    }
    let id = format!("@{scope}/{name}");
    match spec {
        Some(spec) if spec.trim().is_empty() => Err(format!(
            "Empty version after '@' in \"{text}\" — use {id}@<version|dist-tag|range>, or {id} for the draft"
        )),
        spec => Ok(Target::Agent(AgentRef {
            id,
            spec: spec.map(str::to_string),
        })),
    }
}

fn looks_like_path(text: &str) -> bool {
    let bytes = text.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && (bytes[2] == b'\\' || bytes[2] == b'/');
    drive || ["./", "../", "/", "~/"].iter().any(|p| text.starts_with(p))
}

fn is_segment(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, spec: Option<&str>) -> Target {
        Target::Agent(AgentRef {
            id: id.into(),
            spec: spec.map(str::to_string),
        })
    }

    #[test]
    fn ids_specs_and_paths() {
        assert_eq!(parse_target("@acme/agent"), Ok(agent("@acme/agent", None)));
        assert_eq!(
            parse_target("@acme/my-agent@1.2.0"),
            Ok(agent("@acme/my-agent", Some("1.2.0")))
        );
        assert_eq!(
            parse_target("@acme/agent@^1 || >=2"),
            Ok(agent("@acme/agent", Some("^1 || >=2")))
        );
        assert_eq!(
            parse_target("@a1/b2@latest"),
            Ok(agent("@a1/b2", Some("latest")))
        );
        for path in [
            "./@acme/agent",
            "/tmp/x.afps",
            "~/x.afps",
            "../x",
            "C:\\x.afps",
            "@Acme/agent",
            "@acme/-agent",
            "@acme/agent/extra",
            "agent.afps-bundle",
            "@acme",
        ] {
            assert_eq!(
                parse_target(path),
                Ok(Target::Path(PathBuf::from(path))),
                "{path}"
            );
        }
        assert!(parse_target("@acme/agent@").is_err());
    }

    #[test]
    fn labels() {
        let a = AgentRef {
            id: "@s/n".into(),
            spec: None,
        };
        assert_eq!(a.label(None), "@s/n");
        assert_eq!(a.label(Some("1.0.0")), "@s/n@1.0.0");
    }
}
