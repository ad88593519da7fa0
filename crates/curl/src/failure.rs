//! Network errors → curl's exit codes (docs/api-command.md#network-errors).

use std::error::Error as StdError;
use std::io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetClass {
    Timeout,
    Dns,
    Connect,
    Tls,
    Other,
}

/// A failed exchange with the server, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetError {
    pub class: NetClass,
    /// The innermost cause, for the stderr line.
    pub detail: String,
}

impl NetError {
    pub fn timeout() -> Self {
        NetError {
            class: NetClass::Timeout,
            detail: String::new(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self.class {
            NetClass::Timeout => 28,
            NetClass::Dns => 6,
            NetClass::Connect => 7,
            NetClass::Tls => 35,
            NetClass::Other => 1,
        }
    }

    /// The stderr line (docs/api-command.md#network-errors).
    pub fn message(&self) -> String {
        match self.class {
            NetClass::Timeout => "Operation timed out".to_string(),
            NetClass::Dns => format!("Could not resolve host: {}", self.detail),
            NetClass::Connect => format!("Could not connect: {}", self.detail),
            NetClass::Tls => format!("SSL/TLS handshake failed: {}", self.detail),
            NetClass::Other => format!("Network error: {}", self.detail),
        }
    }

    /// Retried under `--retry`: DNS and timeouts always, connection
    /// failures only with `--retry-connrefused`, TLS and unknown never.
    pub fn retryable(&self, connrefused: bool) -> bool {
        match self.class {
            NetClass::Timeout | NetClass::Dns => true,
            NetClass::Connect => connrefused,
            NetClass::Tls | NetClass::Other => false,
        }
    }
}

fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = vec![err];
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push(e);
        cur = e.source();
    }
    out
}

fn is_tls(e: &(dyn StdError + 'static)) -> bool {
    if e.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    if let Some(io) = e.downcast_ref::<io::Error>()
        && let Some(inner) = io.get_ref()
        && inner.downcast_ref::<rustls::Error>().is_some()
    {
        return true;
    }
    false
}

/// Classifies a client error by walking its cause chain.
pub fn classify(err: &reqwest::Error) -> NetError {
    let links = chain(err);
    let detail = links
        .last()
        .map(|e| e.to_string())
        .unwrap_or_else(|| err.to_string());
    let class = if err.is_timeout() {
        NetClass::Timeout
    } else if links.iter().any(|e| is_tls(*e)) {
        NetClass::Tls
    } else if links.iter().any(|e| {
        let m = e.to_string().to_ascii_lowercase();
        m.contains("dns error") || m.contains("failed to lookup address")
    }) {
        NetClass::Dns
    } else if links.iter().any(|e| {
        e.downcast_ref::<io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::NetworkUnreachable
            )
        }) || e
            .to_string()
            .to_ascii_lowercase()
            .contains("connection refused")
    }) {
        NetClass::Connect
    } else if links.iter().any(|e| {
        let m = e.to_string().to_ascii_lowercase();
        m.contains("certificate") || m.contains("handshake")
    }) {
        NetClass::Tls
    } else {
        NetClass::Other
    };
    NetError { class, detail }
}
