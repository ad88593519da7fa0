//! `appstrate api --jq` while the program runs: Ctrl-C and SIGTERM stop it
//! with 130 and 143 (as every other command), `-m/--max-time` bounds it
//! (it bounds the whole operation), and a reader that goes away ends an
//! endless program quietly (a broken pipe exits 0, as elsewhere).

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::signed_in::{SignedIn, stderr, stdout};

const END_USERS: &str = "/api/end-users";
/// A program that runs for hours and prints nothing until its end.
const ENDLESS_SILENT: &str = "last(range(1e15))";

/// `api` with `args`, its stdout and stderr piped.
fn spawn_api(env: &SignedIn, args: &[&str]) -> Child {
    env.std_cmd()
        .arg("api")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn api: {e}"))
}

/// Waits until the fake instance served `path`, then a little longer so
/// that the reply was read and the program started.
fn wait_until_served(env: &SignedIn, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.fake.count("GET", path) == 0 {
        assert!(Instant::now() < deadline, "{path} was never requested");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(400));
}

/// The exit code and stderr of `child`, which must end within `limit`
/// (else it is killed and the test fails: the signal was not acted on).
fn exit_within(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("wait: {e}")) {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("api still ran {limit:?} later");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    (status.code(), err)
}

fn send(child: &Child, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(sent.success());
}

/// The program runs on one reply (or over pages) when `signal` arrives.
fn interrupted_jq(args: &[&str], served: &str, signal: &str) -> (Option<i32>, String) {
    let env = SignedIn::new();
    env.fake.add_end_users(&env.acme, &env.acme_main, 3, 0);
    let child = spawn_api(&env, args);
    wait_until_served(&env, served);
    send(&child, signal);
    exit_within(child, Duration::from_secs(5))
}

#[test]
fn sigint_stops_a_running_jq_program_with_130() {
    let outcome = interrupted_jq(&["--jq", ENDLESS_SILENT, END_USERS], END_USERS, "INT");
    assert_eq!(outcome, (Some(130), String::new()));
}

#[test]
fn sigterm_stops_a_running_jq_program_with_143() {
    let outcome = interrupted_jq(&["--jq", ENDLESS_SILENT, END_USERS], END_USERS, "TERM");
    assert_eq!(outcome, (Some(143), String::new()));
}

#[test]
fn sigint_stops_jq_over_pages_with_130() {
    let args = [
        "--paginate",
        "--jq",
        ENDLESS_SILENT,
        "/api/end-users?limit=1",
    ];
    let outcome = interrupted_jq(&args, END_USERS, "INT");
    assert_eq!(outcome, (Some(130), String::new()));
}

#[test]
fn sigterm_stops_jq_over_pages_with_143() {
    let args = [
        "--paginate",
        "--jq",
        ENDLESS_SILENT,
        "/api/end-users?limit=1",
    ];
    let outcome = interrupted_jq(&args, END_USERS, "TERM");
    assert_eq!(outcome, (Some(143), String::new()));
}

#[test]
fn max_time_bounds_a_running_jq_program() {
    let env = SignedIn::new();
    let child = spawn_api(
        &env,
        &["--max-time", "1", "--jq", ENDLESS_SILENT, END_USERS],
    );
    assert_eq!(
        exit_within(child, Duration::from_secs(6)),
        (Some(28), "error: Operation timed out\n".to_string())
    );
}

/// The program runs off the main thread but keeps its room to recurse.
#[test]
fn deep_recursion_has_the_room_it_had_on_the_main_thread() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args([
            "api",
            "--jq",
            "def depth(n): if n == 0 then 0 else depth(n - 1) + 1 end; depth(200)",
            "/api/profile",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "200\n"),
        "{}",
        stderr(&out)
    );
}

/// A signal while results pour out faster than a slow reader takes them
/// (the writer is busy, not the program).
#[test]
fn sigint_stops_an_endless_stream_of_results_with_130() {
    let env = SignedIn::new();
    let endless = r#"("x" * 65536) as $line | repeat($line)"#;
    let mut child = spawn_api(&env, &["--jq", endless, "/api/profile"]);
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut first = [0u8; 4];
    stdout
        .read_exact(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&first, b"xxxx");
    let reader = std::thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        while stdout.read(&mut buffer).is_ok_and(|n| n > 0) {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    send(&child, "INT");
    assert_eq!(
        exit_within(child, Duration::from_secs(5)),
        (Some(130), String::new())
    );
    let _ = reader.join();
}

/// `--jq 'repeat(1)' | head -1`: the endless program ends with its reader.
fn endless_output_into_a_closed_pipe(args: &[&str]) {
    let env = SignedIn::new();
    env.fake.add_end_users(&env.acme, &env.acme_main, 3, 0);
    let mut child = spawn_api(&env, args);
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut first = [0u8; 2];
    stdout
        .read_exact(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&first, b"1\n");
    drop(stdout);
    assert_eq!(
        exit_within(child, Duration::from_secs(5)),
        (Some(0), String::new())
    );
}

#[test]
fn endless_results_into_a_closed_pipe_exit_quietly() {
    endless_output_into_a_closed_pipe(&["--jq", "repeat(1)", END_USERS]);
}

#[test]
fn endless_results_over_pages_into_a_closed_pipe_exit_quietly() {
    endless_output_into_a_closed_pipe(&[
        "--paginate",
        "--jq",
        "repeat(1)",
        "/api/end-users?limit=1",
    ]);
}
