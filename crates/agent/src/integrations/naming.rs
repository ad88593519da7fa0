//! Tool names of the integration `api_call` tools (docs/run.md
//! "Integrations"): a namespace per integration package, one tool per auth.

/// Longest namespace, before any collision suffix.
const NS_MAX: usize = 20;
/// Longest tool name a model provider accepts comfortably.
const NAME_MAX: usize = 56;
/// Auth keys longer than this are replaced by a hash in the tool name.
const AUTH_KEY_MAX: usize = 16;

/// `@acme/GitHub-API` → `acme_github_api`: alphanumeric runs kept,
/// everything else one `_`, lowercased, trimmed of `_`, at most 20 chars.
pub fn namespace(package_id: &str) -> String {
    let mut ns = String::new();
    for c in package_id.trim_start_matches('@').chars() {
        if c.is_ascii_alphanumeric() {
            ns.push(c.to_ascii_lowercase());
        } else if !ns.ends_with('_') {
            ns.push('_');
        }
    }
    let ns: String = ns.trim_matches('_').chars().take(NS_MAX).collect();
    ns.trim_end_matches('_').to_string()
}

/// Allocates namespaces: a repeated one gets `_2`, `_3`, … `_999`.
#[derive(Default)]
pub struct Namespaces {
    taken: Vec<String>,
}

impl Namespaces {
    pub fn allocate(&mut self, package_id: &str) -> Option<String> {
        let base = namespace(package_id);
        let candidate = std::iter::once(base.clone())
            .chain((2..=999).map(|n| format!("{base}_{n}")))
            .find(|c| !self.taken.contains(c))?;
        self.taken.push(candidate.clone());
        Some(candidate)
    }
}

/// `{ns}__api_call` for a single auth, `{ns}__api_call__<key>` for several
/// (a long key becomes `h` + its FNV-1a 64 hex); capped at 56 chars.
pub fn tool_name(ns: &str, auth_key: &str, several_auths: bool) -> String {
    let mut name = format!("{ns}__api_call");
    if several_auths {
        let token = if auth_key.len() <= AUTH_KEY_MAX
            && auth_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            auth_key.to_string()
        } else {
            format!("h{:016x}", fnv1a64(auth_key.as_bytes()))
        };
        name.push_str("__");
        name.push_str(&token);
    }
    name.chars().take(NAME_MAX).collect()
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_the_package_id() {
        assert_eq!(namespace("@acme/GitHub-API"), "acme_github_api");
        assert_eq!(namespace("@a--b/__c__"), "a_b_c");
        assert_eq!(
            namespace("@very-long-scope/very-long-name"),
            "very_long_scope_very"
        );
        // Cut on a separator: no trailing `_`.
        assert_eq!(namespace("@abcdefghijklmnopqrs/t"), "abcdefghijklmnopqrs");
    }

    #[test]
    fn collisions_get_numbered_suffixes() {
        let mut ns = Namespaces::default();
        assert_eq!(ns.allocate("@acme/gh").as_deref(), Some("acme_gh"));
        assert_eq!(ns.allocate("@acme/GH").as_deref(), Some("acme_gh_2"));
        assert_eq!(ns.allocate("@Acme/gh").as_deref(), Some("acme_gh_3"));
    }

    #[test]
    fn tool_names_carry_the_auth_only_when_there_are_several() {
        assert_eq!(tool_name("acme_gh", "oauth", false), "acme_gh__api_call");
        assert_eq!(
            tool_name("acme_gh", "oauth", true),
            "acme_gh__api_call__oauth"
        );
        let long = tool_name("acme_gh", "a-really-long-auth-key-name", true);
        assert!(long.starts_with("acme_gh__api_call__h"), "{long}");
        assert_eq!(long.len(), "acme_gh__api_call__h".len() + 16);
        let capped = tool_name("abcdefghijklmnopqrst_999", "a.b", true);
        assert!(capped.len() <= 56, "{capped}");
        assert_ne!(fnv1a64(b"a"), fnv1a64(b"b"));
    }
}
