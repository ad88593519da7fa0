//! Errors with a kind, and the one place where a kind becomes an exit code.
//!
//! Commands return `Result<ExitStatus, CliError>`. A `CliError` carries the
//! message the user sees (never a secret), an optional hint, and the kind
//! that decides the exit code. A broken pipe on stdout is not an error worth
//! reporting: it exits 0 silently, as ripgrep does.

use std::fmt;
use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use appstrate_platform::PlatformError;

/// The process exit status of a command that ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(u8);

impl ExitStatus {
    pub const SUCCESS: ExitStatus = ExitStatus(0);
    pub const FAILURE: ExitStatus = ExitStatus(1);

    pub const fn from_code(code: u8) -> Self {
        ExitStatus(code)
    }

    pub fn code(self) -> u8 {
        self.0
    }
}

/// What went wrong, which decides the exit code and how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad flags or arguments (exit 2 for the commands that distinguish it).
    Usage,
    /// Anything the user can fix by signing in again.
    Auth,
    /// The instance could not be reached.
    Network,
    /// The instance answered with an error.
    Server,
    /// Local state or input is wrong (config file, credentials, files).
    User,
    /// Interrupted by a signal; `code` is 128 + signal number.
    Interrupted,
    /// stdout was closed by the reader: exit quietly with 0.
    BrokenPipe,
}

#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// Overrides the kind's default exit code (the `api` command's curl codes).
    pub exit_code: Option<u8>,
    /// Already shown to the user (or deliberately silent): print nothing.
    pub silent: bool,
}

#[allow(dead_code)] // builders used as commands need them (hints, curl exit codes)
impl CliError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            hint: None,
            exit_code: None,
            silent: false,
        }
    }

    pub fn user(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::User, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_exit_code(mut self, code: u8) -> Self {
        self.exit_code = Some(code);
        self
    }

    /// An error whose message was already printed (or must not be).
    pub fn silent(code: u8) -> Self {
        CliError {
            kind: ErrorKind::User,
            message: String::new(),
            hint: None,
            exit_code: Some(code),
            silent: true,
        }
    }

    pub fn interrupted(signal: i32) -> Self {
        let mut err = Self::new(ErrorKind::Interrupted, "");
        err.silent = true;
        err.exit_code = Some(128 + signal as u8);
        err
    }

    pub fn exit_status(&self) -> ExitStatus {
        if let Some(code) = self.exit_code {
            return ExitStatus(code);
        }
        match self.kind {
            ErrorKind::BrokenPipe => ExitStatus::SUCCESS,
            ErrorKind::Interrupted => ExitStatus(130),
            _ => ExitStatus::FAILURE,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.hint {
            Some(hint) => write!(f, "{} — {}", self.message, hint),
            None => f.write_str(&self.message),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            let mut e = CliError::new(ErrorKind::BrokenPipe, "");
            e.silent = true;
            return e;
        }
        CliError::user(err.to_string())
    }
}

impl From<PlatformError> for CliError {
    fn from(err: PlatformError) -> Self {
        let kind = match &err {
            PlatformError::Auth(_) => ErrorKind::Auth,
            PlatformError::Network { .. } => ErrorKind::Network,
            PlatformError::Api { .. } | PlatformError::DeviceFlow { .. } => ErrorKind::Server,
            _ => ErrorKind::User,
        };
        CliError::new(kind, err.to_string())
    }
}

impl From<appstrate_selfhost::Error> for CliError {
    fn from(err: appstrate_selfhost::Error) -> Self {
        CliError::user(err.message)
    }
}

/// Set once a command took over signal handling ([`claim_signals`]): the
/// fallback in `main` then leaves signals to it.
static SIGNALS_CLAIMED: AtomicBool = AtomicBool::new(false);

/// Resolves when SIGINT, SIGTERM or SIGHUP arrives, with the signal number;
/// signals a command claimed are left to that command.
pub async fn interrupted() -> i32 {
    loop {
        let signal = next_signal().await;
        if !SIGNALS_CLAIMED.load(Ordering::SeqCst) {
            return signal;
        }
    }
}

/// Every later SIGINT/SIGTERM/SIGHUP, in order, for a command that reacts
/// to more than the first one (a remote run cancels on the first and stops
/// on the second). `main` stops acting on them.
pub fn claim_signals() -> tokio::sync::mpsc::UnboundedReceiver<i32> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Listening before claiming: no signal falls between the two.
        if let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            SIGNALS_CLAIMED.store(true, Ordering::SeqCst);
            tokio::spawn(async move {
                loop {
                    let number = tokio::select! {
                        _ = int.recv() => libc::SIGINT,
                        _ = term.recv() => libc::SIGTERM,
                        _ = hup.recv() => libc::SIGHUP,
                    };
                    if tx.send(number).is_err() {
                        return;
                    }
                }
            });
        }
    }
    #[cfg(not(unix))]
    {
        SIGNALS_CLAIMED.store(true, Ordering::SeqCst);
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if tx.send(2).is_err() {
                    return;
                }
            }
        });
    }
    rx
}

async fn next_signal() -> i32 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        2
    }
}

/// clap's own errors: help and version go to stdout with 0, usage errors to
/// stderr with 1 (the original's commander exits 1 on usage errors).
pub fn exit_for_clap(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    let code = match err.kind() {
        K::DisplayHelp | K::DisplayVersion => 0,
        _ => 1,
    };
    // A closed stdout while printing help is not worth a panic or a message.
    let _ = err.print();
    ExitCode::from(code)
}
