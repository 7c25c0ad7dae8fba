//! Golden files for bad pipeline definitions: each `ui/pipeline/<case>.json|.yaml` sits
//! next to `<case>.err`, the exact output of `troupe validate` for it. Every case must
//! fail validation (exit status 2, syntax errors included); the example pipeline must pass.

use std::path::PathBuf;
use std::process::Command;
use troupe_tests::{assert_golden, root};

fn troupe_validate(pipeline: &str) -> (bool, String) {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    let out = Command::new(troupe)
        .args(["validate", pipeline, "--manifest", "../troupe.toml", "--cache-dir", "../target/test-cache"])
        .output()
        .unwrap();
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    // 2 is the invalid-pipeline status, for syntax errors as for problems.
    let code = out.status.code();
    assert!(code == Some(0) || code == Some(2), "{pipeline}: exit status {code:?}");
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn every_bad_pipeline_gets_its_exact_problems() {
    let dir = PathBuf::from("ui/pipeline");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "expected the full set of pipeline cases, found {}", cases.len());
    for case in cases {
        let (ok, output) = troupe_validate(case.to_str().unwrap());
        assert!(!ok, "{} passed validation", case.display());
        assert_golden(&case.with_extension("err"), &output);
    }
}

#[test]
fn the_example_pipeline_is_valid() {
    let (ok, output) = troupe_validate("../examples/document-processing/pipeline.json");
    assert!(ok, "{output}");
    assert_eq!(output, "");
}
