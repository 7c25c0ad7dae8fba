//! The bearer token: required on every `/v1` operation but the health check when the
//! server was given one (and it must be given one to listen beyond loopback).

use super::problem::Problem;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Paths anyone may read.
const OPEN: &[&str] = &["/v1/health", "/v1/openapi.json"];

pub async fn require(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    // The dashboard's page and scripts hold no data: it asks for the token itself.
    let path = request.uri().path();
    if OPEN.contains(&path) || path == "/" || path.starts_with("/assets/") {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => Problem::unauthorized().into_response(),
    }
}

/// Compare without stopping at the first difference (the time taken says nothing of
/// how much of a guess was right).
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
