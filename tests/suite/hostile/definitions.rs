//! Hostile and careless definitions: pipeline files, programs and results that used to
//! pass silently, change values, print without bound or exit with the wrong status.
//! (Golden files in `ui/pipeline/` and `ui/wdl/` pin the exact messages; these tests
//! cover what a golden file cannot: sizes, exit statuses, runs on both engines.)

use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};
use troupe::orchestrator::RunError;
use troupe_tests::{root, run_pipeline};

fn troupe(args: &[&str]) -> Output {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    Command::new(troupe)
        .current_dir(root())
        .args(args)
        .args(["--manifest", "troupe.toml", "--cache-dir", "target/test-cache"])
        .output()
        .unwrap()
}

fn troupe_compile(program: &Path) -> Output {
    let troupe = root().join("target/release/troupe");
    Command::new(troupe).arg("compile").arg(program).output().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_group_by_fails_the_stage_naming_the_path_and_the_result() {
    let pipeline = |files: serde_json::Value| {
        (
            json!({ "stages": [
                { "name": "process-files", "mode": "scatter", "actor": "Pass",
                  "scatter": { "input": "$.trigger.files", "as": "file" }, "input": "$.file" },
                { "name": "consolidate", "mode": "gather", "actor": "Pass",
                  "gather": { "stage": "process-files", "groupBy": "$.type" } }
            ] }),
            json!({ "files": files }),
        )
    };
    // The second result has no `type`: once, it went under a `null` key with no word.
    let (definition, trigger) = pipeline(json!([{ "type": "a" }, { "path": "x" }, { "type": "b" }]));
    let (outcome, _, _workers) = run_pipeline(definition, trigger, 2).await;
    let error = outcome.expect_err("an unmatched groupBy fails the stage").to_string();
    assert!(
        error.contains(
            "stage consolidate failed: the `gather` executor returned an error: gather.groupBy: `$.type` \
             matched nothing on result 1 of stage `process-files`"
        ),
        "{error}"
    );
    // The host serves the next run.
    let (definition, trigger) = pipeline(json!([{ "type": "a" }, { "type": "a" }]));
    let (outcome, _, _workers) = run_pipeline(definition, trigger, 2).await;
    let context = outcome.expect("a run whose every result has its key").context;
    assert_eq!(context["consolidate"][0]["key"], "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_of_a_later_stage_is_refused_before_anything_runs() {
    let definition = json!({ "stages": [
        { "name": "first", "mode": "single", "actor": "Pass", "input": { "rows": "$.second.rows" } },
        { "name": "second", "mode": "single", "actor": "Pass", "input": "$.trigger" }
    ] });
    let (outcome, _, _workers) = run_pipeline(definition, json!({}), 2).await;
    match outcome {
        Err(RunError::Invalid(problems)) => assert_eq!(
            problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["stage first: input.rows: `$.second.rows` reads stage `second` (#2), which runs after this one; \
              a stage reads the trigger and the stages before it"]
        ),
        other => panic!("expected the pipeline to be invalid, got {other:?}"),
    }
}

#[test]
fn every_command_exits_2_for_an_invalid_pipeline_and_1_for_an_unreadable_one() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let valid = write(dir, "valid.json", r#"{ "stages": [ { "name": "a", "mode": "single", "actor": "Pass" } ] }"#);
    let cases = [
        write(dir, "syntax.json", r#"{ "stages": [ { "name": "a", } ] }"#),
        write(dir, "syntax.yaml", "stages: [ { name: a\n"),
        write(dir, "syntax.wdl", "workflow w { call Pass { input: x = } }"),
        write(dir, "duplicate.json", r#"{ "stages": [], "stages": [] }"#),
        write(dir, "trigger.json", r#"{ "stages": [ { "name": "trigger", "mode": "single", "actor": "Pass" } ] }"#),
        write(dir, "problem.wdl", "workflow w { call Nobody }"),
    ];
    for case in &cases {
        for command in ["validate", "run"] {
            let out = troupe(&[command, case]);
            assert_eq!(out.status.code(), Some(2), "troupe {command} {case}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let out = troupe_compile(Path::new(&cases[2]));
    assert_eq!(out.status.code(), Some(2), "troupe compile of a syntax error");
    let missing = dir.join("missing.json");
    for command in ["validate", "run"] {
        let out = troupe(&[command, missing.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "troupe {command} of a missing file");
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"), "{out:?}");
    }
    assert_eq!(troupe(&["validate", &valid]).status.code(), Some(0));
    assert_eq!(troupe(&["run", &valid]).status.code(), Some(0), "the host serves the next run");
}

#[test]
fn a_fifty_megabyte_problem_is_printed_escaped_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let actor = format!("\u{1b}]0;owned\u{7}\nrun x finished{}", "A".repeat(50 << 20));
    let definition = json!({ "stages": [ { "name": "a", "mode": "single", "actor": actor } ] });
    let file = write(dir.path(), "huge.json", &definition.to_string());
    let out = troupe(&["validate", &file]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    println!("a {} byte problem printed in {} bytes", actor.len(), stdout.len());
    // The actor's problem, and the `single` executor's own: a 50 MB definition is past
    // its memory limit, which fails its `validate` call, not the host.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one line per problem: {stdout}");
    assert!(lines.iter().all(|l| l.len() < 6 * 1024), "{} bytes printed", stdout.len());
    assert!(lines[1].contains("stage a: mode: the executor failed while validating"), "{stdout}");
    assert!(stdout.contains("unknown actor `\\u{1b}]0;owned\\u{7}\\nrun x finished"), "{stdout}");
    assert!(stdout.contains("bytes more)"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "an escape reached the terminal");
}

#[test]
fn a_one_megabyte_single_line_program_gets_a_bounded_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let calls: String = (0..14_000).map(|i| format!("call Pass as s{i} {{ input: v = trigger }} ")).collect();
    let program = format!("workflow w {{ {calls}call Pass as bad {{ input: v = trigger; }} {calls}}}");
    assert!(program.len() > 1 << 20 && !program.contains('\n'));
    let file = write(dir.path(), "long.wdl", &program);
    let out = troupe_compile(Path::new(&file));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    println!("a {} byte one-line program: a {} byte diagnostic", program.len(), stderr.len());
    assert!(stderr.len() < 4 * 1024, "{stderr}");
    let column = program.find(';').unwrap() + 1;
    assert!(stderr.contains(&format!("long.wdl:1:{column} ]")), "{stderr}");
    assert!(stderr.contains("bad { input: v = trigger; }"), "the span's surroundings are shown: {stderr}");
    assert!(stderr.contains("bytes more)"), "{stderr}");
    // `run` and `validate` draw it the same way.
    let out = troupe(&["validate", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.len() < 4 * 1024, "{} bytes", out.stdout.len());
}
