//! The credential proxy (filled in below).

use axum::response::Response;

use super::routes::{ParsedRequest, problem_response};
use super::server::Shared;
use super::state::Problem;

pub(crate) async fn handle(_shared: &Shared, req: &ParsedRequest) -> Response {
    problem_response(&Problem::not_found("No route"), &req.request_id)
}
