//! `troupe run --server`: the CLI as a client of the API, submitting a run and following
//! it to the same context a local run gives, with the same exit codes for an invalid
//! pipeline and a failed run.

use super::server::Server;
use serde_json::Value;
use std::process::Command;
use troupe_tests::root;

#[test]
fn troupe_run_with_server_submits_and_follows_the_run() {
    let server = Server::start(&[]);
    let run = |args: &[&str]| {
        Command::new(root().join("target/release/troupe"))
            .current_dir(root())
            .arg("run")
            .args(args)
            .args(["--server", &server.base])
            .env_remove("TROUPE_TOKEN")
            .output()
            .unwrap()
    };
    let example = "examples/document-processing";
    let remote = run(&[&format!("{example}/pipeline.wdl"), "--input", &format!("{example}/input.json"), "--json"]);
    let stderr = String::from_utf8_lossy(&remote.stderr);
    assert!(remote.status.success(), "{stderr}");
    let local = Command::new(root().join("target/release/troupe"))
        .current_dir(root())
        .args(["run", &format!("{example}/pipeline.json"), "--input", &format!("{example}/input.json"), "--json"])
        .args(["--cache-dir", "target/test-cache"])
        .output()
        .unwrap();
    assert!(local.status.success());
    let remote: Value = serde_json::from_slice(&remote.stdout).unwrap();
    let local: Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(remote, local, "the same context, run on the server");
    assert!(stderr.contains("process-files"), "progress is drawn: {stderr}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{ "name": "a", "mode": "scater", "actor": "Pass", "input": {} }]"#).unwrap();
    let invalid = run(&[bad.to_str().unwrap()]);
    assert_eq!(invalid.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(stderr.contains("stage a: mode: unknown mode `scater`"), "{stderr}");

    let failing = dir.path().join("failing.json");
    std::fs::write(&failing, r#"[{ "name": "a", "mode": "single", "actor": "Fail", "input": { "message": "nope" } }]"#)
        .unwrap();
    let failed = run(&[failing.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("stage a failed") && stderr.contains("nope"), "{stderr}");
}
