//! The command tree. Doc comments are the help text.

use clap::{Args, Parser, Subcommand};

use crate::commands;

/// The exit code table (one per error kind, `error.rs`), as `--help` shows it.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0    success
  1    failure (network, server, local state)
  2    usage: bad flags or arguments
  4    not signed in, or the session must be renewed
  70   internal error (a bug: please report it)
  130  interrupted (128 + signal number)";

/// `--version`: the version alone on the first line (what scripts and older
/// `doctor`s read), then the build facts `build.rs` stamps; `-V` prints the
/// first line only.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit:  ",
    env!("APPSTRATE_BUILD_COMMIT"),
    "\nbuilt:   ",
    env!("APPSTRATE_BUILD_DATE"),
    "\nchannel: ",
    env!("APPSTRATE_INSTALL_SOURCE_STAMP"),
    "\ntarget:  ",
    env!("APPSTRATE_BUILD_TARGET"),
);

/// The official command-line tool for Appstrate: install an instance, sign
/// in, pin an organization and application, drive the API, run agents.
#[derive(Debug, Parser)]
#[command(
    name = "appstrate",
    version,
    long_version = LONG_VERSION,
    propagate_version = true,
    max_term_width = 100,
    arg_required_else_help = true,
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, anywhere on the command line.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Profile to act on (default: $APPSTRATE_PROFILE, then `defaultProfile` in config.toml, then "default")
    #[arg(
        short = 'p',
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Global options"
    )]
    pub profile: Option<String>,

    /// Allow http:// to a non-loopback instance (sets APPSTRATE_INSECURE=1; not curl's -k)
    // `--insecure` is the original's name for it, kept hidden.
    #[arg(
        long = "allow-http",
        alias = "insecure",
        global = true,
        help_heading = "Global options"
    )]
    pub insecure: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign into an instance with the OAuth device flow (RFC 8628)
    Login(commands::login::LoginArgs),
    /// Revoke the session server-side and wipe local credentials
    Logout(commands::logout::LogoutArgs),
    /// Print the identity attached to the active profile
    Whoami(commands::JsonArgs),
    /// Print metadata about the stored tokens (never the tokens themselves)
    Token(commands::JsonArgs),
    /// Curl-compatible authenticated HTTP passthrough (the bearer is injected, never shown)
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Api(commands::api::ApiArgs),
    /// Print a shell completion script
    Completions(commands::completions::CompletionsArgs),
    /// Build, inspect, verify, sign and render AFPS packages
    Afps(commands::afps::AfpsArgs),
    /// Run an agent: by id on the platform, or on this machine (a package path, or --local)
    Run(commands::run::RunArgs),
    /// Pin and manage the organization of the active profile
    Org(commands::org::OrgArgs),
    /// Pin and manage the application of the active profile
    App(commands::app::AppArgs),
    /// Model presets of the pinned organization
    Models(commands::models::ModelsArgs),
    /// Explore the API's OpenAPI schema (list, show, export)
    Openapi(commands::openapi::OpenapiArgs),
    /// Install Appstrate locally (Tier 0) or bring up a Docker stack (Tiers 1/2/3)
    Install(commands::install::InstallArgs),
    /// Start the installed stack (docker compose up -d; Tier 0: the dev server)
    Start(commands::lifecycle::DirArgs),
    /// Stop the stack — containers off, volumes preserved
    Stop(commands::lifecycle::DirArgs),
    /// Restart all containers (Tier 0: the dev server)
    Restart(commands::lifecycle::DirArgs),
    /// Show the stack's logs (docker compose logs; Tier 0: the dev server log)
    Logs(commands::lifecycle::LogsArgs),
    /// Show the stack's containers (docker compose ps; Tier 0: the dev server)
    Status(commands::lifecycle::status::StatusArgs),
    /// Tear down. Default keeps volumes; --purge wipes data + the install dir
    Uninstall(commands::lifecycle::UninstallArgs),
    /// Upgrade this binary in place from a verified release
    SelfUpdate(commands::self_update::SelfUpdateArgs),
    /// Diagnose the local install: every `appstrate` on $PATH, version, channel
    Doctor(commands::doctor::DoctorArgs),
    /// Machine-readable version and install channel (stable JSON contract)
    #[command(name = "__install-source", hide = true)]
    InstallSource,
    /// Write the man pages (generated from this command tree) into a directory
    #[command(name = "__man", hide = true)]
    Man(commands::man::ManArgs),
}

impl Command {
    /// Commands that never print the dual-install warning (docs/files.md#dual-install-ack).
    pub fn skips_dual_install_check(&self) -> bool {
        matches!(
            self,
            Command::Doctor(_) | Command::Completions(_) | Command::InstallSource | Command::Man(_)
        )
    }
}
