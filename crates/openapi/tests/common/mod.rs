#![allow(dead_code)] // each test binary uses a different subset

//! Test data, all inside the repository: this crate's `tests/data/`, and the
//! platform's OpenAPI document, kept once in `crates/testkit/fixtures/`
//! (the fake instance serves the same file).

use std::path::{Path, PathBuf};

/// The full OpenAPI 3.1 document a real Appstrate instance serves at
/// `GET /api/openapi.json`.
pub const PLATFORM_OPENAPI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testkit/fixtures/appstrate-openapi.json"
);

pub fn platform_openapi() -> Vec<u8> {
    read(Path::new(PLATFORM_OPENAPI))
}

pub fn data_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

pub fn data_bytes(relative: &str) -> Vec<u8> {
    read(&data_path(relative))
}

pub fn data(relative: &str) -> String {
    String::from_utf8(data_bytes(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
