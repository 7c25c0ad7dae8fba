//! troupe: a pipeline orchestrator whose orchestration patterns (single, scatter,
//! gather, broadcast, fork-join, and any custom pattern) are sandboxed WebAssembly
//! components, loaded from a plugins directory as a TOML manifest names them.
//!
//! # Layout
//! - [`manifest`]: `troupe.toml`, parsed strictly into checked entries.
//! - [`rules`]: the stage rules every engine, the hook host and the harness share: bounds
//!   on what plugins hand the host, the hook protocol, the token bucket, the barrier's
//!   verdict and tolerance, how a failed stage is described, a stage's output.
//! - [`plugin`]: loading components (pins, componentizing core modules, the compile
//!   cache, WIT version and world checks) and calling them in the sandbox (memory limit,
//!   deadline, no ambient authority). The generated bindings stay private to it.
//! - [`api`]: the host's types for what crosses the executor interface.
//! - [`payload`]: a task's input or result as checked JSON text, carried without
//!   parsing from the guest that made it to wherever it is read.
//! - [`stage_host`]: the [`StageHost`] trait that serves a plugin's imports; engines
//!   implement it.
//! - [`recording`]: [`RecordingHost`], an in-memory `StageHost` for tests, the plugin
//!   harness and `troupe dry-run`.
//! - [`memory_state`]: plugins' key-value state in memory (embedded engine, recording).
//! - [`jsonpath`]: queries, bindings and input templates over the run's context.
//! - [`template`]: an input template compiled once and rendered per item on the host
//!   (`queue.enqueue-each`, `queue.enqueue-groups`: payloads never cross into a guest).
//! - [`pipeline`]: pipeline definitions (JSON and YAML read strictly, `.wdl` programs
//!   compiled by `troupe-dsl`), their validation (`reads.rs`: no stage reads a later one)
//!   and the validated form the orchestrator runs ([`pipeline::ValidPipeline`]).
//! - [`engine`]: the engine traits by role ([`engine::RunStore`] for the orchestrator,
//!   [`engine::TaskQueue`] for workers, [`engine::HookQueue`] for the hook host), the
//!   embedded engine and the Redis engine (`engine/redis/`: streams, Lua functions, the
//!   feed and acker threads).
//! - [`orchestrator`]: runs a pipeline's stages on an engine, keeping the barrier.
//! - [`worker`]: runs tasks on their actors (only actors).
//! - [`gatekeeper`]: the hook host: the stages' `before-task` and `after-task` hooks, run
//!   where tasks are released and outcomes recorded, never in an actor's worker.
//! - [`actors`]: native actors (`wait`).
//! - [`files`]: reading files the host is pointed at (components, manifests, pipelines,
//!   inputs): regular files only, read with a size cap.
//! - [`text`]: untrusted text (plugin logs and errors, guest stderr, problems) made safe
//!   for a terminal: control characters escaped, cut at a byte budget.
//! - [`harness`]: the plugin harness: one executor, a stage, a context and scripted
//!   outcomes, simulated on a virtual clock with the stage rules (release, admission,
//!   review, maxParallel, rate limits, the barrier); `troupe test` is its command.
//! - [`reload`]: hot reload: watch a manifest and its plugins folder, load a changed set
//!   off the serving path, swap it into a [`plugin::Pinned`] catalog (running runs keep
//!   theirs) or refuse it whole.
//! - [`telemetry`]: `tracing` spans (run, stage, plugin call, task) as text or JSON lines,
//!   and the Prometheus metrics `troupe serve` serves at `/metrics`.
//! - [`serve`]: `troupe serve`, the HTTP API (axum) that applications submit runs to:
//!   runs, their events, problem documents, the OpenAPI document.
//! - `cli` (binary only): the `troupe` command.

pub mod actors;
pub mod api;
pub mod engine;
pub mod files;
pub mod gatekeeper;
pub mod harness;
pub mod jsonpath;
pub mod manifest;
pub mod memory_state;
pub mod orchestrator;
pub mod payload;
pub mod pipeline;
pub mod plugin;
pub mod recording;
pub mod reload;
pub mod rules;
pub mod serve;
pub mod stage_host;
pub mod telemetry;
pub mod template;
pub mod text;
pub mod worker;

pub use api::*;
pub use manifest::Manifest;
pub use plugin::{CallError, ExecutorPlugin, Failure, LoadError, Plugins};
pub use recording::RecordingHost;
pub use stage_host::{Role, Scope, StageHost, StateQuota};
