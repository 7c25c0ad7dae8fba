//! Errors as RFC 9457 problem documents (`application/problem+json`): a `type` URI naming
//! the kind of problem, a `title` for it, the HTTP `status`, a `detail` for this
//! occurrence and, for a request that is wrong in several places, `errors`, each naming
//! the field (a JSON pointer into the request) and what is wrong there.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The problem types are URNs (RFC 9457 asks clients not to dereference a type, and a
/// server has no stable public address to point at); `docs/api.md` describes each.
const TYPES: &str = "urn:troupe:problem:";

/// One RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:troupe:problem:<kind>` (`docs/api.md`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// What is wrong, field by field, when the request is wrong in several places.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One wrong field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// A JSON pointer into the request body (`/pipeline/stages/1/mode`), or the query
    /// parameter or header named (`?status`, `Idempotency-Key`).
    pub pointer: String,
    /// The stage the error is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("{TYPES}{kind}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.errors = errors;
        self
    }

    /// A request body or parameter that cannot be read.
    pub fn bad_request(detail: impl Into<String>, pointer: &str) -> Problem {
        let detail = detail.into();
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", "The request cannot be read", detail.clone())
            .with_errors(vec![FieldError { pointer: pointer.to_string(), stage: None, message: detail }])
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource", detail)
    }

    pub fn conflict(kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, kind, title, detail)
    }

    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "The server failed", detail)
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A bearer token is required",
            "send `Authorization: Bearer <token>` with the token the server was started with",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
