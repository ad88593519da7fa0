//! Snapshots of what a person reads: the help, typical errors and frames,
//! without colour (`NO_COLOR`) and with forced colour (escapes shown as
//! `␛`). The temp HOME is filtered to `[HOME]`; a path hard-wrapped inside
//! a note is collapsed to `[path]`.

use std::process::Output;

use appstrate_testkit::test_env::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");

/// Exit code, stdout and stderr in one text.
fn view(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `regex` syntax for `text` taken literally.
fn literal(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Runs `args` in `env` (plus `extra`; without `NO_COLOR` when `colour`).
fn output(env: &TestEnv, args: &[&str], extra: &[(&str, &str)], colour: bool) -> Output {
    let mut cmd = env.command(BIN);
    cmd.args(args).envs(extra.iter().copied());
    if colour {
        cmd.env_remove("NO_COLOR");
    }
    cmd.output().expect("run appstrate")
}

macro_rules! snapshot {
    ($env:expr, $out:expr, @$snap:literal) => {{
        let home = literal(&$env.home().display().to_string());
        insta::with_settings!({
            filters => vec![
                (home.as_str(), "[HOME]"),
                ("\x1b", "␛"),
                (r"(?m)^│  Backup:[^\n]*\n(?:│  \S[^\n]*\n)*", "│  Backup: [path]\n"),
            ],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(view(&$out), @$snap);
        });
    }};
}

/// The grouped command list, the global options and the exit codes.
#[test]
fn top_level_help() {
    let env = TestEnv::new();
    let out = output(&env, &["--help"], &[], false);
    snapshot!(env, out, @r###"
exit: 0
--- stdout
The official command-line tool for Appstrate: install an instance, sign in, pin an organization and
application, drive the API, run agents

Usage: appstrate [OPTIONS] <COMMAND>

Instance commands:
  install      Install Appstrate locally (Tier 0) or bring up a Docker stack (Tiers 1/2/3)
  start        Start the installed stack (docker compose up -d; Tier 0: the dev server)
  stop         Stop the stack — containers off, volumes preserved
  restart      Restart all containers (Tier 0: the dev server)
  status       Show the stack's containers (docker compose ps; Tier 0: the dev server)
  logs         Show the stack's logs (docker compose logs; Tier 0: the dev server log)
  uninstall    Tear down. Default keeps volumes; --purge wipes data + the install dir

Auth commands:
  login        Sign into an instance with the OAuth device flow (RFC 8628)
  logout       Revoke the session server-side and wipe local credentials
  whoami       Print the identity attached to the active profile
  token        Print metadata about the stored tokens (never the tokens themselves)

Context commands:
  org          Pin and manage the organization of the active profile
  app          Pin and manage the application of the active profile
  models       Model presets of the pinned organization

API commands:
  api          Curl-compatible authenticated HTTP passthrough (the bearer is injected, never shown)
  openapi      Explore the API's OpenAPI schema (list, show, export)

Agent commands:
  run          Run an agent: by id on the platform, or on this machine (a package path, or --local)
  afps         Build, inspect, verify, sign and render AFPS packages

Tool commands:
  self-update  Upgrade this binary in place from a verified release
  doctor       Diagnose the local install: every `appstrate` on $PATH, version, channel
  completions  Print a shell completion script
  help         Print this message or the help of the given command(s)

Options:
  -p, --profile <NAME>  Profile to act on (default: $APPSTRATE_PROFILE, then `defaultProfile` in
                        config.toml, then "default")
      --allow-http      Allow http:// to a non-loopback instance (sets APPSTRATE_INSECURE=1; not
                        curl's -k)
  -h, --help            Print help
  -V, --version         Print version

Examples:
  $ appstrate install --yes
  $ appstrate login --instance http://localhost:3000
  $ appstrate api /api/agents
  $ appstrate run ./my-agent.afps

Exit codes:
  0    success
  1    failure (network, server, local state)
  2    usage: bad flags or arguments
  4    not signed in, or the session must be renewed
  70   internal error (a bug: please report it)
  130  interrupted (128 + signal number)
--- stderr"###);
}

/// A command that acts on a profile: global options under their own heading, examples.
#[test]
fn whoami_help() {
    let env = TestEnv::new();
    let out = output(&env, &["whoami", "--help"], &[], false);
    snapshot!(env, out, @r###"
exit: 0
--- stdout
Print the identity attached to the active profile

Usage: appstrate whoami [OPTIONS]

Options:
      --json     Print the report as one JSON object (stable field names, never a token)
  -h, --help     Print help
  -V, --version  Print version

Global options:
  -p, --profile <NAME>  Profile to act on (default: $APPSTRATE_PROFILE, then `defaultProfile` in
                        config.toml, then "default")
      --allow-http      Allow http:// to a non-loopback instance (sets APPSTRATE_INSECURE=1; not
                        curl's -k)

Examples:
  $ appstrate whoami
  $ appstrate whoami --json | jq -r .email
--- stderr"###);
}

/// A nested command.
#[test]
fn org_switch_help() {
    let env = TestEnv::new();
    let out = output(&env, &["org", "switch", "--help"], &[], false);
    snapshot!(env, out, @r###"
exit: 0
--- stdout
Pin an organization (and its default application)

Usage: appstrate org switch [OPTIONS] [ID_OR_SLUG]

Arguments:
  [ID_OR_SLUG]  Organization id or slug (omit for a picker)

Options:
  -h, --help     Print help
  -V, --version  Print version

Global options:
  -p, --profile <NAME>  Profile to act on (default: $APPSTRATE_PROFILE, then `defaultProfile` in
                        config.toml, then "default")
      --allow-http      Allow http:// to a non-loopback instance (sets APPSTRATE_INSECURE=1; not
                        curl's -k)

Examples:
  $ appstrate org switch acme
  $ appstrate org switch      # a picker, on a terminal
--- stderr"###);
}

/// A command that acts on no profile: no global options shown.
#[test]
fn status_help() {
    let env = TestEnv::new();
    let out = output(&env, &["status", "--help"], &[], false);
    snapshot!(env, out, @r###"
exit: 0
--- stdout
Show the stack's containers (docker compose ps; Tier 0: the dev server)

Usage: appstrate status [OPTIONS]

Options:
  -d, --dir <PATH>  Install directory (default: ~/appstrate)
      --json        Print one JSON object: dir, tier, kind, project, url, running, pid, log,
                    services
  -h, --help        Print help
  -V, --version     Print version

Examples:
  $ appstrate status
  $ appstrate status --json | jq .running
--- stderr"###);
}

/// FORCE_COLOR paints clap's help as it paints every other output.
#[test]
fn help_with_forced_colour() {
    let env = TestEnv::new();
    let out = output(&env, &["whoami", "--help"], &[("FORCE_COLOR", "1")], true);
    snapshot!(env, out, @r###"
exit: 0
--- stdout
Print the identity attached to the active profile

␛[1m␛[4mUsage:␛[0m ␛[1mappstrate whoami␛[0m [OPTIONS]

␛[1m␛[4mOptions:␛[0m
      ␛[1m--json␛[0m     Print the report as one JSON object (stable field names, never a token)
  ␛[1m-h␛[0m, ␛[1m--help␛[0m     Print help
  ␛[1m-V␛[0m, ␛[1m--version␛[0m  Print version

␛[1m␛[4mGlobal options:␛[0m
  ␛[1m-p␛[0m, ␛[1m--profile␛[0m <NAME>  Profile to act on (default: $APPSTRATE_PROFILE, then `defaultProfile` in
                        config.toml, then "default")
      ␛[1m--allow-http␛[0m      Allow http:// to a non-loopback instance (sets APPSTRATE_INSECURE=1; not
                        curl's -k)

␛[1m␛[4mExamples:␛[0m
  $ appstrate whoami
  $ appstrate whoami --json | jq -r .email
--- stderr"###);
}

/// NO_COLOR wins over FORCE_COLOR and CLICOLOR_FORCE.
#[test]
fn help_with_no_color_over_force() {
    let env = TestEnv::new();
    let out = output(
        &env,
        &["whoami", "--help"],
        &[("FORCE_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
        false,
    );
    snapshot!(env, out, @r###"
exit: 0
--- stdout
Print the identity attached to the active profile

Usage: appstrate whoami [OPTIONS]

Options:
      --json     Print the report as one JSON object (stable field names, never a token)
  -h, --help     Print help
  -V, --version  Print version

Global options:
  -p, --profile <NAME>  Profile to act on (default: $APPSTRATE_PROFILE, then `defaultProfile` in
                        config.toml, then "default")
      --allow-http      Allow http:// to a non-loopback instance (sets APPSTRATE_INSECURE=1; not
                        curl's -k)

Examples:
  $ appstrate whoami
  $ appstrate whoami --json | jq -r .email
--- stderr"###);
}

/// A usage error: clap's own text, exit 2.
#[test]
fn usage_error_unknown_flag() {
    let env = TestEnv::new();
    let out = output(&env, &["whoami", "--bogus"], &[], false);
    snapshot!(env, out, @r###"
exit: 2
--- stdout
--- stderr
error: unexpected argument '--bogus' found

Usage: appstrate whoami [OPTIONS]

For more information, try '--help'."###);
}

/// A missing argument is named by its value name, never a field name.
#[test]
fn usage_error_missing_argument() {
    let env = TestEnv::new();
    let out = output(&env, &["completions"], &[], false);
    snapshot!(env, out, @r###"
exit: 2
--- stdout
--- stderr
error: the following required arguments were not provided:
  <SHELL>

Usage: appstrate completions <SHELL>

For more information, try '--help'."###);
}

/// The one message for a profile that was never configured, exit 4.
#[test]
fn not_signed_in() {
    let env = TestEnv::new();
    let out = output(&env, &["whoami"], &[], false);
    snapshot!(env, out, @r###"
exit: 4
--- stdout
--- stderr
error: Profile "default" not configured.
hint: Run: appstrate login --instance <URL> --profile default (no instance yet? `appstrate install` starts one)"###);
}

/// The same error with the labels painted.
#[test]
fn not_signed_in_forced_colour() {
    let env = TestEnv::new();
    let out = output(&env, &["whoami"], &[("FORCE_COLOR", "1")], true);
    snapshot!(env, out, @r###"
exit: 4
--- stdout
--- stderr
␛[1m␛[31merror:␛[0m Profile "default" not configured.
␛[1m␛[36mhint:␛[0m Run: appstrate login --instance <URL> --profile default (no instance yet? `appstrate install` starts one)"###);
}

/// A bad URL: the frame is closed before the error line.
#[test]
fn bad_url() {
    let env = TestEnv::new();
    let out = output(&env, &["login", "--instance", "ftp://x"], &[], false);
    snapshot!(env, out, @r###"
exit: 1
--- stdout
--- stderr
┌  Appstrate login — profile "default"
└
error: Unsupported instance URL protocol "ftp" (expected http:// or https://)."###);
}

/// A URL without a scheme: the hint names the URL meant.
#[test]
fn url_without_scheme() {
    let env = TestEnv::new();
    let out = output(&env, &["login", "--instance", "127.0.0.1:9"], &[], false);
    snapshot!(env, out, @r###"
exit: 1
--- stdout
--- stderr
┌  Appstrate login — profile "default"
└
error: Invalid instance URL: "127.0.0.1:9" has no http:// or https://.
hint: Run: appstrate login --instance http://127.0.0.1:9"###);
}

/// A whole frame, on stderr; nothing on stdout.
#[test]
fn frame_logout() {
    let env = TestEnv::new();
    let out = output(&env, &["logout"], &[], false);
    snapshot!(env, out, @r###"
exit: 0
--- stdout
--- stderr
┌  Appstrate logout — profile "default"
│
└  Already signed out."###);
}

/// The frame in grey when colour is forced.
#[test]
fn frame_logout_forced_colour() {
    let env = TestEnv::new();
    let out = output(&env, &["logout"], &[("FORCE_COLOR", "1")], true);
    snapshot!(env, out, @r###"
exit: 0
--- stdout
--- stderr
␛[90m┌␛[39m  Appstrate logout — profile "default"
␛[90m│␛[39m
␛[90m└␛[39m  Already signed out."###);
}

/// A note wraps to COLUMNS instead of growing with its longest line.
#[test]
fn frame_note_wraps_to_columns() {
    let env = TestEnv::new();
    let compose = env.home().join("uc");
    std::fs::create_dir_all(&compose).unwrap();
    std::fs::write(
        compose.join("docker-compose.yml"),
        "services:\n  a:\n    environment:\n      - LOG_LEVEL=${LOG_LEVEL:-info}\n",
    )
    .unwrap();
    let out = output(
        &env,
        &["install", "--upgrade-compose", "--dir", "uc"],
        &[("COLUMNS", "50")],
        false,
    );
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        assert!(line.chars().count() <= 52, "wider than COLUMNS=50: {line}");
    }
    snapshot!(env, out, @r###"
exit: 0
--- stdout
--- stderr
┌  Appstrate compose upgrade
│
◇  docker-compose.yml ───────────────────────────╮
│                                                │
│  ✓ line 4: LOG_LEVEL — dropped duplicated      │
│  default "info" (now a bare passthrough)       │
│  Backup: [path]
│                                                │
├────────────────────────────────────────────────╯
│
└  Compose file upgraded. Restart the stack to
   apply."###);
}
