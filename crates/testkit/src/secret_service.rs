//! A real Secret Service for one test: a private D-Bus session daemon and
//! `gnome-keyring-daemon` with an unlocked login keyring, both stopped on
//! drop. Needs the Debian packages `dbus-daemon` and `gnome-keyring`
//! (`scripts/test` installs them).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SecretServiceSession {
    dir: tempfile::TempDir,
    address: String,
    children: Vec<Child>,
}

impl SecretServiceSession {
    /// Starts the daemons, or says why it could not.
    pub fn start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", socket.display());
        let mut session = SecretServiceSession {
            address: address.clone(),
            children: Vec::new(),
            dir,
        };
        let bus = Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--nopidfile",
                &format!("--address={address}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start dbus-daemon: {e}"))?;
        session.children.push(bus);
        wait_for(|| socket.exists(), Duration::from_secs(10))
            .map_err(|_| "dbus-daemon did not create its socket".to_string())?;

        let keyring_home = session.dir.path().join("home");
        std::fs::create_dir_all(keyring_home.join(".local/share/keyrings"))
            .map_err(|e| e.to_string())?;
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", &keyring_home)
            .env("XDG_DATA_HOME", keyring_home.join(".local/share"))
            .env("XDG_RUNTIME_DIR", session.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start gnome-keyring-daemon: {e}"))?;
        if let Some(mut stdin) = keyring.stdin.take() {
            // The login keyring's password; closing stdin ends the input.
            let _ = stdin.write_all(b"test-password");
        }
        session.children.push(keyring);
        // Ready once the service name is owned on the bus.
        let addr = address.clone();
        wait_for(
            move || {
                Command::new("dbus-send")
                    .args([
                        "--session",
                        "--print-reply",
                        "--dest=org.freedesktop.DBus",
                        "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.NameHasOwner",
                        "string:org.freedesktop.secrets",
                    ])
                    .env("DBUS_SESSION_BUS_ADDRESS", &addr)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
                    .unwrap_or(false)
            },
            Duration::from_secs(15),
        )
        .map_err(|_| "gnome-keyring-daemon did not register org.freedesktop.secrets".to_string())?;
        Ok(session)
    }

    /// The value for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Reads a secret with `secret-tool`-free D-Bus: returns every item's
    /// attributes whose `service` is `appstrate` (via `dbus-send`), for
    /// assertions that the entry exists.
    pub fn search_appstrate(&self, profile: &str) -> bool {
        let out = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.SearchItems",
                &format!("dict:string:string:service,appstrate,username,{profile}"),
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .contains("object path \"/org/freedesktop/secrets/collection/"),
            Err(_) => false,
        }
    }
}

impl Drop for SecretServiceSession {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for(mut ready: impl FnMut() -> bool, timeout: Duration) -> Result<(), ()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(())
}
