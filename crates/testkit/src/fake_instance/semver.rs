//! The subset of node-semver the registry needs to resolve a version spec:
//! versions `MAJOR.MINOR.PATCH[-pre][+build]`, comparators (`=`, `>`, `>=`,
//! `<`, `<=`), caret, tilde, x-ranges (`1.x`, `1.2.*`, `*`), space-joined
//! intersections and `||` unions. As in node-semver, a pre-release version
//! satisfies a range only when a comparator names the same
//! `MAJOR.MINOR.PATCH` with a pre-release.

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<String>,
}

impl Version {
    /// Parse a strict version (a leading `v` or `=` is tolerated).
    pub(crate) fn parse(text: &str) -> Option<Version> {
        let text = text.trim().trim_start_matches(['v', '=']);
        let text = text.split('+').next()?;
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) if !pre.is_empty() => (core, Some(pre)),
            Some(_) => return None,
            None => (text, None),
        };
        let mut parts = core.split('.');
        let major = number(parts.next()?)?;
        let minor = number(parts.next()?)?;
        let patch = number(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        let pre = pre
            .map(|p| p.split('.').map(str::to_owned).collect())
            .unwrap_or_default();
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    fn tuple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

fn number(part: &str) -> Option<u64> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.tuple().cmp(&other.tuple()).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &other.pre),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_pre(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug)]
struct Comparator {
    op: Op,
    version: Version,
}

impl Comparator {
    fn test(&self, v: &Version) -> bool {
        let order = v.cmp(&self.version);
        match self.op {
            Op::Eq => order == Ordering::Equal,
            Op::Gt => order == Ordering::Greater,
            Op::Ge => order != Ordering::Less,
            Op::Lt => order == Ordering::Less,
            Op::Le => order != Ordering::Greater,
        }
    }
}

/// A parsed range: a union of intersections of comparators.
#[derive(Clone, Debug)]
pub(crate) struct Range {
    sets: Vec<Vec<Comparator>>,
}

/// A partial version: `1`, `1.2`, `1.x`, `1.2.*`, `*`.
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Vec<String>,
}

fn partial(text: &str) -> Option<Partial> {
    let text = text.trim_start_matches(['v', '=']);
    let text = text.split('+').next()?;
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) if !pre.is_empty() => (core, pre.split('.').map(str::to_owned).collect()),
        Some(_) => return None,
        None => (text, Vec::new()),
    };
    let wild = |p: &str| matches!(p, "x" | "X" | "*");
    let mut parts = core.split('.');
    let mut next = || -> Option<Option<u64>> {
        match parts.next() {
            None => Some(None),
            Some(p) if wild(p) => Some(None),
            Some(p) => number(p).map(Some),
        }
    };
    let major = next()?;
    let minor = next()?;
    let patch = next()?;
    if parts.next().is_some() {
        return None;
    }
    // `1.x.3` is not a thing.
    if (major.is_none() && (minor.is_some() || patch.is_some()))
        || (minor.is_none() && patch.is_some())
    {
        return None;
    }
    Some(Partial {
        major,
        minor,
        patch,
        pre,
    })
}

fn v(major: u64, minor: u64, patch: u64, pre: Vec<String>) -> Version {
    Version {
        major,
        minor,
        patch,
        pre,
    }
}

fn cmp(op: Op, version: Version) -> Comparator {
    Comparator { op, version }
}

/// `<next>-0`: the lowest version above every `<next>` pre-release.
fn floor(major: u64, minor: u64, patch: u64) -> Version {
    v(major, minor, patch, vec!["0".into()])
}

fn expand(token: &str) -> Option<Vec<Comparator>> {
    let (op, rest) = ["<=", ">=", "<", ">", "=", "^", "~"]
        .iter()
        .find_map(|op| token.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("", token));
    let rest = rest.trim_start_matches('>'); // `~>` is tilde too
    let p = partial(rest)?;
    let any = Vec::new();
    Some(match (op, p.major, p.minor, p.patch) {
        ("^", None, _, _) | ("~", None, _, _) | ("" | "=", None, _, _) | (">=", None, _, _) => any,
        ("^", Some(0), Some(0), Some(pa)) => vec![
            cmp(Op::Ge, v(0, 0, pa, p.pre)),
            cmp(Op::Lt, floor(0, 0, pa + 1)),
        ],
        ("^", Some(0), Some(mi), Some(pa)) => vec![
            cmp(Op::Ge, v(0, mi, pa, p.pre)),
            cmp(Op::Lt, floor(0, mi + 1, 0)),
        ],
        ("^", Some(ma), Some(mi), Some(pa)) => vec![
            cmp(Op::Ge, v(ma, mi, pa, p.pre)),
            cmp(Op::Lt, floor(ma + 1, 0, 0)),
        ],
        ("^", Some(0), Some(mi), None) => vec![
            cmp(Op::Ge, v(0, mi, 0, vec![])),
            cmp(Op::Lt, floor(0, mi + 1, 0)),
        ],
        ("^" | "~" | "" | "=", Some(ma), None, _) => vec![
            cmp(Op::Ge, v(ma, 0, 0, vec![])),
            cmp(Op::Lt, floor(ma + 1, 0, 0)),
        ],
        ("^", Some(ma), Some(mi), None) => vec![
            cmp(Op::Ge, v(ma, mi, 0, vec![])),
            cmp(Op::Lt, floor(ma + 1, 0, 0)),
        ],
        ("~", Some(ma), Some(mi), pa) => vec![
            cmp(Op::Ge, v(ma, mi, pa.unwrap_or(0), p.pre)),
            cmp(Op::Lt, floor(ma, mi + 1, 0)),
        ],
        ("" | "=", Some(ma), Some(mi), None) => vec![
            cmp(Op::Ge, v(ma, mi, 0, vec![])),
            cmp(Op::Lt, floor(ma, mi + 1, 0)),
        ],
        ("" | "=", Some(ma), Some(mi), Some(pa)) => vec![cmp(Op::Eq, v(ma, mi, pa, p.pre))],
        (">=", Some(ma), mi, pa) => {
            vec![cmp(Op::Ge, v(ma, mi.unwrap_or(0), pa.unwrap_or(0), p.pre))]
        }
        (">", None, _, _) | ("<", None, _, _) => vec![cmp(Op::Lt, floor(0, 0, 0))],
        (">", Some(ma), None, _) => vec![cmp(Op::Ge, floor(ma + 1, 0, 0))],
        (">", Some(ma), Some(mi), None) => vec![cmp(Op::Ge, floor(ma, mi + 1, 0))],
        (">", Some(ma), Some(mi), Some(pa)) => vec![cmp(Op::Gt, v(ma, mi, pa, p.pre))],
        ("<", Some(ma), mi, pa) => vec![cmp(
            Op::Lt,
            v(
                ma,
                mi.unwrap_or(0),
                pa.unwrap_or(0),
                if p.pre.is_empty() {
                    vec!["0".into()]
                } else {
                    p.pre
                },
            ),
        )],
        ("<=", None, _, _) => any,
        ("<=", Some(ma), None, _) => vec![cmp(Op::Lt, floor(ma + 1, 0, 0))],
        ("<=", Some(ma), Some(mi), None) => vec![cmp(Op::Lt, floor(ma, mi + 1, 0))],
        ("<=", Some(ma), Some(mi), Some(pa)) => vec![cmp(Op::Le, v(ma, mi, pa, p.pre))],
        _ => return None,
    })
}

impl Range {
    /// Parse a node-semver range; `None` when it is not one.
    pub(crate) fn parse(text: &str) -> Option<Range> {
        let mut sets = Vec::new();
        for alternative in text.split("||") {
            // Hyphen ranges (`1.2.3 - 2.3.4`).
            let tokens = glue_operators(alternative);
            let mut set = Vec::new();
            if tokens.len() == 3 && tokens[1] == "-" {
                set.extend(expand(&format!(">={}", tokens[0]))?);
                set.extend(expand(&format!("<={}", tokens[2]))?);
            } else {
                for token in &tokens {
                    set.extend(expand(token)?);
                }
            }
            sets.push(set);
        }
        Some(Range { sets })
    }

    /// Whether `version` is in the range (pre-release rule included).
    pub(crate) fn satisfies(&self, version: &Version) -> bool {
        self.sets.iter().any(|set| {
            set.iter().all(|c| c.test(version))
                && (version.pre.is_empty()
                    || set.iter().any(|c| {
                        !c.version.pre.is_empty()
                            && c.version.pre != ["0"]
                            && c.version.tuple() == version.tuple()
                    }))
        })
    }
}

/// Split on whitespace, re-attaching an operator written apart (`>= 1.2`).
fn glue_operators(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for token in text.split_whitespace() {
        if matches!(token, ">" | ">=" | "<" | "<=" | "=" | "^" | "~") {
            pending.push_str(token);
            continue;
        }
        out.push(format!("{pending}{token}"));
        pending.clear();
    }
    if out.is_empty() {
        out.push("*".into());
    }
    out
}

/// The highest of `versions` in `range` (node-semver `maxSatisfying`).
pub(crate) fn max_satisfying<'a>(
    versions: impl IntoIterator<Item = &'a str>,
    range: &Range,
) -> Option<&'a str> {
    versions
        .into_iter()
        .filter_map(|text| Version::parse(text).map(|v| (v, text)))
        .filter(|(v, _)| range.satisfies(v))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn best(spec: &str, versions: &[&'static str]) -> Option<&'static str> {
        max_satisfying(
            versions.iter().copied(),
            &Range::parse(spec).expect("range"),
        )
    }

    #[test]
    fn ranges_resolve_like_node_semver() {
        let all = ["0.9.0", "1.0.0", "1.2.0", "1.2.5", "1.3.0-beta.1", "2.0.0"];
        assert_eq!(best("^1", &all), Some("1.2.5"));
        assert_eq!(best("^1.2.0", &all), Some("1.2.5"));
        assert_eq!(best("~1.2", &all), Some("1.2.5"));
        assert_eq!(best("~1.2.0", &all), Some("1.2.5"));
        assert_eq!(best(">=1.0.0", &all), Some("2.0.0"));
        assert_eq!(best("1.x", &all), Some("1.2.5"));
        assert_eq!(best("1.2.*", &all), Some("1.2.5"));
        assert_eq!(best("*", &all), Some("2.0.0"));
        assert_eq!(best("^0.9", &all), Some("0.9.0"));
        assert_eq!(best("<1.2.0", &all), Some("1.0.0"));
        assert_eq!(best(">= 1.0.0 < 1.2.5", &all), Some("1.2.0"));
        assert_eq!(best("^3 || ~0.9", &all), Some("0.9.0"));
        assert_eq!(best("^1.3.0-beta.0", &all), Some("1.3.0-beta.1"));
        assert_eq!(best("^3", &all), None);
        assert!(Range::parse("latest").is_none());
        assert!(Version::parse("1.2").is_none());
        assert!(Version::parse("1.2.3-rc.1") < Version::parse("1.2.3"));
    }
}
