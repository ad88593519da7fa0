//! Where tokens live: the OS keyring, or `credentials.json` (0600) when no
//! keyring backend exists (docs/files.md#credentials).
//!
//! Which backend serves a process is decided once, in [`CredentialStore::open`]:
//! - a keyring that answers is used (on Linux, the Secret Service over D-Bus,
//!   with the same service/attributes/label as the original, so entries are shared);
//! - no keyring at all (no D-Bus session, no Secret Service provider) means the
//!   file store, silently;
//! - a keyring that exists but fails (locked, broken) is refused unless
//!   `APPSTRATE_ALLOW_PLAINTEXT_TOKENS=1`, which falls back to the file with a
//!   one-time warning.
//!
//! The file store checks its directory (0700, ours) and file (0600, ours) on
//! every use, writes atomically, and serialises writers with a lock file so
//! concurrent processes never lose each other's profiles.

use std::cell::Cell;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::lock_file;
use crate::env::Env;
use crate::error::{PlatformError, Result};
use crate::fsutil;
use crate::tokens::{TokenRecord, now_ms};

pub const KEYRING_SERVICE: &str = "appstrate";

/// The operation, for messages.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Read,
    Write,
    Delete,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Delete => "delete",
        }
    }
}

/// Which store serves this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendKind {
    Keyring,
    File,
    /// The keyring exists but does not work; every operation is refused.
    Refused(String),
}

pub struct CredentialStore {
    kind: BackendKind,
    file: FileStore,
    #[cfg(target_os = "linux")]
    keyring: Option<linux::SecretServiceStore>,
    warned: Cell<bool>,
}

impl CredentialStore {
    /// Decides the backend for this process (see the module docs).
    pub async fn open(env: &Env) -> CredentialStore {
        let file = FileStore::new(env.config_dir());
        #[cfg(target_os = "linux")]
        {
            let mut store = CredentialStore {
                kind: BackendKind::File,
                file,
                keyring: None,
                warned: Cell::new(false),
            };
            match linux::SecretServiceStore::connect(env).await {
                Ok(keyring) => {
                    store.kind = BackendKind::Keyring;
                    store.keyring = Some(keyring);
                }
                Err(KeyringError::Missing(_)) => {}
                Err(KeyringError::Broken(msg)) if env.allow_plaintext_tokens => {
                    store.warn_fallback(Op::Read, &msg);
                }
                Err(KeyringError::Broken(msg)) => store.kind = BackendKind::Refused(msg),
            }
            store
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = env;
            CredentialStore {
                kind: BackendKind::File,
                file,
                warned: Cell::new(false),
            }
        }
    }

    /// A store that only uses `credentials.json`, whatever keyring the
    /// machine has. No environment variable selects it: `open` decides.
    pub fn file_only(config_dir: PathBuf) -> CredentialStore {
        CredentialStore {
            kind: BackendKind::File,
            file: FileStore::new(config_dir),
            #[cfg(target_os = "linux")]
            keyring: None,
            warned: Cell::new(false),
        }
    }

    pub fn kind(&self) -> &BackendKind {
        &self.kind
    }

    fn refusal(&self, op: Op, cause: &str) -> PlatformError {
        PlatformError::Credentials(format!(
            "Cannot {verb} Appstrate credentials: the OS keyring is installed but not serving.\n  Cause: {cause}\n  Refusing to fall back to the plaintext file store because your\n  keyring normally protects these tokens. Fix one of:\n    - unlock or repair the keyring (e.g. restart gnome-keyring / KWallet), or\n    - opt in to plaintext storage for this machine:\n        APPSTRATE_ALLOW_PLAINTEXT_TOKENS=1 appstrate <login|logout>\n      (tokens then live in {file}, mode 0600).",
            verb = op.verb(),
            file = self.file.path().display()
        ))
    }

    fn warn_fallback(&self, op: Op, msg: &str) {
        if !self.warned.replace(true) {
            eprintln!(
                "[appstrate] OS keyring {} failed ({msg}) — falling back to ~/.config/appstrate/credentials.json (0600). If this was unexpected, fix the keyring backend to restore secure storage.",
                op.verb()
            );
        }
    }

    /// The live record of `profile`, or `None`. A record whose refresh token
    /// has expired is scrubbed (unless a newer one was saved meanwhile).
    pub async fn load(&self, profile: &str) -> Result<Option<TokenRecord>> {
        match &self.kind {
            BackendKind::Refused(msg) => return Err(self.refusal(Op::Read, msg)),
            BackendKind::File => return self.file.load(profile),
            BackendKind::Keyring => {}
        }
        #[cfg(target_os = "linux")]
        if let Some(keyring) = &self.keyring {
            // Nothing in the keyring (or a failed read) falls through: the
            // file store may hold tokens from an earlier fallback.
            if let Ok(Some(text)) = keyring.get(profile).await {
                let Some(record) = TokenRecord::from_json(&text) else {
                    return Ok(None);
                };
                if record.is_dead(now_ms()) {
                    // Compare-and-delete: a fresh save since our read wins.
                    if let Ok(Some(again)) = keyring.get(profile).await
                        && TokenRecord::from_json(&again)
                            .is_some_and(|r| r.expires_at == record.expires_at)
                    {
                        let _ = keyring.delete(profile).await;
                    }
                    return Ok(None);
                }
                return Ok(Some(record));
            }
        }
        if self.file.dir_exists() {
            self.file.load(profile)
        } else {
            Ok(None)
        }
    }

    /// Fails when saving tokens would: checked before `login` starts the
    /// device flow, so an approval never ends with nowhere to keep the
    /// session (a live server session without a local copy).
    pub fn check_usable(&self) -> Result<()> {
        match &self.kind {
            BackendKind::Refused(msg) => Err(self.refusal(Op::Write, msg)),
            BackendKind::File => self.file.check_usable(),
            BackendKind::Keyring => Ok(()),
        }
    }

    pub async fn save(&self, profile: &str, record: &TokenRecord) -> Result<()> {
        match &self.kind {
            BackendKind::Refused(msg) => return Err(self.refusal(Op::Write, msg)),
            BackendKind::File => return self.file.save(profile, record),
            BackendKind::Keyring => {}
        }
        #[cfg(target_os = "linux")]
        if let Some(keyring) = &self.keyring {
            return match keyring.set(profile, &record.to_json()).await {
                Ok(()) => {
                    // A stale file-store copy would shadow nothing, but it is
                    // a plaintext token: remove it.
                    if self.file.path().exists() {
                        let _ = self.file.delete(profile);
                    }
                    Ok(())
                }
                Err(KeyringError::Missing(_)) => self.file.save(profile, record),
                Err(KeyringError::Broken(msg)) => Err(self.refusal(Op::Write, &msg)),
            };
        }
        self.file.save(profile, record)
    }

    /// Removes the record everywhere it may be (logout is unconditional).
    pub async fn delete(&self, profile: &str) -> Result<()> {
        if let BackendKind::Refused(msg) = &self.kind {
            return Err(self.refusal(Op::Delete, msg));
        }
        #[cfg(target_os = "linux")]
        if let Some(keyring) = &self.keyring
            && let Err(KeyringError::Broken(msg)) = keyring.delete(profile).await
        {
            return Err(self.refusal(Op::Delete, &msg));
        }
        if self.file.path().exists() {
            self.file.delete(profile)?;
        }
        Ok(())
    }
}

/// A keyring failure, classified as docs/files.md#keyring says.
#[derive(Debug)]
pub enum KeyringError {
    /// No backend on this machine: use the file store silently.
    Missing(String),
    /// A backend that exists but fails.
    Broken(String),
}

/// `credentials.json`: one JSON object keyed by profile name.
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: PathBuf) -> Self {
        FileStore { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }

    fn dir_exists(&self) -> bool {
        self.dir.is_dir()
    }

    fn check_dir(&self) -> Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = fs::symlink_metadata(&self.dir).map_err(|e| self.io(e))?;
            let dir = self.dir.display();
            let mode = fsutil::mode_of(&meta);
            if meta.is_dir() && mode != 0o700 && mode & 0o077 == 0 {
                // Nobody else can get in: the owner is locked out instead.
                return Err(PlatformError::Credentials(format!(
                    "Cannot use {dir}: directory permissions {mode:o} make it not writable (expected 700).\n  Fix: chmod 700 \"{dir}\""
                )));
            }
            if !meta.is_dir() || mode != 0o700 {
                return Err(PlatformError::Credentials(format!(
                    "Refusing to use {dir}: insecure directory permissions {mode:o} (expected 700).\n  Another user could plant a symlink or replace credentials.json there.\n  Fix: chmod 700 \"{dir}\" — or delete it and re-run `appstrate login`."
                )));
            }
            let uid = fsutil::current_uid();
            if meta.uid() != uid {
                return Err(PlatformError::Credentials(format!(
                    "Refusing to use {dir}: directory is not owned by the current user (uid {uid}).\n  Delete it and re-run `appstrate login`."
                )));
            }
        }
        Ok(())
    }

    fn io(&self, err: io::Error) -> PlatformError {
        PlatformError::Credentials(format!("{}: {err}", self.path().display()))
    }

    fn read_store(&self) -> Result<Map<String, Value>> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(err) => return Err(self.io(err)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = fs::metadata(&path).map_err(|e| self.io(e))?;
            let mode = fsutil::mode_of(&meta);
            let file = path.display();
            if mode != 0o600 {
                return Err(PlatformError::Credentials(format!(
                    "Refusing to read {file}: insecure permissions {mode:o} (expected 600). Run: chmod 600 \"{file}\" — or delete it and re-run `appstrate login`."
                )));
            }
            let uid = fsutil::current_uid();
            if meta.uid() != uid {
                return Err(PlatformError::Credentials(format!(
                    "Refusing to read {file}: file is not owned by the current user (uid {uid}). Delete it and re-run `appstrate login`."
                )));
            }
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Ok(Map::new()),
            Err(err) => Err(PlatformError::Credentials(format!(
                "{} is not valid JSON ({err}). Delete it and re-run `appstrate login`.",
                path.display()
            ))),
        }
    }

    fn write_store(&self, store: &Map<String, Value>) -> Result<()> {
        let path = self.path();
        if store.is_empty() {
            fsutil::sweep_stale_temps(&self.dir);
            return match fs::remove_file(&path) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => Err(self.io(err)),
                _ => Ok(()),
            };
        }
        let text =
            serde_json::to_string_pretty(store).map_err(|e| PlatformError::Other(e.to_string()))?;
        fsutil::write_private_atomic(&path, text.as_bytes()).map_err(|e| self.io(e))
    }

    fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _lock = lock_file(&self.dir.join("credentials.json.lock"))?;
        f()
    }

    pub fn load(&self, profile: &str) -> Result<Option<TokenRecord>> {
        if !self.dir_exists() {
            return Ok(None);
        }
        self.check_dir()?;
        let store = self.read_store()?;
        let Some(record) = store.get(profile).and_then(TokenRecord::from_value) else {
            return Ok(None);
        };
        if record.is_dead(now_ms()) {
            let expires_at = record.expires_at;
            let _ = self.locked(|| {
                let mut store = self.read_store()?;
                let same = store
                    .get(profile)
                    .and_then(TokenRecord::from_value)
                    .is_some_and(|r| r.expires_at == expires_at);
                if same {
                    store.remove(profile);
                    self.write_store(&store)?;
                }
                Ok(())
            });
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// Fails when a later [`FileStore::save`] would: a directory or file
    /// with the wrong mode or owner, or a file that is not valid JSON.
    pub fn check_usable(&self) -> Result<()> {
        if !self.dir_exists() {
            return Ok(());
        }
        self.check_dir()?;
        self.read_store().map(drop)
    }

    pub fn save(&self, profile: &str, record: &TokenRecord) -> Result<()> {
        fsutil::create_private_dir(&self.dir).map_err(|e| self.io(e))?;
        self.check_dir()?;
        self.locked(|| {
            let mut store = self.read_store()?;
            let value: Value = serde_json::from_str(&record.to_json())
                .map_err(|e| PlatformError::Other(e.to_string()))?;
            store.insert(profile.to_string(), value);
            self.write_store(&store)
        })
    }

    pub fn delete(&self, profile: &str) -> Result<()> {
        if !self.dir_exists() {
            return Ok(());
        }
        self.check_dir()?;
        self.locked(|| {
            let mut store = match self.read_store() {
                Ok(store) => store,
                // A corrupt file cannot hold this profile's tokens in a usable form.
                Err(PlatformError::Credentials(msg)) if msg.contains("not valid JSON") => {
                    return Ok(());
                }
                Err(err) => return Err(err),
            };
            if store.remove(profile).is_some() {
                self.write_store(&store)?;
            }
            Ok(())
        })
    }
}

/// Compatibility helper for callers that only know the directory.
pub fn credentials_path(config_dir: &Path) -> PathBuf {
    config_dir.join("credentials.json")
}

#[cfg(target_os = "linux")]
mod linux {
    //! The freedesktop Secret Service (gnome-keyring, KWallet) over D-Bus.
    //! Items: collection alias `default`, attributes `service=appstrate`,
    //! `username=<profile>`, label `keyring:<profile>@appstrate`, the same
    //! as `@napi-rs/keyring` 1.3 writes.

    use std::collections::HashMap;
    use std::time::Duration;

    use secret_service::{EncryptionType, Error as SsError, SecretService};

    use super::{Env, KEYRING_SERVICE, KeyringError};

    /// D-Bus calls that hang (a prompt nobody can answer) are cut off.
    const TIMEOUT: Duration = Duration::from_secs(10);

    pub struct SecretServiceStore {
        service: SecretService<'static>,
    }

    fn classify(err: SsError) -> KeyringError {
        let text = err.to_string();
        match err {
            SsError::Unavailable => KeyringError::Missing(text),
            SsError::ZbusFdo(zbus::fdo::Error::ServiceUnknown(_)) => KeyringError::Missing(text),
            SsError::Zbus(ref z) if is_no_bus(z) => KeyringError::Missing(text),
            _ => KeyringError::Broken(text),
        }
    }

    fn is_no_bus(err: &zbus::Error) -> bool {
        match err {
            zbus::Error::Address(_)
            | zbus::Error::InputOutput(_)
            | zbus::Error::Handshake(_)
            | zbus::Error::Connection(..) => true,
            zbus::Error::FDO(fdo) => matches!(**fdo, zbus::fdo::Error::ServiceUnknown(_)),
            zbus::Error::MethodError(name, _, _) => {
                name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown"
            }
            _ => false,
        }
    }

    async fn timed<T>(fut: impl Future<Output = Result<T, SsError>>) -> Result<T, KeyringError> {
        match tokio::time::timeout(TIMEOUT, fut).await {
            Ok(result) => result.map_err(classify),
            Err(_) => Err(KeyringError::Broken(
                "the Secret Service did not answer within 10s".into(),
            )),
        }
    }

    fn attributes(profile: &str) -> HashMap<&str, &str> {
        HashMap::from([("service", KEYRING_SERVICE), ("username", profile)])
    }

    impl SecretServiceStore {
        /// `env` tells whether there is a session bus to try at all.
        pub async fn connect(env: &Env) -> Result<Self, KeyringError> {
            if env.var("DBUS_SESSION_BUS_ADDRESS").is_none() {
                let runtime_bus = env
                    .var("XDG_RUNTIME_DIR")
                    .map(|d| std::path::PathBuf::from(d).join("bus"));
                if !runtime_bus.is_some_and(|p| p.exists()) {
                    return Err(KeyringError::Missing("no D-Bus session bus".into()));
                }
            }
            let service = timed(SecretService::connect(EncryptionType::Dh)).await?;
            let store = SecretServiceStore { service };
            // A provider that answers the session but has no usable default
            // collection is broken, not missing.
            let collection = timed(store.service.get_default_collection()).await?;
            timed(collection.ensure_unlocked()).await?;
            Ok(store)
        }

        pub async fn get(&self, profile: &str) -> Result<Option<String>, KeyringError> {
            let found = timed(self.service.search_items(attributes(profile))).await?;
            let item = match (found.unlocked.first(), found.locked.first()) {
                (Some(item), _) => item,
                (None, Some(item)) => {
                    timed(item.unlock()).await?;
                    item
                }
                (None, None) => return Ok(None),
            };
            let secret = timed(item.get_secret()).await?;
            Ok(String::from_utf8(secret).ok())
        }

        pub async fn set(&self, profile: &str, secret: &str) -> Result<(), KeyringError> {
            let collection = timed(self.service.get_default_collection()).await?;
            timed(collection.ensure_unlocked()).await?;
            let label = format!("keyring:{profile}@{KEYRING_SERVICE}");
            timed(collection.create_item(
                &label,
                attributes(profile),
                secret.as_bytes(),
                true,
                "text/plain",
            ))
            .await?;
            Ok(())
        }

        pub async fn delete(&self, profile: &str) -> Result<(), KeyringError> {
            let found = timed(self.service.search_items(attributes(profile))).await?;
            for item in found.unlocked.iter().chain(found.locked.iter()) {
                timed(item.delete()).await?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::RefreshToken;
    use zeroize::Zeroizing;

    fn record(refresh_exp: i64) -> TokenRecord {
        TokenRecord {
            access_token: Zeroizing::new("acc".into()),
            expires_at: now_ms() + 60_000,
            refresh: Some(RefreshToken {
                token: Zeroizing::new("ref".into()),
                expires_at: refresh_exp,
            }),
        }
    }

    #[test]
    fn file_store_round_trip_modes_and_cleanup() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("appstrate");
        let store = FileStore::new(dir.clone());
        assert!(store.load("a").unwrap().is_none());
        let rec = record(now_ms() + 1_000_000);
        store.save("a", &rec).unwrap();
        store.save("b", &rec).unwrap();
        assert_eq!(store.load("a").unwrap(), Some(rec.clone()));
        #[cfg(unix)]
        {
            assert_eq!(fsutil::mode_of(&fs::metadata(store.path()).unwrap()), 0o600);
            assert_eq!(fsutil::mode_of(&fs::metadata(&dir).unwrap()), 0o700);
        }
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(
            text.starts_with("{\n  \"a\": {\n    \"accessToken\""),
            "{text}"
        );
        store.delete("a").unwrap();
        assert!(store.path().exists());
        store.delete("b").unwrap();
        assert!(!store.path().exists(), "last profile removes the file");
    }

    #[cfg(unix)]
    #[test]
    fn insecure_modes_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("appstrate");
        let store = FileStore::new(dir.clone());
        store.save("a", &record(now_ms() + 1_000_000)).unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load("a").unwrap_err().to_string();
        assert!(err.contains("insecure permissions 644"), "{err}");
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        for err in [
            store.load("a").unwrap_err(),
            store.save("a", &record(1)).unwrap_err(),
            store.delete("a").unwrap_err(),
        ] {
            assert!(
                err.to_string()
                    .contains("insecure directory permissions 755"),
                "{err}"
            );
        }
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("appstrate");
        let store = FileStore::new(dir.clone());
        store.save("a", &record(now_ms() + 1_000_000)).unwrap();
        fsutil::write_private_atomic(&store.path(), b"{\"a\": {\"acc").unwrap();
        let err = store.load("a").unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn dead_records_are_scrubbed_but_live_ones_kept() {
        let home = tempfile::tempdir().unwrap();
        let store = FileStore::new(home.path().join("appstrate"));
        store.save("dead", &record(now_ms())).unwrap();
        store.save("live", &record(now_ms() + 1_000_000)).unwrap();
        assert!(store.load("dead").unwrap().is_none());
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains("\"dead\""), "{text}");
        assert!(store.load("live").unwrap().is_some());
    }

    #[test]
    fn concurrent_saves_lose_no_profile() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("appstrate");
        let threads: Vec<_> = (0..10)
            .map(|i| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    FileStore::new(dir)
                        .save(&format!("p{i}"), &record(now_ms() + 1_000_000))
                        .unwrap()
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let store = FileStore::new(dir);
        for i in 0..10 {
            assert!(store.load(&format!("p{i}")).unwrap().is_some(), "p{i}");
        }
    }
}
