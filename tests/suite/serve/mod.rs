//! `troupe serve` over real HTTP: the binary started on port 0 with the default manifest
//! and a folder of named pipelines, driven with a plain HTTP client as an application
//! would. One module per concern:
//!
//! - `serve/server.rs`: the [`Server`] under test (`hot_reload` and `dashboard` start it
//!   too) and the requests the tests share.
//! - `serve/runs.rs`: submit (named and inline, idempotent), list with filters and pages,
//!   get, the per-run event stream, cancel, retention, 50 concurrent runs, shutdown on
//!   SIGTERM.
//! - `serve/problems.rs`: problem documents naming the field, validate, the bearer token.
//! - `serve/catalogue.rs`: the pipelines and plugins listed, and the OpenAPI document kept
//!   identical to `docs/openapi.json`.
//! - `serve/tuning.rs`: a running stage's `maxParallel` and rate changed, as the all-runs
//!   event stream and the engine's counts show.
//! - `serve/redis.rs`: the same API on Redis, and a run SIGTERM leaves in Redis for
//!   `troupe resume`.
//! - `serve/observability.rs`: metrics, JSON log lines, spans over OTLP.
//! - `serve/cli.rs`: `troupe run --server`, the CLI as a client of the API.

mod catalogue;
mod cli;
mod observability;
mod problems;
mod redis;
mod runs;
mod server;
mod tuning;

pub(crate) use server::Server;
