#![allow(dead_code)] // each test binary uses a different subset

//! Locating the shared fixtures: `shared/` sits beside the repository (in a
//! worktree, beside the folder of worktrees), so walk up until it appears.

use std::path::PathBuf;

pub fn shared_fixture(relative: &str) -> PathBuf {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in start.ancestors() {
        let candidate = dir.join("shared/fixtures").join(relative);
        if candidate.exists() {
            return candidate;
        }
    }
    panic!(
        "shared/fixtures/{relative} not found beside any parent of {}",
        start.display()
    );
}

pub fn read_fixture(relative: &str) -> Vec<u8> {
    let path = shared_fixture(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn data(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
