//! The worker implementations under test: how to start one serving the conformance actors
//! (`Tally`, `Boom`), how to read what it says when it stops, and what it needs to run.
//! Adding an implementation is adding a variant here and a line to `mod.rs`'s table.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use troupe_tests::{python_worker_venv, root};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// `troupe worker`, serving the wasm fixtures `tally.wasm` and `fail.wasm`.
    TroupeWorker,
    /// `workers/python` (`troupe-worker`), through `tests/conformance_server.py`.
    Python,
    /// `workers/node`, through `test/conformance-server.mjs`.
    Node,
}

/// Work rounds of the wasm `Tally` per millisecond a conformance server would sleep: each
/// round is a state read, one Redis round trip through the worker process. Measured on
/// a 2-core machine shared with other builds: about 43 rounds a millisecond; 60 makes a
/// task last its `ms` on a machine up to 40% faster. The cases that need a task to last
/// do not trust this figure: they measure the task (a running task seen before a kill,
/// a long task's duration).
const ROUNDS_PER_MS: u64 = 60;

/// What a worker said when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Tasks it ran to a reported outcome.
    pub ran: u64,
    /// Deliveries it gave back, not started, for another worker.
    pub handed_back: u64,
}

impl Implementation {
    pub fn name(self) -> &'static str {
        match self {
            Implementation::TroupeWorker => "troupe worker",
            Implementation::Python => "python worker (workers/python)",
            Implementation::Node => "node worker (workers/node)",
        }
    }

    /// A short name for key prefixes and run ids.
    pub fn slug(self) -> &'static str {
        match self {
            Implementation::TroupeWorker => "troupe",
            Implementation::Python => "python",
            Implementation::Node => "node",
        }
    }

    fn node_server() -> PathBuf {
        root().join("workers/node/test/conformance-server.mjs")
    }

    /// The server imports the package from its own folder, so the package's one
    /// dependency must be installed there (`node_modules` is ignored by git): once per
    /// test process, as a developer's `npm install` in `workers/node` would.
    fn node_dependencies() {
        static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        let installed = INSTALLED.get_or_init(|| {
            let out = std::process::Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"])
                .current_dir(root().join("workers/node"))
                .output()
                .map_err(|e| format!("cannot run npm: {e}"))?;
            out.status
                .success()
                .then_some(())
                .ok_or_else(|| format!("npm install in workers/node failed:\n{}", String::from_utf8_lossy(&out.stderr)))
        });
        if let Err(e) = installed {
            panic!("{e}");
        }
    }

    /// Why this implementation cannot run on this checkout (printed as a notice, the case
    /// then passes without running), or None. Only Node may be missing: its package is
    /// being written; the others are part of the repository and must run.
    pub fn missing(self) -> Option<String> {
        match self {
            Implementation::Node if !Implementation::node_server().is_file() => Some(format!(
                "{} does not exist yet: the Node worker is not tested",
                Implementation::node_server().display()
            )),
            _ => None,
        }
    }

    /// The manifest's actor entries: wasm fixtures for `troupe worker`, external actors
    /// (served by nothing troupe runs) for the others.
    pub fn manifest_actors(self) -> &'static str {
        match self {
            // Long tasks are work rounds here: lift the 5 s default call budget.
            Implementation::TroupeWorker => {
                r#"
[actors.Tally]
component = "fixtures/tally.wasm"
limits = { timeout-ms = 60000 }

[actors.Boom]
component = "fail.wasm"
"#
            }
            Implementation::Python | Implementation::Node => {
                r#"
[actors.Tally]
external = true

[actors.Boom]
external = true
"#
            }
        }
    }

    /// The fields a `Tally` task needs to take about `ms` milliseconds: `ms` for the
    /// conformance servers (they sleep), work rounds for the wasm fixture (no clock).
    pub fn tally_duration(self, ms: u64) -> Value {
        match self {
            Implementation::TroupeWorker => json!({ "work": ms * ROUNDS_PER_MS }),
            Implementation::Python | Implementation::Node => json!({ "ms": ms }),
        }
    }

    /// Whether the worker loads the protocol's function library itself (every troupe
    /// process does) rather than refusing a Redis without it.
    pub fn loads_the_library(self) -> bool {
        self == Implementation::TroupeWorker
    }

    /// A worker process serving `Tally` and `Boom` of every run under `prefix`.
    pub fn worker(self, manifest: &Path, url: &str, prefix: &str, concurrency: usize, visibility_ms: u64) -> Command {
        let (c, v) = (concurrency.to_string(), visibility_ms.to_string());
        let mut cmd = match self {
            Implementation::TroupeWorker => {
                let mut cmd = Command::new(root().join("target/release/troupe"));
                cmd.args(["worker", "--concurrency", &c, "--visibility-timeout-ms", &v])
                    .arg("--manifest")
                    .arg(manifest)
                    .arg("--cache-dir")
                    .arg(root().join("target/test-cache"))
                    .args(["--redis", url, "--redis-prefix", prefix]);
                cmd
            }
            Implementation::Python => {
                let mut cmd = Command::new(python_worker_venv());
                cmd.arg(root().join("workers/python/tests/conformance_server.py")).args([url, prefix, &c, &v]);
                cmd
            }
            Implementation::Node => {
                let mut cmd = Command::new("node");
                Implementation::node_dependencies();
                cmd.arg(Implementation::node_server()).args([url, prefix, &c, &v]);
                cmd
            }
        };
        cmd.current_dir(root());
        cmd
    }

    /// What the worker said as it stopped (`troupe worker` on stderr, the conformance
    /// servers on stdout), or None when it said nothing of the kind.
    pub fn stopped(self, stdout: &str, stderr: &str) -> Option<Stopped> {
        match self {
            Implementation::TroupeWorker => {
                // `troupe worker <consumer>: stopped; ran N tasks; gave back M not started`
                let line = stderr.lines().rev().find(|l| l.contains(": stopped; ran "))?;
                let rest = line.split(": stopped; ran ").nth(1)?;
                let (ran, rest) = rest.split_once(" tasks; gave back ")?;
                let handed_back = rest.strip_suffix(" not started")?;
                Some(Stopped { ran: ran.parse().ok()?, handed_back: handed_back.parse().ok()? })
            }
            Implementation::Python | Implementation::Node => {
                // `ran N handed_back M`, the last line of stdout.
                let words: Vec<&str> = stdout.lines().next_back()?.split_whitespace().collect();
                match words[..] {
                    ["ran", ran, "handed_back", back] => {
                        Some(Stopped { ran: ran.parse().ok()?, handed_back: back.parse().ok()? })
                    }
                    _ => None,
                }
            }
        }
    }
}
