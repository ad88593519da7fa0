//! The reply modes of `appstrate api` that read the reply instead of
//! printing it as is: `--paginate` and `--jq` (docs/api-command.md#pages-and-jq).
//! Every page is a request of the same plan through the curl engine's
//! fetch (retries, `-L`, `-v`, `--compressed`); a 401 replaces the token
//! once per page, through the session's serialised refresh.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use appstrate_curl::{Bearer, CurlArgs, FetchError, Fetched, Fetcher, RequestPlan};
use appstrate_platform::session::Session;
use url::Url;
use zeroize::Zeroizing;

use super::jq::JqFailure;
use super::jq_worker::{JqWorker, RunFailure, StartError};
use super::page::{self, EnvelopeWriter, Page};
use crate::error::{CliError, ErrorKind, ExitStatus};

/// The largest page or reply read into memory.
const REPLY_CAP: usize = 64 << 20;

/// Checks the reply flags against the curl flags before anything else
/// runs, and compiles `--jq` on the thread that will run it; every refusal
/// is a usage error (exit 2).
pub fn check(args: &CurlArgs) -> Result<Option<JqWorker>, CliError> {
    check_flags(args).map_err(CliError::usage)?;
    let Some(code) = args.reply.jq.as_deref() else {
        return Ok(None);
    };
    match JqWorker::start(code) {
        Ok(worker) => Ok(Some(worker)),
        Err(StartError::Program(message)) => Err(CliError::usage(message)),
        Err(StartError::Thread(err)) => Err(CliError::caused_by(
            ErrorKind::Internal,
            format!("cannot start the --jq thread: {err}"),
            err,
        )),
    }
}

fn check_flags(args: &CurlArgs) -> Result<(), String> {
    let reply = &args.reply;
    let ours = match (reply.paginate, reply.jq.is_some()) {
        (true, true) => "--paginate and --jq",
        (true, false) => "--paginate",
        (false, true) => "--jq",
        (false, false) if reply.max_pages.is_some() => {
            return Err("--max-pages needs --paginate".into());
        }
        (false, false) => return Ok(()),
    };
    if args.include || args.head {
        return Err(format!(
            "{ours} print the reply's JSON, not its headers: drop -i/--include and -I/--head"
        ));
    }
    if args.write_out.is_some() {
        return Err(format!(
            "-w/--write-out reports one transfer; it cannot be combined with {ours}"
        ));
    }
    if reply.paginate {
        let method = args
            .request
            .clone()
            .or_else(|| (args.positionals.len() == 2).then(|| args.positionals[0].clone()));
        let sends_body = args.upload_file.is_some()
            || !args.form.is_empty()
            || (!args.data.is_empty() && !args.get);
        if sends_body || method.is_some_and(|m| !m.eq_ignore_ascii_case("GET")) {
            return Err(
                "--paginate follows GET lists: drop -X/-d/-F/-T (use -G or -q to put data in the query)".into(),
            );
        }
    }
    Ok(())
}

/// What the reply mode was asked to do.
pub struct ReplyMode {
    pub paginate: bool,
    pub max_pages: Option<u32>,
    pub jq: Option<JqWorker>,
}

/// Runs the mode; every failure is already a `CliError` with its exit code.
pub async fn run(
    mut mode: ReplyMode,
    plan: &RequestPlan,
    session: &Session,
    token: Zeroizing<String>,
) -> Result<ExitStatus, CliError> {
    let mut pages = Pages {
        fetcher: Fetcher::new(plan).map_err(|e| fetch_error(plan, e))?,
        plan,
        session,
        token,
    };
    let mut out = Output::new(plan.output.file.clone());
    let work = async {
        match (mode.jq.as_mut(), mode.paginate) {
            (Some(jq), false) => single(&mut pages, jq, &mut out).await,
            _ => paginate(&mut pages, &mut mode, &mut out).await,
        }
    };
    let outcome = match plan.max_time {
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(failure(plan, "Operation timed out", 28)),
        },
        None => work.await,
    };
    outcome?;
    out.finish().map_err(|e| write_error(plan, e))?;
    Ok(ExitStatus::SUCCESS)
}

/// `--jq` on one reply.
async fn single(
    pages: &mut Pages<'_>,
    jq: &mut JqWorker,
    out: &mut Output,
) -> Result<(), CliError> {
    let url = Fetcher::first_url(pages.plan)
        .await
        .map_err(|e| fetch_error(pages.plan, e))?;
    let reply = pages.fetch(url.clone(), "the reply").await?;
    run_jq(pages.plan, jq, &url, reply, out).await
}

/// `--paginate`: page after page until `hasMore` is false.
async fn paginate(
    pages: &mut Pages<'_>,
    mode: &mut ReplyMode,
    out: &mut Output,
) -> Result<(), CliError> {
    let plan = pages.plan;
    let first = Fetcher::first_url(plan)
        .await
        .map_err(|e| fetch_error(plan, e))?;
    if page::walks_backward(&first) {
        return Err(usage(
            plan,
            "--paginate walks forward with startingAfter: drop endingBefore from the query",
        ));
    }
    let mut seen: HashSet<String> = page::cursor_in(&first).into_iter().collect();
    let mut envelope = EnvelopeWriter::new();
    let mut url = first.clone();
    let mut number: u32 = 1;
    loop {
        let what = format!("page {number}");
        let reply = pages.fetch(url.clone(), &what).await?;
        let page = Page::parse(&reply.body).map_err(|why| {
            failure(
                plan,
                &format!(
                    "{what} of {} is not a list envelope ({{\"object\":\"list\",\"data\":[…],\"hasMore\":…}}): {why}",
                    target(&url)
                ),
                1,
            )
        })?;
        match mode.jq.as_mut() {
            Some(jq) => run_jq(plan, jq, &url, reply, out).await?,
            None => envelope
                .page(out, &page)
                .map_err(|e| write_error(plan, e))?,
        }
        let stop_early = page.has_more && mode.max_pages.is_some_and(|max| number >= max);
        if !page.has_more || stop_early {
            if stop_early && plan.output.shows_hints() {
                eprintln_note(&format!(
                    "stopped after {number} pages (--max-pages); the list has more"
                ));
            }
            if mode.jq.is_none() {
                envelope
                    .finish(out, page.has_more)
                    .map_err(|e| write_error(plan, e))?;
            }
            return Ok(());
        }
        let cursor = page.cursor().map_err(|why| {
            failure(
                plan,
                &format!("cannot follow {what} of {}: {why}", target(&url)),
                1,
            )
        })?;
        if !seen.insert(cursor.clone()) {
            return Err(failure(
                plan,
                &format!(
                    "{what} of {} ends with \"{cursor}\" again: the server is looping; stopped",
                    target(&url)
                ),
                1,
            ));
        }
        url = page::next_url(&first, &cursor);
        number += 1;
    }
}

/// Requests of one plan, with the token replaced once per request on a 401.
struct Pages<'a> {
    fetcher: Fetcher,
    plan: &'a RequestPlan,
    session: &'a Session,
    token: Zeroizing<String>,
}

impl Pages<'_> {
    /// One reply with a 2xx status, or the error saying why not.
    async fn fetch(&mut self, url: Url, what: &str) -> Result<Fetched, CliError> {
        let plan = self.plan;
        let mut reply = self.send(url.clone()).await?;
        if reply.status == 401 {
            self.token = self
                .session
                .token_after_rejection(&self.token)
                .await
                .map_err(|e| failure(plan, &e.to_string(), 1))?;
            reply = self.send(url.clone()).await?;
        }
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        let code = match reply.status {
            400..=499 => 22,
            500..=599 => 25,
            _ => 1,
        };
        let mut error = failure(
            plan,
            &format!(
                "{what} of {}: HTTP {}{}",
                target(&url),
                reply.status,
                problem_detail(&reply.body)
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            code,
        );
        if reply.status == 401 && plan.output.shows_hints() {
            error = error.with_hint(format!(
                "Session may be expired — run: appstrate login --profile {}",
                plan.injection.profile
            ));
        }
        Err(error)
    }

    async fn send(&self, url: Url) -> Result<Fetched, CliError> {
        let bearer = Bearer::new(self.token.clone());
        let mut stderr = io::stderr();
        self.fetcher
            .fetch(self.plan, url, &bearer, &mut stderr, REPLY_CAP)
            .await
            .map_err(|e| fetch_error(self.plan, e))
    }
}

/// The program over one reply; its results are flushed when it ends.
async fn run_jq(
    plan: &RequestPlan,
    jq: &mut JqWorker,
    url: &Url,
    mut reply: Fetched,
    out: &mut Output,
) -> Result<(), CliError> {
    let body = std::mem::take(&mut reply.body);
    match jq.run(body, out).await.map_err(|e| write_error(plan, e))? {
        Ok(()) => out.flush().map_err(|e| write_error(plan, e)),
        Err(RunFailure::NotJson(why)) => Err(not_json(plan, url, &reply, &why)),
        Err(RunFailure::Program(JqFailure::Error(message))) => {
            Err(failure(plan, &format!("--jq: {message}"), 5))
        }
        Err(RunFailure::Program(JqFailure::Halt(code))) => {
            out.flush().map_err(|e| write_error(plan, e))?;
            Err(CliError::silent(u8::try_from(code).unwrap_or(5)))
        }
        Err(RunFailure::Stopped) => Err(CliError::new(
            ErrorKind::Internal,
            "the --jq program stopped unexpectedly",
        )),
    }
}

/// The `detail` (else `title`) of a problem+json error body.
fn problem_detail(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = value
        .get("detail")
        .or_else(|| value.get("title"))?
        .as_str()?;
    Some(text.chars().take(300).collect())
}

/// The request target as shown in errors: path and query, never headers.
fn target(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

fn not_json(plan: &RequestPlan, url: &Url, reply: &Fetched, why: &str) -> CliError {
    let content_type = reply.content_type.as_deref().unwrap_or("no content type");
    failure(
        plan,
        &format!(
            "--jq needs a JSON reply, but {} answered {content_type} that does not parse: {why}",
            target(url)
        ),
        1,
    )
}

/// An error line that obeys `-s`/`-S` as curl's own error lines do.
fn failure(plan: &RequestPlan, message: &str, code: u8) -> CliError {
    if !plan.output.shows_errors() {
        return CliError::silent(code);
    }
    CliError::new(ErrorKind::Server, message).with_exit_code(code)
}

fn usage(plan: &RequestPlan, message: &str) -> CliError {
    failure(plan, message, 2)
}

fn fetch_error(plan: &RequestPlan, e: FetchError) -> CliError {
    if e.message.is_empty() {
        return CliError::silent(e.code);
    }
    failure(plan, &e.message, e.code)
}

/// curl's exit 23, or a quiet 0 when the reader went away.
fn write_error(plan: &RequestPlan, e: io::Error) -> CliError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return CliError::from(e);
    }
    let what = match &plan.output.file {
        Some(path) => format!("Failed writing body to {}: {e}", path.display()),
        None => format!("Failed writing body: {e}"),
    };
    failure(plan, &what, 23)
}

fn eprintln_note(note: &str) {
    let mut stderr = io::stderr();
    let _ = writeln!(stderr, "{note}");
}

/// stdout, or the `-o` file created on the first byte (as curl does).
struct Output {
    path: Option<PathBuf>,
    file: Option<BufWriter<File>>,
    /// Flushed after each page, so results stream without a syscall per line.
    stdout: BufWriter<io::Stdout>,
}

impl Output {
    fn new(path: Option<PathBuf>) -> Self {
        Output {
            path,
            file: None,
            stdout: BufWriter::with_capacity(64 * 1024, io::stdout()),
        }
    }

    fn target(&mut self) -> io::Result<&mut dyn Write> {
        match &self.path {
            None => Ok(&mut self.stdout),
            Some(path) => {
                if self.file.is_none() {
                    self.file = Some(BufWriter::new(File::create(path)?));
                }
                match &mut self.file {
                    Some(file) => Ok(file),
                    None => Err(io::Error::other("output file not open")),
                }
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => self.stdout.flush(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.target()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.target()?.flush()
    }
}
