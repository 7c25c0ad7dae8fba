//! The worked session of docs/redis-protocol.md, replayed: a real `troupe run --redis
//! --concurrency 0` of the doc's manifest, pipeline and input, and this test as the
//! worker, sending the session's commands one by one and comparing each reply with the
//! doc's as `redis-cli` prints it (the key prefix and stream entry ids aside, see
//! `session.rs`); then the run must end with the doc's output. A doc that drifts from the
//! protocol fails here.

mod malformed;
mod resp;
mod session;

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use troupe_tests::{root, test_redis_url, unique_prefix};

/// The prefix and run id the doc's session uses.
const DOC_PREFIX: &str = "troupe";
const DOC_RUN: &str = "order-42";

/// The only code block of the doc tagged `tag`.
fn block(doc: &str, tag: &str) -> String {
    let mut found = session::blocks(doc, tag);
    assert_eq!(found.len(), 1, "docs/redis-protocol.md has {} blocks tagged `{tag}`, not one", found.len());
    found.remove(0)
}

/// Kills the run's process if the test fails (so it never outlives it).
struct Orchestrator(Option<Child>);

impl Drop for Orchestrator {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn the_worked_session_replays_against_a_real_run() {
    let doc = std::fs::read_to_string(root().join("docs/redis-protocol.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The doc's manifest, with its plugins directory made absolute.
    let manifest: String = block(&doc, "replay:manifest")
        .lines()
        .map(|l| match l.starts_with("plugins-dir") {
            true => format!("plugins-dir = \"{}\"\n", root().join("target/plugins").display()),
            false => format!("{l}\n"),
        })
        .collect();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let manifest = write("troupe.toml", &manifest);
    let pipeline = write("pipeline.json", &block(&doc, "replay:pipeline"));
    let input = write("input.json", &block(&doc, "replay:input"));
    let expected: Value = serde_json::from_str(&block(&doc, "replay:output")).unwrap();
    let steps = session::steps(&session::blocks(&doc, "replay:session").concat());
    assert!(steps.len() >= 10, "the session has {} steps", steps.len());

    let (url, prefix) = (test_redis_url(), unique_prefix("protodoc"));
    let child = Command::new(root().join("target/release/troupe"))
        .args(["run", &pipeline.display().to_string(), "--input", &input.display().to_string()])
        .args(["--run-id", DOC_RUN, "--concurrency", "0", "--json"])
        .args(["--redis", &url, "--redis-prefix", &prefix])
        .arg("--manifest")
        .arg(&manifest)
        .arg("--cache-dir")
        .arg(root().join("target/test-cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut orchestrator = Orchestrator(Some(child));

    // The session starts once the run is listed (the worker finds it running).
    let mut redis = resp::Connection::open(&url);
    let listed = |redis: &mut resp::Connection| {
        let args = ["SISMEMBER", &format!("{prefix}:runs"), DOC_RUN].map(|a| a.as_bytes().to_vec());
        matches!(redis.call(&args), resp::Reply::Integer(1))
    };
    let started = Instant::now();
    while !listed(&mut redis) {
        if let Some(status) = orchestrator.0.as_mut().unwrap().try_wait().unwrap() {
            let out = orchestrator.0.take().unwrap().wait_with_output().unwrap();
            panic!("troupe run ended ({status}) before the run was listed:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run was not listed within 2 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut names = session::Names::new(DOC_PREFIX, &prefix);
    for (n, step) in steps.iter().enumerate() {
        let printed = names.as_doc(&resp::render(&redis.call(&names.command(&step.args))));
        assert!(
            names.matches(&step.reply, &printed),
            "step {} of the session, `{}`:\nthe doc shows\n{}\nRedis answered\n{printed}",
            n + 1,
            step.typed,
            step.reply.join("\n")
        );
    }

    // The last steps saw the run end; its process exits at once (its output is small
    // enough for the pipe, so waiting on it cannot block it).
    let mut child = orchestrator.0.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            orchestrator.0 = Some(child);
            panic!("troupe run did not exit within 30 s of the session's end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "troupe run did not succeed ({}):\n{stderr}", out.status);
    let output: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(output, expected, "the run's output is not the doc's");
}
