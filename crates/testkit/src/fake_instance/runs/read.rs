//! Reading and cancelling runs: `GET /api/runs/{id}[?wait=]` (long poll),
//! `GET /api/runs/{id}/logs`, `POST /api/runs/{id}/cancel`, `GET /api/runs`,
//! `GET /api/agents/@s/n/runs`.

use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::super::platform::{AppScope, Perm, app_scope, require_perm};
use super::super::routes::{ParsedRequest, json_response, problem_response};
use super::super::server::{Shared, lock};
use super::super::state::{Problem, State};
use super::store::{LogRow, RunRecord, Terminal, level_rank};

/// `MAX_WAIT_SECONDS` of `GET /api/runs/{id}?wait=`.
const MAX_WAIT_SECONDS: u64 = 55;

/// `GET /api/runs/{id}[?wait=<seconds|true|false>]`: long-polls (no lock
/// held) until the run is terminal or the wait elapses.
pub(crate) async fn get_run(shared: &Shared, req: &ParsedRequest, run_id: &str) -> Response {
    let fail = |problem: Problem| problem_response(&problem, &req.request_id);
    let wait = match parse_wait(req.query_param("wait")) {
        Ok(wait) => wait,
        Err(problem) => return fail(problem),
    };
    let deadline = Instant::now() + wait;
    loop {
        {
            let state = lock(shared);
            let scope = match app_scope(&state, req) {
                Ok(scope) => scope,
                Err(problem) => return fail(problem),
            };
            let run = match state.runs.scoped(&scope, run_id) {
                Ok(run) => run,
                Err(problem) => return fail(problem),
            };
            if run.is_terminal() || Instant::now() >= deadline {
                return json_response(StatusCode::OK, &run.to_json(&state));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn parse_wait(raw: Option<String>) -> Result<Duration, Problem> {
    let secs = match raw.as_deref() {
        None => 0,
        Some("" | "true") => MAX_WAIT_SECONDS,
        Some("false") => 0,
        Some(n) => match n.parse::<u64>() {
            Ok(n) if n <= MAX_WAIT_SECONDS => n,
            _ => {
                let mut problem = Problem::invalid_request(format!(
                    "Invalid 'wait' value: expected true, false, or a non-negative integer number of seconds (max {MAX_WAIT_SECONDS})"
                ));
                problem.param = Some("wait");
                return Err(problem);
            }
        },
    };
    Ok(Duration::from_secs(secs))
}

/// `GET /api/runs/{id}/logs[?since=][&level=][&limit=]`.
pub(crate) fn logs(
    state: &State,
    req: &ParsedRequest,
    scope: &AppScope,
    run_id: &str,
) -> Result<Response, Problem> {
    state.runs.scoped(scope, run_id)?;
    let since = req.query_param("since").and_then(|s| s.parse::<u64>().ok());
    let min_level = req
        .query_param("level")
        .filter(|l| matches!(l.as_str(), "debug" | "info" | "warn" | "error"));
    let limit = req
        .query_param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l >= 1)
        .map_or(1000, |l| l.min(1000));
    let rows: Vec<&LogRow> = state
        .runs
        .logs
        .iter()
        .filter(|l| l.run_id == run_id && l.org_id == scope.org_id)
        .filter(|l| since.is_none_or(|s| l.id > s))
        .filter(|l| {
            min_level
                .as_deref()
                .is_none_or(|min| level_rank(&l.level) >= level_rank(min))
        })
        .take(limit + 1)
        .collect();
    let has_more = rows.len() > limit;
    let page: Vec<Value> = rows.iter().take(limit).map(|l| l.to_json()).collect();
    let mut response = json_response(
        StatusCode::OK,
        &json!({ "object": "list", "data": page, "hasMore": has_more }),
    );
    if has_more
        && let Some(last) = rows.get(limit.saturating_sub(1))
        && let Ok(value) = HeaderValue::from_str(&format!(
            "<{}/api/runs/{run_id}/logs?since={}>; rel=\"next\"",
            state.base_url, last.id
        ))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

/// `POST /api/runs/{id}/cancel`.
pub(crate) fn cancel(
    state: &mut State,
    scope: &AppScope,
    run_id: &str,
) -> Result<Response, Problem> {
    let status = state.runs.scoped(scope, run_id)?.status.clone();
    require_perm(state, scope, Perm::RunsCancel)?;
    if status != "pending" && status != "running" {
        return Err(Problem::new(
            409,
            "not_cancellable",
            "Conflict",
            "This run cannot be cancelled",
        ));
    }
    let now = state.next_timestamp();
    state.runs.close(
        run_id,
        Terminal {
            status: "cancelled".into(),
            error: Some("Cancelled by user".into()),
            ..Terminal::default()
        },
        now,
    );
    let run = state.runs.scoped(scope, run_id)?;
    Ok(json_response(StatusCode::OK, &run.to_json(state)))
}

fn page(req: &ParsedRequest, default_limit: usize) -> (usize, usize) {
    let limit = req
        .query_param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l >= 1)
        .map_or(default_limit, |l| l.min(100));
    let offset = req
        .query_param("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    (limit, offset)
}

fn run_list(state: &State, runs: Vec<&RunRecord>, limit: usize, offset: usize) -> Response {
    let total = runs.len();
    let data: Vec<Value> = runs
        .into_iter()
        .rev()
        .skip(offset)
        .take(limit)
        .map(|r| r.to_json(state))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "object": "list", "data": data, "hasMore": offset + limit < total, "total": total }),
    )
}

fn closed_set(
    req: &ParsedRequest,
    name: &'static str,
    allowed: &[&str],
) -> Result<Option<String>, Problem> {
    match req.query_param(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
        Some(_) => {
            let mut problem =
                Problem::invalid_request(format!("{name} must be one of: {}", allowed.join(", ")));
            problem.param = Some(name);
            Err(problem)
        }
    }
}

/// `GET /api/runs?limit&offset&status&kind&user=me`, newest first.
pub(crate) fn list_runs(
    state: &State,
    req: &ParsedRequest,
    scope: &AppScope,
) -> Result<Response, Problem> {
    let (limit, offset) = page(req, 20);
    let user = closed_set(req, "user", &["me"])?;
    let kind = closed_set(req, "kind", &["all", "package", "inline"])?;
    let status = closed_set(
        req,
        "status",
        &[
            "pending",
            "running",
            "success",
            "failed",
            "timeout",
            "cancelled",
        ],
    )?;
    let runs: Vec<&RunRecord> = state
        .runs
        .runs
        .iter()
        .filter(|r| r.org_id == scope.org_id && r.app_id == scope.app_id)
        .filter(|r| user.is_none() || r.user_id.as_deref() == Some(scope.user_id.as_str()))
        .filter(|r| match kind.as_deref() {
            Some("inline") => r.package_id.starts_with("@inline/"),
            Some("package") => !r.package_id.starts_with("@inline/"),
            _ => true,
        })
        .filter(|r| status.as_deref().is_none_or(|s| r.status == s))
        .collect();
    Ok(run_list(state, runs, limit, offset))
}

/// `GET /api/agents/@s/n/runs?limit&offset`, newest first.
pub(crate) fn list_agent_runs(
    state: &State,
    req: &ParsedRequest,
    scope: &AppScope,
    id: &str,
) -> Result<Response, Problem> {
    state
        .registry
        .require_agent(&scope.org_id, &scope.app_id, id)?;
    let (limit, offset) = page(req, 50);
    let runs: Vec<&RunRecord> = state
        .runs
        .runs
        .iter()
        .filter(|r| r.org_id == scope.org_id && r.app_id == scope.app_id && r.package_id == id)
        .collect();
    Ok(run_list(state, runs, limit, offset))
}
