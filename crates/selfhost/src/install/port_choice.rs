//! The host port of the platform: the `.env`'s on an upgrade, else the
//! requested one when free, else an auto-picked or asked-for one.

use std::path::Path;

use super::InstallUi;
use crate::port;
use crate::upgrade::{Existing, Mode};
use crate::{compose_ls, tier0};

/// What decides the port.
pub struct PortRequest<'a> {
    pub dir: &'a Path,
    pub existing: &'a Existing,
    /// `--port`.
    pub flag: Option<&'a str>,
    /// `APPSTRATE_PORT`.
    pub env: Option<&'a str>,
    /// The compose project (Docker tiers); `None` for Tier 0.
    pub project_name: Option<&'a str>,
    /// `--yes`: pick a free port instead of failing or asking.
    pub auto: bool,
    /// No questions may be asked.
    pub non_interactive: bool,
}

pub async fn resolve_port<U: InstallUi>(
    ui: &mut U,
    req: &PortRequest<'_>,
) -> Result<u16, U::Error> {
    let requested = port::parse_port(req.flag, req.env)?;
    let expressed =
        req.flag.is_some_and(|s| !s.is_empty()) || req.env.is_some_and(|s| !s.is_empty());
    if req.existing.mode == Mode::Upgrade && req.existing.has_env {
        return upgrade_port(ui, req, requested, expressed).await;
    }
    ensure_port_free(ui, requested, req.auto, req.non_interactive)
}

/// The merged `.env` keeps its PORT, so the upgrade uses it for the
/// preflight and the health poll too (the original used the requested
/// port while writing the old one back).
async fn upgrade_port<U: InstallUi>(
    ui: &mut U,
    req: &PortRequest<'_>,
    requested: u16,
    expressed: bool,
) -> Result<u16, U::Error> {
    let dir = req.dir;
    let inherited = match req.existing.env.get("PORT") {
        None => 3000,
        Some(raw) => match port::parse_port_value(raw.trim()) {
            Some(p) => p,
            None => {
                ui.warn(&format!(
                    "Ignoring invalid PORT=\"{raw}\" in existing .env — using default 3000. Fix the .env manually to silence this warning."
                ));
                3000
            }
        },
    };
    if expressed && requested != inherited {
        ui.warn(&format!(
            "port {requested} ignored on upgrade — existing .env pins PORT={inherited}, and secrets/config are preserved across upgrades (see mergeEnv). Edit {}/.env manually to change the port.",
            dir.display()
        ));
    }
    let ours = match req.project_name {
        Some(name) => compose_ls::listed_project(name)
            .await
            .is_some_and(|p| p.is_from(dir)),
        // Tier 0: our own dev server, stopped before the source update.
        None => tier0::running_pid(dir).is_some(),
    };
    if ours || port::is_port_available(inherited as i64) {
        return Ok(inherited);
    }
    let holder = port::describe_process_on_port(inherited);
    Err(crate::Error::new(format!(
        "Port {inherited} is already in use by {}.",
        port::holder_name(&holder)
    ))
    .with_hint(format!(
        "The existing .env in {} pins PORT={inherited}: stop that program, or edit PORT in that .env",
        dir.display()
    ))
    .into())
}

fn ensure_port_free<U: InstallUi>(
    ui: &mut U,
    requested: u16,
    auto: bool,
    non_interactive: bool,
) -> Result<u16, U::Error> {
    let mut current = requested;
    loop {
        if port::is_port_available(current as i64) {
            return Ok(current);
        }
        let holder = port::describe_process_on_port(current);
        let held_by = port::holder_name(&holder);
        if auto && let Some(picked) = port::auto_pick(current) {
            ui.info(&format!(
                "Port {current} is in use by {held_by}: Appstrate will use port {picked} instead (pass --port <n> or set APPSTRATE_PORT=<n> to choose)."
            ))?;
            return Ok(picked);
        }
        if non_interactive {
            return Err(crate::Error::new(format!(
                "Port {current} is already in use by {held_by}."
            ))
            .with_hint(
                "Re-run with --port <n> (or set APPSTRATE_PORT=<n>), or stop the program holding it",
            )
            .into());
        }
        ui.warn(&format!(
            "Port {current} is already in use by {held_by}. Free it or pick another port for Appstrate."
        ));
        let answer = ui.ask("New port for Appstrate", &current.to_string())?;
        current = port::parse_port_value(answer.trim()).ok_or_else(|| {
            crate::Error::new(format!(
                "Invalid port \"{answer}\". Expected an integer in the range 1..65535."
            ))
        })?;
    }
}
