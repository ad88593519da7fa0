//! Profiles in `config.toml` (docs/files.md#configtoml).
//!
//! The file is edited with `toml_edit`, so a user's comments, ordering and
//! extra keys survive our writes. Every mutation takes a lock file, re-reads
//! the file, applies the change and writes it atomically (0600 in a 0700
//! directory). A file that does not parse is never written: the error names
//! the file and the line, and the bytes stay as they were.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use crate::env::Env;
use crate::error::{PlatformError, Result};
use crate::fsutil;

/// The profile cascade: `--profile`, `APPSTRATE_PROFILE`, `defaultProfile`,
/// then `"default"`; empty values are skipped.
pub fn resolve_profile_name(flag: Option<&str>, env: &Env, config_default: Option<&str>) -> String {
    [flag, env.profile.as_deref(), config_default]
        .into_iter()
        .flatten()
        .find(|name| !name.is_empty())
        .unwrap_or("default")
        .to_string()
}

/// One `[profile.<name>]` row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub instance: String,
    pub user_id: String,
    pub email: String,
    pub org_id: Option<String>,
    pub application_id: Option<String>,
}

/// A parsed `config.toml` (or an empty one when the file does not exist).
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    doc: DocumentMut,
}

impl Config {
    pub fn path_in(config_dir: &Path) -> PathBuf {
        config_dir.join("config.toml")
    }

    /// Reads `<config_dir>/config.toml`; a missing file is an empty config.
    pub fn load(config_dir: &Path) -> Result<Config> {
        let path = Self::path_in(config_dir);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
            Err(err) => {
                return Err(PlatformError::Config {
                    path,
                    message: format!("cannot read: {err}"),
                });
            }
        };
        let doc = parse(&path, &text)?;
        Ok(Config { path, doc })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `defaultProfile` when it is a string.
    pub fn default_profile(&self) -> Option<&str> {
        self.doc.get("defaultProfile").and_then(Item::as_str)
    }

    /// A profile row, when it has string `instance`, `userId` and `email`.
    pub fn profile(&self, name: &str) -> Option<Profile> {
        let row = self.profiles_table()?.get(name)?.as_table_like()?;
        let string = |key: &str| row.get(key).and_then(Item::as_str).map(str::to_string);
        Some(Profile {
            instance: string("instance")?,
            user_id: string("userId")?,
            email: string("email")?,
            org_id: string("orgId"),
            application_id: string("applicationId"),
        })
    }

    /// Names of the valid profiles, in file order.
    pub fn profile_names(&self) -> Vec<String> {
        let Some(table) = self.profiles_table() else {
            return Vec::new();
        };
        table
            .iter()
            .map(|(name, _)| name.to_string())
            .filter(|name| self.profile(name).is_some())
            .collect()
    }

    fn profiles_table(&self) -> Option<&dyn toml_edit::TableLike> {
        self.doc.get("profile")?.as_table_like()
    }

    fn profiles_table_mut(&mut self) -> &mut Table {
        // A hand-written `profile = { … }` becomes a `[profile]` table, rows kept.
        if let Some(item) = self.doc.get_mut("profile") {
            to_table_in_place(item);
        }
        let needs_table = !matches!(self.doc.get("profile"), Some(Item::Table(_)));
        if needs_table {
            let mut table = Table::new();
            // `[profile]` then `[profile.x]`, as the original writes it.
            table.set_implicit(false);
            self.doc.insert("profile", Item::Table(table));
        }
        match self.doc.get_mut("profile") {
            Some(Item::Table(table)) => table,
            _ => unreachable!("profile table inserted above"),
        }
    }

    /// Replaces a profile row (login). Sets `defaultProfile` when it is
    /// empty or names a profile that does not exist.
    pub fn set_profile(&mut self, name: &str, profile: &Profile) {
        let default_ok = self
            .default_profile()
            .is_some_and(|d| !d.is_empty() && d != name && self.profile(d).is_some());
        let table = self.profiles_table_mut();
        let row = table
            .entry(name)
            .or_insert_with(|| Item::Table(Table::new()));
        to_table_in_place(row);
        if !row.is_table() {
            *row = Item::Table(Table::new());
        }
        if let Some(row) = row.as_table_mut() {
            write_row(row, profile);
        }
        if !default_ok && self.default_profile() != Some(name) {
            self.set_default_profile(name);
        }
    }

    /// Changes the pinned org/app of an existing profile.
    pub fn update_profile(&mut self, name: &str, edit: impl FnOnce(&mut Profile)) -> Result<()> {
        let mut profile = self.profile(name).ok_or_else(|| {
            PlatformError::Other(format!(
                "Profile \"{name}\" is no longer in the config (another command removed it meanwhile). Run: appstrate login --profile {name}"
            ))
        })?;
        edit(&mut profile);
        let table = self.profiles_table_mut();
        if let Some(row) = table.get_mut(name) {
            to_table_in_place(row);
        }
        if let Some(row) = table.get_mut(name).and_then(Item::as_table_mut) {
            write_row(row, &profile);
        }
        Ok(())
    }

    /// Removes a profile; repoints `defaultProfile` when it named it.
    /// Returns false (and changes nothing) when the row does not exist.
    pub fn delete_profile(&mut self, name: &str) -> bool {
        let Some(Item::Table(table)) = self.doc.get_mut("profile") else {
            return false;
        };
        if table.remove(name).is_none() {
            return false;
        }
        if self.default_profile() == Some(name) {
            let next = self
                .profile_names()
                .into_iter()
                .next()
                .unwrap_or_else(|| "default".to_string());
            self.set_default_profile(&next);
        }
        true
    }

    fn set_default_profile(&mut self, name: &str) {
        match self.doc.get_mut("defaultProfile") {
            Some(item) => *item = value(name),
            None => {
                // Keep `defaultProfile` at the top, before any table.
                self.doc.insert("defaultProfile", value(name));
            }
        }
    }

    /// The file's bytes as they would be written.
    pub fn render(&self) -> String {
        let mut text = self.doc.to_string();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    fn save(&self) -> Result<()> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        fsutil::create_private_dir(dir)
            .map_err(|err| self.io_error("cannot create directory", err))?;
        fsutil::write_private_atomic(&self.path, self.render().as_bytes())
            .map_err(|err| self.io_error("cannot write", err))
    }

    fn io_error(&self, what: &str, err: io::Error) -> PlatformError {
        PlatformError::Config {
            path: self.path.clone(),
            message: format!("{what}: {err}"),
        }
    }
}

/// An inline table (`{ … }`) turned into a standard table with the same
/// keys, so edits land in it; any other item is left as is.
fn to_table_in_place(item: &mut Item) {
    if item.is_inline_table() {
        *item = match std::mem::take(item).into_table() {
            Ok(table) => Item::Table(table),
            Err(other) => other,
        };
    }
}

fn write_row(row: &mut Table, profile: &Profile) {
    row.insert("instance", value(&profile.instance));
    row.insert("userId", value(&profile.user_id));
    row.insert("email", value(&profile.email));
    for (key, val) in [
        ("orgId", &profile.org_id),
        ("applicationId", &profile.application_id),
    ] {
        match val {
            Some(v) => {
                row.insert(key, value(v));
            }
            None => {
                row.remove(key);
            }
        }
    }
}

fn parse(path: &Path, text: &str) -> Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|err| {
        let line = err
            .span()
            .map(|span| text.get(..span.start).unwrap_or(text).matches('\n').count() + 1);
        let detail = err.message().trim().to_string();
        PlatformError::Config {
            path: path.to_path_buf(),
            message: match line {
                Some(line) => format!(
                    "invalid TOML at line {line}: {detail}. Fix or remove the file, then retry (it was left untouched)."
                ),
                None => format!("invalid TOML: {detail}. Fix or remove the file, then retry (it was left untouched)."),
            },
        }
    })
}

/// Applies `change` to the config under an exclusive lock (so concurrent
/// `appstrate` processes never lose each other's edits) and writes it
/// atomically. Nothing is written when `change` fails or the file is invalid.
pub fn update<T>(config_dir: &Path, change: impl FnOnce(&mut Config) -> Result<T>) -> Result<T> {
    fsutil::create_private_dir(config_dir).map_err(|err| PlatformError::Config {
        path: config_dir.to_path_buf(),
        message: format!("cannot create directory: {err}"),
    })?;
    let _lock = lock_file(&config_dir.join("config.toml.lock"))?;
    let mut config = Config::load(config_dir)?;
    let before = config.render();
    let out = change(&mut config)?;
    if config.render() != before {
        config.save()?;
    }
    Ok(out)
}

/// An exclusive advisory lock held until the returned file is dropped.
pub fn lock_file(path: &Path) -> Result<File> {
    let mut options = fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    // Created 0600 at once: a kill between create and chmod must not leave
    // a wider file in the private directory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(|err| {
        PlatformError::Other(format!("cannot open lock file {}: {err}", path.display()))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(fs::Permissions::from_mode(0o600));
    }
    file.lock()
        .map_err(|err| PlatformError::Other(format!("cannot lock {}: {err}", path.display())))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod() -> Profile {
        Profile {
            instance: "https://a".into(),
            user_id: "u1".into(),
            email: "a@b.c".into(),
            org_id: Some("o1".into()),
            application_id: None,
        }
    }

    #[test]
    fn missing_file_is_empty_default() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        assert_eq!(cfg.default_profile(), None);
        assert!(cfg.profile_names().is_empty());
        let env = Env::default();
        assert_eq!(
            resolve_profile_name(None, &env, cfg.default_profile()),
            "default"
        );
    }

    #[test]
    fn profiles_written_as_inline_tables_survive_edits() {
        // Found by the `config` fuzz target (fuzz/fuzz_targets/config.rs):
        // adding a profile replaced an inline `profile = { … }` table, losing
        // every other profile; editing an inline row was silently dropped.
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            Config::path_in(dir.path()),
            "defaultProfile = \"work\"\nprofile = { work = { instance = \"https://w\", userId = \"u1\", email = \"w@b.c\", note = 1 } }\n",
        )
        .unwrap();
        let work = Profile {
            instance: "https://w".into(),
            user_id: "u1".into(),
            email: "w@b.c".into(),
            org_id: None,
            application_id: None,
        };
        update(dir.path(), |c| {
            c.set_profile("prod", &prod());
            Ok(())
        })
        .unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        assert_eq!(cfg.profile("work"), Some(work.clone()));
        assert_eq!(cfg.profile("prod"), Some(prod()));
        assert_eq!(cfg.default_profile(), Some("work"));
        update(dir.path(), |c| {
            c.update_profile("work", |p| p.org_id = Some("o9".into()))
        })
        .unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        assert_eq!(
            cfg.profile("work").and_then(|p| p.org_id),
            Some("o9".into())
        );
        assert!(cfg.render().contains("note = 1"), "{}", cfg.render());
    }

    #[test]
    fn cascade_order() {
        let mut env = Env::default();
        assert_eq!(resolve_profile_name(Some("x"), &env, Some("d")), "x");
        env.profile = Some("e".into());
        assert_eq!(resolve_profile_name(Some("x"), &env, Some("d")), "x");
        assert_eq!(resolve_profile_name(None, &env, Some("d")), "e");
        assert_eq!(resolve_profile_name(Some(""), &env, Some("d")), "e");
        env.profile = None;
        assert_eq!(resolve_profile_name(None, &env, Some("d")), "d");
        assert_eq!(resolve_profile_name(None, &env, Some("")), "default");
    }

    #[test]
    fn round_trip_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        update(dir.path(), |c| {
            c.set_profile("prod", &prod());
            Ok(())
        })
        .unwrap();
        let text = fs::read_to_string(dir.path().join("config.toml")).unwrap();
        assert!(text.contains("[profile.prod]"), "{text}");
        assert!(text.contains("instance = \"https://a\""), "{text}");
        assert!(!text.contains("applicationId"), "no phantom key: {text}");
        let cfg = Config::load(dir.path()).unwrap();
        assert_eq!(cfg.profile("prod"), Some(prod()));
        assert_eq!(cfg.default_profile(), Some("prod"));
        #[cfg(unix)]
        assert_eq!(fsutil::mode_of(&fs::metadata(cfg.path()).unwrap()), 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn first_set_profile_sets_default_later_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        update(dir.path(), |c| {
            c.set_profile("prod", &prod());
            c.set_profile("dev", &prod());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            Config::load(dir.path()).unwrap().default_profile(),
            Some("prod")
        );
    }

    #[test]
    fn update_merges_and_clears() {
        let dir = tempfile::tempdir().unwrap();
        update(dir.path(), |c| {
            c.set_profile("p", &prod());
            c.update_profile("p", |p| p.application_id = Some("a1".into()))
        })
        .unwrap();
        update(dir.path(), |c| {
            c.update_profile("p", |p| {
                p.org_id = None;
                p.application_id = None;
            })
        })
        .unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        let p = cfg.profile("p").unwrap();
        assert_eq!((p.org_id, p.application_id), (None, None));
        assert_eq!(p.email, "a@b.c");
        let text = fs::read_to_string(cfg.path()).unwrap();
        assert!(
            !text.contains("orgId") && !text.contains("applicationId"),
            "{text}"
        );
        let err = update(dir.path(), |c| c.update_profile("ghost", |_| {})).unwrap_err();
        assert!(err.to_string().contains("no longer in the config"), "{err}");
    }

    #[test]
    fn delete_repoints_default() {
        let dir = tempfile::tempdir().unwrap();
        update(dir.path(), |c| {
            c.set_profile("a", &prod());
            c.set_profile("b", &prod());
            Ok(())
        })
        .unwrap();
        assert!(!update(dir.path(), |c| Ok(c.delete_profile("ghost"))).unwrap());
        assert!(update(dir.path(), |c| Ok(c.delete_profile("a"))).unwrap());
        assert_eq!(
            Config::load(dir.path()).unwrap().default_profile(),
            Some("b")
        );
        assert!(update(dir.path(), |c| Ok(c.delete_profile("b"))).unwrap());
        assert_eq!(
            Config::load(dir.path()).unwrap().default_profile(),
            Some("default")
        );
    }

    #[test]
    fn malformed_rows_are_skipped_and_comments_kept() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# my settings\ndefaultProfile = \"ok\" # pinned\n\n[profile.bad]\ninstance = \"https://x\"\n\n[profile.ok]\ninstance = \"https://a\"\nuserId = \"u\"\nemail = \"e\"\ncolor = \"blue\"\n";
        fs::write(dir.path().join("config.toml"), text).unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        assert_eq!(cfg.profile_names(), vec!["ok".to_string()]);
        assert!(cfg.profile("bad").is_none());
        update(dir.path(), |c| {
            c.update_profile("ok", |p| p.org_id = Some("o".into()))
        })
        .unwrap();
        let after = fs::read_to_string(dir.path().join("config.toml")).unwrap();
        assert!(
            after.starts_with("# my settings\ndefaultProfile = \"ok\" # pinned\n"),
            "{after}"
        );
        assert!(after.contains("color = \"blue\""), "{after}");
        assert!(after.contains("orgId = \"o\""), "{after}");
    }

    #[test]
    fn invalid_toml_names_line_and_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "defaultProfile = \"a\"\n[profile.a]\ninstance = \"https://a\n";
        fs::write(&path, text).unwrap();
        let err = update(dir.path(), |c| {
            c.set_profile("a", &prod());
            Ok(())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("config.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..10)
            .map(|i| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    update(&d, |c| {
                        c.set_profile(&format!("p{i}"), &prod());
                        Ok(())
                    })
                    .unwrap()
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(Config::load(dir.path()).unwrap().profile_names().len(), 10);
    }
}
