//! The dashboard: a page and its scripts compiled into the binary and served at `/` (no
//! build step, nothing for users to install). It reads and steers runs through the
//! public API only, with the token the user types in, so it can do nothing a client of
//! the API cannot.
//!
//! Served with a strict Content-Security-Policy (scripts and styles from this server
//! only, no inline code, no framing): what a run shows came from plugins, and the page
//! sets it as text, never as markup; the policy is the second line of defence.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("dashboard/index.html");
const APP: &str = include_str!("dashboard/app.js");
const API: &str = include_str!("dashboard/api.js");
const STYLE: &str = include_str!("dashboard/style.css");

const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, kind)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`: the page.
pub async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// `GET /assets/{name}`: its scripts and style sheet.
pub async fn file(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "app.js" => asset(APP, "text/javascript; charset=utf-8"),
        "api.js" => asset(API, "text/javascript; charset=utf-8"),
        "style.css" => asset(STYLE, "text/css; charset=utf-8"),
        _ => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
