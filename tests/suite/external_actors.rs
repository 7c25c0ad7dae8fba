//! Actors served outside troupe (`external = true` in the manifest): pipelines naming them
//! validate, `troupe plugins` lists them, the embedded engine refuses their tasks saying
//! what they need, and no troupe process serves them on Redis (the Python-served tests in
//! `distributed.rs` prove that half, with a troupe worker serving every actor it may).

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use troupe_tests::{root, test_redis_url, unique_prefix};

fn manifest(dir: &Path) -> PathBuf {
    let text = format!(
        r#"version = 1
plugins-dir = "{}"

[executors.scatter]
component = "scatter.wasm"

[actors.Pass]
component = "pass.wasm"

[actors.Upper]
external = true
description = "{{ text }} -> {{ text }} upper-cased"
"#,
        root().join("target/plugins").display()
    );
    let path = dir.join("troupe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn troupe(manifest: &Path, args: &[&str]) -> Output {
    Command::new(root().join("target/release/troupe"))
        .args(args)
        .arg("--manifest")
        .arg(manifest)
        .arg("--cache-dir")
        .arg(root().join("target/test-cache"))
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, value: &serde_json::Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

fn upper_pipeline(dir: &Path) -> (String, String) {
    let pipeline = json!({ "name": "shouting", "stages": [
        { "name": "shout", "mode": "scatter", "actor": "Upper",
          "scatter": { "input": "$.trigger.words", "as": "w" }, "input": { "text": "$.w" } } ] });
    (write(dir, "pipeline.json", &pipeline), write(dir, "input.json", &json!({ "words": ["a", "b"] })))
}

#[test]
fn an_external_actor_validates_and_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path());
    let (pipeline, _) = upper_pipeline(dir.path());
    let out = troupe(&manifest, &["validate", &pipeline]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = troupe(&manifest, &["plugins"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("actor  Upper            external (served by a worker of your own over Redis): { text } -> { text } upper-cased"),
        "{listing}"
    );
}

#[test]
fn the_embedded_engine_refuses_an_external_actor_saying_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path());
    let (pipeline, input) = upper_pipeline(dir.path());
    let out = troupe(&manifest, &["run", &pipeline, "--input", &input]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "task 0: actor `Upper` is external (`external = true` in the manifest): a worker of your own serves it \
             over Redis, so the run needs --redis URL and that worker running (docs/redis-protocol.md); the embedded \
             engine cannot run it"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("stage shout failed"), "{stderr}");
}

#[test]
fn a_troupe_worker_cannot_be_asked_to_serve_an_external_actor() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path());
    let prefix = unique_prefix("external");
    let out = troupe(
        &manifest,
        &["worker", "--actors", "Pass,Upper", "--redis", &test_redis_url(), "--redis-prefix", &prefix],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("actor `Upper` is external in")
            && stderr.contains("a worker of your own serves it, not troupe"),
        "{stderr}"
    );
}

/// With nothing serving an actor, the run does not wait in silence: `troupe run` and
/// `troupe status` say which actor, how many tasks and for how long.
#[test]
fn a_run_whose_actor_no_worker_reads_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path());
    let (pipeline, input) = upper_pipeline(dir.path());
    let (url, prefix, run) = (test_redis_url(), unique_prefix("unread"), "unread-run");
    let redis = ["--redis", url.as_str(), "--redis-prefix", prefix.as_str()];
    let mut orchestrator = Command::new(root().join("target/release/troupe"))
        .args(["run", &pipeline, "--input", &input, "--run-id", run, "--concurrency", "0"])
        .args(redis)
        .arg("--manifest")
        .arg(&manifest)
        .arg("--cache-dir")
        .arg(root().join("target/test-cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let said = "stage shout: 2 task(s) for actor `Upper` have waited";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        let out =
            Command::new(root().join("target/release/troupe")).args(["status", run]).args(redis).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains(said) || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(status.contains(said) && status.contains("with no worker reading them"), "{status}");
    let json = Command::new(root().join("target/release/troupe"))
        .args(["status", run, "--json"])
        .args(redis)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["unread"][0]["actor"], "Upper", "{json}");
    assert_eq!(json["unread"][0]["waiting"], 2, "{json}");
    // The orchestrator says it too (it looks every 5 s), then the run is cancelled.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let out = Command::new(root().join("target/release/troupe")).args(["cancel", run]).args(redis).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = orchestrator.wait();
    let mut stderr = String::new();
    std::io::Read::read_to_string(orchestrator.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains(said), "{stderr}");
}
