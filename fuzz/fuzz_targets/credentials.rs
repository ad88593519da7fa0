//! `credentials.json` (the file fallback of the keyring).
//!
//! Input: the file's text, stored 0600 in a 0700 directory. Invariants:
//! loading any profile never panics; a record that loads survives a
//! to_json / from_json round trip unchanged and is not dead; no error
//! message quotes the file's content (tokens must never reach output).
#![no_main]

use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;

use appstrate_platform::credentials::FileStore;
use appstrate_platform::tokens::{TokenRecord, now_ms};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tempfile::TempDir;

fn dir() -> &'static TempDir {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod 700");
        dir
    })
}

const SECRET: &str = "fuzz-secret-token";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let store = FileStore::new(dir().path().to_path_buf());
    let path = store.path();
    std::fs::write(&path, text).expect("write credentials");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");

    let mut names = vec!["default".to_string()];
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        names.extend(map.keys().take(4).cloned());
    }
    for name in names {
        match store.load(&name) {
            Ok(Some(record)) => {
                assert!(!record.is_dead(now_ms()));
                let json = record.to_json();
                assert_eq!(TokenRecord::from_json(&json).as_ref(), Some(&record));
            }
            Ok(None) => {}
            Err(err) => {
                let message = err.to_string();
                assert!(
                    !message.contains(SECRET),
                    "error message quotes a token: {message}"
                );
            }
        }
        // `load` may have rewritten the file (dead record): restore it.
        std::fs::write(&path, text).expect("write credentials");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    }
});
