//! The binary's integration tests, one module per concern, in one test
//! binary so the tool and the fake instance link once. Each test still
//! runs in its own process under `cargo nextest` (what `scripts/test` uses).
//! Shared set-ups live in the first four modules; fixtures stay in
//! `tests/fixtures/` (paths are `CARGO_MANIFEST_DIR`-relative).
//! A new test file: `tests/it/<name>.rs` plus one `mod <name>;` below.

mod run_common;
mod selfhost_common;
mod signed_in;
mod support;

mod afps_cli;
mod api_cli;
mod api_oracle;
mod auth;
mod distribution;
mod exit_codes;
mod hardening;
mod jq_signals;
mod keyring;
mod kill_loop;
mod login_tty;
mod openapi_cmd;
mod org_app_models;
mod org_app_tty;
mod paginate;
mod reply_limit_rss;
mod run;
mod run_compaction;
mod run_images;
mod run_integrations;
mod run_model_table;
mod run_platform;
mod run_remote;
mod run_report;
mod run_responses;
mod run_thinking;
mod selfhost_doctor;
mod selfhost_install_docker;
mod selfhost_install_tty;
mod selfhost_lifecycle;
mod selfhost_self_update;
mod selfhost_tier0;
mod snapshots;
mod tls_roots;
mod voice;
