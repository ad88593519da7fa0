//! The help as a person reads it: the top-level command list grouped by
//! what the commands act on (as gh groups its own), examples under every
//! command, and the global flags left out where a profile means nothing.
//!
//! clap has no per-subcommand heading, so the grouped list is rendered
//! here into the top-level help template, from clap's own tree (the
//! one-line descriptions stay the doc comments of `cli.rs`).

use appstrate_platform::Env;
use clap::Command;

use crate::cli::Cli;

/// The top-level groups, in the order they are listed. Every visible
/// command belongs to exactly one (a unit test checks it).
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "Instance commands",
        &[
            "install",
            "start",
            "stop",
            "restart",
            "status",
            "logs",
            "uninstall",
        ],
    ),
    ("Auth commands", &["login", "logout", "whoami", "token"]),
    ("Context commands", &["org", "app", "models"]),
    ("API commands", &["api", "openapi"]),
    ("Agent commands", &["run", "afps"]),
    (
        "Tool commands",
        &["self-update", "doctor", "completions", "help"],
    ),
];

/// Commands that act on no profile and no instance: the instance commands
/// (the first group) and these. The global flags (`-p/--profile`,
/// `--allow-http`) are hidden from their help (still accepted, so a script
/// that passes them everywhere keeps working).
const NO_PROFILE_BEYOND_INSTANCE: &[&str] = &["afps", "completions", "doctor", "self-update"];

fn no_profile_commands() -> impl Iterator<Item = &'static str> {
    GROUPS[0]
        .1
        .iter()
        .chain(NO_PROFILE_BEYOND_INSTANCE)
        .copied()
}

/// The ids of the global flags (`GlobalArgs`).
const GLOBAL_FLAGS: &[&str] = &["profile", "insecure"];

/// Examples per command path (space-separated), shown after the options.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "",
        "appstrate install --yes
appstrate login --instance http://localhost:3000
appstrate api /api/agents
appstrate run ./my-agent.afps",
    ),
    (
        "login",
        "appstrate login --instance https://app.example.com
appstrate login --profile dev --instance http://localhost:3000 --org acme --app app_123",
    ),
    ("logout", "appstrate logout\nappstrate logout --all"),
    (
        "whoami",
        "appstrate whoami\nappstrate whoami --json | jq -r .email",
    ),
    ("token", "appstrate token\nappstrate token --json"),
    (
        "completions",
        "appstrate completions bash > ~/.local/share/bash-completion/completions/appstrate
appstrate completions zsh > \"${fpath[1]}/_appstrate\"",
    ),
    (
        "afps",
        "appstrate afps bundle ./my-agent -o my-agent.afps
appstrate afps verify my-agent.afps --trust-root roots.json",
    ),
    (
        "afps bundle",
        "appstrate afps bundle ./my-agent -o my-agent.afps
appstrate afps bundle ./workspace -o team.afps-bundle --format bundle",
    ),
    (
        "afps inspect",
        "appstrate afps inspect my-agent.afps\nappstrate afps inspect team.afps-bundle --json",
    ),
    (
        "afps verify",
        "appstrate afps verify my-agent.afps
appstrate afps verify my-agent.afps --trust-root roots.json --policy required",
    ),
    (
        "afps sign",
        "appstrate afps sign my-agent.afps --key key.json
appstrate afps sign my-agent.afps --key key.json -o signed.afps",
    ),
    (
        "afps keygen",
        "appstrate afps keygen -o key.json\nappstrate afps keygen --key-id release-2026",
    ),
    (
        "afps render",
        "appstrate afps render my-agent.afps --context context.json
appstrate afps render my-agent.afps --platform",
    ),
    (
        "run",
        "appstrate run ./my-agent.afps --input '{\"topic\":\"rust\"}'
appstrate run @acme/summarizer --input-file input.json
appstrate run @acme/summarizer@1.2.0 --local --report true",
    ),
    ("org", "appstrate org list\nappstrate org switch acme"),
    ("org list", "appstrate org list\nappstrate org list --json"),
    (
        "org current",
        "appstrate org current\nappstrate org current --json",
    ),
    (
        "org switch",
        "appstrate org switch acme\nappstrate org switch      # a picker, on a terminal",
    ),
    (
        "org create",
        "appstrate org create \"Acme Inc\" --slug acme\nappstrate org create      # prompts, on a terminal",
    ),
    ("app", "appstrate app list\nappstrate app switch app_123"),
    ("app list", "appstrate app list\nappstrate app list --json"),
    (
        "app current",
        "appstrate app current\nappstrate app current --json",
    ),
    (
        "app switch",
        "appstrate app switch app_123\nappstrate app switch      # a picker, on a terminal",
    ),
    (
        "app create",
        "appstrate app create \"Support bot\"\nappstrate app create      # prompts, on a terminal",
    ),
    (
        "models",
        "appstrate models list\nappstrate models list --json",
    ),
    (
        "models list",
        "appstrate models list\nappstrate models list --proxy-only --json",
    ),
    (
        "openapi",
        "appstrate openapi list --tag runs\nappstrate openapi show getRun",
    ),
    (
        "openapi list",
        "appstrate openapi list --tag runs
appstrate openapi list --method POST --path '/api/agents/**'
appstrate openapi list --search webhook --json",
    ),
    (
        "openapi show",
        "appstrate openapi show getRun
appstrate openapi show GET /api/runs/{id}
appstrate openapi show \"POST /api/runs\" --json",
    ),
    (
        "openapi export",
        "appstrate openapi export > openapi.json\nappstrate openapi export -o openapi.json --refresh",
    ),
    (
        "install",
        "appstrate install
appstrate install --yes
appstrate install --tier 2 --dir ~/appstrate --port 8080
appstrate install --tier 0 --source ~/src/appstrate",
    ),
    ("start", "appstrate start\nappstrate start --dir ~/prod"),
    ("stop", "appstrate stop\nappstrate stop --dir ~/prod"),
    (
        "restart",
        "appstrate restart\nappstrate restart --dir ~/prod",
    ),
    (
        "logs",
        "appstrate logs -f\nappstrate logs postgres --dir ~/prod",
    ),
    (
        "status",
        "appstrate status\nappstrate status --json | jq .running",
    ),
    (
        "uninstall",
        "appstrate uninstall\nappstrate uninstall --purge --yes --dir ~/prod",
    ),
    (
        "self-update",
        "appstrate self-update\nappstrate self-update --release v1.2.3",
    ),
    ("doctor", "appstrate doctor\nappstrate doctor --json"),
];

/// The command tree as `main` parses it and `completions` describes it:
/// grouped list, examples, hidden global flags, and the colour rule of
/// every other output (`ui::clap_color_choice`).
pub fn command(env: &Env) -> Command {
    let mut cmd = <Cli as clap::CommandFactory>::command().color(crate::ui::clap_color_choice(env));
    // Propagates the global flags into every subcommand, so they can be
    // hidden where they mean nothing.
    cmd.build();
    let template = top_level_template(&cmd);
    let mut cmd = cmd.help_template(template);
    for name in no_profile_commands() {
        cmd = cmd.mut_subcommand(name, hide_global_flags);
    }
    add_examples(cmd, "")
}

fn hide_global_flags(cmd: Command) -> Command {
    // `mut_args` keeps each argument in its place: the built command's
    // lookup table points at positions (`mut_arg` would move it last).
    let mut cmd = cmd.mut_args(|arg| {
        if GLOBAL_FLAGS.contains(&arg.get_id().as_str()) {
            arg.hide(true)
        } else {
            arg
        }
    });
    for name in subcommand_names(&cmd) {
        cmd = cmd.mut_subcommand(name, hide_global_flags);
    }
    cmd
}

/// `cmd` and its subcommands with their examples (`path` is `cmd`'s).
fn add_examples(mut cmd: Command, path: &str) -> Command {
    if let Some((_, examples)) = EXAMPLES.iter().find(|(p, _)| *p == path) {
        let after_help = examples_after_help(&cmd, examples);
        cmd = cmd.after_help(after_help);
    }
    for name in subcommand_names(&cmd) {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(name, |sub| add_examples(sub, &sub_path));
    }
    cmd
}

/// `Examples:` and one `$ command` line each, then what `cmd` already
/// had after its help (the top level's exit-code table), headings styled
/// as clap styles its own.
fn examples_after_help(cmd: &Command, examples: &str) -> String {
    let header = *cmd.get_styles().get_header();
    let heading = |title: &str| format!("{}{title}{}", header.render(), header.render_reset());
    let body: String = examples.lines().map(|l| format!("\n  $ {l}")).collect();
    let rest = match cmd.get_after_help().map(ToString::to_string) {
        Some(after) => match after.split_once('\n') {
            Some((title, table)) => format!("\n\n{}\n{table}", heading(title)),
            None => format!("\n\n{after}"),
        },
        None => String::new(),
    };
    format!("{}{body}{rest}", heading("Examples:"))
}

fn subcommand_names(cmd: &Command) -> Vec<String> {
    cmd.get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect()
}

/// clap's layout (about, usage, options, after-help) with the command
/// list in groups, each command's first doc line beside it.
fn top_level_template(cmd: &Command) -> String {
    let header = cmd.get_styles().get_header();
    let literal = cmd.get_styles().get_literal();
    let width = GROUPS
        .iter()
        .flat_map(|(_, names)| names.iter())
        .map(|n| n.len())
        .max()
        .unwrap_or(0);
    let mut groups = String::new();
    for (title, names) in GROUPS {
        groups.push_str(&format!(
            "{}{title}:{}\n",
            header.render(),
            header.render_reset()
        ));
        for name in *names {
            let about = about_of(cmd, name);
            let pad = " ".repeat(width - name.len());
            groups.push_str(&format!(
                "  {}{name}{}{pad}  {about}\n",
                literal.render(),
                literal.render_reset()
            ));
        }
        groups.push('\n');
    }
    format!(
        "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{groups}{}Options:{}\n{{options}}{{after-help}}",
        header.render(),
        header.render_reset()
    )
}

fn about_of(cmd: &Command, name: &str) -> String {
    if name == "help" {
        return "Print this message or the help of the given command(s)".to_string();
    }
    cmd.find_subcommand(name)
        .and_then(Command::get_about)
        .map(|about| about.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(cmd: &Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() == "help" {
                continue;
            }
            let path = if prefix.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{prefix} {}", sub.get_name())
            };
            paths(sub, &path, out);
            out.push(path);
        }
    }

    #[test]
    fn every_visible_command_is_in_exactly_one_group() {
        let cmd = command(&Env::default());
        let mut names: Vec<&str> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name())
            .collect();
        names.sort_unstable();
        let mut grouped: Vec<&str> = GROUPS.iter().flat_map(|(_, n)| n.iter().copied()).collect();
        grouped.sort_unstable();
        assert_eq!(names, grouped);
    }

    #[test]
    fn every_command_but_api_has_examples() {
        let mut all = Vec::new();
        paths(&command(&Env::default()), "", &mut all);
        for path in all.iter().filter(|p| *p != "api") {
            assert!(
                EXAMPLES.iter().any(|(p, _)| p == path),
                "no examples for `{path}`"
            );
        }
        for (path, _) in EXAMPLES.iter().filter(|(p, _)| !p.is_empty()) {
            assert!(all.contains(&path.to_string()), "unknown command `{path}`");
        }
    }

    #[test]
    fn the_tree_is_consistent() {
        command(&Env::default()).debug_assert();
    }
}
