//! `openapi list` filters. All given filters must hold (AND); an absent or
//! empty filter holds for every operation.

use serde_json::Value;

use crate::operation::Operation;

/// The filters of `openapi list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Case-insensitive exact match against any string tag.
    pub tag: Option<String>,
    /// Case-insensitive method (`get`, `GET`).
    pub method: Option<String>,
    /// Exact path, or a glob when it contains `*` (see [`matches_glob`]).
    pub path: Option<String>,
    /// Case-insensitive substring of operationId, summary, description,
    /// path or method.
    pub search: Option<String>,
}

impl Filters {
    pub fn matches(&self, op: &Operation<'_>) -> bool {
        matches_tag(op, active(&self.tag))
            && matches_method(op, active(&self.method))
            && matches_path(op, active(&self.path))
            && matches_search(op, active(&self.search))
    }

    /// The operations that pass every filter, order kept.
    pub fn apply<'a>(&self, operations: &[Operation<'a>]) -> Vec<Operation<'a>> {
        // Lower-case the needles once, not once per operation.
        let prepared = Filters {
            tag: active(&self.tag).map(str::to_lowercase),
            method: active(&self.method).map(str::to_lowercase),
            path: active(&self.path).map(str::to_string),
            search: active(&self.search).map(str::to_lowercase),
        };
        operations
            .iter()
            .filter(|op| prepared.matches_prepared(op))
            .copied()
            .collect()
    }

    fn matches_prepared(&self, op: &Operation<'_>) -> bool {
        if let Some(tag) = &self.tag
            && !op.string_tags().any(|t| t.to_lowercase() == *tag)
        {
            return false;
        }
        if let Some(method) = &self.method
            && op.method.key() != method
        {
            return false;
        }
        if !matches_path(op, self.path.as_deref()) {
            return false;
        }
        match &self.search {
            Some(needle) => search_hit(op, needle),
            None => true,
        }
    }
}

fn active(filter: &Option<String>) -> Option<&str> {
    filter.as_deref().filter(|s| !s.is_empty())
}

fn matches_tag(op: &Operation<'_>, tag: Option<&str>) -> bool {
    let Some(tag) = tag else { return true };
    let needle = tag.to_lowercase();
    op.string_tags().any(|t| t.to_lowercase() == needle)
}

fn matches_method(op: &Operation<'_>, method: Option<&str>) -> bool {
    let Some(method) = method else { return true };
    op.method.key() == method.to_lowercase()
}

/// Longer glob patterns never match (guards against absurd input).
const GLOB_MAX_LENGTH: usize = 200;

fn matches_path(op: &Operation<'_>, pattern: Option<&str>) -> bool {
    let Some(pattern) = pattern else { return true };
    if !pattern.contains('*') {
        return op.path == pattern;
    }
    matches_glob(pattern, op.path)
}

fn matches_search(op: &Operation<'_>, search: Option<&str>) -> bool {
    let Some(search) = search else { return true };
    search_hit(op, &search.to_lowercase())
}

/// `needle` is already lower-case.
fn search_hit(op: &Operation<'_>, needle: &str) -> bool {
    let text_fields = ["operationId", "summary", "description"]
        .into_iter()
        .filter_map(|name| op.field(name).and_then(Value::as_str));
    text_fields
        .chain([op.path, op.method.key()])
        .any(|hay| hay.to_lowercase().contains(needle))
}

/// The path glob of `--path`, anchored at both ends: `*` matches a run of
/// characters within one segment, `**` matches anything including `/`,
/// every other character is literal (`{`, `[`, `.`, `?` included).
///
/// This is the original's iterative matcher with a single backtrack point,
/// kept exactly (it is O(pattern × path), no recursion, no regex): on a
/// mismatch the most recent star swallows one more character; a single `*`
/// gives up when that character is `/`. Patterns over 200 UTF-16 units never
/// match. Works on UTF-16 units, as JS strings do.
pub fn matches_glob(pattern: &str, path: &str) -> bool {
    let pattern: Vec<u16> = pattern.encode_utf16().collect();
    if pattern.len() > GLOB_MAX_LENGTH {
        return false;
    }
    let path: Vec<u16> = path.encode_utf16().collect();
    const STAR: u16 = b'*' as u16;
    const SLASH: u16 = b'/' as u16;

    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    let mut star_is_double = false;
    while si < path.len() {
        if pattern.get(pi) == Some(&STAR) {
            if pattern.get(pi + 1) == Some(&STAR) {
                star_is_double = true;
                pi += 2;
            } else {
                star_is_double = false;
                pi += 1;
            }
            star = Some((pi, si));
            continue;
        }
        if pattern.get(pi) == Some(&path[si]) {
            pi += 1;
            si += 1;
            continue;
        }
        if let Some((star_pi, star_si)) = star {
            if !star_is_double && path[star_si] == SLASH {
                return false;
            }
            star = Some((star_pi, star_si + 1));
            si = star_si + 1;
            pi = star_pi;
            continue;
        }
        return false;
    }
    while pattern.get(pi) == Some(&STAR) {
        pi += 1;
    }
    pi == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_single_and_double_star() {
        assert!(matches_glob("/api/*", "/api/runs"));
        assert!(!matches_glob("/api/*", "/api/runs/{id}"));
        assert!(matches_glob("/api/**", "/api/runs/{id}"));
        assert!(matches_glob("/api/**", "/api/runs"));
        assert!(matches_glob("/api/runs/*", "/api/runs/{id}"));
        assert!(matches_glob("/api/*/{id}", "/api/runs/{id}"));
        assert!(!matches_glob("/api/*/{id}", "/api/runs/x/{id}"));
        assert!(matches_glob("/api/**/{id}", "/api/runs/x/{id}"));
        assert!(matches_glob("**", "/anything/at/all"));
        assert!(matches_glob("/api/runs*", "/api/runs"));
        assert!(matches_glob("/api/runs/**", "/api/runs/"));
        assert!(matches_glob("*", ""));
    }

    #[test]
    fn glob_metacharacters_are_literal() {
        assert!(matches_glob("/api/runs/{id}*", "/api/runs/{id}"));
        assert!(!matches_glob("/api/{runs,agents}*", "/api/runs"));
        assert!(!matches_glob("/api/runs.*", "/api/runs"));
        assert!(!matches_glob("/api/runs.*", "/api/runsX"));
        assert!(matches_glob("/api/runs.*", "/api/runs.json"));
        assert!(!matches_glob("/api/run[s]*", "/api/runs"));
        assert!(!matches_glob("/api/r?ns*", "/api/runs"));
    }

    #[test]
    fn glob_over_200_never_matches() {
        let long = format!("/{}*", "a".repeat(199));
        assert_eq!(long.len(), 201);
        assert!(!matches_glob(&long, &format!("/{}", "a".repeat(199))));
        let ok = format!("/{}*", "a".repeat(198));
        assert!(matches_glob(&ok, &format!("/{}", "a".repeat(198))));
    }

    #[test]
    fn glob_has_no_catastrophic_backtracking() {
        // Exponential in a naive backtracking matcher; linear-ish here.
        let pattern = format!("{}b", "*a".repeat(60));
        let path = "a".repeat(5_000);
        assert!(!matches_glob(&pattern[..pattern.len().min(200)], &path));
        let pattern = format!("/**{}", "/*".repeat(50));
        assert!(!matches_glob(&pattern, &"/x".repeat(49)));
    }

    #[test]
    fn glob_single_star_backtrack_stops_at_slash() {
        // The one-backtrack-point semantics: once the last star was a single
        // `*`, earlier `**` can no longer extend across `/`.
        assert!(!matches_glob("/**/a*/c", "/x/ab/y/ab/c"));
        assert!(matches_glob("/**/c", "/x/ab/y/ab/c"));
    }
}
