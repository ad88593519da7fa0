//! One local run assembled from resolved values (docs/run.md "Local runs"):
//! the model, the bundle and the execution context go in; a workspace with
//! the bundle's skills, the tool set, the platform prompt and the model
//! client come out, ready to run against a sink.
//!
//! Nothing here reads the environment or prints: the command resolves
//! flags, variables and the platform, and decides what the user sees.

use std::path::Path;

use appstrate_afps::manifest::string_items;
use appstrate_afps::{Bundle, ExecutionContext, platform_prompt};

use crate::compaction::CompactionSettings;
use crate::events::Stamp;
use crate::integrations::{Resolver, api_call_tools};
use crate::model::{ModelClient, ModelConfig, ModelError, RetryPolicy};
use crate::runner::{RunOutcome, RunSpec, Runner};
use crate::sink::Sink;
use crate::tools::{ProcessGroups, ToolContext, ToolEnv, Toolset};
use crate::workspace::Workspace;

/// The platform name the prompt of a local run carries.
pub const CLI_PLATFORM_NAME: &str = "Appstrate CLI";

/// Everything a local run needs, already resolved.
pub struct RunPlan {
    pub model: ModelConfig,
    pub retry: RetryPolicy,
    pub bundle: Bundle,
    /// Run id, input (already layered), memories/history/checkpoint.
    pub context: ExecutionContext,
    pub max_turns: u32,
    /// Byte cap of tool results in events.
    pub result_byte_limit: usize,
    /// Whether long conversations are compacted (`MODEL_COMPACTION_ENABLED`).
    pub compaction: bool,
    /// Where integration credentials come from; `None` wires no `api_call`
    /// tool (`--integrations none`).
    pub integrations: Option<std::sync::Arc<Resolver>>,
    /// The home directory and the variables `bash` must not inherit.
    pub tool_env: ToolEnv,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("Cannot create the run workspace: {0}")]
    Workspace(std::io::Error),
    #[error("Cannot write the bundle's skills to the workspace: {0}")]
    Skills(std::io::Error),
    #[error("{0}")]
    Model(#[from] ModelError),
}

impl RunPlan {
    /// Builds the model client, the prompt and the tools, then creates the
    /// workspace and writes the skills into it.
    pub fn prepare(self) -> Result<PreparedRun, PlanError> {
        let compaction = self
            .compaction
            .then(|| CompactionSettings::derive(self.model.context_window, self.model.max_tokens));
        let client = ModelClient::new(self.model, self.retry)?;
        let root = self.bundle.root_package();
        let manifest = &root.manifest;
        let runtime_tools = string_items(manifest.get("runtime_tools"));
        let output_schema = manifest
            .get("output")
            .and_then(|o| o.get("schema"))
            .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()));
        let mut tools = Toolset::new(&runtime_tools, output_schema);
        if let Some(resolver) = &self.integrations {
            tools.add_api_calls(api_call_tools(&self.bundle, resolver));
        }
        let prompt = platform_prompt(&self.bundle, &self.context, CLI_PLATFORM_NAME);

        let workspace = Workspace::create(&self.tool_env.temp_dir).map_err(PlanError::Workspace)?;
        workspace
            .materialise_skills(&self.bundle)
            .map_err(PlanError::Skills)?;
        let run_id = self.context.run_id.clone();
        let mut tool_ctx = ToolContext::new(workspace.path().to_path_buf());
        tool_ctx.tool_env = self.tool_env;
        tool_ctx.env.push(("AGENT_RUN_ID".into(), run_id.clone()));
        Ok(PreparedRun {
            client,
            tools,
            tool_ctx,
            spec: RunSpec {
                system_prompt: prompt.clone(),
                first_message: prompt,
                max_turns: self.max_turns,
                result_byte_limit: self.result_byte_limit,
                compaction,
            },
            run_id,
            workspace,
        })
    }
}

/// A run ready to start. Dropping it (after the run, or on abort) kills
/// every `bash` process group still alive, then removes the workspace.
pub struct PreparedRun {
    client: ModelClient,
    tools: Toolset,
    tool_ctx: ToolContext,
    spec: RunSpec,
    run_id: String,
    workspace: Workspace,
}

impl PreparedRun {
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// How many runtime tools (`output`, `log`, `note`, `pin`) the agent got.
    pub fn runtime_tool_count(&self) -> usize {
        self.tools.runtime_count()
    }

    /// How many integration `api_call` tools the agent got.
    pub fn api_call_tool_count(&self) -> usize {
        self.tools.api_call_count()
    }

    pub fn workspace_path(&self) -> &Path {
        self.workspace.path()
    }

    /// A handle that kills the run's process groups (for a signal handler).
    pub fn process_groups(&self) -> ProcessGroups {
        self.tool_ctx.groups.clone()
    }

    /// Emits the runtime-ready event (`ready_ms` after the command started),
    /// then runs the loop to its end; the sink gets every event and the
    /// RunResult.
    pub async fn run(&self, sink: &mut dyn Sink, ready_ms: u64) -> RunOutcome {
        let stamp = Stamp::new(self.run_id.clone());
        sink.event(&stamp.runtime_ready(ready_ms, self.tools.runtime_count()));
        let runner = Runner {
            client: &self.client,
            tools: &self.tools,
            ctx: self.tool_ctx.clone(),
            stamp,
            sink,
        };
        runner.run(&self.spec).await
    }
}

impl Drop for PreparedRun {
    fn drop(&mut self) {
        self.tool_ctx.groups.kill_all();
    }
}
