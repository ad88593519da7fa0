//! Errors with a kind, and the one place where a kind becomes an exit code.
//!
//! Commands return `Result<ExitStatus, CliError>`. A `CliError` carries the
//! message the user sees (never a secret), an optional hint, and the kind
//! that decides the exit code. A broken pipe on stdout is not an error worth
//! reporting: it exits 0 silently, as ripgrep does.
//!
//! The exit code table (README "Exit codes", `appstrate --help`):
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success |
//! | 1    | failure (network, server, local state) |
//! | 2    | usage: bad flags or arguments |
//! | 4    | not signed in, or the session must be renewed (as gh does) |
//! | 70   | internal error (a bug: please report it) |
//! | 130  | interrupted (128 + signal number: 130 SIGINT, 143 SIGTERM) |
//!
//! `api` keeps curl's own codes for transfer failures (docs/api-command.md).

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
    pub const USAGE: ExitStatus = ExitStatus(2);
    pub const AUTH: ExitStatus = ExitStatus(4);
    pub const INTERNAL: ExitStatus = ExitStatus(70);
    pub const INTERRUPTED: ExitStatus = ExitStatus(130);

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
    /// Bad flags or arguments: exit 2.
    Usage,
    /// Not signed in, or signing in again fixes it: exit 4.
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
    /// A bug or a broken host (no async runtime): exit 70.
    Internal,
}

impl ErrorKind {
    /// The one place where a kind becomes an exit code.
    pub fn exit_status(self) -> ExitStatus {
        match self {
            ErrorKind::BrokenPipe => ExitStatus::SUCCESS,
            ErrorKind::Network | ErrorKind::Server | ErrorKind::User => ExitStatus::FAILURE,
            ErrorKind::Usage => ExitStatus::USAGE,
            ErrorKind::Auth => ExitStatus::AUTH,
            ErrorKind::Internal => ExitStatus::INTERNAL,
            ErrorKind::Interrupted => ExitStatus::INTERRUPTED,
        }
    }
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
    /// The underlying error, kept for `Error::source` chains.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
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
            source: None,
        }
    }

    /// An error of `kind` shown as `message`, caused by `source`.
    pub fn caused_by(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let mut err = Self::new(kind, message);
        err.source = Some(Box::new(source));
        err
    }

    pub fn user(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::User, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// The same error as a usage error (exit 2): a library's refusal of a
    /// value the user typed on the command line.
    pub fn into_usage(mut self) -> Self {
        self.kind = ErrorKind::Usage;
        self
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
            source: None,
        }
    }

    pub fn interrupted(signal: i32) -> Self {
        let mut err = Self::new(ErrorKind::Interrupted, "");
        err.silent = true;
        err.exit_code = Some(128 + signal as u8);
        err
    }

    /// The message and the hint to show: a message that ends with its
    /// remedy ("… Run: appstrate login …", the original's texts) shows
    /// that remedy as the hint.
    pub fn message_and_hint(&self) -> (&str, Option<&str>) {
        if let Some(hint) = &self.hint {
            return (&self.message, Some(hint));
        }
        match self.message.split_once(" Run: ") {
            Some((message, _)) => (message, Some(&self.message[message.len() + 1..])),
            None => (&self.message, None),
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self.exit_code {
            Some(code) => ExitStatus(code),
            None => self.kind.exit_status(),
        }
    }
}

/// The message alone; `Ui::report` adds the `error:` and `hint:` lines.
impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for CliError {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            let mut e = CliError::new(ErrorKind::BrokenPipe, "");
            e.silent = true;
            return e;
        }
        CliError::caused_by(ErrorKind::User, err.to_string(), err)
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
        CliError::caused_by(kind, err.to_string(), err)
    }
}

impl From<appstrate_selfhost::Error> for CliError {
    fn from(err: appstrate_selfhost::Error) -> Self {
        let mut cli = CliError::user(err.message.clone());
        cli.hint = err.hint.clone();
        cli.source = Some(Box::new(err));
        cli
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

/// clap's own errors: help and version go to stdout with 0; usage errors
/// (and bare `appstrate`, whose help goes to stderr) exit 2, as clap and
/// POSIX utilities do (the original's commander exits 1: COMPATIBILITY.md).
pub fn exit_for_clap(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    let status = match err.kind() {
        K::DisplayHelp | K::DisplayVersion => ExitStatus::SUCCESS,
        _ => ErrorKind::Usage.exit_status(),
    };
    // A closed stdout while printing help is not worth a panic or a message.
    let _ = err.print();
    ExitCode::from(status.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_documented_code() {
        let table = [
            (ErrorKind::BrokenPipe, 0),
            (ErrorKind::User, 1),
            (ErrorKind::Network, 1),
            (ErrorKind::Server, 1),
            (ErrorKind::Usage, 2),
            (ErrorKind::Auth, 4),
            (ErrorKind::Internal, 70),
            (ErrorKind::Interrupted, 130),
        ];
        for (kind, code) in table {
            assert_eq!(
                CliError::new(kind, "x").exit_status().code(),
                code,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_signal_exits_128_plus_its_number() {
        assert_eq!(CliError::interrupted(15).exit_status().code(), 143);
    }

    #[test]
    fn a_trailing_remedy_becomes_the_hint() {
        let err = CliError::user("Profile \"x\" not configured. Run: appstrate login");
        assert_eq!(
            err.message_and_hint(),
            (
                "Profile \"x\" not configured.",
                Some("Run: appstrate login")
            )
        );
        let err = CliError::user("plain").with_hint("do this");
        assert_eq!(err.message_and_hint(), ("plain", Some("do this")));
    }

    #[test]
    fn io_errors_keep_their_source() {
        use std::error::Error as _;
        let err = CliError::from(io::Error::new(io::ErrorKind::NotFound, "gone"));
        assert_eq!(err.source().map(|s| s.to_string()).as_deref(), Some("gone"));
    }
}
