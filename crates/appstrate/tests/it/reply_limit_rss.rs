//! Peak memory of `whoami` against an instance that answers with 1 GiB: the
//! reply cap must stop the read, not just the parse. The child is reaped
//! with `wait4(pid)`, which reports that one child's own peak RSS (not
//! `RUSAGE_CHILDREN`), so other tests in the same process do not skew it.

use std::time::Duration;

use appstrate_testkit::fake_instance::{FakeInstance, Fault, Role};
use appstrate_testkit::test_env::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");
/// Far above the binary's own footprint (~15 MB), far below 1 GiB.
const PEAK_RSS_LIMIT_KB: i64 = 100 * 1024;

/// Runs the child to completion and returns (exit code, peak RSS in KiB).
#[allow(unsafe_code)]
#[allow(clippy::zombie_processes)] // reaped by wait4 below, not Child::wait
pub(crate) fn run_measured(mut cmd: std::process::Command) -> (Option<i32>, i64, String) {
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn appstrate");
    let pid = child.id() as libc::pid_t;
    let mut stderr = child.stderr.expect("stderr pipe");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unreaped child; the pointers are valid.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let text = reader.join().unwrap_or_default();
    (code, usage.ru_maxrss, text)
}

#[test]
fn whoami_against_a_1_gib_reply_stays_small() {
    let fake = FakeInstance::builder().interval(0).start();
    let user = fake.add_user("alice@example.com");
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    let env = TestEnv::new();
    let (access, refresh) = fake.issue_tokens(&user);
    env.seed_login(
        "default",
        fake.url(),
        &user,
        "alice@example.com",
        Some(&org),
        None,
        &access,
        &refresh,
    );
    // Chunked, so only the running count can stop it.
    fake.inject(Fault::huge("/api/profile", 1 << 30, false));
    let mut cmd = env.command(BIN);
    cmd.arg("whoami");
    let started = std::time::Instant::now();
    let (code, peak_kb, err) = run_measured(cmd);
    eprintln!(
        "whoami vs 1 GiB reply: exit {code:?}, peak RSS {} MB, {:?}",
        peak_kb / 1024,
        started.elapsed()
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("larger than 16 MiB"), "{err}");
    assert!(
        peak_kb < PEAK_RSS_LIMIT_KB,
        "peak RSS {peak_kb} KiB over {PEAK_RSS_LIMIT_KB} KiB"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
