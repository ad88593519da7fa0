//! `GET /api/end-users`: the platform's cursor-paged list, the shape every
//! `startingAfter` list shares. `{"object":"list","data":[…],"hasMore":bool,"limit":n}`,
//! newest first by `(createdAt, id)`; `limit` clamped to 1–100 (default
//! 20); `startingAfter` / `endingBefore` compare that whole tuple, are
//! mutually exclusive (400), and an unknown cursor id drops its clause (the
//! page starts at the head again, as on the platform); a `Link` header names
//! the next page. Tests seed rows in bulk and can make access tokens expire
//! after a number of pages (a session that lapses mid-walk).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::FakeInstance;
use super::platform::AppScope;
use super::routes::{ParsedRequest, json_response};
use super::state::{Problem, State, iso};

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

pub(crate) struct EndUser {
    id: String,
    org_id: String,
    app_id: String,
    name: String,
    email: String,
    metadata: Value,
    created_at: OffsetDateTime,
}

impl EndUser {
    /// Sort key of the list: newest first, then the larger id first.
    fn key(&self) -> (OffsetDateTime, &str) {
        (self.created_at, &self.id)
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "end_user",
            "applicationId": self.app_id,
            "name": self.name,
            "email": self.email,
            "externalId": Value::Null,
            "metadata": self.metadata,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.created_at),
        })
    }
}

#[derive(Default)]
pub(crate) struct EndUsers {
    rows: Vec<EndUser>,
    minted: u64,
    /// After this many more list pages, every access token is rejected.
    expire_tokens_after_pages: Option<usize>,
}

impl FakeInstance {
    /// Adds `count` end-users to the app, three per creation instant going
    /// back from now (so
    /// the id breaks ties as on the platform), each with `metadata_bytes`
    /// of note text. Returns their ids in list order (newest first).
    pub fn add_end_users(
        &self,
        org_id: &str,
        app_id: &str,
        count: usize,
        metadata_bytes: usize,
    ) -> Vec<String> {
        self.with(|state| {
            let base = state.next_timestamp();
            let note = "n".repeat(metadata_bytes);
            let end_users = &mut state.end_users;
            for i in 0..count {
                end_users.minted += 1;
                let id = format!("eu_{:016x}", scramble(end_users.minted));
                end_users.rows.push(EndUser {
                    name: format!("User {}", end_users.minted),
                    email: format!("user{}@example.com", end_users.minted),
                    id,
                    org_id: org_id.to_owned(),
                    app_id: app_id.to_owned(),
                    metadata: json!({ "note": note }),
                    // Back from now, so later creations stay newer.
                    created_at: base - time::Duration::milliseconds((i / 3) as i64),
                });
            }
            let mut rows: Vec<&EndUser> = state
                .end_users
                .rows
                .iter()
                .filter(|r| r.org_id == org_id && r.app_id == app_id)
                .collect();
            rows.sort_by(|a, b| b.key().cmp(&a.key()));
            rows.iter().map(|r| r.id.clone()).collect()
        })
    }

    /// Serves `pages` more list pages, then rejects every access token
    /// issued so far, as if it expired server-side (refresh still works).
    pub fn expire_access_tokens_after_list_pages(&self, pages: usize) {
        self.with(|state| state.end_users.expire_tokens_after_pages = Some(pages));
    }
}

/// A bijection on u64 (SplitMix64's finaliser): ids that do not sort in
/// creation order, as the platform's random ids do not.
fn scramble(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `Number(limit)` clamped to 1–100; absent or not a number → 20.
fn limit_of(req: &ParsedRequest) -> usize {
    match req
        .query_param("limit")
        .and_then(|l| l.trim().parse::<f64>().ok())
    {
        Some(n) if n.is_finite() => n.floor().clamp(1.0, MAX_LIMIT as f64) as usize,
        _ => DEFAULT_LIMIT,
    }
}

/// `GET /api/end-users?limit&startingAfter|endingBefore`.
pub(crate) fn list(
    state: &mut State,
    req: &ParsedRequest,
    scope: &AppScope,
) -> Result<Response, Problem> {
    let limit = limit_of(req);
    let after = req.query_param("startingAfter").filter(|c| !c.is_empty());
    let before = req.query_param("endingBefore").filter(|c| !c.is_empty());
    if after.is_some() && before.is_some() {
        return Err(Problem::invalid_request(
            "startingAfter and endingBefore are mutually exclusive",
        ));
    }
    let mut rows: Vec<&EndUser> = state
        .end_users
        .rows
        .iter()
        .filter(|r| r.org_id == scope.org_id && r.app_id == scope.app_id)
        .collect();
    rows.sort_by(|a, b| b.key().cmp(&a.key()));
    let cursor_key = |id: &str| rows.iter().find(|r| r.id == id).map(|r| r.key());
    let window: Vec<&EndUser> = match (
        after.as_deref().and_then(cursor_key),
        before.as_deref().and_then(cursor_key),
    ) {
        (Some(cursor), _) => rows.iter().filter(|r| r.key() < cursor).copied().collect(),
        (_, Some(cursor)) => rows.iter().filter(|r| r.key() > cursor).copied().collect(),
        _ => rows,
    };
    let has_more = window.len() > limit;
    let page: Vec<Value> = window.iter().take(limit).map(|r| r.to_json()).collect();
    let next = page
        .last()
        .and_then(|r| r["id"].as_str())
        .filter(|_| has_more)
        .map(|last| next_link(state, req, last));
    let mut response = json_response(
        StatusCode::OK,
        &json!({ "object": "list", "data": page, "hasMore": has_more, "limit": limit }),
    );
    if let Some(Ok(link)) = next.map(|l| HeaderValue::from_str(&format!("<{l}>; rel=\"next\""))) {
        response.headers_mut().insert(header::LINK, link);
    }
    count_page(state);
    Ok(response)
}

/// The request's URL with `startingAfter=<last>` in place of any cursor.
fn next_link(state: &State, req: &ParsedRequest, last: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(req.query.as_deref().unwrap_or("").as_bytes()) {
        if name != "startingAfter" && name != "endingBefore" {
            query.append_pair(&name, &value);
        }
    }
    query.append_pair("startingAfter", last);
    format!("{}{}?{}", state.base_url, req.path, query.finish())
}

fn count_page(state: &mut State) {
    let Some(left) = state.end_users.expire_tokens_after_pages.as_mut() else {
        return;
    };
    *left = left.saturating_sub(1);
    if *left == 0 {
        state.end_users.expire_tokens_after_pages = None;
        let issued = std::mem::take(&mut state.issued_jtis);
        state.rejected_jtis.extend(issued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrambled_ids_are_distinct_and_unordered() {
        let ids: Vec<u64> = (1..=1000).map(scramble).collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert_ne!(unique, ids);
    }
}
