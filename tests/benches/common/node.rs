//! What the benchmarks that run BullMQ next to troupe share (`workers`, `flows`): the
//! Node side installed from npm into `target/bench-node` (BullMQ and ioredis pinned in
//! `tests/benches/workers/package.json`, the scripts beside them), worker processes
//! killed if a round fails, and the median of a round's times.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;
use troupe_tests::{root, test_redis_url};

/// Where the Node side is installed, with the bench's scripts beside its `node_modules`
/// (ES modules resolve packages from the importing file's directory).
pub fn node_dir() -> PathBuf {
    root().join("target/bench-node")
}

pub fn install_node() {
    let dir = node_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let scripts = root().join("tests/benches/workers");
    for file in ["package.json", "pass_worker.mjs", "bullmq_worker.mjs", "bullmq_produce.mjs", "bullmq_flow.mjs"] {
        std::fs::copy(scripts.join(file), dir.join(file)).unwrap();
    }
    let package = root().join("workers/node");
    run(Command::new("npm").args(["install", "--no-audit", "--no-fund", "--install-links"]).current_dir(&dir));
    // The package from this checkout, copied (not linked) so it resolves its own
    // dependencies inside target/bench-node.
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--no-save", "--install-links"])
        .arg(&package)
        .current_dir(&dir));
}

pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn redis_host_port() -> (String, String) {
    let url = test_redis_url();
    let rest = url.trim_start_matches("redis://");
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "6379"));
    (host.to_string(), port.to_string())
}

/// A round's worker processes, killed if the round fails (a panic must not leave four
/// workers serving the next round's prefix-less Redis, or the next benchmark).
pub struct Workers(pub Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// SIGTERM every worker; how many tasks each says it ran.
pub fn stop(mut workers: Workers) -> Vec<String> {
    std::mem::take(&mut workers.0)
        .into_iter()
        .map(|w| {
            Command::new("kill").args(["-TERM", &w.id().to_string()]).status().unwrap();
            let out = w.wait_with_output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            text.lines()
                .rev()
                .find_map(|l| l.split("ran ").nth(1))
                .and_then(|r| r.split([' ', ';']).next())
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}
