//! The platform API outside `/api/auth`: profile, organizations,
//! applications, models, the OpenAPI document and org-admin CLI session
//! oversight. Every error is RFC 9457 problem+json (contract §2.2).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::DEFAULT_OPENAPI;
use super::state::{Caller, Problem, State, is_valid_slug};

/// A request as the handlers see it: fully read, nothing left to fail.
pub(crate) struct ParsedRequest {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    pub peer_ip: String,
    pub request_id: String,
}

impl ParsedRequest {
    /// A header value as text (`None` if absent or not visible ASCII).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// First value of a query parameter, percent-decoded.
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_deref()?.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn problem_response(problem: &Problem, request_id: &str) -> Response {
    let body = problem_json(problem, request_id);
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// The RFC 9457 body of a problem.
pub(crate) fn problem_json(problem: &Problem, request_id: &str) -> Value {
    let mut body = json!({
        "type": format!("https://docs.appstrate.dev/errors/{}", problem.code.replace('_', "-")),
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": format!("urn:appstrate:request:{request_id}"),
        "code": problem.code,
        "requestId": request_id,
    });
    if let (Some(param), Some(map)) = (problem.param, body.as_object_mut()) {
        map.insert("param".into(), json!(param));
    }
    if let (Some(errors), Some(map)) = (&problem.errors, body.as_object_mut()) {
        map.insert("errors".into(), errors.as_ref().clone());
    }
    body
}

/// The standard reason phrase, used as a problem `title` for injected faults.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

pub(crate) fn list(data: Vec<Value>) -> Value {
    json!({ "object": "list", "data": data, "hasMore": false })
}

/// Routes outside `/api/auth`.
pub(crate) fn handle(state: &mut State, req: &ParsedRequest) -> Response {
    match route(state, req) {
        Ok(response) => response,
        Err(problem) => problem_response(&problem, &req.request_id),
    }
}

fn route(state: &mut State, req: &ParsedRequest) -> Result<Response, Problem> {
    let segments: Vec<&str> = req.path.trim_end_matches('/').split('/').skip(1).collect();
    let method = req.method.as_str();
    match (method, segments.as_slice()) {
        // Public: no authentication needed.
        ("GET", ["api", "openapi.json"]) => Ok(openapi(state, req)),
        ("GET", ["api", "profile"]) => {
            let caller = authenticate(state, req)?;
            profile(state, &caller)
        }
        ("GET", ["api", "orgs"]) => {
            let caller = authenticate(state, req)?;
            Ok(json_response(
                StatusCode::OK,
                &list(state.orgs_of(&caller.user_id)),
            ))
        }
        ("POST", ["api", "orgs"]) => {
            let caller = authenticate(state, req)?;
            create_org(state, req, &caller)
        }
        ("GET", ["api", "orgs", org_id, "cli-sessions"]) => {
            let caller = authenticate(state, req)?;
            require_session_admin(state, org_id, &caller)?;
            Ok(json_response(
                StatusCode::OK,
                &list(state.org_sessions(org_id)),
            ))
        }
        ("DELETE", ["api", "orgs", org_id, "cli-sessions", family_id]) => {
            let caller = authenticate(state, req)?;
            require_session_admin(state, org_id, &caller)?;
            if !state.revoke_for_org_admin(org_id, family_id) {
                return Err(Problem::not_found("CLI session not found"));
            }
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            Ok(response)
        }
        ("GET", ["api", "applications"]) => {
            let caller = authenticate(state, req)?;
            let org_id = org_context(state, req, &caller)?;
            Ok(json_response(StatusCode::OK, &list(state.apps_of(&org_id))))
        }
        ("POST", ["api", "applications"]) => {
            let caller = authenticate(state, req)?;
            let org_id = org_context(state, req, &caller)?;
            create_app(state, req, &caller, &org_id)
        }
        ("GET", ["api", "models"]) => {
            let caller = authenticate(state, req)?;
            let org_id = org_context(state, req, &caller)?;
            let models = state.models.get(&org_id).cloned().unwrap_or_default();
            Ok(json_response(StatusCode::OK, &list(models)))
        }
        _ => {
            let known_path = matches!(
                segments.as_slice(),
                [
                    "api",
                    "openapi.json" | "profile" | "orgs" | "applications" | "models"
                ] | ["api", "orgs", _, "cli-sessions"]
                    | ["api", "orgs", _, "cli-sessions", _]
            );
            if known_path {
                Err(Problem::new(
                    405,
                    "method_not_allowed",
                    "Method Not Allowed",
                    format!("Method {method} is not allowed on {}", req.path),
                ))
            } else {
                Err(Problem::not_found(format!(
                    "No route for {method} {}",
                    req.path
                )))
            }
        }
    }
}

pub(crate) fn authenticate(state: &State, req: &ParsedRequest) -> Result<Caller, Problem> {
    state.authenticate(req.header("authorization"))
}

/// `requireOrgContext`: `X-Org-Id` present and the caller a member; an API
/// key pins its own organization instead.
pub(crate) fn org_context(
    state: &State,
    req: &ParsedRequest,
    caller: &Caller,
) -> Result<String, Problem> {
    if let Some(key) = &caller.api_key {
        return super::api_keys::pinned_org(key, req.header("x-org-id"));
    }
    let org_id = req
        .header("x-org-id")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            let mut problem = Problem::invalid_request("X-Org-Id header is required");
            problem.param = Some("X-Org-Id");
            problem
        })?;
    if state.role_in(org_id, &caller.user_id).is_none() {
        return Err(Problem::forbidden(
            "You are not a member of this organization",
        ));
    }
    Ok(org_id.to_owned())
}

/// `cli-sessions:read|delete`: owners and admins only.
fn require_session_admin(state: &State, org_id: &str, caller: &Caller) -> Result<(), Problem> {
    match state.role_in(org_id, &caller.user_id) {
        None => Err(Problem::forbidden(
            "You are not a member of this organization",
        )),
        Some(role) if role.is_admin() => Ok(()),
        Some(_) => Err(Problem::forbidden("Insufficient permissions")),
    }
}

fn profile(state: &State, caller: &Caller) -> Result<Response, Problem> {
    let user = state
        .user(&caller.user_id)
        .ok_or_else(|| Problem::not_found("Profile not found"))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "id": user.id,
            "displayName": user.display_name,
            "language": user.language,
            "email": user.email,
            "name": user.name,
        }),
    ))
}

/// A JSON object body, or the problem the platform's `readJsonBody` raises.
pub(crate) fn json_object(req: &ParsedRequest) -> Result<serde_json::Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Problem::validation_failed("body", "Expected object")),
        Err(_) => Err(Problem::invalid_request("Invalid JSON body")),
    }
}

fn create_org(
    state: &mut State,
    req: &ParsedRequest,
    caller: &Caller,
) -> Result<Response, Problem> {
    let body = json_object(req)?;
    let name = match body.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => return Err(Problem::validation_failed("name", "Name is required")),
    };
    let slug = match body.get("slug") {
        None | Some(Value::Null) => None,
        Some(Value::String(slug)) if is_valid_slug(slug) => Some(slug.clone()),
        Some(_) => {
            return Err(Problem::validation_failed(
                "slug",
                "Invalid slug (kebab-case required)",
            ));
        }
    };
    let created = state.create_org(&caller.user_id, &name, slug.as_deref())?;
    Ok(json_response(StatusCode::CREATED, &created))
}

fn create_app(
    state: &mut State,
    req: &ParsedRequest,
    caller: &Caller,
    org_id: &str,
) -> Result<Response, Problem> {
    let can_write = state
        .role_in(org_id, &caller.user_id)
        .is_some_and(|role| role.is_admin());
    if !can_write {
        return Err(Problem::forbidden("Insufficient permissions"));
    }
    let body = json_object(req)?;
    let name = match body.get("name") {
        Some(Value::String(name)) if name.is_empty() => {
            return Err(Problem::validation_failed("name", "name is required"));
        }
        Some(Value::String(name)) if name.chars().count() > 100 => {
            return Err(Problem::validation_failed(
                "name",
                "name must be 100 characters or less",
            ));
        }
        Some(Value::String(name)) => name.clone(),
        _ => return Err(Problem::validation_failed("name", "name is required")),
    };
    let app_id = state.insert_app(org_id, &name, false, Some(caller.user_id.clone()));
    let app = state.app_json_by_id(&app_id).unwrap_or(Value::Null);
    Ok(json_response(StatusCode::CREATED, &app))
}

/// The strong validator the platform computes: first 32 hex of sha256(body).
pub(crate) fn etag_of(body: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(body));
    format!("\"{}\"", &digest[..32])
}

fn openapi(state: &State, req: &ParsedRequest) -> Response {
    let body = state.openapi.as_deref().unwrap_or(DEFAULT_OPENAPI);
    let etag = etag_of(body);
    let not_modified = req.header("if-none-match").is_some_and(|candidates| {
        candidates.split(',').map(str::trim).any(|candidate| {
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
        })
    });
    let mut response = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(body.to_vec()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        r
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0, must-revalidate"),
    );
    response
}
