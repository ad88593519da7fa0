//! Collation and glob matching against values computed by the original's
//! runtime (see tests/data/README.md).

mod common;

use appstrate_openapi::collation::locale_compare;
use appstrate_openapi::matches_glob;
use serde_json::Value;

#[test]
fn collation_matches_icu_on_path_like_strings() {
    let expected: Vec<String> =
        serde_json::from_str(&common::data("collation-oracle.json")).expect("oracle parses");
    let mut ours = expected.clone();
    ours.reverse();
    ours.sort_by(|a, b| locale_compare(a, b));
    assert_eq!(ours, expected);
}

#[test]
fn glob_matches_the_original_matcher() {
    let cases: Vec<(String, String, bool)> =
        serde_json::from_str::<Vec<Value>>(&common::data("glob-oracle.json"))
            .expect("oracle parses")
            .into_iter()
            .map(|c| {
                (
                    c[0].as_str().unwrap_or_default().to_string(),
                    c[1].as_str().unwrap_or_default().to_string(),
                    c[2].as_bool().unwrap_or_default(),
                )
            })
            .collect();
    assert!(cases.len() >= 4_000);
    assert!(cases.iter().any(|c| c.2) && cases.iter().any(|c| !c.2));
    for (pattern, path, matched) in cases {
        assert_eq!(
            matches_glob(&pattern, &path),
            matched,
            "{pattern:?} vs {path:?}"
        );
    }
}
