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
//! limits = { memory-mib = 64, timeout-ms = 5000 }
//!
//! [actors.Classifier]
//! component = "classifier.wasm"
//!
//! [actors.Pass]
//! builtin = "pass"                      # a native actor the host registers
//! ```
//!
//! Parsing is strict (`deny_unknown_fields`, validated names) so a typo is an error that
//! names the file, the entry and what to write, never a silently ignored key.

mod names;

pub use names::{ActorName, ModeName, Sha256Pin};

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest format this troupe reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Per-call limits of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Most linear memory one instance may grow to, in MiB.
    #[serde(default = "Limits::default_memory_mib")]
    pub memory_mib: u32,
    /// Wall-clock budget of one call, in milliseconds.
    #[serde(default = "Limits::default_timeout_ms")]
    pub timeout_ms: u64,
}

impl Limits {
    /// Largest `memory-mib` accepted: the pooling allocator reserves this much address
    /// space per instance slot.
    pub const MAX_MEMORY_MIB: u32 = 4096;

    fn default_memory_mib() -> u32 {
        128
    }

    fn default_timeout_ms() -> u64 {
        5_000
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_mib: Self::default_memory_mib(), timeout_ms: Self::default_timeout_ms() }
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawActor {
    component: Option<PathBuf>,
    builtin: Option<String>,
    sha256: Option<Sha256Pin>,
    limits: Option<Limits>,
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
}

#[derive(Debug, Clone)]
pub struct ActorEntry {
    pub source: ActorSource,
    pub limits: Limits,
}

#[derive(Debug, Clone)]
pub enum ActorSource {
    Component { path: PathBuf, sha256: Option<Sha256Pin> },
    Builtin(String),
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
        let text = std::fs::read_to_string(file)
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
                },
            );
        }

        let mut actors = BTreeMap::new();
        for (name, a) in raw.actors {
            let limits = check_limits(a.limits.unwrap_or_default()).map_err(|m| entry_err("actors", &name, m))?;
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
                (None, None) => {
                    return Err(entry_err(
                        "actors",
                        &name,
                        "missing `component = \"<file>.wasm\"` or `builtin = \"<name>\"`".into(),
                    ))
                }
            };
            actors.insert(name, ActorEntry { source, limits });
        }

        Ok(Manifest { file: file.to_path_buf(), plugins_dir, executors, actors })
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

fn check_limits(limits: Limits) -> Result<Limits, String> {
    if limits.memory_mib == 0 || limits.memory_mib > Limits::MAX_MEMORY_MIB {
        return Err(format!(
            "limits.memory-mib must be between 1 and {} (found {})",
            Limits::MAX_MEMORY_MIB,
            limits.memory_mib
        ));
    }
    if limits.timeout_ms == 0 {
        return Err("limits.timeout-ms must be at least 1".to_string());
    }
    Ok(limits)
}
