//! What every command receives: the terminal, the global options and the
//! environment they resolve against.

use std::path::PathBuf;

use appstrate_afps::Limits;
use appstrate_platform::Env;

use crate::cli::GlobalArgs;
use crate::ui::Ui;

pub struct Context {
    pub ui: Ui,
    pub global: GlobalArgs,
    pub env: Env,
}

impl Context {
    pub fn new(global: &GlobalArgs, mut env: Env) -> Self {
        if global.insecure {
            env.insecure = true;
        }
        Context {
            ui: Ui::detect(&env),
            global: global.clone(),
            env,
        }
    }

    /// The profile name this invocation acts on (docs/files.md#profile-resolution).
    pub fn profile_name(&self, config_default: Option<&str>) -> String {
        appstrate_platform::config::resolve_profile_name(
            self.global.profile.as_deref(),
            &self.env,
            config_default,
        )
    }

    pub fn config_dir(&self) -> PathBuf {
        self.env.config_dir()
    }

    /// Archive caps: the defaults raised by `APPSTRATE_BUNDLE_MAX_*`.
    pub fn bundle_limits(&self) -> Limits {
        Limits::from_lookup(|name| self.env.var(name).map(str::to_string))
    }

    /// The cap on a tool result forwarded in a RunEvent
    /// (`TOOL_RESULT_BYTE_LIMIT`, default 2048 bytes).
    pub fn tool_result_byte_limit(&self) -> usize {
        appstrate_afps::tool_result_byte_limit(self.env.var("TOOL_RESULT_BYTE_LIMIT"))
    }
}
