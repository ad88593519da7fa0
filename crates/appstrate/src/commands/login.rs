//! `appstrate login`: the device flow, then the org and app pin cascades.

use clap::Args;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Instance base URL (skips the prompt)
    #[arg(long, value_name = "URL")]
    pub instance: Option<String>,
    /// Pin this organization (id or slug) after signing in
    #[arg(long, value_name = "ID_OR_SLUG")]
    pub org: Option<String>,
    /// Create an organization with this name and pin it
    #[arg(long, value_name = "NAME")]
    pub create_org: Option<String>,
    /// Skip the organization pin
    #[arg(long)]
    pub no_org: bool,
    /// Pin this application (id) after the organization pin
    #[arg(long, value_name = "ID")]
    pub app: Option<String>,
    /// Create an application with this name and pin it
    #[arg(long, value_name = "NAME")]
    pub create_app: Option<String>,
    /// Skip the application pin
    #[arg(long)]
    pub no_app: bool,
    /// Name shown for this device in the instance's session list (default: hostname; "" sends none)
    #[arg(long, value_name = "NAME")]
    pub device_name: Option<String>,
}

pub async fn run(_ctx: &mut Context, _args: LoginArgs) -> Result<ExitStatus, CliError> {
    Err(CliError::user("login is being built"))
}
