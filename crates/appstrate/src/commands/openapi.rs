//! `appstrate openapi list|show|export`: explore the instance's OpenAPI
//! schema through the per-profile ETag cache (docs/openapi.md, docs/files.md#openapi-cache).

use clap::{Args, Subcommand};
use std::path::PathBuf;

use appstrate_openapi::{
    Filters, collect_operations, dereference_operation, find_operation, format_list, format_show,
    js, list_json, show_json,
};
use appstrate_platform::config::Config;
use appstrate_platform::fsutil;
use appstrate_platform::openapi_cache::{CachePolicy, View, fetch_openapi};
use appstrate_platform::session::Session;
use serde_json::Value;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct OpenapiArgs {
    #[command(subcommand)]
    pub command: OpenapiCommand,
}

#[derive(Debug, Subcommand)]
pub enum OpenapiCommand {
    /// List operations. Filter with --tag, --method, --path (glob), --search
    List(ListArgs),
    /// Show one operation by `operationId` OR `METHOD /path`
    Show(ShowArgs),
    /// Dump the raw OpenAPI schema. Writes to <file> with -o, else stdout
    Export(ExportArgs),
}

#[derive(Debug, Args, Clone, Copy)]
pub struct CacheArgs {
    /// Skip the on-disk cache entirely (no read, no write)
    #[arg(long)]
    pub no_cache: bool,
    /// Force a fresh fetch; still update the cache on success
    #[arg(long)]
    pub refresh: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Filter by OpenAPI tag (case-insensitive)
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Filter by HTTP method (GET/POST/...)
    #[arg(long, value_name = "M")]
    pub method: Option<String>,
    /// Filter by path. Supports `*` (single segment) and `**` (any). Exact match otherwise
    #[arg(long, value_name = "PATTERN")]
    pub path: Option<String>,
    /// Substring match across operationId, summary, description, path, method
    #[arg(long, value_name = "QUERY")]
    pub search: Option<String>,
    /// Emit a minimal JSON array instead of text
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// An operationId, a method (with PATH), or "METHOD /path"
    pub identifier: String,
    /// The path, when IDENTIFIER is a method
    pub path: Option<String>,
    /// Emit the full operation as JSON, every internal $ref inlined
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the schema to this file (mode 0600) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

pub async fn run(ctx: &mut Context, args: OpenapiArgs) -> Result<ExitStatus, CliError> {
    match args.command {
        OpenapiCommand::List(args) => list(ctx, args).await,
        OpenapiCommand::Show(args) => show(ctx, args).await,
        OpenapiCommand::Export(args) => export(ctx, args).await,
    }
}

/// The document for the active profile; a missing row is the same "not
/// configured" error as every other command's.
async fn load(ctx: &Context, cache: CacheArgs, view: View) -> Result<Value, CliError> {
    let cfg = Config::load(&ctx.config_dir())?;
    let name = ctx.profile_name(cfg.default_profile());
    let Some(profile) = cfg.profile(&name) else {
        return Err(appstrate_platform::session::not_configured(&name).into());
    };
    let session = Session::with_profile(&ctx.env, name, profile).await?;
    let policy = CachePolicy {
        no_cache: cache.no_cache,
        refresh: cache.refresh,
    };
    Ok(fetch_openapi(&session, policy, view).await?.document)
}

async fn list(ctx: &mut Context, args: ListArgs) -> Result<ExitStatus, CliError> {
    let doc = load(ctx, args.cache, View::OperationsIndex).await?;
    let operations = collect_operations(&doc);
    let filters = Filters {
        tag: args.tag,
        method: args.method,
        path: args.path,
        search: args.search,
    };
    let matched = filters.apply(&operations);
    if args.json {
        ctx.ui
            .line(&appstrate_jsjson::stringify_pretty(&list_json(&matched)))?;
    } else {
        ctx.ui.out(&format_list(&matched, ctx.ui.color))?;
    }
    Ok(ExitStatus::SUCCESS)
}

async fn show(ctx: &mut Context, args: ShowArgs) -> Result<ExitStatus, CliError> {
    let doc = load(ctx, args.cache, View::Full).await?;
    let operations = collect_operations(&doc);
    let Some(op) = find_operation(&operations, &args.identifier, args.path.as_deref()) else {
        let what = match &args.path {
            Some(path) => format!("No operation matches \"{} {path}\".", args.identifier),
            None => format!(
                "No operation matches \"{}\" (tried operationId, then \"METHOD /path\").",
                args.identifier
            ),
        };
        return Err(CliError::user(what)
            .with_hint("run `appstrate openapi list` to see available operations"));
    };
    if args.json {
        ctx.ui
            .line(&appstrate_jsjson::stringify_pretty(&show_json(&doc, &op)))?;
    } else {
        let operation = dereference_operation(&doc, &op);
        ctx.ui
            .out(&format_show(op.method, op.path, &operation, ctx.ui.color))?;
    }
    Ok(ExitStatus::SUCCESS)
}

async fn export(ctx: &mut Context, args: ExportArgs) -> Result<ExitStatus, CliError> {
    let doc = load(ctx, args.cache, View::Full).await?;
    let pretty = appstrate_jsjson::stringify_pretty(&doc);
    match &args.output {
        Some(file) => {
            let text = format!("{pretty}\n");
            fsutil::write_private_atomic(file, text.as_bytes())
                .map_err(|e| CliError::user(format!("Cannot write {}: {e}", file.display())))?;
            ctx.ui.warn(&format!(
                "Wrote {} bytes to {}",
                js::utf16_len(&pretty),
                file.display()
            ));
        }
        None => ctx.ui.line(&pretty)?,
    }
    Ok(ExitStatus::SUCCESS)
}
