//! [`CurlArgs`] → [`RequestPlan`]: every decision that does not need the
//! network. All usage errors (exit 2) and argument errors (exit 1) are found
//! here, before a byte is sent. Files named by `@file` are only opened when
//! the request is sent.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::args::{CurlArgs, DataArg, FailMode};

/// What the binary injects: where the bearer may go and the headers that
/// identify the caller. The bearer itself arrives at execution time.
#[derive(Debug, Clone)]
pub struct Injection {
    /// The profile's normalised instance URL; its origin is the only one the
    /// bearer is sent to.
    pub instance: Url,
    pub profile: String,
    pub org_id: Option<String>,
    pub app_id: Option<String>,
    pub user_agent: String,
}

/// A usage or argument error found while planning, with its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub message: String,
    pub code: u8,
}

impl PlanError {
    fn usage(message: impl Into<String>) -> Self {
        PlanError {
            message: message.into(),
            code: 2,
        }
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PlanError {}

/// Where a header's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Literal(String),
    /// `Bearer <access token>`, filled in at execution.
    InjectedBearer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedHeader {
    pub name: String,
    pub value: HeaderValue,
}

/// Content for `--data-urlencode` or one data flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    File(PathBuf),
    Stdin,
}

/// One data flag after its curl form was decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataPiece {
    /// Sent as is (`-d` literal already had its trailing newline stripped).
    Verbatim(Content),
    /// `--data-urlencode`: `name=` (when named) + the encoded content.
    Encoded {
        name: Option<String>,
        content: Content,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormValue {
    Text(String),
    /// `name=<file`: a text field with the file's content.
    TextFromFile(PathBuf),
    /// `name=@file[;type=…][;filename=…]`.
    File {
        path: PathBuf,
        filename: String,
        content_type: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    pub name: String,
    pub value: FormValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyPlan {
    Empty,
    /// `-d`/`--data-*` pieces joined with `&`.
    Data(Vec<DataPiece>),
    /// `-T`.
    Upload(Content),
    /// `-F`, multipart/form-data.
    Form(Vec<FormPart>),
}

impl BodyPlan {
    /// Whether the body is read from stdin (and so cannot be replayed).
    pub fn uses_stdin(&self) -> bool {
        match self {
            BodyPlan::Data(pieces) => pieces.iter().any(|p| {
                matches!(
                    p,
                    DataPiece::Verbatim(Content::Stdin)
                        | DataPiece::Encoded {
                            content: Content::Stdin,
                            ..
                        }
                )
            }),
            BodyPlan::Upload(Content::Stdin) => true,
            _ => false,
        }
    }
}

/// How the response is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputPolicy {
    pub include: bool,
    pub head: bool,
    pub file: Option<PathBuf>,
    pub fail: FailMode,
    pub silent: bool,
    pub show_error: bool,
    pub verbose: bool,
    pub write_out: Option<String>,
}

impl OutputPolicy {
    pub fn shows_errors(&self) -> bool {
        !self.silent || self.show_error
    }
    /// Hints (401, redirect not followed) are hidden by `-s`, even with `-S`.
    pub fn shows_hints(&self) -> bool {
        !self.silent
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub retries: u32,
    pub delay: Duration,
    /// Zero means no budget.
    pub max_time: Duration,
    pub connrefused: bool,
}

/// A fully resolved request.
#[derive(Debug, Clone)]
pub struct RequestPlan {
    pub method: String,
    /// The URL with `-q` pairs; `-G` data is appended at execution, once
    /// `@file` contents can be read.
    pub url: Url,
    pub get_data: Vec<DataPiece>,
    pub headers: Vec<PlannedHeader>,
    pub body: BodyPlan,
    pub output: OutputPolicy,
    pub follow_redirects: bool,
    pub insecure_tls: bool,
    pub compressed: bool,
    pub connect_timeout: Option<Duration>,
    pub max_time: Option<Duration>,
    pub retry: RetryPolicy,
    /// Warnings to print (gated by `-s`) before sending.
    pub warnings: Vec<String>,
    pub injection: Injection,
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Splits positionals into (method, target).
pub fn target_of(args: &CurlArgs) -> Result<(Option<String>, String), PlanError> {
    match args.positionals.as_slice() {
        [target] => Ok((None, target.clone())),
        [method, target] => {
            let upper = method.to_ascii_uppercase();
            if METHODS.contains(&upper.as_str()) {
                Ok((Some(upper), target.clone()))
            } else {
                Err(PlanError {
                    message: format!(
                        "expected HTTP method as first argument, got \"{method}\" (did you mean GET/POST/PUT/…?)"
                    ),
                    code: 1,
                })
            }
        }
        _ => Err(PlanError {
            message: "missing required argument <path-or-url> (usage: appstrate api [METHOD] <path-or-url> [curl flags])".into(),
            code: 1,
        }),
    }
}

impl RequestPlan {
    pub fn resolve(args: &CurlArgs, injection: Injection) -> Result<RequestPlan, PlanError> {
        let (positional_method, target) = target_of(args)?;
        refuse_conflicting_bodies(args)?;
        let url = build_url(&injection.instance, &target, &args.query)?;
        if let Some(cookie) = &args.cookie
            && is_cookie_jar_path(cookie)
        {
            return Err(PlanError::usage(
                "cookie jars are not supported (curl `-b file.txt`). Use a literal `k=v` string or set `-H Cookie: ...`.",
            ));
        }
        let headers = build_headers(args, &injection)?;
        let (body, get_data) = body_of(args);
        let method = method_of(args, positional_method, &body);
        // HEAD never carries a body.
        let body = if method == "HEAD" {
            BodyPlan::Empty
        } else {
            body
        };
        let mut warnings = Vec::new();
        let mut retries = args.retry;
        if retries > 0 && body.uses_stdin() {
            warnings.push(
                "--retry disabled: body is consumed from stdin and cannot be replayed.".into(),
            );
            retries = 0;
        }
        Ok(RequestPlan {
            method,
            url,
            get_data,
            headers,
            body,
            output: OutputPolicy::of(args),
            follow_redirects: args.location,
            insecure_tls: args.insecure_tls,
            compressed: args.compressed,
            connect_timeout: args.connect_timeout.map(Duration::from_secs_f64),
            max_time: args.max_time.map(Duration::from_secs_f64),
            retry: RetryPolicy {
                retries,
                delay: Duration::from_secs_f64(args.retry_delay.unwrap_or(1.0)),
                max_time: Duration::from_secs_f64(args.retry_max_time),
                connrefused: args.retry_connrefused,
            },
            warnings,
            injection,
        })
    }
}

impl OutputPolicy {
    fn of(args: &CurlArgs) -> OutputPolicy {
        OutputPolicy {
            include: args.include || args.head,
            head: args.head,
            file: args.output.as_ref().map(PathBuf::from),
            fail: args.fail,
            silent: args.silent,
            show_error: args.show_error,
            verbose: args.verbose,
            write_out: args.write_out.clone(),
        }
    }
}

/// One request has one body: `-T`, the `-d` family, `--data-urlencode`
/// and `-F` are refused together, and `-G` (data into the query) with `-F`.
fn refuse_conflicting_bodies(args: &CurlArgs) -> Result<(), PlanError> {
    let has_data = !args.data.is_empty();
    let has_urlencode = args.data.iter().any(|d| matches!(d, DataArg::UrlEncode(_)));
    let has_plain_data = args
        .data
        .iter()
        .any(|d| !matches!(d, DataArg::UrlEncode(_)));
    let has_form = !args.form.is_empty();
    if args.upload_file.is_some() && (has_data || has_form) {
        return Err(PlanError::usage(
            "cannot combine -T/--upload-file with -d / --data-raw / --data-binary / --data-urlencode / -F",
        ));
    }
    if has_urlencode && (has_plain_data || has_form) {
        return Err(PlanError::usage(
            "cannot combine --data-urlencode with -d / --data-raw / --data-binary / -F (use repeated --data-urlencode for multiple pairs)",
        ));
    }
    if args.get && has_form {
        return Err(PlanError::usage(
            "cannot combine -G/--get with -F/--form (multipart)",
        ));
    }
    Ok(())
}

/// The body, or under `-G` the data that goes into the query instead.
fn body_of(args: &CurlArgs) -> (BodyPlan, Vec<DataPiece>) {
    let pieces: Vec<DataPiece> = args.data.iter().map(data_piece).collect();
    if let Some(upload) = &args.upload_file {
        (BodyPlan::Upload(content_of(upload)), Vec::new())
    } else if args.get {
        (BodyPlan::Empty, pieces)
    } else if !args.form.is_empty() {
        (
            BodyPlan::Form(args.form.iter().filter_map(|f| form_part(f)).collect()),
            Vec::new(),
        )
    } else if !args.data.is_empty() {
        (BodyPlan::Data(pieces), Vec::new())
    } else {
        (BodyPlan::Empty, Vec::new())
    }
}

/// curl's choice: `-I`, then `-X`, then the positional method, then what
/// the body implies (`-T` PUT, any other body POST), else GET.
fn method_of(args: &CurlArgs, positional_method: Option<String>, body: &BodyPlan) -> String {
    if args.head {
        "HEAD".to_string()
    } else if let Some(m) = &args.request {
        m.to_ascii_uppercase()
    } else if let Some(m) = positional_method {
        m
    } else if args.upload_file.is_some() {
        "PUT".to_string()
    } else if *body != BodyPlan::Empty {
        "POST".to_string()
    } else {
        "GET".to_string()
    }
}

/// Resolves the target against the instance (WHATWG rules), refuses a
/// foreign origin, and appends `-q` pairs.
fn build_url(instance: &Url, target: &str, query: &[String]) -> Result<Url, PlanError> {
    let url = instance.join(target).map_err(|e| PlanError {
        message: format!("invalid URL \"{target}\": {e}"),
        code: 2,
    })?;
    let expected = instance.origin();
    if url.origin() != expected {
        return Err(PlanError::usage(format!(
            "refusing to send bearer to foreign host.\n  Expected origin: {}\n  Got:             {}\n  Hint: use `curl` directly for non-Appstrate hosts.",
            expected.ascii_serialization(),
            url.origin().ascii_serialization()
        )));
    }
    let mut url = url;
    let pairs: Vec<String> = query
        .iter()
        .map(|q| match q.split_once('=') {
            Some((k, v)) => format!(
                "{}={}",
                crate::encode::form_component(k),
                crate::encode::form_component(v)
            ),
            None => format!("{}=", crate::encode::form_component(q)),
        })
        .collect();
    append_query(&mut url, &pairs.join("&"));
    Ok(url)
}

/// Appends already-encoded `a=b&c=d` to the URL's query, keeping what the
/// query already holds byte for byte (as curl does).
pub fn append_query(url: &mut Url, extra: &str) {
    if extra.is_empty() {
        return;
    }
    let query = match url.query() {
        Some(q) if !q.is_empty() => format!("{q}&{extra}"),
        _ => extra.to_string(),
    };
    url.set_query(Some(&query));
}

/// `-b` values that look like a path (`/`, `./`, `../`, `~`) name a cookie jar.
fn is_cookie_jar_path(value: &str) -> bool {
    value.starts_with('/')
        || value.starts_with("./")
        || value.starts_with("../")
        || value.starts_with('~')
}

fn build_headers(args: &CurlArgs, inj: &Injection) -> Result<Vec<PlannedHeader>, PlanError> {
    let lit = |name: &str, value: String| PlannedHeader {
        name: name.to_string(),
        value: HeaderValue::Literal(value),
    };
    let mut headers = vec![
        lit(
            "User-Agent",
            args.user_agent
                .clone()
                .unwrap_or_else(|| inj.user_agent.clone()),
        ),
        // curl's default; `-H Accept:` removes it like any other header.
        lit("Accept", "*/*".into()),
        PlannedHeader {
            name: "Authorization".into(),
            value: HeaderValue::InjectedBearer,
        },
    ];
    if let Some(org) = &inj.org_id {
        headers.push(lit("X-Org-Id", org.clone()));
    }
    if let Some(app) = &inj.app_id {
        headers.push(lit("X-Application-Id", app.clone()));
    }
    if args.compressed {
        headers.push(lit("Accept-Encoding", "gzip, deflate, br".into()));
    }
    if let Some(range) = &args.range {
        headers.push(lit("Range", format!("bytes={range}")));
    }
    if let Some(referer) = &args.referer {
        headers.push(lit("Referer", referer.clone()));
    }
    if let Some(cookie) = &args.cookie {
        headers.push(lit("Cookie", cookie.clone()));
    }
    for raw in &args.headers {
        // curl: `Name: value` sets, `Name:` removes, `Name;` sends empty.
        let (name, value) = if let Some((name, value)) = raw.split_once(':') {
            let value = value.trim();
            (name.trim(), (!value.is_empty()).then(|| value.to_string()))
        } else if let Some(name) = raw.strip_suffix(';') {
            (name.trim(), Some(String::new()))
        } else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || value
                .as_deref()
                .is_some_and(|v| http::HeaderValue::from_str(v).is_err())
        {
            return Err(PlanError::usage(format!(
                "invalid header \"{name}\": names are letters, digits and -_ and values are printable text"
            )));
        }
        let existing = headers
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name));
        match (existing, value) {
            (Some(i), Some(v)) => {
                headers[i] = lit(name, v);
            }
            (Some(i), None) => {
                headers.remove(i);
            }
            (None, Some(v)) => headers.push(lit(name, v)),
            (None, None) => {}
        }
    }
    Ok(headers)
}

fn content_of(value: &str) -> Content {
    if value == "-" {
        Content::Stdin
    } else {
        Content::File(PathBuf::from(value))
    }
}

fn at_content(value: &str) -> Option<Content> {
    value.strip_prefix('@').map(content_of)
}

fn data_piece(arg: &DataArg) -> DataPiece {
    match arg {
        DataArg::Data(v) => DataPiece::Verbatim(
            at_content(v)
                .unwrap_or_else(|| Content::Text(v.strip_suffix('\n').unwrap_or(v).to_string())),
        ),
        DataArg::Raw(v) => DataPiece::Verbatim(Content::Text(v.clone())),
        DataArg::Binary(v) => {
            DataPiece::Verbatim(at_content(v).unwrap_or_else(|| Content::Text(v.clone())))
        }
        DataArg::UrlEncode(v) => urlencode_piece(v),
    }
}

/// The five curl forms: `content`, `=content`, `name=content`, `@file`,
/// `name@file`; the separator is the first `=` or `@`.
fn urlencode_piece(v: &str) -> DataPiece {
    match v.find(['=', '@']) {
        Some(i) if v.as_bytes()[i] == b'=' => DataPiece::Encoded {
            name: (i > 0).then(|| v[..i].to_string()),
            content: Content::Text(v[i + 1..].to_string()),
        },
        Some(i) => DataPiece::Encoded {
            name: (i > 0).then(|| v[..i].to_string()),
            content: content_of(&v[i + 1..]),
        },
        None => DataPiece::Encoded {
            name: None,
            content: Content::Text(v.to_string()),
        },
    }
}

/// `name=value`, `name=@file;type=…;filename=…`, `name=<file`.
fn form_part(raw: &str) -> Option<FormPart> {
    let (name, value) = raw.split_once('=')?;
    let value = if let Some(spec) = value.strip_prefix('@') {
        let mut params = spec.split(';');
        let path = params.next().unwrap_or_default().to_string();
        let mut content_type = None;
        let mut filename = path.rsplit('/').next().unwrap_or_default().to_string();
        for param in params {
            if let Some(t) = param.strip_prefix("type=") {
                content_type = Some(t.to_string());
            } else if let Some(f) = param.strip_prefix("filename=") {
                filename = f.trim_matches('"').to_string();
            }
        }
        FormValue::File {
            path: PathBuf::from(path),
            filename,
            content_type,
        }
    } else if let Some(path) = value.strip_prefix('<') {
        FormValue::TextFromFile(PathBuf::from(path))
    } else {
        FormValue::Text(value.to_string())
    };
    Some(FormPart {
        name: name.to_string(),
        value,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::args::parse;

    fn inj() -> Injection {
        Injection {
            instance: Url::parse("https://app.example.com").unwrap_or_else(|e| panic!("{e}")),
            profile: "default".into(),
            org_id: Some("org_42".into()),
            app_id: None,
            user_agent: "appstrate-cli/0.1.0".into(),
        }
    }

    fn plan(argv: &[&str]) -> Result<RequestPlan, PlanError> {
        let args = parse(argv.iter().copied()).unwrap_or_else(|e| panic!("{e}"));
        RequestPlan::resolve(&args, inj())
    }

    fn ok(argv: &[&str]) -> RequestPlan {
        plan(argv).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn method_rules() {
        assert_eq!(ok(&["/p"]).method, "GET");
        assert_eq!(ok(&["/p", "-d", "x"]).method, "POST");
        assert_eq!(ok(&["/p", "-T", "f"]).method, "PUT");
        assert_eq!(ok(&["put", "/p"]).method, "PUT");
        assert_eq!(ok(&["PUT", "/p", "-X", "patch"]).method, "PATCH");
        let head = ok(&["-I", "/p", "-d", "x"]);
        assert_eq!(head.method, "HEAD");
        assert_eq!(head.body, BodyPlan::Empty);
        let g = ok(&["-G", "-X", "POST", "/p", "-d", "a=1"]);
        assert_eq!((g.method.as_str(), &g.body), ("POST", &BodyPlan::Empty));
        assert_eq!(plan(&["FETCH", "/p"]).map(|_| ()).unwrap_err().code, 1);
    }

    #[test]
    fn usage_errors_exit_2() {
        for argv in [
            &["/p", "-T", "f", "-d", "x"][..],
            &["/p", "-T", "f", "-F", "a=b"],
            &["/p", "--data-urlencode", "a=b", "-d", "x"],
            &["/p", "-G", "-F", "a=b"],
            &["https://evil.example.com/p"],
            &["http://app.example.com/p"],
            &["https://app.example.com:444/p"],
            &["//evil.example.com/p"],
            &["/p", "-b", "./cookies.txt"],
            &["/p", "-b", "~/c"],
        ] {
            let err = plan(argv).map(|_| ()).unwrap_err();
            assert_eq!(err.code, 2, "{argv:?}: {err}");
        }
        let err = plan(&["https://evil.example.com/p"])
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            err.message,
            "refusing to send bearer to foreign host.\n  Expected origin: https://app.example.com\n  Got:             https://evil.example.com\n  Hint: use `curl` directly for non-Appstrate hosts."
        );
    }

    #[test]
    fn headers_order_and_overrides() {
        let p = ok(&[
            "/p",
            "-A",
            "ua",
            "-H",
            "x-org-id: mine",
            "-H",
            "X-Extra: 1",
            "-H",
            "Referer:",
            "-e",
            "https://r",
            "-H",
            "X-Empty;",
            "-H",
            "malformed",
        ]);
        let names: Vec<(&str, String)> = p
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.as_str(),
                    match &h.value {
                        HeaderValue::Literal(v) => v.clone(),
                        HeaderValue::InjectedBearer => "<bearer>".into(),
                    },
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("User-Agent", "ua".to_string()),
                ("Accept", "*/*".to_string()),
                ("Authorization", "<bearer>".to_string()),
                ("x-org-id", "mine".to_string()),
                ("X-Extra", "1".to_string()),
                ("X-Empty", String::new()),
            ]
        );
    }

    #[test]
    fn query_pairs_are_form_encoded_and_existing_query_kept() {
        let p = ok(&[
            "/p?x=%20&flag",
            "-q",
            "a=1",
            "-q",
            "b=two words",
            "-q",
            "bare",
        ]);
        assert_eq!(
            p.url.as_str(),
            "https://app.example.com/p?x=%20&flag&a=1&b=two+words&bare="
        );
    }

    #[test]
    fn data_forms() {
        let p = ok(&[
            "/p",
            "-d",
            "hello\n",
            "--data-raw",
            "@lit\n",
            "--data-binary",
            "@f",
        ]);
        assert_eq!(
            p.body,
            BodyPlan::Data(vec![
                DataPiece::Verbatim(Content::Text("hello".into())),
                DataPiece::Verbatim(Content::Text("@lit\n".into())),
                DataPiece::Verbatim(Content::File("f".into())),
            ])
        );
        let u = ok(&[
            "/p",
            "--data-urlencode",
            "plain",
            "--data-urlencode",
            "=eq",
            "--data-urlencode",
            "n=v",
            "--data-urlencode",
            "@file",
            "--data-urlencode",
            "n@-",
        ]);
        let BodyPlan::Data(pieces) = u.body else {
            panic!("expected data body")
        };
        assert_eq!(
            pieces,
            vec![
                DataPiece::Encoded {
                    name: None,
                    content: Content::Text("plain".into())
                },
                DataPiece::Encoded {
                    name: None,
                    content: Content::Text("eq".into())
                },
                DataPiece::Encoded {
                    name: Some("n".into()),
                    content: Content::Text("v".into())
                },
                DataPiece::Encoded {
                    name: None,
                    content: Content::File("file".into())
                },
                DataPiece::Encoded {
                    name: Some("n".into()),
                    content: Content::Stdin
                },
            ]
        );
    }

    #[test]
    fn stdin_bodies_disable_retry() {
        let p = ok(&["/p", "--retry", "3", "-d", "@-"]);
        assert_eq!(p.retry.retries, 0);
        assert_eq!(p.warnings.len(), 1);
        let p = ok(&["/p", "--retry", "3", "-T", "-"]);
        assert_eq!(p.retry.retries, 0);
        let p = ok(&["/p", "--retry", "3", "-d", "@file"]);
        assert_eq!(p.retry.retries, 3);
    }

    #[test]
    fn form_parts() {
        let p = ok(&[
            "/p",
            "-F",
            "a=b",
            "-F",
            "f=@dir/x.zip;type=application/zip",
            "-F",
            "g=@y;filename=z.bin",
            "-F",
            "noeq",
        ]);
        assert_eq!(
            p.body,
            BodyPlan::Form(vec![
                FormPart {
                    name: "a".into(),
                    value: FormValue::Text("b".into())
                },
                FormPart {
                    name: "f".into(),
                    value: FormValue::File {
                        path: "dir/x.zip".into(),
                        filename: "x.zip".into(),
                        content_type: Some("application/zip".into())
                    }
                },
                FormPart {
                    name: "g".into(),
                    value: FormValue::File {
                        path: "y".into(),
                        filename: "z.bin".into(),
                        content_type: None
                    }
                },
            ])
        );
    }
}
