//! Dispatch of the agent and run routes (registry, run-config, runs,
//! reported runs, LLM and credential proxies), and what they share:
//! application context, permissions and `@scope/name` path segments.
//! Runs before the older routes; `None` hands the request on to them.

use axum::response::Response;

use super::Role;
use super::routes::{ParsedRequest, authenticate, org_context, problem_response};
use super::server::{Shared, lock};
use super::state::{Problem, State};
use super::{agents, credential_proxy, end_users, llm_proxy, reported_runs, run_config, runs};

/// Who calls, in which organization and application.
#[derive(Clone, Debug)]
pub(crate) struct AppScope {
    pub user_id: String,
    pub org_id: String,
    pub app_id: String,
    pub api_key_id: Option<String>,
}

/// The permissions these routes check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Perm {
    AgentsRead,
    AgentsWrite,
    AgentsRun,
    RunsCancel,
}

/// Viewers read; members and up also write, run and cancel. API keys the
/// tests mint carry every scope.
pub(crate) fn require_perm(state: &State, scope: &AppScope, perm: Perm) -> Result<(), Problem> {
    if scope.api_key_id.is_some() || perm == Perm::AgentsRead {
        return Ok(());
    }
    match state.role_in(&scope.org_id, &scope.user_id) {
        Some(Role::Viewer) | None => Err(Problem::forbidden("Insufficient permissions")),
        Some(_) => Ok(()),
    }
}

/// `requireAppContext`: the app pinned by an API key, else
/// `X-Application-Id`; it must belong to the organization.
pub(crate) fn app_scope(state: &State, req: &ParsedRequest) -> Result<AppScope, Problem> {
    let caller = authenticate(state, req)?;
    let org_id = org_context(state, req, &caller)?;
    let header = req
        .header("x-application-id")
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let pinned = caller.api_key.as_ref().map(|k| k.app_id.as_str());
    if let (Some(pinned), Some(header)) = (pinned, header)
        && pinned != header
    {
        return Err(Problem::forbidden(
            "X-Application-Id does not match authenticated application",
        ));
    }
    let Some(app_id) = pinned.or(header) else {
        let mut problem = Problem::invalid_request(
            "Application context required. Provide X-Application-Id header or use an API key.",
        );
        problem.param = Some("X-Application-Id");
        return Err(problem);
    };
    check_app_in_org(state, &org_id, app_id)?;
    Ok(AppScope {
        user_id: caller.user_id,
        org_id,
        api_key_id: caller.api_key.as_ref().map(|k| k.key_id.clone()),
        app_id: app_id.to_owned(),
    })
}

/// The scope of a route naming its application in the path
/// (`/api/applications/{app}/…`): an API key must be pinned to that app.
pub(crate) fn path_app_scope(
    state: &State,
    req: &ParsedRequest,
    app_id: &str,
) -> Result<AppScope, Problem> {
    let caller = authenticate(state, req)?;
    let org_id = org_context(state, req, &caller)?;
    if let Some(key) = &caller.api_key
        && key.app_id != app_id
    {
        return Err(Problem::forbidden(
            "API key is not authorized for this application",
        ));
    }
    check_app_in_org(state, &org_id, app_id)?;
    Ok(AppScope {
        user_id: caller.user_id,
        org_id,
        api_key_id: caller.api_key.as_ref().map(|k| k.key_id.clone()),
        app_id: app_id.to_owned(),
    })
}

fn check_app_in_org(state: &State, org_id: &str, app_id: &str) -> Result<(), Problem> {
    if state
        .apps
        .iter()
        .any(|a| a.id == app_id && a.org_id == org_id)
    {
        Ok(())
    } else {
        Err(Problem::not_found(format!(
            "Application '{app_id}' not found in this organization"
        )))
    }
}

fn is_slug(s: &str) -> bool {
    super::state::is_valid_slug(s)
}

/// The package id of `/:scope/:name` segments, spelled as the URL spells it.
/// The route accepts `@scope` and `%40scope`, but the id is looked up
/// verbatim, so a percent-encoded `@` never names a package (404).
pub(crate) fn scoped_id(scope: &str, name: &str) -> Option<String> {
    let bare = scope
        .strip_prefix('@')
        .or_else(|| scope.strip_prefix("%40"))?;
    (is_slug(bare) && is_slug(name)).then(|| format!("{scope}/{name}"))
}

/// Routes of this module; `None` for any other path.
pub(crate) async fn handle(shared: &Shared, req: &ParsedRequest) -> Option<Response> {
    let path = req.path.trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = req.method.as_str();

    // Routes that wait or talk to other servers hold no lock while doing so.
    match (method, segments.as_slice()) {
        ("POST", ["api", "llm-proxy", ..]) => {
            if let Some(response) = llm_proxy::handle(shared, req, &segments[2..]).await {
                return Some(response);
            }
        }
        // The proxied request's method is the upstream's (GET, POST, PUT,
        // PATCH, DELETE), as on the platform.
        ("GET" | "POST" | "PUT" | "PATCH" | "DELETE", ["api", "credential-proxy", "proxy"]) => {
            return Some(credential_proxy::handle(shared, req).await);
        }
        ("GET", ["api", "runs", run_id]) => {
            return Some(runs::get_run(shared, req, run_id).await);
        }
        _ => {}
    }

    let mut state = lock(shared);
    let outcome = route(&mut state, shared, req, method, &segments)?;
    Some(outcome.unwrap_or_else(|problem| problem_response(&problem, &req.request_id)))
}

/// The routes that take the state's lock: agents and packages first, then
/// runs (no path is in both tables). `None` hands the request on.
fn route(
    state: &mut State,
    shared: &Shared,
    req: &ParsedRequest,
    method: &str,
    segments: &[&str],
) -> Option<Result<Response, Problem>> {
    package_route(state, req, method, segments)
        .or_else(|| run_route(state, shared, req, method, segments))
}

/// The registry, install and run-config routes.
fn package_route(
    state: &mut State,
    req: &ParsedRequest,
    method: &str,
    segments: &[&str],
) -> Option<Result<Response, Problem>> {
    let app = |state: &State| app_scope(state, req);
    Some(match (method, segments) {
        ("GET", ["api", "agents"]) => app(state).map(|scope| agents::list_agents(state, &scope)),
        ("PUT", ["api", "models", "default"]) => llm_proxy::set_default(state, req),
        ("GET", ["api", "packages", "agents", s, n]) => {
            let id = scoped_id(s, n)?;
            app(state).and_then(|scope| agents::agent_detail(state, &scope, &id))
        }
        ("GET", ["api", "packages", "agents", s, n, "versions"]) => {
            let id = scoped_id(s, n)?;
            app(state).and_then(|scope| agents::agent_versions(state, &scope, &id))
        }
        ("GET", ["api", "agents", s, n, "bundle"]) => {
            let id = scoped_id(s, n)?;
            app(state).and_then(|scope| agents::bundle(state, req, &scope, &id))
        }
        ("POST", ["api", "packages", "import-bundle"]) => {
            app(state).and_then(|scope| agents::import_bundle(state, req, &scope))
        }
        ("POST", ["api", "applications", app_id, "packages"]) => path_app_scope(state, req, app_id)
            .and_then(|scope| agents::install_package(state, req, &scope, app_id)),
        (
            "GET",
            [
                "api",
                "applications",
                app_id,
                "packages",
                s,
                n,
                "run-config",
            ],
        ) => {
            let id = scoped_id(s, n)?;
            path_app_scope(state, req, app_id).and_then(|scope| run_config::get(state, &scope, &id))
        }
        ("PUT", ["api", "applications", app_id, "packages", s, n]) => {
            let id = scoped_id(s, n)?;
            path_app_scope(state, req, app_id)
                .and_then(|scope| run_config::put_install(state, req, &scope, &id))
        }
        (
            "PUT",
            [
                "api",
                "agents",
                s,
                n,
                setting @ ("model" | "proxy" | "input-settings"),
            ],
        ) => {
            let id = scoped_id(s, n)?;
            app(state).and_then(|scope| run_config::put_setting(state, req, &scope, &id, setting))
        }
        _ => return None,
    })
}

/// Triggering and reading runs, and the routes of runs reported from
/// elsewhere.
fn run_route(
    state: &mut State,
    shared: &Shared,
    req: &ParsedRequest,
    method: &str,
    segments: &[&str],
) -> Option<Result<Response, Problem>> {
    let app = |state: &State| app_scope(state, req);
    Some(match (method, segments) {
        ("POST", ["api", "agents", s, n, "run"]) => {
            let id = scoped_id(s, n)?;
            app(state).and_then(|scope| runs::trigger(state, shared, req, &scope, &id))
        }
        ("GET", ["api", "agents", s, n, "runs"]) => {
            let id = scoped_id(s, n)?;
            app(state).and_then(|scope| runs::list_agent_runs(state, req, &scope, &id))
        }
        ("GET", ["api", "end-users"]) => {
            app(state).and_then(|scope| end_users::list(state, req, &scope))
        }
        ("GET", ["api", "runs"]) => {
            app(state).and_then(|scope| runs::list_runs(state, req, &scope))
        }
        ("GET", ["api", "runs", run_id, "logs"]) => {
            app(state).and_then(|scope| runs::logs(state, req, &scope, run_id))
        }
        ("POST", ["api", "runs", run_id, "cancel"]) => {
            app(state).and_then(|scope| runs::cancel(state, &scope, run_id))
        }
        ("POST", ["api", "runs", "remote"]) => {
            app(state).and_then(|scope| reported_runs::register(state, req, &scope))
        }
        ("PATCH", ["api", "runs", run_id, "sink", "extend"]) => {
            app(state).and_then(|scope| reported_runs::extend(state, req, &scope, run_id))
        }
        ("POST", ["api", "runs", run_id, "events"]) => reported_runs::event(state, req, run_id),
        ("POST", ["api", "runs", run_id, "events", "finalize"]) => {
            reported_runs::finalize(state, req, run_id)
        }
        ("POST", ["api", "runs", run_id, "events", "heartbeat"]) => {
            reported_runs::heartbeat(state, req, run_id)
        }
        _ => return None,
    })
}
