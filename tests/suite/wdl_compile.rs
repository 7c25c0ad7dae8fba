//! What programs compile to: the seed's DocumentProcessing workflow, each example's
//! `pipeline.wdl` (exactly its `pipeline.json`, field order included), how names and
//! values map onto the context's JSONPath, and the span table.

use serde_json::{json, Value};
use std::process::Command;
use troupe_tests::root;

fn compile(text: &str) -> troupe_dsl::Compiled {
    troupe_dsl::compile(text, "test.wdl").unwrap_or_else(|d| panic!("{}", d.render(false)))
}

fn stages(text: &str) -> Vec<Value> {
    compile(text).pipeline["stages"].as_array().unwrap().clone()
}

#[test]
fn the_seeds_document_processing_workflow_compiles_to_the_seeds_stages() {
    let text = std::fs::read_to_string(root().join("tests/wdl/seed-document-processing.wdl")).unwrap();
    // The seed's built-in executor examples, with stages named after their calls (the seed's
    // workflow names none) and the seed's own inputs and config.
    let expected = json!({
      "name": "DocumentProcessing",
      "stages": [
        { "name": "FileProcessor", "mode": "scatter", "actor": "FileProcessor",
          "scatter": { "input": "$.trigger.files", "as": "file" },
          "input": { "filepath": "$.file.path" },
          "executorConfig": { "maxParallel": 5 } },
        { "name": "Consolidator", "mode": "gather", "actor": "Consolidator",
          "gather": { "stage": "FileProcessor", "groupBy": "$.documentType" },
          "input": { "pages": "$.group.items" },
          "executorConfig": { "timeout": 30000 } },
        { "name": "broadcast", "mode": "broadcast", "actor": "unused",
          "input": { "result": "$.Consolidator" },
          "executorConfig": { "actors": ["EmailNotifier", "SlackNotifier", "WebhookNotifier"] } },
        { "name": "parallel", "mode": "fork-join", "actor": "unused",
          "executorConfig": { "branches": [
            { "name": "extract", "actor": "DataExtractor" },
            { "name": "validate", "actor": "Validator" },
            { "name": "transform", "actor": "Transformer" } ] } }
      ]
    });
    assert_eq!(compile(&text).pipeline, expected);
}

#[test]
fn every_examples_program_compiles_to_exactly_its_json_pipeline() {
    for example in ["document-processing", "real-world", "rate-limited"] {
        let dir = root().join("examples").join(example);
        let text = std::fs::read_to_string(dir.join("pipeline.wdl")).unwrap();
        let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("pipeline.json")).unwrap()).unwrap();
        let compiled = compile(&text).pipeline;
        assert_eq!(compiled, json, "{example}");
        // Field order too: the JSON example is what the program prints.
        assert_eq!(serde_json::to_string(&compiled).unwrap(), serde_json::to_string(&json).unwrap(), "{example}");
    }
}

#[test]
fn troupe_compile_prints_the_definition() {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    let out = Command::new(troupe)
        .current_dir(root())
        .args(["compile", "examples/document-processing/pipeline.wdl"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/document-processing/pipeline.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, json);
}

#[test]
fn names_map_onto_the_context() {
    let s = stages(
        r#"
        workflow paths {
          call Extract as first-step { input: all = trigger, files = files, one = files[0].path }
          scatter (row in first-step.outputs.rows[*]) {
            call Pass as per-row {
              input: row = row, at = index, odd = row["a b"], hy = row.some-field, q = "$.trigger.raw"
            }
          }
          gather (r in per-row.outputs) groupBy: r.kind {
            call Pass as grouped { input: key = gather.group.key, items = gather.group.items }
          }
          parallel as fork {
            input: data = { rows: per-row.output, first: first-step.output.files[2] }
            branch a: call Pass { input: rows = data.rows, earlier = grouped.output }
          }
        }"#,
    );
    assert_eq!(
        s[0]["input"],
        json!({ "all": "$.trigger", "files": "$.trigger.files", "one": "$.trigger.files[0].path" })
    );
    assert_eq!(s[1]["scatter"], json!({ "input": "$['first-step'].rows[*]", "as": "row" }));
    assert_eq!(
        s[1]["input"],
        json!({ "row": "$.row", "at": "$.index", "odd": "$.row['a b']", "hy": "$.row['some-field']", "q": "$.trigger.raw" })
    );
    assert_eq!(s[2]["gather"], json!({ "stage": "per-row", "groupBy": "$.kind" }));
    assert_eq!(s[2]["input"], json!({ "key": "$.group.key", "items": "$.group.items" }));
    assert_eq!(s[3]["input"], json!({ "data": { "rows": "$['per-row']", "first": "$['first-step'].files[2]" } }));
    assert_eq!(
        s[3]["executorConfig"]["branches"][0]["input"],
        json!({ "rows": "$.data.rows", "earlier": "$.grouped" })
    );
}

#[test]
fn group_by_takes_a_jsonpath_string_too() {
    let s = stages(
        r#"workflow w { call FileProcessor  gather (p in FileProcessor.output) groupBy: "$.meta.kind" { call Consolidator } }"#,
    );
    assert_eq!(s[1]["gather"], json!({ "stage": "FileProcessor", "groupBy": "$.meta.kind" }));
}

#[test]
fn declared_inputs_are_the_only_names_of_the_trigger() {
    let s = stages("workflow w { input { files, owner } call Pass { input: f = files, o = owner.name } }");
    assert_eq!(s[0]["input"], json!({ "f": "$.trigger.files", "o": "$.trigger.owner.name" }));
    let err =
        troupe_dsl::compile("workflow w { input { files } call Pass { input: o = owner } }", "t.wdl").unwrap_err();
    assert_eq!(err.to_string(), "t.wdl:1:53: unknown name `owner`");
}

#[test]
fn values_are_json_and_commas_and_comments_are_free() {
    let s = stages(
        r#"
        workflow values # a comment after the name
        {
          call Pass {   # and after a brace
            input:
              n = -1.5e3
              t = true, f = false, z = null
              s = 'single "quoted"', e = "tab\there \u{1F600}"
              o = { 'a b': [1, "two", { c: null }], d: trigger.x }
            config: { toleratedFailures: 2, "quoted-key": [true, 0.5] }
          }
        }"#,
    );
    assert_eq!(
        s[0]["input"],
        json!({ "n": -1500.0, "t": true, "f": false, "z": null, "s": "single \"quoted\"", "e": "tab\there \u{1F600}",
                "o": { "a b": [1, "two", { "c": null }], "d": "$.trigger.x" } })
    );
    assert_eq!(s[0]["executorConfig"], json!({ "toleratedFailures": 2, "quoted-key": [true, 0.5] }));
    assert_eq!(s[0]["mode"], "single");
}

#[test]
fn any_mode_the_manifest_declares_is_reachable_without_a_parser_change() {
    let s = stages(
        r#"
        workflow custom {
          chunk (rows in trigger.rows) { call BulkWriter as load-rows { input: rows = rows, part = index config: { size: 2 } } }
          circuit-breaker { call DataProcessor }
          my-own-pattern { call Pass { config: { anything: { goes: [1, 2] } } } }
          fork-join { call Pass as hand-written { config: { branches: [{ name: "a", actor: "Pass", input: { x: "$.trigger" } }] } } }
        }"#,
    );
    let modes: Vec<&str> = s.iter().map(|st| st["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["chunk", "circuit-breaker", "my-own-pattern", "fork-join"]);
    assert_eq!(s[0]["scatter"], json!({ "input": "$.trigger.rows", "as": "rows" }));
    assert_eq!(s[0]["input"], json!({ "rows": "$.rows", "part": "$.index" }));
    assert_eq!(s[2]["executorConfig"], json!({ "anything": { "goes": [1, 2] } }));
    assert_eq!(s[3]["executorConfig"]["branches"][0]["input"]["x"], "$.trigger");
}

#[test]
fn the_span_table_points_each_field_at_its_source() {
    let text = std::fs::read_to_string(root().join("examples/document-processing/pipeline.wdl")).unwrap();
    let spans = compile(&text).spans;
    let at = |stage: &str, field: &str| {
        let span = spans.locate(stage, field);
        text[span.start..span.end].to_string()
    };
    assert_eq!(at("process-files", "mode"), "scatter");
    assert_eq!(at("process-files", "name"), "process-files");
    assert_eq!(at("process-files", "actor"), "FileProcessor");
    assert_eq!(at("process-files", "scatter.input"), "files");
    assert_eq!(at("process-files", "scatter.as"), "file");
    assert_eq!(at("process-files", "input.text"), "text = file.text");
    assert_eq!(at("process-files", "executorConfig.batchSize"), "batchSize: 100");
    assert_eq!(at("process-files", "executorConfig.nothing.here"), "config");
    assert_eq!(at("consolidate", "gather.stage"), "process-files.outputs");
    assert_eq!(at("consolidate", "gather.groupBy"), "page.documentType");
    assert_eq!(at("notify-all", "executorConfig.actors[2]"), "WebhookNotifier");
    assert_eq!(at("notify-all", "executorConfig.waitForAll"), "waitForAll: true");
    assert_eq!(at("parallel-processing", "executorConfig.branches[1].name"), "validate");
    assert_eq!(at("parallel-processing", "executorConfig.branches[2].input.groups"), "groups = data.groups");
    assert_eq!(at("parallel-processing", "input.data.pages"), "pages: process-files.outputs");
    assert_eq!(at("#2", "mode"), "gather");
    assert_eq!(at("consolidate (#2)", "actor"), "Consolidator");
    assert_eq!(at("no-such-stage", "mode"), "document-processing");
    assert_eq!(at("", "stages"), "document-processing");
}

#[test]
fn a_million_nested_brackets_are_an_error_not_a_stack_overflow() {
    let text = format!("workflow w {{ call Pass {{ input: deep = {} }} }}", "[".repeat(1_000_000));
    let err = troupe_dsl::compile(&text, "deep.wdl").unwrap_err();
    assert_eq!(err.items[0].message, "values nest more than 64 deep");
}

#[test]
fn windows_line_endings_compile_the_same() {
    let text = std::fs::read_to_string(root().join("examples/document-processing/pipeline.wdl")).unwrap();
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(compile(&crlf).pipeline, compile(&text).pipeline);
}
