//! Errors of the platform layer. Their `Display` is the text the user sees
//! (docs/platform-api.md#errors); none of them ever carries a token.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Signing in again fixes it.
    #[error("{0}")]
    Auth(String),

    /// The instance answered with a non-2xx status.
    #[error("API error ({status}): {message}")]
    Api {
        status: u16,
        message: String,
        body: Option<serde_json::Value>,
    },

    /// An OAuth error from the device flow, refresh or revoke endpoints.
    #[error("{}", device_flow_message(code, description))]
    DeviceFlow {
        code: String,
        description: Option<String>,
        http_status: u16,
    },

    /// The instance could not be reached or the connection failed.
    #[error("{message}")]
    Network { message: String },

    /// The instance URL is unusable or insecure.
    #[error("{0}")]
    Instance(String),

    /// `config.toml` could not be read or parsed.
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    /// The credential store refused or failed.
    #[error("{0}")]
    Credentials(String),

    /// The server's reply could not be understood.
    #[error("{0}")]
    Protocol(String),

    #[error("{0}")]
    Other(String),
}

/// The canonical sentences of `formatError` for device-flow codes.
fn device_flow_message(code: &str, description: &Option<String>) -> String {
    match code {
        "access_denied" => "The request was refused. If this was unexpected, check that the CLI is allowed for this account. (access_denied)".into(),
        "expired_token" => "The code expired before you approved it. Run the command again to get a new one. (expired_token)".into(),
        "invalid_client" => "This CLI is not registered on the target instance. The platform may be running an incompatible version. (invalid_client)".into(),
        "invalid_grant" => "The authorization server rejected the device code. Run the command again. (invalid_grant)".into(),
        "invalid_request" => "The authorization request was malformed. (invalid_request)".into(),
        other => format!("{} ({other})", description.as_deref().filter(|d| !d.is_empty()).unwrap_or(other)),
    }
}

impl PlatformError {
    pub fn network(message: impl Into<String>) -> Self {
        PlatformError::Network {
            message: message.into(),
        }
    }

    /// The raw message without the `API error (…)` framing (for the
    /// `Failed to list …` lines of `login`).
    pub fn bare_message(&self) -> String {
        match self {
            PlatformError::Api { message, .. } => message.clone(),
            PlatformError::DeviceFlow {
                code, description, ..
            } => description.clone().unwrap_or_else(|| code.clone()),
            other => other.to_string(),
        }
    }
}

pub type Result<T, E = PlatformError> = std::result::Result<T, E>;
