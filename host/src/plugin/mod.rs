//! Plugins: loading components named in the manifest and calling them in a sandbox.
//!
//! - `artifact`: read a file, check its pin, componentize a core module.
//! - `cache`: the on-disk cache of compiled components, each artifact authenticated;
//!   `cache_key`: its key, kept owner-only outside the cache.
//! - `engine`: the wasmtime engine (pooling, epochs) and a linker per WIT version.
//! - `version`: which `troupe:executor` version a component targets (0.1 or 0.2), from
//!   its import and export names; the versions this host speaks.
//! - `bindings` (private): generated from `wit/v0.1/` and `wit/`, a module per version;
//!   `convert` maps each to `crate::api`.
//! - `store`: one call's store data (host, scope, limiter, deadline, log budget,
//!   locked-down WASI).
//! - `output`: a WASI guest's stdout and stderr, captured up to `output-bytes`.
//! - `http`: outgoing `wasi:http` requests, each checked against the plugin's
//!   `allow-http` grants and limits, connected to the address that was checked.
//! - `language`: the language a component was written in, from its `producers`.
//! - `log_budget`: the `log-lines` and `log-bytes` limits of one call.
//! - `imports/`: one file per imported WIT interface, over the host's types, and one per
//!   version (`v0_1.rs`, `v0_2.rs`) implementing its generated traits on them.
//! - `call`: every call's store (limits, a deadline by the clock), the thread it runs
//!   on, and the classification of failures.
//! - `loader`: one plugin from file to `InstancePre`; `executor`, `actor`: calling them.
//! - `error`: the boundary's error types.
//! - `set`: [`Plugins`], a manifest's plugins loaded together; `catalog`: which set each
//!   run runs on ([`Pinned`] keeps a run on its set while a newer one serves new runs).

mod actor;
mod artifact;
mod bindings;
mod cache;
mod cache_key;
mod call;
mod catalog;
mod convert;
mod engine;
mod error;
mod executor;
mod http;
mod imports;
mod language;
mod loader;
mod log_budget;
mod output;
mod set;
mod store;
mod version;

pub use actor::ActorPlugin;
pub use artifact::{componentize, SourceKind};
pub use cache::{CacheOutcome, CompileCache};
pub use catalog::{Catalog, Pinned};
pub use engine::EngineOptions;
pub use error::{CallError, EntryRef, Failure, LoadError, LoadProblem, WIT_PACKAGE, WIT_VERSION};
pub use executor::{merge, ExecutorPlugin};
pub use loader::{Loader, PluginSpec};
pub use set::{Actor, LoadErrors, LoadOptions, Plugins};

use crate::manifest::Limits;
use serde::Serialize;
use std::path::PathBuf;

/// What `troupe plugins` shows about one loaded plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// `mode` or `actor`.
    pub role: &'static str,
    pub name: String,
    pub file: PathBuf,
    pub wit_version: String,
    /// The language it was written in, when its `producers` sections say so.
    pub language: Option<String>,
    pub sha256: String,
    pub size: u64,
    pub source: SourceKind,
    pub cache: CacheOutcome,
    /// Time to read, compile or load from cache, and check it.
    pub load_ms: f64,
    pub uses_wasi: bool,
    #[serde(skip)]
    pub limits: Limits,
    /// Its `allow-http` grants as written back (`https://api.example.com/v1`); empty:
    /// no outgoing HTTP.
    pub allow_http: Vec<String>,
    /// The only actors it may enqueue for (an executor's `actors = [...]`); None: any.
    pub actors: Option<Vec<String>>,
}
