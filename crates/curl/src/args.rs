//! argv → [`CurlArgs`]: the raw flags as curl spells them.
//!
//! Parsing is hand-written because curl's grammar is not clap's: short flags
//! cluster (`-sSfL`), a value may stick to its flag (`-XPOST`, `-d@file`),
//! long flags take `--name value` or `--name=value`, and the order of the data
//! flags matters (`-d a -d b` sends `a&b`). Nothing here touches the network or
//! the file system.

use std::fmt;

/// One data flag, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataArg {
    /// `-d/--data/--data-ascii`: literal (one trailing newline stripped), `@file`, `@-`.
    Data(String),
    /// `--data-raw`: literal, no `@` handling.
    Raw(String),
    /// `--data-binary`: literal (verbatim), `@file`, `@-`.
    Binary(String),
    /// `--data-urlencode`: the five curl forms.
    UrlEncode(String),
}

/// `-f` or `--fail-with-body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    #[default]
    Off,
    /// `-f/--fail`: the body of an HTTP error is not output.
    Fail,
    /// `--fail-with-body`: the body is output, the exit code still says failure.
    WithBody,
}

/// Flags of `appstrate api` that curl does not have: how the binary reads
/// the reply (docs/api-command.md#pages-and-jq). The engine only parses them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplyFlags {
    /// `--paginate`: follow `startingAfter=<last id>` while `hasMore`.
    pub paginate: bool,
    /// `--max-pages <n>`: stop paginating after `n` pages.
    pub max_pages: Option<u32>,
    /// `--jq <expr>`: filter the JSON reply.
    pub jq: Option<String>,
}

impl ReplyFlags {
    /// Whether any of them was given (the reply is then read, not streamed as is).
    pub fn any(&self) -> bool {
        self.paginate || self.max_pages.is_some() || self.jq.is_some()
    }
}

/// The flags of `appstrate api`, as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurlArgs {
    pub positionals: Vec<String>,
    pub request: Option<String>,
    pub headers: Vec<String>,
    pub data: Vec<DataArg>,
    pub form: Vec<String>,
    pub get: bool,
    pub query: Vec<String>,
    pub upload_file: Option<String>,
    pub include: bool,
    pub head: bool,
    pub location: bool,
    pub insecure_tls: bool,
    pub output: Option<String>,
    pub silent: bool,
    pub show_error: bool,
    pub fail: FailMode,
    pub verbose: bool,
    pub write_out: Option<String>,
    pub connect_timeout: Option<f64>,
    pub max_time: Option<f64>,
    pub retry: u32,
    pub retry_delay: Option<f64>,
    pub retry_max_time: f64,
    pub retry_connrefused: bool,
    pub compressed: bool,
    pub range: Option<String>,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    pub cookie: Option<String>,
    pub no_buffer: bool,
    pub help: bool,
    /// Global `-p/--profile` found among the arguments (docs/api-command.md#arguments).
    pub profile: Option<String>,
    /// Global `--insecure` found among the arguments: allow http:// instances.
    pub global_insecure: bool,
    /// `--paginate`, `--max-pages`, `--jq`: ours, not curl's.
    pub reply: ReplyFlags,
}

impl CurlArgs {
    /// Error lines are shown unless `-s` without `-S`.
    pub fn shows_errors(&self) -> bool {
        !self.silent || self.show_error
    }
}

/// A command-line error, printed as `error: …` and exiting 1 (the
/// original's commander errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError(pub String);

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.0)
    }
}

impl std::error::Error for ArgsError {}

#[derive(Clone, Copy)]
enum Flag {
    Header,
    Data,
    DataRaw,
    DataBinary,
    DataUrlEncode,
    Form,
    Get,
    Query,
    Request,
    Head,
    Include,
    Output,
    Silent,
    ShowError,
    Fail,
    FailWithBody,
    Verbose,
    WriteOut,
    ConnectTimeout,
    MaxTime,
    Retry,
    RetryDelay,
    RetryMaxTime,
    RetryConnrefused,
    Compressed,
    Range,
    UserAgent,
    Referer,
    Cookie,
    Location,
    InsecureTls,
    UploadFile,
    NoBuffer,
    Help,
    Profile,
    GlobalInsecure,
    Paginate,
    MaxPages,
    Jq,
}

impl Flag {
    fn takes_value(self) -> bool {
        use Flag::*;
        matches!(
            self,
            Header
                | Data
                | DataRaw
                | DataBinary
                | DataUrlEncode
                | Form
                | Query
                | Request
                | Output
                | WriteOut
                | ConnectTimeout
                | MaxTime
                | Retry
                | RetryDelay
                | RetryMaxTime
                | Range
                | UserAgent
                | Referer
                | Cookie
                | UploadFile
                | Profile
                | MaxPages
                | Jq
        )
    }

    /// The spelling used in error messages, commander style.
    fn spelling(self) -> &'static str {
        use Flag::*;
        match self {
            Retry => "--retry <n>",
            RetryDelay => "--retry-delay <seconds>",
            RetryMaxTime => "--retry-max-time <seconds>",
            ConnectTimeout => "--connect-timeout <seconds>",
            MaxTime => "-m, --max-time <seconds>",
            MaxPages => "--max-pages <n>",
            _ => "",
        }
    }
}

fn short_flag(c: char) -> Option<Flag> {
    use Flag::*;
    Some(match c {
        'H' => Header,
        'd' => Data,
        'F' => Form,
        'G' => Get,
        'q' => Query,
        'X' => Request,
        'I' => Head,
        'i' => Include,
        'o' => Output,
        's' => Silent,
        'S' => ShowError,
        'f' => Fail,
        'v' => Verbose,
        'w' => WriteOut,
        'm' => MaxTime,
        'r' => Range,
        'A' => UserAgent,
        'e' => Referer,
        'b' => Cookie,
        'L' => Location,
        'k' => InsecureTls,
        'T' => UploadFile,
        'N' => NoBuffer,
        'h' => Help,
        'p' => Profile,
        _ => return None,
    })
}

fn long_flag(name: &str) -> Option<Flag> {
    use Flag::*;
    Some(match name {
        "header" => Header,
        "data" | "data-ascii" => Data,
        "data-raw" => DataRaw,
        "data-binary" => DataBinary,
        "data-urlencode" => DataUrlEncode,
        "form" => Form,
        "get" => Get,
        "query" => Query,
        "request" => Request,
        "head" => Head,
        "include" => Include,
        "output" => Output,
        "silent" => Silent,
        "show-error" => ShowError,
        "fail" => Fail,
        "fail-with-body" => FailWithBody,
        "verbose" => Verbose,
        "write-out" => WriteOut,
        "connect-timeout" => ConnectTimeout,
        "max-time" => MaxTime,
        "retry" => Retry,
        "retry-delay" => RetryDelay,
        "retry-max-time" => RetryMaxTime,
        "retry-connrefused" => RetryConnrefused,
        "compressed" => Compressed,
        "range" => Range,
        "user-agent" => UserAgent,
        "referer" => Referer,
        "cookie" => Cookie,
        "location" => Location,
        "upload-file" => UploadFile,
        "no-buffer" => NoBuffer,
        "help" => Help,
        "profile" => Profile,
        // The long form is the global http:// opt-in (docs/api-command.md#arguments); TLS
        // verification is skipped only by `-k`.
        "insecure" | "allow-http" => GlobalInsecure,
        "paginate" => Paginate,
        "max-pages" => MaxPages,
        "jq" => Jq,
        _ => return None,
    })
}

/// Parses the arguments that follow `api` (global flags may be among them).
pub fn parse<I, S>(argv: I) -> Result<CurlArgs, ArgsError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
    let mut args = CurlArgs::default();
    let mut i = 0;
    let mut only_positionals = false;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if only_positionals || arg == "-" || !arg.starts_with('-') {
            args.positionals.push(arg.clone());
            continue;
        }
        if arg == "--" {
            only_positionals = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let flag =
                long_flag(name).ok_or_else(|| ArgsError(format!("unknown option '--{name}'")))?;
            let value = if flag.takes_value() {
                match inline {
                    Some(v) => Some(v),
                    None => {
                        let v = argv.get(i).cloned().ok_or_else(|| {
                            ArgsError(format!("option '--{name}' argument missing"))
                        })?;
                        i += 1;
                        Some(v)
                    }
                }
            } else if inline.is_some() {
                return Err(ArgsError(format!(
                    "option '--{name}' does not take a value"
                )));
            } else {
                None
            };
            apply(&mut args, flag, value)?;
            continue;
        }
        // A short-flag cluster: `-sSfL`, `-XPOST`, `-d@file`.
        let cluster: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < cluster.len() {
            let c = cluster[j];
            j += 1;
            let flag = short_flag(c).ok_or_else(|| ArgsError(format!("unknown option '-{c}'")))?;
            if flag.takes_value() {
                let rest: String = cluster[j..].iter().collect();
                let value = if !rest.is_empty() {
                    rest
                } else {
                    let v = argv
                        .get(i)
                        .cloned()
                        .ok_or_else(|| ArgsError(format!("option '-{c}' argument missing")))?;
                    i += 1;
                    v
                };
                apply(&mut args, flag, Some(value))?;
                break;
            }
            apply(&mut args, flag, None)?;
        }
    }
    if args.help {
        return Ok(args);
    }
    match args.positionals.len() {
        0 => return Err(ArgsError("missing required argument <path-or-url> (usage: appstrate api [METHOD] <path-or-url> [curl flags])".into())),
        1 | 2 => {}
        n => {
            return Err(ArgsError(format!(
                "too many arguments for 'api'. Expected 2 arguments but got {n}."
            )));
        }
    }
    Ok(args)
}

fn apply(args: &mut CurlArgs, flag: Flag, value: Option<String>) -> Result<(), ArgsError> {
    use Flag::*;
    let v = value.unwrap_or_default();
    match flag {
        Header => args.headers.push(v),
        Data => args.data.push(DataArg::Data(v)),
        DataRaw => args.data.push(DataArg::Raw(v)),
        DataBinary => args.data.push(DataArg::Binary(v)),
        DataUrlEncode => args.data.push(DataArg::UrlEncode(v)),
        Form => args.form.push(v),
        Get => args.get = true,
        Query => args.query.push(v),
        Request => args.request = Some(v),
        Head => args.head = true,
        Include => args.include = true,
        Output => args.output = Some(v),
        Silent => args.silent = true,
        ShowError => args.show_error = true,
        Fail => args.fail = FailMode::Fail,
        FailWithBody => args.fail = FailMode::WithBody,
        Verbose => args.verbose = true,
        WriteOut => args.write_out = Some(v),
        ConnectTimeout => args.connect_timeout = Some(positive(flag, &v, "a positive number")?),
        MaxTime => args.max_time = Some(positive(flag, &v, "a positive number of seconds")?),
        Retry => args.retry = non_negative_int(flag, &v)?,
        RetryDelay => args.retry_delay = Some(non_negative(flag, &v)?),
        RetryMaxTime => args.retry_max_time = non_negative(flag, &v)?,
        RetryConnrefused => args.retry_connrefused = true,
        Compressed => args.compressed = true,
        Range => args.range = Some(v),
        UserAgent => args.user_agent = Some(v),
        Referer => args.referer = Some(v),
        Cookie => args.cookie = Some(v),
        Location => args.location = true,
        InsecureTls => args.insecure_tls = true,
        UploadFile => args.upload_file = Some(v),
        NoBuffer => args.no_buffer = true,
        Help => args.help = true,
        Profile => args.profile = Some(v),
        GlobalInsecure => args.global_insecure = true,
        Paginate => args.reply.paginate = true,
        MaxPages => args.reply.max_pages = Some(positive_int(flag, &v)?),
        Jq => args.reply.jq = Some(v),
    }
    Ok(())
}

fn invalid(flag: Flag, value: &str, reason: String) -> ArgsError {
    ArgsError(format!(
        "option '{}' argument '{value}' is invalid. {reason}",
        flag.spelling()
    ))
}

fn parse_float(value: &str) -> Option<f64> {
    let v: f64 = value.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

fn positive(flag: Flag, value: &str, what: &str) -> Result<f64, ArgsError> {
    match parse_float(value) {
        Some(v) if v > 0.0 => Ok(v),
        _ => Err(invalid(
            flag,
            value,
            format!("expected {what}, got \"{value}\""),
        )),
    }
}

fn non_negative(flag: Flag, value: &str) -> Result<f64, ArgsError> {
    match parse_float(value) {
        Some(v) if v >= 0.0 => Ok(v),
        _ => Err(invalid(
            flag,
            value,
            format!("expected a non-negative number, got \"{value}\""),
        )),
    }
}

fn non_negative_int(flag: Flag, value: &str) -> Result<u32, ArgsError> {
    value.trim().parse::<u32>().map_err(|_| {
        invalid(
            flag,
            value,
            format!("expected a non-negative integer, got \"{value}\""),
        )
    })
}

fn positive_int(flag: Flag, value: &str) -> Result<u32, ArgsError> {
    match value.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid(
            flag,
            value,
            format!("expected a positive integer, got \"{value}\""),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> CurlArgs {
        match parse(args.iter().copied()) {
            Ok(a) => a,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    #[test]
    fn clusters_and_sticky_values() {
        let a = p(&["-sSfL", "-XPOST", "-d@body.json", "/x"]);
        assert!(a.silent && a.show_error && a.location);
        assert_eq!(a.fail, FailMode::Fail);
        assert_eq!(a.request.as_deref(), Some("POST"));
        assert_eq!(a.data, vec![DataArg::Data("@body.json".into())]);
        assert_eq!(a.positionals, vec!["/x"]);
    }

    #[test]
    fn value_flag_inside_cluster_takes_next_argument() {
        let a = p(&["-sX", "PUT", "/x"]);
        assert!(a.silent);
        assert_eq!(a.request.as_deref(), Some("PUT"));
    }

    #[test]
    fn data_order_is_preserved_across_kinds() {
        let a = p(&["-d", "a", "--data-raw=b", "--data-binary", "@f", "/x"]);
        assert_eq!(
            a.data,
            vec![
                DataArg::Data("a".into()),
                DataArg::Raw("b".into()),
                DataArg::Binary("@f".into())
            ]
        );
    }

    #[test]
    fn globals_are_recognised_among_the_flags() {
        let a = p(&["--profile", "dev", "-k", "--insecure", "/x", "-p", "prod"]);
        assert_eq!(a.profile.as_deref(), Some("prod"));
        assert!(a.insecure_tls && a.global_insecure);
    }

    #[test]
    fn unknown_and_invalid_flags_are_errors() {
        assert_eq!(
            parse(["-u", "me:pw", "/x"]).map(|_| ()),
            Err(ArgsError("unknown option '-u'".into()))
        );
        let err = parse(["--retry", "x", "/x"]).map(|_| ()).unwrap_err();
        assert!(err.0.contains("expected a non-negative integer, got \"x\""));
        let err = parse(["--max-time", "0", "/x"]).map(|_| ()).unwrap_err();
        assert!(err.0.contains("expected a positive number of seconds"));
        assert!(parse(["-s"]).is_err());
        assert!(parse(["GET", "/x", "extra"]).is_err());
    }

    #[test]
    fn reply_flags_are_parsed_apart_from_curl_flags() {
        let a = p(&["--paginate", "--max-pages=3", "--jq", ".data[].id", "/x"]);
        assert!(a.reply.paginate);
        assert_eq!(a.reply.max_pages, Some(3));
        assert_eq!(a.reply.jq.as_deref(), Some(".data[].id"));
        assert_eq!(a.positionals, vec!["/x"]);
        // A curl value that looks like one of ours stays a value.
        let a = p(&["-d", "--paginate", "/x"]);
        assert!(!a.reply.any());
        assert_eq!(a.data, vec![DataArg::Data("--paginate".into())]);
        let err = parse(["--max-pages", "0", "/x"]).map(|_| ()).unwrap_err();
        assert!(err.0.contains("expected a positive integer"), "{err}");
    }

    #[test]
    fn double_dash_ends_flags() {
        let a = p(&["--", "-weird"]);
        assert_eq!(a.positionals, vec!["-weird"]);
    }
}
