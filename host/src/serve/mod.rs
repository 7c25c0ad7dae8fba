//! `troupe serve`: a long-lived host that applications submit runs to over HTTP.
//!
//! # Layout
//! - `service`: the runs a server was given ([`Runs`], [`Service`]): submit with
//!   idempotency keys, list, get, cancel, validate, their views kept current by an
//!   orchestrator observer (`service/observer.rs`), and ended runs forgotten after the
//!   retention period.
//! - `views`: what the API sends and takes (runs, stages, plugins, request bodies).
//! - `events`: what happens to runs, as the event streams send it.
//! - `live`: the live-state view: running stages' slots and rate buckets, and the
//!   cards plugins write under `view:` state keys.
//! - `routes`: the `/v1` handlers (axum), with their OpenAPI annotations.
//! - `openapi`: the OpenAPI document generated from them (`docs/openapi.json`).
//! - `problem`: errors as RFC 9457 problem documents.
//! - `auth`: the bearer token.
//! - `pipelines`: the named pipelines of `--pipelines DIR`.
//! - `dashboard`: the web dashboard at `/` (`dashboard/`: its page, scripts and styles,
//!   compiled in).
//!
//! The reference is `docs/api.md`.

mod auth;
mod dashboard;
pub mod events;
pub mod live;
mod openapi;
pub mod pipelines;
pub mod problem;
mod routes;
pub mod service;
mod views;

pub use openapi::document as openapi_document;
pub use service::{Runs, Service};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How a server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Required on every operation but the health check, when set.
    pub token: Option<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

/// Why a server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without a token: anyone who reaches it could run pipelines. \
         Give one with --token or TROUPE_TOKEN, or listen on 127.0.0.1"
    )]
    NoToken(SocketAddr),
    #[error("a token must be at least 16 characters (it is the only thing that guards the API)")]
    WeakToken,
}

/// Check that `options` suit `listen`: beyond loopback, a token is required.
pub fn check(listen: SocketAddr, options: &ServeOptions) -> Result<(), ServeError> {
    match &options.token {
        None if !listen.ip().is_loopback() => Err(ServeError::NoToken(listen)),
        Some(t) if t.len() < 16 => Err(ServeError::WeakToken),
        _ => Ok(()),
    }
}

/// The API's routes over `runs`.
pub fn router(runs: Arc<dyn Runs>, options: &ServeOptions) -> Router {
    let v1 = Router::new()
        .route("/v1/runs", post(routes::submit).get(routes::list))
        .route("/v1/runs/{id}", get(routes::get))
        .route("/v1/runs/{id}/cancel", post(routes::cancel))
        .route("/v1/runs/{id}/events", get(routes::run_events))
        .route("/v1/runs/{id}/live", get(routes::run_live))
        .route("/v1/live", get(routes::live))
        .route("/v1/runs/{id}/stages/{stage}", axum::routing::patch(routes::tune))
        .route("/v1/events", get(routes::all_events))
        .route("/v1/validate", post(routes::validate))
        .route("/v1/pipelines", get(routes::pipelines))
        .route("/v1/plugins", get(routes::plugins))
        .route("/v1/health", get(routes::health))
        .route("/v1/openapi.json", get(routes::openapi))
        .route("/metrics", get(routes::metrics))
        .route("/", get(dashboard::index))
        .route("/assets/{name}", get(dashboard::file))
        .fallback(routes::not_found)
        .with_state(runs)
        .layer(DefaultBodyLimit::max(options.max_body_bytes));
    match &options.token {
        Some(token) => {
            let token: Arc<str> = token.as_str().into();
            v1.layer(axum::middleware::from_fn_with_state(token, auth::require))
        }
        None => v1,
    }
}

/// Serve `router` on `listener` until `shutdown` resolves; then stop accepting and
/// finish the requests in hand (event streams are cut).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    // No Nagle: a small reply (an event, a 201) must not wait for the client's delayed
    // ACK, which put 40 ms on every run's submit-to-finish.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// Forget ended runs past the retention, every `every`, for as long as the server runs.
pub fn spawn_retention(runs: Arc<dyn Runs>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let runs = runs.clone();
            let _ = tokio::task::spawn_blocking(move || runs.forget_ended()).await;
        }
    })
}
