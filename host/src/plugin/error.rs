//! Errors at the plugin boundary: why a plugin could not be loaded, and why a call into
//! one failed. Each names the plugin file and its mode or actor, and says what to do.

use crate::stage_host::Role;
use std::fmt;
use std::path::PathBuf;

/// The WIT package plugins implement, and its newest version, the one `wit/` holds and
/// troupe-sdk builds against. The host also speaks older versions (see `version.rs`).
pub const WIT_PACKAGE: &str = "troupe:executor";
pub const WIT_VERSION: &str = "0.2.1";

/// Which manifest entry a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRef {
    /// The manifest file, as given; empty when a plugin was loaded directly.
    pub manifest: String,
    pub role: Role,
    /// The mode or actor name.
    pub name: String,
    pub file: PathBuf,
}

impl fmt::Display for EntryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = match self.role {
            Role::Executor => "executors",
            Role::Actor => "actors",
        };
        if !self.manifest.is_empty() {
            write!(f, "{}: ", self.manifest)?;
        }
        write!(f, "[{table}.{}]: {}", self.name, self.file.display())
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{entry}: {problem}")]
pub struct LoadError {
    pub entry: EntryRef,
    pub problem: LoadProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadProblem {
    #[error("the file does not exist; build it (`cargo xtask build` builds this repository's plugins) or fix `component`, which is relative to plugins-dir {plugins_dir}")]
    Missing { plugins_dir: String },
    #[error("cannot read the file: {0}")]
    Unreadable(std::io::Error),
    #[error("refused: {0}; `component` must name a .wasm file")]
    File(crate::files::FileError),
    #[error("sha256 is {actual} but the manifest pins {pinned}; if this file is the one you trust, set sha256 = \"{actual}\"")]
    PinMismatch { pinned: String, actual: String },
    #[error("not a WebAssembly file (it does not start with the `\\0asm` header)")]
    NotWasm,
    #[error("a core WebAssembly module that cannot be made a component: {0}; build plugins with troupe-sdk (or wit-bindgen), whose output carries the component-type section, or wrap the module with `wasm-tools component new`")]
    NotComponentizable(String),
    #[error("asks for {found}; this host speaks {}; rebuild it against one of them (troupe-sdk builds against the newest, {WIT_PACKAGE}@{WIT_VERSION} in wit/)", super::version::spoken())]
    UnsupportedVersion { found: String },
    #[error(
        "mixes {first} and {second}; a component targets one version of {WIT_PACKAGE}, and this host speaks {}",
        super::version::spoken()
    )]
    MixedVersions { first: String, second: String },
    #[error("does not implement the {WIT_PACKAGE} `{world}` world: {reason}")]
    WrongWorld { world: &'static str, reason: String },
    #[error("no native actor named `{name}` is registered (registered: {registered}); for a component actor write `component = \"<file>.wasm\"`")]
    UnknownBuiltin { name: String, registered: String },
    #[error("cannot compile the component: {0:#}")]
    Compile(anyhow::Error),
}

/// Why a call into a plugin failed (not an error the plugin returned: those are
/// [`crate::ExecutorError`] values).
#[derive(Debug, thiserror::Error)]
#[error("plugin {file} ({} {name}): {failure}{}", role.as_str(), printed(output))]
pub struct CallError {
    pub file: String,
    pub role: Role,
    pub name: String,
    pub failure: Failure,
    /// What the guest wrote to stdout and stderr during the call (a Python traceback),
    /// bounded by its `output-bytes` limit and escaped for a terminal.
    pub output: Option<String>,
}

/// The suffix that shows a call's captured output under its error.
pub(crate) fn printed(output: &Option<String>) -> String {
    match output {
        Some(text) => format!("; it printed:\n  | {text}"),
        None => String::new(),
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("stopped at its deadline of {timeout_ms} ms")]
    Deadline { timeout_ms: u64 },
    #[error("stopped at its memory limit of {limit_mib} MiB (it tried to grow a memory to {requested_mib} MiB)")]
    Memory { limit_mib: usize, requested_mib: usize },
    #[error("trapped: {0}")]
    Trap(String),
    #[error("returned malformed output: {0}")]
    Malformed(String),
    /// It handed the host something past one of its limits or against the interface's
    /// rules (a task index outside the stage, an oversized result, too much state).
    #[error("{0}")]
    Refused(String),
}

impl Failure {
    /// A word for metrics and logs: `deadline` and `memory` are limits hit.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Deadline { .. } => "deadline",
            Failure::Memory { .. } => "memory",
            Failure::Trap(_) => "trap",
            Failure::Malformed(_) => "malformed",
            Failure::Refused(_) => "refused",
        }
    }
}
