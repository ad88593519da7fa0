//! curl as the oracle: every argument list below runs once through the
//! system `curl` (against `{U}/path`) and once through `appstrate api`
//! (against `/path`) with the same recording server. What the server
//! received (method, target, body, headers other than the injected ones and
//! those each HTTP stack adds by itself), stdout and the exit code must be
//! identical, except where a case lists a `Diff` — each one is a line of
//! `COMPATIBILITY.md`.

use std::process::{Command, Stdio};

use crate::support::{ApiEnv, assert_no_secret};
use appstrate_testkit::recorder::{RecordedRequest, Recorder};

/// A deliberate difference, with the `COMPATIBILITY.md` reason.
#[derive(Debug, Clone, Copy)]
enum Diff {
    /// curl adds `Content-Type: application/x-www-form-urlencoded` to `-d`;
    /// `appstrate api` never adds a default Content-Type.
    NoDefaultContentType,
    /// Request bodies differ (reason).
    Body(&'static str),
    /// A request header differs (name, reason).
    Header(&'static str, &'static str),
    /// Exit codes differ: (curl, appstrate, reason).
    Exit(i32, i32, &'static str),
    /// stdout differs (reason).
    Stdout(&'static str),
    /// The request target differs (reason).
    Target(&'static str),
}

impl Diff {
    fn reason(&self) -> &'static str {
        match self {
            NoDefaultContentType => "no default Content-Type for -d/--data-urlencode",
            Body(r) | Header(_, r) | Exit(_, _, r) | Stdout(r) | Target(r) => r,
        }
    }
}

struct Case {
    args: &'static [&'static str],
    stdin: Option<&'static [u8]>,
    diffs: &'static [Diff],
}

const fn case(args: &'static [&'static str]) -> Case {
    Case {
        args,
        stdin: None,
        diffs: &[],
    }
}

const fn with(args: &'static [&'static str], diffs: &'static [Diff]) -> Case {
    Case {
        args,
        stdin: None,
        diffs,
    }
}

const fn piped(
    args: &'static [&'static str],
    stdin: &'static [u8],
    diffs: &'static [Diff],
) -> Case {
    Case {
        args,
        stdin: Some(stdin),
        diffs,
    }
}

use Diff::*;

const CT: Diff = NoDefaultContentType;
const FILE_LEN: Diff = Header("content-length", "follows from the body difference");
const RETRY_BODIES: Diff = Stdout("bodies of retried attempts are discarded; curl prints each one");
const GZIP_ZSTD: Diff = Header(
    "accept-encoding",
    "--compressed advertises gzip, deflate, br (no zstd decoder)",
);

/// `{U}` = server URL, `{F}` = a text file `data.txt` ("line one\nline two\n"),
/// `{Z}` = a binary `pkg.zip`, `{Q}` = a file "a=1&b=x%20y\n", `{O}` = an output path,
/// `{K}` = a key unique to the run.
const CASES: &[Case] = &[
    case(&["{U}/api/x"]),
    case(&["-X", "POST", "{U}/api/x"]),
    case(&["-XPUT", "{U}/api/x"]),
    case(&["-X", "DELETE", "{U}/api/x/1"]),
    with(&["-d", "hello", "{U}/api/x"], &[CT]),
    with(&["-d", "a=1", "-d", "b=2", "{U}/api/x"], &[CT]),
    with(&["--data-raw", "@literal", "{U}/api/x"], &[CT]),
    with(&["--data-binary", "@{F}", "{U}/api/x"], &[CT]),
    with(
        &["-d", "@{F}", "{U}/api/x"],
        &[
            CT,
            Body("-d @file sends the file verbatim; curl strips its newlines"),
            FILE_LEN,
        ],
    ),
    with(
        &["-d@{F}", "{U}/api/x"],
        &[
            CT,
            Body("-d @file sends the file verbatim; curl strips its newlines"),
            FILE_LEN,
        ],
    ),
    with(&["--data-urlencode", "hello world", "{U}/api/x"], &[CT]),
    with(
        &[
            "--data-urlencode",
            "name=a b&c",
            "--data-urlencode",
            "=x y!",
            "{U}/api/x",
        ],
        &[CT],
    ),
    with(&["--data-urlencode", "note@{F}", "{U}/api/x"], &[CT]),
    case(&["-G", "-d", "q=1", "-d", "r=2", "{U}/api/x"]),
    with(
        &["-G", "--data-urlencode", "q=a+b&c=d", "{U}/api/x"],
        &[Target(
            "curl lower-cases percent-escapes it appends to a URL (%2b); we keep %2B",
        )],
    ),
    case(&["-G", "--data-raw", "x=a%20b", "{U}/api/x?y=1"]),
    case(&["-G", "-d", "@{Q}", "{U}/api/x"]),
    case(&["-G", "-X", "POST", "-d", "a=1", "{U}/api/x"]),
    case(&["-T", "{F}", "{U}/upload"]),
    piped(&["-T", "-", "{U}/upload"], b"streamed\nbody\n", &[]),
    piped(
        &["-d", "@-", "{U}/api/x"],
        b"from\nstdin\n",
        &[
            CT,
            Body("-d @- sends stdin verbatim; curl strips its newlines"),
            Header(
                "content-length",
                "stdin is streamed (chunked); curl buffers it",
            ),
            Header(
                "transfer-encoding",
                "stdin is streamed (chunked); curl buffers it",
            ),
        ],
    ),
    piped(
        &["--data-binary", "@-", "{U}/api/x"],
        b"raw\nstdin\n",
        &[
            CT,
            Header(
                "content-length",
                "stdin is streamed (chunked); curl buffers it",
            ),
            Header(
                "transfer-encoding",
                "stdin is streamed (chunked); curl buffers it",
            ),
        ],
    ),
    case(&["-F", "a=b", "-F", "f=@{F}", "{U}/form"]),
    case(&["-F", "f=@{F};type=application/json", "{U}/form"]),
    case(&["-F", "f=@{F};filename=renamed.bin", "{U}/form"]),
    case(&["-F", "pkg=@{Z}", "-F", "note=<{F}", "{U}/form"]),
    case(&["-H", "X-Foo: bar", "-H", "X-Other:  spaced ", "{U}/api/x"]),
    with(
        &["-H", "X-Foo: one", "-H", "X-Foo: two", "{U}/api/x"],
        &[Header(
            "x-foo",
            "a repeated -H name: the last one wins (original)",
        )],
    ),
    case(&["-H", "Accept: application/json", "{U}/api/x"]),
    case(&["-H", "X-Empty;", "{U}/api/x"]),
    case(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        "{\"a\":1}",
        "-X",
        "PATCH",
        "{U}/api/x",
    ]),
    case(&["-A", "my-agent/1.0", "{U}/api/x"]),
    case(&["-A", "ignored", "-H", "User-Agent: wins/2", "{U}/api/x"]),
    case(&["-e", "https://ref.example/page", "{U}/api/x"]),
    case(&["-b", "k=v; k2=v2", "{U}/api/x"]),
    case(&["-H", "Cookie: a=b", "{U}/api/x"]),
    case(&["-r", "0-1023", "{U}/api/x"]),
    with(&["--compressed", "{U}/gzip"], &[GZIP_ZSTD]),
    with(&["--compressed", "{U}/br"], &[GZIP_ZSTD]),
    with(
        &["--compressed", "-w", "%{size_download}", "{U}/deflate"],
        &[GZIP_ZSTD],
    ),
    case(&["{U}/gzip"]),
    case(&["-i", "{U}/api/x"]),
    case(&["-I", "{U}/api/x"]),
    case(&["-I", "-f", "{U}/status/404"]),
    case(&["-i", "-f", "{U}/status/404"]),
    case(&["-f", "{U}/status/404"]),
    with(
        &["-sS", "-f", "{U}/status/500"],
        &[Exit(22, 25, "-f exits 25 for 5xx (reference exit codes)")],
    ),
    case(&["--fail-with-body", "{U}/status/404"]),
    case(&["{U}/status/404"]),
    case(&["-s", "{U}/status/503"]),
    case(&["-L", "{U}/redirect/302?to=/final"]),
    case(&[
        "-L",
        "{U}/redirect/301?to=%2Fredirect%2F307%3Fto%3D%252Fend",
    ]),
    case(&[
        "-L",
        "-d",
        "x=1",
        "-H",
        "Content-Type: text/plain",
        "{U}/redirect/302?to=/p",
    ]),
    case(&[
        "-L",
        "-d",
        "x=1",
        "-H",
        "Content-Type: text/plain",
        "{U}/redirect/307?to=/p",
    ]),
    case(&["-L", "-i", "{U}/redirect/302?to=/final"]),
    case(&["-i", "{U}/redirect/302?to=/final"]),
    case(&["-sSfL", "{U}/redirect/302?to=/status/404"]),
    case(&["-w", "%{http_code}\\n", "{U}/api/x"]),
    case(&[
        "-L",
        "-w",
        "%{http_code} %{size_download} %{num_redirects} %{url_effective} %{http_version}\\n",
        "{U}/redirect/302?to=/final",
    ]),
    case(&[
        "-w",
        "%{content_type}|%{method}|%{response_code}|%{exitcode}",
        "{U}/api/x",
    ]),
    case(&["-f", "-w", "[%{exitcode}]", "{U}/status/404"]),
    with(
        &["-w", "%{header_json}", "-o", "/dev/null", "{U}/api/x"],
        &[Stdout("header_json: each stack's own date header")],
    ),
    case(&["-o", "{O}", "-w", "%{size_download}", "{U}/bytes?n=5000"]),
    case(&["-i", "-o", "{O}", "{U}/api/x"]),
    case(&["-s", "{U}/api/x?a=1&b=2"]),
    with(
        &[
            "--retry",
            "2",
            "--retry-delay",
            "0",
            "{U}/flaky?key={K}&fail=2&retry_after=0",
        ],
        &[RETRY_BODIES],
    ),
    with(
        &[
            "--retry",
            "1",
            "--retry-delay",
            "0",
            "{U}/flaky?key={K}&fail=5&retry_after=0",
        ],
        &[RETRY_BODIES],
    ),
    case(&["--max-time", "10", "--connect-timeout", "5", "{U}/api/x"]),
    case(&["-N", "{U}/slow?chunks=3&delay_ms=10"]),
    case(&["--no-buffer", "-sS", "{U}/sse-less"]),
];

struct Observed {
    code: i32,
    stdout: String,
    requests: Vec<RecordedRequest>,
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let w = |name: &str, data: &[u8]| {
            std::fs::write(dir.path().join(name), data).unwrap_or_else(|e| panic!("{e}"))
        };
        w("data.txt", b"line one\nline two\n");
        w(
            "pkg.zip",
            &(0..3000u32)
                .map(|i| (i * 7 % 256) as u8)
                .collect::<Vec<_>>(),
        );
        w("query.txt", b"a=1&b=x%20y\n");
        Fixture { dir }
    }

    fn expand(&self, arg: &str, base: &str, key: &str) -> String {
        let p = |n: &str| self.dir.path().join(n).to_string_lossy().into_owned();
        arg.replace("{U}", base)
            .replace("{F}", &p("data.txt"))
            .replace("{Z}", &p("pkg.zip"))
            .replace("{Q}", &p("query.txt"))
            .replace("{O}", &p("out.bin"))
            .replace("{K}", key)
    }
}

fn run(mut cmd: Command, stdin: Option<&[u8]>, rec: &Recorder) -> Observed {
    use std::io::Write;
    rec.clear();
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
    if let Some(data) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        let _ = pipe.write_all(data);
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    Observed {
        code: out.status.code().unwrap_or(-1),
        stdout: normalise_stdout(&out.stdout),
        requests: rec.requests(),
    }
}

/// Drops `date:` header lines (each response has its own).
fn normalise_stdout(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    text.split_inclusive('\n')
        .filter(|l| !l.to_ascii_lowercase().starts_with("date: "))
        .collect()
}

/// Headers compared: all but the injected ones and those a stack adds.
fn comparable(
    req: &RecordedRequest,
    case: &Case,
) -> (String, String, Vec<u8>, Vec<(String, String)>) {
    let sets_ua = case
        .args
        .iter()
        .any(|a| *a == "-A" || a.to_ascii_lowercase().starts_with("user-agent:"));
    let mut ignored: Vec<&str> = vec!["authorization", "x-org-id", "x-application-id", "expect"];
    if !sets_ua {
        ignored.push("user-agent");
    }
    for d in case.diffs {
        match d {
            NoDefaultContentType => ignored.push("content-type"),
            Header(name, _) => ignored.push(name),
            _ => {}
        }
    }
    let boundary = req
        .header("content-type")
        .and_then(|ct| ct.split_once("boundary="))
        .map(|(_, b)| b.to_string());
    let fix = |s: &str| match &boundary {
        Some(b) => s.replace(b.as_str(), "BOUNDARY"),
        None => s.to_string(),
    };
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(n, _)| !ignored.contains(&n.as_str()))
        .map(|(n, v)| (n.clone(), fix(v)))
        .collect();
    headers.sort();
    let body = match &boundary {
        Some(b) => String::from_utf8_lossy(&req.body)
            .replace(b.as_str(), "BOUNDARY")
            .into_bytes(),
        None => req.body.clone(),
    };
    (req.method.clone(), req.target.clone(), body, headers)
}

#[test]
fn appstrate_api_matches_curl() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("the system curl is required (scripts/test installs it)");
    }
    assert!(
        CASES.len() >= 40,
        "the oracle table needs at least 40 cases"
    );
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let fx = Fixture::new();
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let curl_args: Vec<String> = case
            .args
            .iter()
            .map(|a| fx.expand(a, &rec.url(), &format!("curl{i}")))
            .collect();
        let mut curl = Command::new("curl");
        curl.args(&curl_args)
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY");
        let ours_args: Vec<String> = case
            .args
            .iter()
            .map(|a| fx.expand(a, "", &format!("ours{i}")))
            .collect();
        let mut ours = env.std_cmd();
        ours.arg("api").args(&ours_args);

        let want = run(curl, case.stdin, &rec);
        let out_curl = std::fs::read(fx.dir.path().join("out.bin")).ok();
        let _ = std::fs::remove_file(fx.dir.path().join("out.bin"));
        let got = run(ours, case.stdin, &rec);
        let out_ours = std::fs::read(fx.dir.path().join("out.bin")).ok();
        let _ = std::fs::remove_file(fx.dir.path().join("out.bin"));
        let label = format!("case {i} {:?}", case.args);

        let exit_diff = case.diffs.iter().find_map(|d| match d {
            Exit(c, o, _) => Some((*c, *o)),
            _ => None,
        });
        match exit_diff {
            Some((c, o)) if (want.code, got.code) != (c, o) => {
                failures.push(format!(
                    "{label}: exit curl={} ours={} (expected {c}/{o})",
                    want.code, got.code
                ));
            }
            None if want.code != got.code => {
                failures.push(format!(
                    "{label}: exit curl={} ours={}",
                    want.code, got.code
                ));
            }
            _ => {}
        }
        if !case.diffs.iter().any(|d| matches!(d, Stdout(_))) {
            // Key names of a flaky route differ per run; nothing else may.
            let g = got.stdout.replace(&format!("ours{i}"), &format!("curl{i}"));
            if want.stdout != g {
                failures.push(format!(
                    "{label}: stdout\n  curl: {:?}\n  ours: {:?}",
                    want.stdout, g
                ));
            }
        }
        // With -i the file holds the headers too: each response has its
        // own `date:` (a second boundary between the two runs is no diff).
        let out_curl = out_curl.map(|b| normalise_stdout(&b));
        let out_ours = out_ours.map(|b| normalise_stdout(&b));
        if out_curl != out_ours {
            failures.push(format!("{label}: -o file contents differ"));
        }
        if want.requests.len() != got.requests.len() {
            failures.push(format!(
                "{label}: curl sent {} requests, ours {}",
                want.requests.len(),
                got.requests.len()
            ));
            continue;
        }
        let body_diff = case.diffs.iter().any(|d| matches!(d, Body(_)));
        for (w, g) in want.requests.iter().zip(&got.requests) {
            let (wm, wt, wb, wh) = comparable(w, case);
            let (gm, gt, gb, gh) = comparable(g, case);
            let gt = gt.replace(&format!("ours{i}"), &format!("curl{i}"));
            let target_diff = case.diffs.iter().any(|d| matches!(d, Target(_)));
            let same_target = target_diff || wt == gt;
            if wm != gm || !same_target {
                failures.push(format!(
                    "{label}: request line curl={wm} {wt} ours={gm} {gt}"
                ));
            }
            if !body_diff && wb != gb {
                failures.push(format!(
                    "{label}: body\n  curl: {:?}\n  ours: {:?}",
                    String::from_utf8_lossy(&wb),
                    String::from_utf8_lossy(&gb)
                ));
            }
            if wh != gh {
                failures.push(format!("{label}: headers\n  curl: {wh:?}\n  ours: {gh:?}"));
            }
        }
    }
    // The marked differences, for the record (shown with --nocapture).
    for (i, case) in CASES.iter().enumerate() {
        for d in case.diffs {
            eprintln!(
                "case {i} {:?}: marked difference: {}",
                case.args,
                d.reason()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
