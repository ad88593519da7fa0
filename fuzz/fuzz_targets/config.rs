//! `config.toml` profiles: load, edit, render.
//!
//! Input: the file's text. Invariants: an unmodified config renders to a
//! text that loads to the same profiles; after `set_profile` the profile
//! reads back (also after a render + reload) and the other profiles are
//! untouched; after `delete_profile` it is gone and `defaultProfile`
//! does not name it.
#![no_main]

use std::sync::OnceLock;

use appstrate_platform::config::{Config, Profile};
use libfuzzer_sys::fuzz_target;
use tempfile::TempDir;

fn dir() -> &'static TempDir {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fn load(text: &str) -> Option<Config> {
    std::fs::write(Config::path_in(dir().path()), text).expect("write config");
    Config::load(dir().path()).ok()
}

fn profiles(config: &Config) -> Vec<(String, Option<Profile>)> {
    config
        .profile_names()
        .into_iter()
        .map(|name| {
            let profile = config.profile(&name);
            (name, profile)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(mut config) = load(text) else {
        return;
    };
    let before = profiles(&config);
    let reloaded = load(&config.render()).expect("rendered config loads");
    assert_eq!(profiles(&reloaded), before);
    assert_eq!(reloaded.default_profile(), config.default_profile());

    let name = "fuzz-profile";
    let profile = Profile {
        instance: "https://app.example.com".into(),
        user_id: "u_1".into(),
        email: "a@b.co".into(),
        org_id: Some("org_1".into()),
        application_id: None,
    };
    config.set_profile(name, &profile);
    assert_eq!(config.profile(name), Some(profile.clone()));
    let default = config.default_profile().map(str::to_string);
    assert!(
        default
            .as_deref()
            .is_some_and(|d| config.profile(d).is_some())
    );
    let reloaded = load(&config.render()).expect("edited config loads");
    assert_eq!(reloaded.profile(name), Some(profile));
    for (other, row) in &before {
        if other != name {
            assert_eq!(&reloaded.profile(other), row, "profile {other:?} changed");
        }
    }

    assert!(config.delete_profile(name));
    assert_eq!(config.profile(name), None);
    assert_ne!(config.default_profile(), Some(name));
    let reloaded = load(&config.render()).expect("config after delete loads");
    assert_eq!(reloaded.profile(name), None);
});
