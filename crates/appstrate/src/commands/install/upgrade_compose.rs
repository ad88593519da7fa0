//! `install --upgrade-compose`: strips stale duplicated defaults from
//! `<dir>/docker-compose.yml`. Never touches `.env`, never runs Docker.

use appstrate_selfhost::compose_defaults::{self, Finding, UpgradeStatus};

use super::InstallArgs;
use crate::commands::lifecycle;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub fn run(ctx: &Context, args: &InstallArgs) -> Result<ExitStatus, CliError> {
    ctx.ui.intro("Appstrate compose upgrade")?;
    let dir = lifecycle::install_dir(ctx, args.dir.as_deref())?;
    let (status, repair) = compose_defaults::upgrade_compose(&dir)?;
    let mut body: Vec<String> = Vec::new();
    for f in &repair.rewritten {
        if let Finding::Duplicate {
            line,
            var_name,
            yaml_default,
            ..
        } = f
        {
            body.push(format!("✓ line {line}: {var_name} — dropped duplicated default \"{yaml_default}\" (now a bare passthrough)"));
        }
    }
    for f in &repair.refused {
        if let Finding::Duplicate { line, var_name, .. } = f {
            body.push(format!(
                "✗ line {line}: {var_name} — {}",
                compose_defaults::REFUSED_REASON
            ));
        }
    }
    for f in &repair.drift {
        if let Finding::AllowlistDrift {
            line,
            var_name,
            yaml_default,
            expected_yaml_default,
            ..
        } = f
        {
            body.push(format!("! line {line}: {var_name}=\"{yaml_default}\" differs from the shipped template (\"{expected_yaml_default}\") — review by hand"));
        }
    }
    if let UpgradeStatus::Upgraded { backup } = &status {
        body.push(format!("Backup: {}", backup.display()));
    }
    if body.is_empty() {
        body.push("No stale defaults found.".into());
    }
    ctx.ui.note("docker-compose.yml", &body.join("\n"))?;
    ctx.ui.outro(match status {
        UpgradeStatus::Clean => "Already up to date — nothing to upgrade.",
        UpgradeStatus::RefusedOnly => "No automatic changes made — see the manual edits above.",
        UpgradeStatus::Upgraded { .. } => "Compose file upgraded. Restart the stack to apply.",
    })?;
    Ok(ExitStatus::SUCCESS)
}
