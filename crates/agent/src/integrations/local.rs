//! The local resolver: the credential comes from `--creds-file` and the
//! request goes straight to the target, through the guard: allowlisted
//! targets only, no private addresses (unless allowed), redirects followed
//! by hand and re-checked, the credential dropped on a hop to another
//! origin.

use base64::Engine;
use serde_json::{Map, Value};
use url::Url;

use super::guard::{allowed_by, clean_target, resolve_checked, same_origin};
use super::request::{ApiRequest, Body};
use super::{ApiCallTool, is_reserved};
use crate::creds::{CredsFile, IntegrationCreds};

const MAX_REDIRECTS: usize = 5;

pub async fn send(
    tool: &ApiCallTool,
    creds: &CredsFile,
    allow_private: bool,
    req: &ApiRequest,
) -> Result<reqwest::Response, String> {
    let entry = creds_entry(tool, creds)?;
    let mut substituted = false;
    let mut hop = first_hop(req, &entry.fields, &mut substituted)?;
    hop.credential = credential_header(&tool.auth, entry)?;
    let carries_credential = hop.credential.is_some() || substituted;
    let allowlist = allowlist(tool, carries_credential)?;
    check_allowed(&allowlist, &hop.url)?;

    for _ in 0..=MAX_REDIRECTS {
        let resp = hop.send(tool, allow_private).await?;
        let Some(location) = redirect_location(&resp) else {
            return Ok(resp);
        };
        hop.follow(&location, resp.status().as_u16(), &allowlist)?;
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// The creds file's entry for the tool's integration, which must hold the
/// auth the tool declares (when it names one).
fn creds_entry<'a>(
    tool: &ApiCallTool,
    creds: &'a CredsFile,
) -> Result<&'a IntegrationCreds, String> {
    let entry = creds
        .integrations
        .get(&tool.integration_id)
        .ok_or_else(|| {
            format!(
                "--creds-file has no entry for \"{}\"; add integrations.\"{}\" with its fields",
                tool.integration_id, tool.integration_id
            )
        })?;
    if let Some(key) = &entry.auth_key
        && key != &tool.auth_key
    {
        return Err(format!(
            "--creds-file holds the \"{key}\" auth of \"{}\", not \"{}\"",
            tool.integration_id, tool.auth_key
        ));
    }
    Ok(entry)
}

/// The first hop, credential not yet attached: target, headers and body
/// with `{{field}}` placeholders filled in (the body only when the request
/// asks for it), reserved headers dropped. `substituted` records whether
/// any field went in, since that request then carries the credential too.
fn first_hop(
    req: &ApiRequest,
    fields: &Map<String, Value>,
    substituted: &mut bool,
) -> Result<Hop, String> {
    let target = substitute(&req.target, fields, substituted)?;
    let url = clean_target(&target)?;
    let mut headers = Vec::new();
    for (name, value) in &req.headers {
        if !is_reserved(name) {
            headers.push((name.clone(), substitute(value, fields, substituted)?));
        }
    }
    let body = match &req.body {
        Some(Body::Text(t)) if req.substitute_body => {
            Some(substitute(t, fields, substituted)?.into_bytes())
        }
        Some(Body::Text(t)) => Some(t.clone().into_bytes()),
        Some(Body::Bytes(b)) => Some(b.clone()),
        None => None,
    };
    Ok(Hop {
        url,
        method: req.method.clone(),
        headers,
        credential: None,
        body,
    })
}

/// The request as it stands at one hop of a redirect chain.
struct Hop {
    url: Url,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    credential: Option<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Hop {
    /// Sends this hop to the address the guard checked (the client is
    /// pinned to it, so DNS cannot change its answer in between), without
    /// following redirects: [`Hop::follow`] checks each one first.
    async fn send(
        &self,
        tool: &ApiCallTool,
        allow_private: bool,
    ) -> Result<reqwest::Response, String> {
        let addr = resolve_checked(&self.url, allow_private).await?;
        let host = self.url.host_str().unwrap_or_default().to_string();
        let client = appstrate_tls::client_builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, addr)
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut request = client.request(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some((name, value)) = &self.credential {
            let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                format!(
                    "the credential for \"{}\" is not a valid header value",
                    tool.integration_id
                )
            })?;
            value.set_sensitive(true);
            request = request.header(name.as_str(), value);
        }
        if let Some(b) = &self.body {
            request = request.body(b.clone());
        }
        request.send().await.map_err(|e| {
            format!(
                "request to {} failed: {}",
                origin_text(&self.url),
                e.without_url()
            )
        })
    }

    /// Moves to the redirect's `location` if the allowlist admits it; the
    /// credential stays behind on another origin, and a 303 (or a 301/302
    /// after a POST) turns into a bodiless GET, as browsers do.
    fn follow(
        &mut self,
        location: &str,
        status: u16,
        allowlist: &Option<Vec<String>>,
    ) -> Result<(), String> {
        let next = self
            .url
            .join(location)
            .map_err(|_| "the target redirected to an invalid URL".to_string())
            .and_then(|u| clean_target(u.as_str()))?;
        check_allowed(allowlist, &next).map_err(|e| format!("redirect refused: {e}"))?;
        if !same_origin(&self.url, &next) {
            // The credential belongs to the origin it was meant for.
            self.credential = None;
        }
        if status == 303
            || ((status == 301 || status == 302) && self.method == reqwest::Method::POST)
        {
            self.method = reqwest::Method::GET;
            self.body = None;
        }
        self.url = next;
        Ok(())
    }
}

fn origin_text(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn redirect_location(resp: &reqwest::Response) -> Option<String> {
    if !matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The globs a target must match; `None` = any target.
fn allowlist(tool: &ApiCallTool, carries_credential: bool) -> Result<Option<Vec<String>>, String> {
    let globs: Option<Vec<String>> = tool
        .auth
        .get("authorized_uris")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty());
    let allow_all = tool.auth.get("allow_all_uris").and_then(Value::as_bool) == Some(true);
    match globs {
        Some(g) => Ok(Some(g)),
        // Any target only for a call that sends no credential.
        None if allow_all && !carries_credential => Ok(None),
        None => Err(format!(
            "RESOLVER_CREDENTIAL_EXFIL_BLOCKED: auth \"{}\" of \"{}\" declares no authorized_uris, so its credential is sent nowhere",
            tool.auth_key, tool.integration_id
        )),
    }
}

fn check_allowed(allowlist: &Option<Vec<String>>, url: &Url) -> Result<(), String> {
    match allowlist {
        Some(globs) if !allowed_by(globs, url) => Err(format!(
            "target {} is not in the authorized_uris ({})",
            origin_text(url),
            globs.join(", ")
        )),
        _ => Ok(()),
    }
}

fn field_text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `{{name}}` → the field's value; an unknown name is an error (named,
/// never valued).
fn substitute(text: &str, fields: &Map<String, Value>, used: &mut bool) -> Result<String, String> {
    replace_placeholders(text, "{{", "}}", |name| {
        *used = true;
        field_text(fields, name).ok_or_else(|| format!("unknown credential field {{{{{name}}}}}"))
    })
}

fn replace_placeholders(
    text: &str,
    open: &str,
    close: &str,
    mut value: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        let Some(end) = rest[start + open.len()..].find(close) else {
            break;
        };
        let name = rest[start + open.len()..start + open.len() + end].trim();
        out.push_str(&rest[..start]);
        out.push_str(&value(name)?);
        rest = &rest[start + open.len() + end + close.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The header carrying the credential: the creds file's `injection`, else
/// the manifest's `delivery.http`, else the auth type's default.
fn credential_header(
    auth: &Map<String, Value>,
    creds: &IntegrationCreds,
) -> Result<Option<(String, String)>, String> {
    let fields = &creds.fields;
    let missing = |f: &str| format!("--creds-file has no field \"{f}\" for this integration");
    let need = |f: &str| field_text(fields, f).ok_or_else(|| missing(f));
    let auth_type = auth.get("type").and_then(Value::as_str).unwrap_or("custom");
    let (default_name, default_prefix, default_field) = match auth_type {
        "oauth2" => ("Authorization", "Bearer ", "access_token"),
        "api_key" => ("X-Api-Key", "", "api_key"),
        _ => ("Authorization", "", "token"),
    };
    if creds.header_name.is_some() || creds.header_prefix.is_some() || creds.template.is_some() {
        let value = match &creds.template {
            Some(t) => {
                let t = replace_placeholders(t, "{$credential.", "}", &need)?;
                let mut ignored = false;
                substitute(&t, fields, &mut ignored)?
            }
            None => need(default_field)?,
        };
        let prefix = creds
            .header_prefix
            .as_deref()
            .unwrap_or(if creds.header_name.is_some() {
                ""
            } else {
                default_prefix
            });
        let name = creds
            .header_name
            .clone()
            .unwrap_or_else(|| default_name.to_string());
        return Ok(Some((name, format!("{prefix}{value}"))));
    }
    if let Some(http) = auth
        .get("delivery")
        .and_then(|d| d.get("http"))
        .and_then(Value::as_object)
        && http.get("in").and_then(Value::as_str).unwrap_or("header") == "header"
        && let Some(name) = http.get("name").and_then(Value::as_str)
    {
        let template = http.get("value").and_then(Value::as_str).unwrap_or("");
        let mut value = replace_placeholders(template, "{$credential.", "}", &need)?;
        if http.get("encoding").and_then(Value::as_str) == Some("base64") {
            value = base64::engine::general_purpose::STANDARD.encode(value);
        }
        let prefix = http.get("prefix").and_then(Value::as_str).unwrap_or("");
        return Ok(Some((name.to_string(), format!("{prefix}{value}"))));
    }
    Ok(match auth_type {
        "oauth2" => Some((
            "Authorization".into(),
            format!("Bearer {}", need("access_token")?),
        )),
        "api_key" => Some(("X-Api-Key".into(), need("api_key")?)),
        "basic" => {
            let pair = format!("{}:{}", need("username")?, need("password")?);
            Some((
                "Authorization".into(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            ))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds(fields: Value) -> IntegrationCreds {
        IntegrationCreds {
            fields: fields.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        }
    }

    fn auth(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn auth_types_have_default_headers() {
        let c = creds(
            json!({"access_token": "t0k", "api_key": "k3y", "username": "u", "password": "p"}),
        );
        let h = |t: &str| credential_header(&auth(json!({"type": t})), &c).expect("ok");
        assert_eq!(
            h("oauth2"),
            Some(("Authorization".into(), "Bearer t0k".into()))
        );
        assert_eq!(h("api_key"), Some(("X-Api-Key".into(), "k3y".into())));
        assert_eq!(
            h("basic"),
            Some(("Authorization".into(), "Basic dTpw".into()))
        );
        assert_eq!(h("custom"), None);
    }

    #[test]
    fn delivery_and_injection_override_the_default() {
        let c = creds(json!({"api_key": "k3y"}));
        let a = auth(
            json!({"type": "api_key", "delivery": {"http": {"in": "header", "name": "Authorization", "prefix": "Token ", "value": "{$credential.api_key}"}}}),
        );
        assert_eq!(
            credential_header(&a, &c).expect("ok"),
            Some(("Authorization".into(), "Token k3y".into()))
        );
        let mut c2 = c.clone();
        c2.header_name = Some("X-Key".into());
        c2.template = Some("v1:{{api_key}}".into());
        assert_eq!(
            credential_header(&a, &c2).expect("ok"),
            Some(("X-Key".into(), "v1:k3y".into()))
        );
        let err = credential_header(&auth(json!({"type": "oauth2"})), &c).expect_err("missing");
        assert!(
            err.contains("access_token") && !err.contains("k3y"),
            "{err}"
        );
    }

    #[test]
    fn placeholders_are_replaced_and_unknown_ones_named() {
        let f = json!({"org": "acme"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut used = false;
        assert_eq!(
            substitute("https://x/{{org}}/{{ org }}", &f, &mut used).expect("ok"),
            "https://x/acme/acme"
        );
        assert!(used);
        let mut used = false;
        assert_eq!(substitute("plain", &f, &mut used).expect("ok"), "plain");
        assert!(!used);
        assert!(
            substitute("{{nope}}", &f, &mut used)
                .expect_err("unknown")
                .contains("nope")
        );
    }
}
