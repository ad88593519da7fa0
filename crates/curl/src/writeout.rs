//! `-w/--write-out`: curl's format string over what the transfer measured.

use std::time::{Duration, Instant};

use appstrate_jsjson::string_literal;
use reqwest::Version;

/// What a transfer measured, for `-w`.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub started: Instant,
    pub http_code: u16,
    pub version: Option<Version>,
    pub size_download: u64,
    pub size_upload: u64,
    pub size_header: u64,
    pub first_byte: Option<Duration>,
    pub url_effective: String,
    pub num_redirects: u32,
    pub method: String,
    pub scheme: String,
    /// Final response headers, lower-case names, wire order.
    pub headers: Vec<(String, String)>,
    /// `Location` of a redirect that was not followed.
    pub redirect_url: Option<String>,
    pub errormsg: String,
}

impl Metrics {
    pub fn new(started: Instant, url: &str, method: &str) -> Self {
        Metrics {
            started,
            http_code: 0,
            version: None,
            size_download: 0,
            size_upload: 0,
            size_header: 0,
            first_byte: None,
            url_effective: url.to_string(),
            num_redirects: 0,
            method: method.to_string(),
            scheme: url
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase(),
            headers: Vec::new(),
            redirect_url: None,
            errormsg: String::new(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn version_label(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

fn secs(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

/// curl's `%{header_json}`: lower-case names, each with the array of its
/// values, one name per line.
pub fn header_json(headers: &[(String, String)]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (n, _) in headers {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    let entries: Vec<String> = names
        .iter()
        .map(|name| {
            let values: Vec<String> = headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| string_literal(v))
                .collect();
            format!("{}:[{}]", string_literal(name), values.join(","))
        })
        .collect();
    format!("{{{}\n}}", entries.join(",\n"))
}

fn variable(name: &str, m: &Metrics, exit_code: u8, now: Instant) -> Option<String> {
    let total = now.duration_since(m.started);
    Some(match name {
        "http_code" | "response_code" => m.http_code.to_string(),
        "http_version" => m.version.map(version_label).unwrap_or("0").to_string(),
        "size_download" => m.size_download.to_string(),
        "size_upload" => m.size_upload.to_string(),
        "size_header" => m.size_header.to_string(),
        "time_total" => secs(total),
        "time_starttransfer" => secs(m.first_byte.unwrap_or_default()),
        "url_effective" => m.url_effective.clone(),
        "num_redirects" => m.num_redirects.to_string(),
        "header_json" => header_json(&m.headers),
        "exitcode" => exit_code.to_string(),
        "content_type" => m.header("content-type").unwrap_or_default().to_string(),
        "method" => m.method.clone(),
        "scheme" => m.scheme.clone(),
        "num_headers" => m.headers.len().to_string(),
        "redirect_url" => m.redirect_url.clone().unwrap_or_default(),
        "errormsg" => m.errormsg.clone(),
        "speed_download" | "speed_upload" => {
            let bytes = if name == "speed_download" {
                m.size_download
            } else {
                m.size_upload
            };
            let s = total.as_secs_f64();
            if s > 0.0 {
                format!("{}", (bytes as f64 / s) as u64)
            } else {
                "0".to_string()
            }
        }
        _ => return None,
    })
}

/// Expands `\n \r \t \\`, `%%`, then `%{var}`; unknown variables stay verbatim.
pub fn render(format: &str, m: &Metrics, exit_code: u8) -> String {
    let now = Instant::now();
    let mut out = String::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if c == '\\' && rest.len() > 1 {
            let next = rest.as_bytes()[1];
            let rep = match next {
                b'n' => Some('\n'),
                b'r' => Some('\r'),
                b't' => Some('\t'),
                b'\\' => Some('\\'),
                _ => None,
            };
            if let Some(r) = rep {
                out.push(r);
                rest = &rest[2..];
                continue;
            }
        }
        if c == '%' {
            if rest.starts_with("%%") {
                out.push('%');
                rest = &rest[2..];
                continue;
            }
            if let Some(inner) = rest.strip_prefix("%{")
                && let Some(end) = inner.find('}')
            {
                let name = &inner[..end];
                match variable(name, m, exit_code, now) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[..end + 3]),
                }
                rest = &inner[end + 1..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_variables_and_escapes() {
        let mut m = Metrics::new(Instant::now(), "https://app.example.com/p", "GET");
        m.http_code = 200;
        m.size_download = 4;
        m.headers = vec![
            ("content-type".into(), "text/plain".into()),
            ("x-a".into(), "1".into()),
            ("x-a".into(), "2".into()),
        ];
        assert_eq!(render("%{http_code}\\n", &m, 0), "200\n");
        assert_eq!(
            render(
                "size=%{size_download} url=%{url_effective} %{bogus} 100%% [%{exitcode}]",
                &m,
                22
            ),
            "size=4 url=https://app.example.com/p %{bogus} 100% [22]"
        );
        assert_eq!(
            render("%{header_json}", &m, 0),
            "{\"content-type\":[\"text/plain\"],\n\"x-a\":[\"1\",\"2\"]\n}"
        );
        let t: f64 = render("%{time_total}", &m, 0).parse().unwrap_or(-1.0);
        assert!(t >= 0.0);
    }

    #[test]
    fn header_json_quotes_like_curl() {
        // curl's jsonquoted: two-letter escapes including \b and \f, other
        // control characters as lower-case \u00xx.
        let headers = [("x-q".to_string(), "a\"b\\c\u{8}\u{c}\u{1}\té".to_string())];
        assert_eq!(
            header_json(&headers),
            "{\"x-q\":[\"a\\\"b\\\\c\\b\\f\\u0001\\té\"]\n}"
        );
    }
}
