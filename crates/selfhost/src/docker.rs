//! Asking Docker: is it there, `docker compose` for a project, and the
//! network budget (custom networks draw on a limited address pool).

use std::path::Path;
use std::time::Duration;

use crate::process::{Output, capture, run, run_quiet};

/// `docker info` succeeds (quietly), within `timeout` if given.
pub async fn docker_available(timeout: Option<Duration>) -> bool {
    capture("docker", &["info"], None, timeout).await.ok
}

/// `docker compose --project-name <name> <args…>` in `dir`, output inherited.
pub async fn compose(dir: &Path, project: &str, args: &[&str]) -> i32 {
    let mut full = vec!["compose", "--project-name", project];
    full.extend_from_slice(args);
    run("docker", &full, Some(dir), Output::Inherit, &[]).await
}

/// `docker compose … <args…>` with its output captured (under a spinner):
/// the exit code and the last line it wrote.
pub async fn compose_quiet(dir: &Path, project: &str, args: &[&str]) -> (i32, Option<String>) {
    let mut full = vec!["compose", "--project-name", project];
    full.extend_from_slice(args);
    run_quiet("docker", &full, Some(dir), &[]).await
}

/// Custom networks counted against Docker's address pool (≈31 by default).
pub async fn custom_network_count() -> Option<usize> {
    let out = capture(
        "docker",
        &["network", "ls", "--format", "{{.Name}}"],
        None,
        Some(Duration::from_secs(3)),
    )
    .await;
    if !out.ok {
        return None;
    }
    Some(count_custom_networks(&out.stdout))
}

pub fn count_custom_networks(stdout: &str) -> usize {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !matches!(*l, "bridge" | "host" | "none"))
        .count()
}

pub const NETWORK_THRESHOLD: usize = 25;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_budget() {
        assert_eq!(count_custom_networks("bridge\nhost\nnone\n\na\nb\n"), 2);
        let many: String = (0..30).map(|i| format!("n{i}\n")).collect();
        assert_eq!(count_custom_networks(&format!("bridge\n{many}")), 30);
    }
}
