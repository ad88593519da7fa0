//! Integration `{ns}__api_call` tools (docs/run.md "Integrations"): one
//! HTTP tool per auth an integration package of the bundle opts into
//! `_meta["dev.appstrate/api"].auths`. The credential is injected either
//! from the `--creds-file` on this machine (the local resolver) or by the
//! platform's credential proxy (the remote resolver); the model never sees
//! it, and it is never printed.

mod guard;
mod local;
mod naming;
mod remote;
mod reply;
mod request;

use std::sync::Arc;

use appstrate_afps::Bundle;
use appstrate_platform::access::PlatformAccess;
use serde_json::{Map, Value};

use crate::creds::CredsFile;
use crate::tools::{ToolContext, ToolOutcome};

pub use guard::{blocked_reason, glob_matches};
pub use naming::{namespace, tool_name};

/// Where credentials come from.
pub enum Resolver {
    /// `--integrations local`: the creds file; private and loopback targets
    /// only with `allow_private` (`APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE=1`).
    Local {
        creds: CredsFile,
        allow_private: bool,
    },
    /// `--integrations remote`: the platform's credential proxy.
    Remote {
        /// Behind a lock: a profile's session refreshes its token in place
        /// (and is not shareable across threads as it is).
        access: Arc<tokio::sync::Mutex<PlatformAccess>>,
        /// One random UUID v4 per process.
        session_id: String,
        /// The instance's id of the reported run, once registered: sent as
        /// `X-Run-Id` so the platform attributes the calls to the run.
        run_id: std::sync::OnceLock<String>,
    },
}

impl Resolver {
    pub fn remote(access: PlatformAccess) -> Resolver {
        Resolver::Remote {
            access: Arc::new(tokio::sync::Mutex::new(access)),
            session_id: crate::events::uuid_v4(),
            run_id: std::sync::OnceLock::new(),
        }
    }

    /// From now on the credential proxy's calls name `run_id` (the id the
    /// instance gave the reported run); the local resolver has no use for
    /// it. Only the first id counts: a run is registered once.
    pub fn attribute_to_run(&self, run_id: &str) {
        if let Resolver::Remote { run_id: slot, .. } = self {
            let _ = slot.set(run_id.to_string());
        }
    }
}

/// One `api_call` tool: an integration's auth and how to reach it.
pub struct ApiCallTool {
    pub name: String,
    /// `@scope/name` of the integration package.
    pub integration_id: String,
    pub auth_key: String,
    /// `auths[auth_key]` of the integration manifest.
    auth: Map<String, Value>,
    display_name: String,
    resolver: Arc<Resolver>,
}

/// The `api_call` tools of every integration package in the bundle, in
/// bundle order; an opted-in key missing from `auths` is skipped.
pub fn api_call_tools(bundle: &Bundle, resolver: &Arc<Resolver>) -> Vec<ApiCallTool> {
    let mut namespaces = naming::Namespaces::default();
    let mut tools = Vec::new();
    for package in &bundle.packages {
        let manifest = &package.manifest;
        if package.package_type() != Some("integration") {
            continue;
        }
        let Some(id) = manifest.get("name").and_then(Value::as_str) else {
            continue;
        };
        let auths = manifest.get("auths").and_then(Value::as_object);
        let opted = manifest
            .get("_meta")
            .and_then(|m| m.get("dev.appstrate/api"))
            .and_then(|m| m.get("auths"))
            .and_then(Value::as_object);
        let (Some(auths), Some(opted)) = (auths, opted) else {
            continue;
        };
        let keys: Vec<(&String, &Map<String, Value>)> = opted
            .keys()
            .filter_map(|k| auths.get(k).and_then(Value::as_object).map(|a| (k, a)))
            .collect();
        if keys.is_empty() {
            continue;
        }
        let Some(ns) = namespaces.allocate(id) else {
            continue;
        };
        let display_name = ["display_name", "displayName"]
            .iter()
            .find_map(|k| manifest.get(*k).and_then(Value::as_str))
            .unwrap_or(id)
            .to_string();
        for (key, auth) in &keys {
            tools.push(ApiCallTool {
                name: naming::tool_name(&ns, key, keys.len() > 1),
                integration_id: id.to_string(),
                auth_key: (*key).clone(),
                auth: (*auth).clone(),
                display_name: display_name.clone(),
                resolver: Arc::clone(resolver),
            });
        }
    }
    tools
}

/// True when some integration package of the bundle exposes an `api_call`
/// tool (so a remote resolver needs the platform).
pub fn has_api_calls(bundle: &Bundle) -> bool {
    let probe = Arc::new(Resolver::Local {
        creds: CredsFile::default(),
        allow_private: false,
    });
    !api_call_tools(bundle, &probe).is_empty()
}

impl ApiCallTool {
    pub fn description(&self) -> String {
        let allowed = self
            .auth
            .get("authorized_uris")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .map(|s| format!(" Allowed targets: {s}."))
            .unwrap_or_default();
        format!(
            "Call the {} API ({}, auth \"{}\") over HTTP. The connection's credential is injected for you: never ask for it or put it in the request. Use {{{{field}}}} placeholders to insert credential fields into the target, headers or (with substituteBody) the body.{allowed} Returns {{status, headers, body}}.",
            self.display_name, self.integration_id, self.auth_key
        )
    }

    pub fn schema(&self) -> Value {
        request::schema()
    }

    /// The arguments were checked against [`schema`](Self::schema).
    pub async fn call(&self, args: &Value, ctx: &ToolContext) -> ToolOutcome {
        let req = match request::ApiRequest::from_args(args, ctx) {
            Ok(r) => r,
            Err(e) => return ToolOutcome::error(e),
        };
        let response = match self.resolver.as_ref() {
            Resolver::Local {
                creds,
                allow_private,
            } => local::send(self, creds, *allow_private, &req).await,
            Resolver::Remote {
                access,
                session_id,
                run_id,
            } => {
                let access = access.lock().await;
                let ids = remote::CallIds {
                    session: session_id,
                    run: run_id.get().map(String::as_str),
                };
                remote::send(self, &access, ids, &req).await
            }
        };
        match response {
            Ok(resp) => reply::render(resp, &req.response)
                .await
                .unwrap_or_else(ToolOutcome::error),
            Err(e) => ToolOutcome::error(format!("{}: {e}", self.name)),
        }
    }
}

/// Headers the caller may not set: the resolvers own them.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "x-application-id",
    "x-org-id",
    "x-session-id",
    "x-integration-id",
    "x-target",
    "appstrate-user",
];

fn is_reserved(name: &str) -> bool {
    RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_ids_are_uuid_v4() {
        let id = crate::events::uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, crate::events::uuid_v4());
    }

    #[test]
    fn reserved_headers_are_recognised_in_any_case() {
        assert!(is_reserved("Authorization"));
        assert!(is_reserved("X-Target"));
        assert!(!is_reserved("Accept"));
    }

    #[test]
    fn schema_compiles() {
        let v = jsonschema::validator_for(&request::schema()).expect("compiles");
        assert!(v.is_valid(&json!({"method": "GET", "target": "https://a.b/"})));
        assert!(!v.is_valid(&json!({"method": "TRACE", "target": "https://a.b/"})));
        assert!(!v.is_valid(
            &json!({"method": "GET", "target": "https://a.b/", "headers": {"X": "a\r\nB: c"}})
        ));
        assert!(v.is_valid(
            &json!({"method": "POST", "target": "https://a.b/", "body": {"fromBytes": "aGk=", "encoding": "base64"}})
        ));
    }
}
