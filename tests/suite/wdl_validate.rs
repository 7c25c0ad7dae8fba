//! Validation problems of `.wdl` programs, shown at the DSL's lines and columns: each
//! `ui/wdl-validate/<case>.wdl` compiles, fails `troupe validate` (unknown modes and
//! actors, executors' config checks, JSONPath), and sits next to `<case>.stdout`, the
//! exact output. The examples' programs validate cleanly.

use std::process::Command;
use troupe_tests::{assert_golden, root};

fn troupe_validate(program: &str) -> (bool, String) {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    let out = Command::new(troupe)
        .current_dir(root().join("tests"))
        .args(["validate", program, "--manifest", "../troupe.toml", "--cache-dir", "../target/test-cache"])
        .output()
        .unwrap();
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    // 2 is the invalid-pipeline status, for syntax errors as for problems.
    let code = out.status.code();
    assert!(code == Some(0) || code == Some(2), "{program}: exit status {code:?}");
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn every_invalid_program_gets_its_problems_at_dsl_positions() {
    let dir = root().join("tests/ui/wdl-validate");
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wdl"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "expected the full set of cases, found {}", cases.len());
    for case in cases {
        let program = format!("ui/wdl-validate/{case}.wdl");
        let text = std::fs::read_to_string(root().join("tests").join(&program)).unwrap();
        if let Err(d) = troupe_dsl::compile(&text, &program) {
            panic!("{program} must compile (its problems are for validation to find):\n{}", d.render(false));
        }
        let (ok, output) = troupe_validate(&program);
        assert!(!ok, "{program} passed validation");
        assert!(output.contains(&format!("{program}:")), "{program}: no DSL position in\n{output}");
        assert_golden(&dir.join(format!("{case}.stdout")), &output);
    }
}

#[test]
fn the_examples_programs_are_valid() {
    for example in ["document-processing", "real-world", "rate-limited"] {
        let (ok, output) = troupe_validate(&format!("../examples/{example}/pipeline.wdl"));
        assert!(ok, "{example}: {output}");
        assert_eq!(output, "", "{example}");
    }
}

#[test]
fn a_program_that_does_not_compile_fails_validation_with_its_diagnostic() {
    let (ok, output) = troupe_validate("ui/wdl/duplicate-stage-names.wdl");
    assert!(!ok);
    let golden = std::fs::read_to_string(root().join("tests/ui/wdl/duplicate-stage-names.stderr")).unwrap();
    assert_eq!(output, golden);
}
