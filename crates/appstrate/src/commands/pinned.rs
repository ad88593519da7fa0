//! What `org` and `app` share: a server object that a profile pins by id,
//! printed by `current`, listed with the pinned one marked `*`, and chosen
//! from a picker by `switch`.

use appstrate_platform::PlatformError;
use appstrate_platform::config::{Config, Profile};
use clap::Args;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::ui::Choice;

/// An organization or an application, as `org`/`app` show it.
pub trait Pinnable: DeserializeOwned + Clone {
    /// The list endpoint, named in decode errors.
    const ENDPOINT: &'static str;
    /// `organization` / `application` (the texts say "an {NOUN}").
    const NOUN: &'static str;
    /// `org` / `app`, for the hints that name a command.
    const COMMAND: &'static str;
    /// The error when `switch` has no reference and cannot show a picker.
    const NO_PICKER: &'static str;

    fn id(&self) -> &str;
    /// The item a `switch` reference names (or the platform's error).
    fn resolve<'a>(items: &'a [Self], reference: &str) -> Result<&'a Self, PlatformError>;
    /// A `list` row, after the marker column.
    fn row(&self) -> String;
    /// A picker label.
    fn label(&self, is_current: bool) -> String;
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print the server's objects as JSON
    #[arg(long)]
    pub json: bool,
}

/// `org current` / `app current`: the pinned id, from the config only.
/// With `json_key`, prints `{"profile": …, "<key>": <id or null>}` and
/// succeeds even when nothing is pinned (null is the answer).
pub fn current(
    ctx: &Context,
    json_key: Option<&str>,
    pinned: impl Fn(&Profile) -> Option<String>,
    none_pinned: &str,
) -> Result<ExitStatus, CliError> {
    let cfg = Config::load(&ctx.config_dir())?;
    let name = ctx.profile_name(cfg.default_profile());
    let Some(profile) = cfg.profile(&name) else {
        return Err(appstrate_platform::session::not_configured(&name).into());
    };
    if let Some(key) = json_key {
        let mut report = serde_json::Map::new();
        report.insert("profile".into(), Value::String(name.clone()));
        report.insert(
            key.into(),
            pinned(&profile).map_or(Value::Null, Value::String),
        );
        ctx.ui.line(&Value::Object(report).to_string())?;
        return Ok(ExitStatus::SUCCESS);
    }
    match pinned(&profile) {
        Some(id) => {
            ctx.ui.line(&id)?;
            Ok(ExitStatus::SUCCESS)
        }
        None => Err(CliError::user(none_pinned)),
    }
}

/// `org list` / `app list` over the server's items: `--json` prints them
/// as they came; otherwise one row each, the pinned one marked `*`.
pub fn print_list<T: Pinnable>(
    ctx: &Context,
    raw: Vec<Value>,
    json: bool,
    pinned: Option<&str>,
) -> Result<ExitStatus, CliError> {
    if json {
        ctx.ui
            .line(&appstrate_jsjson::stringify_pretty(&Value::Array(raw)))?;
        return Ok(ExitStatus::SUCCESS);
    }
    let items: Vec<T> = raw
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            CliError::user(format!(
                "Unexpected item in the reply to {}: {e}",
                T::ENDPOINT
            ))
        })?;
    if items.is_empty() {
        ctx.ui.line(&format!("(no {}s)", T::NOUN))?;
        return Ok(ExitStatus::SUCCESS);
    }
    let mut out = String::new();
    for item in &items {
        let marker = if pinned == Some(item.id()) { '*' } else { ' ' };
        out.push_str(&format!("{marker} {}\n", item.row()));
    }
    ctx.ui.out(&out)?;
    Ok(ExitStatus::SUCCESS)
}

/// What `switch` pins: the item `reference` names, else the picker's choice.
pub fn choose<T: Pinnable>(
    ctx: &Context,
    items: &[T],
    reference: Option<&str>,
    current: Option<&str>,
) -> Result<T, CliError> {
    if items.is_empty() {
        return Err(CliError::user(format!(
            "No {}s — run `appstrate {} create <name>` to create one.",
            T::NOUN,
            T::COMMAND
        )));
    }
    match reference {
        Some(reference) => Ok(T::resolve(items, reference)?.clone()),
        None => pick(ctx, items, current),
    }
}

/// The `switch` picker; refused without a TTY.
fn pick<T: Pinnable>(ctx: &Context, items: &[T], current: Option<&str>) -> Result<T, CliError> {
    if !ctx.ui.interactive() {
        return Err(CliError::user(T::NO_PICKER));
    }
    let choices = items
        .iter()
        .map(|item| Choice {
            value: item.id().to_string(),
            label: item.label(current == Some(item.id())),
            hint: item.id().to_string(),
        })
        .collect();
    let initial = items.iter().position(|item| current == Some(item.id()));
    let id = ctx
        .ui
        .select(&format!("Select an {}", T::NOUN), choices, initial)?;
    items
        .iter()
        .find(|item| item.id() == id)
        .cloned()
        .ok_or_else(|| CliError::user(format!("The picker returned an unknown {}.", T::NOUN)))
}
