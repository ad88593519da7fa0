//! Test doubles of the world outside `appstrate`: a fake Appstrate instance,
//! scripted servers and a fake `docker`. They stand in for *servers and
//! programs*, never for our own code, and follow the specification in
//! the platform as `docs/` describes it faithfully. Tests only (`publish = false`).

// Functions stay short enough to read in one screen (clippy: 100 lines).
#![warn(clippy::too_many_lines)]

pub mod fake_bun_git;
pub mod fake_docker;
pub mod fake_instance;
pub mod fake_releases;
pub mod model_server;
pub mod recorder;
pub mod secret_service;
pub mod test_env;
