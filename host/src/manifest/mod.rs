//! `troupe.toml`: which component implements each mode and each actor.
//!
//! ```toml
//! version = 1
//! plugins-dir = "target/plugins"        # relative to this file; default "plugins"
//!
//! [executors.scatter]
//! component = "scatter.wasm"            # relative to plugins-dir
//! sha256 = "…"                          # optional pin
//! config = { batchSize = 100 }          # default executorConfig, under each stage's own
//! limits = { memory-mib = 64, timeout-ms = 5000 }   # see `Limits` for every limit
//! actors = ["Pass", "Classifier"]       # optional: the only actors it may enqueue for
//!
//! [actors.Classifier]
//! component = "classifier.wasm"
//!
//! [actors.Notifier]
//! component = "notifier.wasm"
//! allow-http = ["https://hooks.example.com/v1", "http://127.0.0.1:8080"]   # none by default
//!
//! [actors.Pass]
//! builtin = "pass"                      # a native actor the host registers
//!
//! [actors.Upper]
//! external = true                       # served by a worker of your own over Redis
//! description = "{ text } -> { text }"  # optional, shown by `troupe plugins`
//! ```
//!
//! Parsing is strict (`deny_unknown_fields`, validated names) so a typo is an error that
//! names the file, the entry and what to write, never a silently ignored key.

mod grants;
mod names;

pub use grants::{is_public, GrantHost, HttpGrant, RequestHost, Scheme};
pub use names::{ActorName, ModeName, Sha256Pin};

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest format this troupe reads.
pub const MANIFEST_VERSION: u32 = 1;

/// What every unknown-actor error ends with: the two ways to add the entry, so the
/// reader need not look up the manifest format to fix it.
pub const ADD_ACTOR_HINT: &str =
    "add it with `component = \"<file>.wasm\"`, or `external = true` when a worker of your own serves it";

/// What one plugin may make the host do or hold. Every field has a default, so
/// `limits = { memory-mib = 64 }` changes only that one.
///
/// Why so many: a plugin is untrusted, and everything it hands the host (tasks, bytes,
/// state, log lines) is host memory, Redis memory or terminal output. Each limit is
/// checked where the value crosses into the host; exceeding one fails only the stage
/// that called the plugin, with an error naming the plugin, the limit and the value
/// (log lines are the exception: past the limit they are dropped and counted, since a
/// chatty plugin should not fail a pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Limits {
    /// Most linear memory one instance may grow to, in MiB.
    pub memory_mib: u32,
    /// Wall-clock budget of one call (host calls included), in milliseconds.
    pub timeout_ms: u64,
    /// Largest component file read from disk, in MiB.
    pub component_mib: u32,
    /// Most tasks an executor may enqueue for one stage.
    pub max_tasks: u64,
    /// Largest input of one enqueued task, in bytes (JSON text).
    pub task_input_bytes: u64,
    /// Largest result of one actor call, or metadata of one executor call, in bytes.
    pub result_bytes: u64,
    /// Most bytes of task input one call may enqueue, summed over its enqueue calls.
    pub enqueue_bytes: u64,
    /// Most state keys one plugin (its state namespace) may hold.
    pub state_keys: u64,
    /// Most bytes (keys plus values) one plugin's state may hold.
    pub state_bytes: u64,
    /// Expiry of state written without one, on Redis (hours; state never outlives it).
    pub state_ttl_hours: u64,
    /// Most log lines one call may write; later lines are dropped and counted.
    pub log_lines: u64,
    /// Most log bytes one call may write; later lines are dropped and counted.
    pub log_bytes: u64,
    /// Most bytes of stdout plus stderr kept from one call of a WASI guest.
    pub output_bytes: u64,
    /// Most times one task may be tried (the first try plus the retries an executor's
    /// `after-task` asks for); then it fails with what its last try gave.
    pub task_attempts: u64,
    /// Most times an executor's `before-task` may defer one task; then it fails.
    pub task_deferrals: u64,
    /// Longest delay an executor may ask for (enqueue delay, defer, retry), in ms.
    pub max_delay_ms: u64,
    /// Most outgoing HTTP requests one call may make (with `allow-http`).
    pub http_requests: u64,
    /// Most response body bytes one call may read, summed over its requests.
    pub http_response_bytes: u64,
    /// Longest one outgoing request may take, connecting to the body's last byte, in ms
    /// (never past the call's own `timeout-ms`).
    pub http_timeout_ms: u64,
}

impl Limits {
    /// Largest `memory-mib` accepted: the pooling allocator reserves this much address
    /// space per instance slot.
    pub const MAX_MEMORY_MIB: u32 = 4096;

    /// The defaults, usable in constants (`Limits { memory_mib: 32, ..Limits::DEFAULT }`).
    pub const DEFAULT: Limits = Limits {
        memory_mib: 128,
        timeout_ms: 5_000,
        // An 18 MB Python component is the largest seen; 256 MiB leaves room and still
        // refuses `/dev/zero`.
        component_mib: 256,
        max_tasks: 1_000_000,
        task_input_bytes: 16 * MIB,
        result_bytes: 16 * MIB,
        enqueue_bytes: 512 * MIB,
        state_keys: 10_000,
        state_bytes: 64 * MIB,
        state_ttl_hours: 168,
        log_lines: 1_000,
        log_bytes: MIB,
        output_bytes: 64 * 1024,
        // With the host's 10 ms floor on re-try and defer delays, a hook that always says
        // "again" ends its task within seconds rather than never.
        task_attempts: 100,
        task_deferrals: 1_000,
        // A day: longer than any backoff or rate wait seen in practice, short enough that
        // a plugin's u64::MAX cannot park a task (and its run) for ever.
        max_delay_ms: 86_400_000,
        http_requests: 20,
        http_response_bytes: 4 * MIB,
        http_timeout_ms: 10_000,
    };
}

const MIB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawManifest {
    version: u32,
    plugins_dir: Option<PathBuf>,
    #[serde(default)]
    executors: BTreeMap<ModeName, RawExecutor>,
    #[serde(default)]
    actors: BTreeMap<ActorName, RawActor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawExecutor {
    component: PathBuf,
    sha256: Option<Sha256Pin>,
    config: Option<toml::Table>,
    limits: Option<Limits>,
    actors: Option<Vec<ActorName>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawActor {
    component: Option<PathBuf>,
    builtin: Option<String>,
    external: Option<bool>,
    description: Option<String>,
    sha256: Option<Sha256Pin>,
    limits: Option<Limits>,
    allow_http: Option<Vec<String>>,
}

/// A parsed, checked manifest with paths made absolute.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file it was read from, as given (for messages).
    pub file: PathBuf,
    pub plugins_dir: PathBuf,
    pub executors: BTreeMap<ModeName, ExecutorEntry>,
    pub actors: BTreeMap<ActorName, ActorEntry>,
}

#[derive(Debug, Clone)]
pub struct ExecutorEntry {
    pub component: PathBuf,
    pub sha256: Option<Sha256Pin>,
    /// Default `executorConfig`, always a JSON object.
    pub config: Value,
    pub limits: Limits,
    /// The actors it may enqueue tasks for (`actors = [...]`); None: any of the manifest.
    pub actors: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ActorEntry {
    pub source: ActorSource,
    pub limits: Limits,
    /// The outgoing HTTP its component may make (`allow-http`; none by default).
    pub allow_http: Vec<HttpGrant>,
    /// What the actor takes and gives, for people (`troupe plugins`).
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ActorSource {
    Component {
        path: PathBuf,
        sha256: Option<Sha256Pin>,
    },
    Builtin(String),
    /// Served by a worker outside troupe (any language, over the Redis protocol): no
    /// `troupe worker` serves it, and the embedded engine cannot run it.
    External,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{file}: cannot read the manifest: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: [{table}.{entry}]: {message}")]
    Entry { file: String, table: &'static str, entry: String, message: String },
}

impl Manifest {
    /// Read and check a manifest file.
    pub fn load(file: &Path) -> Result<Manifest, ManifestError> {
        let text = crate::files::read_cli_text(file)
            .map_err(|source| ManifestError::Read { file: file.display().to_string(), source })?;
        Self::parse(file, &text)
    }

    /// Check manifest text as if read from `file` (paths resolve against its folder).
    pub fn parse(file: &Path, text: &str) -> Result<Manifest, ManifestError> {
        let shown = file.display().to_string();
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Invalid {
            file: shown.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        if raw.version != MANIFEST_VERSION {
            return Err(ManifestError::Invalid {
                file: shown,
                message: format!(
                    "unsupported manifest version {}; this troupe reads version {MANIFEST_VERSION}",
                    raw.version
                ),
            });
        }
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let plugins_dir = normalize(&base.join(raw.plugins_dir.unwrap_or_else(|| PathBuf::from("plugins"))));
        let entry_err = |table, entry: &dyn std::fmt::Display, message: String| ManifestError::Entry {
            file: shown.clone(),
            table,
            entry: entry.to_string(),
            message,
        };

        let mut executors = BTreeMap::new();
        for (mode, e) in raw.executors {
            let limits = check_limits(e.limits.unwrap_or_default()).map_err(|m| entry_err("executors", &mode, m))?;
            let config = serde_json::to_value(e.config.unwrap_or_default())
                .map_err(|err| entry_err("executors", &mode, format!("config: {err}")))?;
            executors.insert(
                mode,
                ExecutorEntry {
                    component: normalize(&plugins_dir.join(e.component)),
                    sha256: e.sha256,
                    config,
                    limits,
                    actors: e.actors.map(|a| a.iter().map(|n| n.to_string()).collect()),
                },
            );
        }

        let mut actors = BTreeMap::new();
        for (name, a) in raw.actors {
            if a.external == Some(true) {
                let extra: Vec<&str> = [
                    ("component", a.component.is_some()),
                    ("builtin", a.builtin.is_some()),
                    ("sha256", a.sha256.is_some()),
                    ("limits", a.limits.is_some()),
                    ("allow-http", a.allow_http.is_some()),
                ]
                .iter()
                .filter(|(_, given)| *given)
                .map(|(key, _)| *key)
                .collect();
                if !extra.is_empty() {
                    return Err(entry_err(
                        "actors",
                        &name,
                        format!(
                            "`external = true` means a worker of your own serves this actor, so troupe loads and limits \
                             nothing for it: remove `{}`",
                            extra.join("`, `")
                        ),
                    ));
                }
                let description = a.description.map(|d| crate::text::one_line(&d, 200));
                actors.insert(
                    name,
                    ActorEntry {
                        source: ActorSource::External,
                        limits: Limits::default(),
                        allow_http: Vec::new(),
                        description,
                    },
                );
                continue;
            }
            let limits = check_limits(a.limits.unwrap_or_default()).map_err(|m| entry_err("actors", &name, m))?;
            let allow_http =
                check_grants(a.allow_http.unwrap_or_default()).map_err(|m| entry_err("actors", &name, m))?;
            if !allow_http.is_empty() && a.component.is_none() {
                return Err(entry_err(
                    "actors",
                    &name,
                    "`allow-http` grants outgoing HTTP to a wasm component: it goes with `component = ...`".into(),
                ));
            }
            let source = match (a.component, a.builtin) {
                (Some(path), None) => {
                    ActorSource::Component { path: normalize(&plugins_dir.join(path)), sha256: a.sha256 }
                }
                (None, Some(builtin)) if a.sha256.is_none() => ActorSource::Builtin(builtin),
                (None, Some(_)) => {
                    return Err(entry_err(
                        "actors",
                        &name,
                        "`sha256` pins a component file; a `builtin` actor has none".into(),
                    ))
                }
                (Some(_), Some(_)) => {
                    return Err(entry_err(
                        "actors",
                        &name,
                        "give either `component` (a .wasm file) or `builtin` (a native actor), not both".into(),
                    ))
                }
                (None, None) => return Err(entry_err(
                    "actors",
                    &name,
                    "missing `component = \"<file>.wasm\"`, `builtin = \"<name>\"`, or `external = true` (an actor \
                         served by a worker of your own over Redis)"
                        .into(),
                )),
            };
            let description = a.description.map(|d| crate::text::one_line(&d, 200));
            actors.insert(name, ActorEntry { source, limits, allow_http, description });
        }

        for (mode, e) in &executors {
            for actor in e.actors.iter().flatten() {
                if !actors.keys().any(|a| a.as_str() == actor) {
                    return Err(entry_err(
                        "executors",
                        mode,
                        format!("actors: `{actor}` is not an actor of this manifest (no [actors.{actor}])"),
                    ));
                }
            }
        }

        Ok(Manifest { file: file.to_path_buf(), plugins_dir, executors, actors })
    }

    /// The actors workers of the user's own serve (`external = true`).
    pub fn external_actors(&self) -> Vec<String> {
        self.actors
            .iter()
            .filter(|(_, a)| matches!(a.source, ActorSource::External))
            .map(|(n, _)| n.to_string())
            .collect()
    }

    /// The largest memory limit of any entry, which sizes the engine's instance pool.
    pub fn max_memory_mib(&self) -> u32 {
        let e = self.executors.values().map(|e| e.limits.memory_mib);
        let a = self.actors.values().map(|a| a.limits.memory_mib);
        e.chain(a).max().unwrap_or(Limits::default().memory_mib)
    }
}

/// Remove `.` and `name/..` pairs without touching the file system, so messages show
/// `../target/plugins/x.wasm` rather than `tests/ui/../../target/plugins/x.wasm`.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn check_grants(texts: Vec<String>) -> Result<Vec<HttpGrant>, String> {
    if texts.len() > grants::MAX_GRANTS {
        return Err(format!("allow-http lists {} grants; at most {}", texts.len(), grants::MAX_GRANTS));
    }
    texts.iter().map(|t| HttpGrant::parse(t).map_err(|why| format!("allow-http: {why}"))).collect()
}

fn check_limits(limits: Limits) -> Result<Limits, String> {
    if limits.memory_mib == 0 || limits.memory_mib > Limits::MAX_MEMORY_MIB {
        return Err(format!(
            "limits.memory-mib must be between 1 and {} (found {})",
            Limits::MAX_MEMORY_MIB,
            limits.memory_mib
        ));
    }
    // A zero would make every call fail; a timeout past a day is a typo, not a budget.
    let positive: [(&str, u64, u64); 18] = [
        ("timeout-ms", limits.timeout_ms, 86_400_000),
        ("component-mib", limits.component_mib.into(), 4096),
        ("max-tasks", limits.max_tasks, 100_000_000),
        ("task-input-bytes", limits.task_input_bytes, 1 << 32),
        ("result-bytes", limits.result_bytes, 1 << 32),
        ("enqueue-bytes", limits.enqueue_bytes, 1 << 36),
        ("state-keys", limits.state_keys, 100_000_000),
        ("state-bytes", limits.state_bytes, 1 << 36),
        ("state-ttl-hours", limits.state_ttl_hours, 24 * 365 * 10),
        ("log-lines", limits.log_lines, 100_000_000),
        ("log-bytes", limits.log_bytes, 1 << 32),
        ("output-bytes", limits.output_bytes, 1 << 30),
        ("task-attempts", limits.task_attempts, 1_000_000),
        ("task-deferrals", limits.task_deferrals, 1_000_000),
        ("max-delay-ms", limits.max_delay_ms, 30 * 86_400_000),
        ("http-requests", limits.http_requests, 1_000_000),
        ("http-response-bytes", limits.http_response_bytes, 1 << 32),
        ("http-timeout-ms", limits.http_timeout_ms, 86_400_000),
    ];
    for (name, value, max) in positive {
        if value == 0 || value > max {
            return Err(format!("limits.{name} must be between 1 and {max} (found {value})"));
        }
    }
    Ok(limits)
}
