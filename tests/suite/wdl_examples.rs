//! `troupe run` runs each example's `pipeline.wdl` end to end with the same result as its
//! `pipeline.json`: the final contexts (`$.trigger` and every stage's output) are equal.

use serde_json::Value;
use std::process::Command;
use troupe_tests::{root, test_redis_url, unique_prefix};

/// `troupe run <pipeline> --input <input> --json`: the final context.
fn run(pipeline: &str, input: &str) -> Value {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    let mut cmd = Command::new(troupe);
    cmd.current_dir(root()).args(["run", pipeline, "--input", input, "--json", "--cache-dir", "target/test-cache"]);
    if std::env::var("TROUPE_TEST_ENGINE").is_ok_and(|e| e == "redis") {
        cmd.args(["--redis", &test_redis_url(), "--redis-prefix", &unique_prefix("wdl")]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{pipeline}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{pipeline}: {e}"))
}

fn same_result(example: &str) -> Value {
    let dir = format!("examples/{example}");
    let input = format!("{dir}/input.json");
    let from_wdl = run(&format!("{dir}/pipeline.wdl"), &input);
    let from_json = run(&format!("{dir}/pipeline.json"), &input);
    assert_eq!(from_wdl, from_json, "{example}");
    from_wdl
}

#[test]
fn the_document_example_runs_the_same_from_its_program() {
    let context = same_result("document-processing");
    assert_eq!(context["consolidate"].as_array().unwrap().len(), 5);
    assert_eq!(
        context["parallel-processing"]["transform"]["csv"],
        "documentType,pages,words\ninvoice,2,24\ncontract,2,19\nreceipt,1,10\nreport,1,10\nother,1,0\n"
    );
}

#[test]
fn the_real_world_example_runs_the_same_from_its_program() {
    let context = same_result("real-world");
    assert_eq!(context["process"]["fetched"], "https://api.example.com/orders");
}

#[test]
fn an_invalid_program_is_not_run_and_its_problems_point_at_the_source() {
    let troupe = root().join("target/release/troupe");
    let out = Command::new(troupe)
        .current_dir(root().join("tests"))
        .args(["run", "ui/wdl-validate/unknown-mode.wdl", "--manifest", "../troupe.toml"])
        .args(["--cache-dir", "../target/test-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "the invalid-pipeline exit status");
    assert!(out.stdout.is_empty());
    let golden = std::fs::read_to_string(root().join("tests/ui/wdl-validate/unknown-mode.stdout")).unwrap();
    assert_eq!(String::from_utf8(out.stderr).unwrap(), golden);
}
