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
