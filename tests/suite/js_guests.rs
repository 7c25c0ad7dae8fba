//! JavaScript guests on `troupe:executor@0.2.1` (issue 14, item 4), built by
//! componentize-js from `plugins/js/` and named in the default `troupe.toml`:
//! - `dedupe` (executor): one task per distinct item of `scatter.input`, by the whole
//!   item or by `executorConfig.key`, with `$.occurrences` bound;
//! - `Render` (actor): a text template filled from `values` (`{{ path | filter }}`,
//!   `{{#each}}`).
//!
//! Each is called directly (a recording host shows the executor's decisions), then both
//! run together in a pipeline through the `troupe` binary and its default manifest. The
//! components are 12 MB (a JavaScript engine inside): the first load on a machine compiles
//! for ~20 s; the shared compile cache (`target/test-cache`) makes every later one fast.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use troupe::manifest::Limits;
use troupe::plugin::PluginSpec;
use troupe::{Execution, ExecutorError, OutputShape, RecordingHost, StageHost};
use troupe_tests::{executor, loader, plugin, root};

/// What `troupe.toml` gives the JavaScript entries, with a test-sized timeout.
fn js_limits() -> Limits {
    Limits { memory_mib: 256, timeout_ms: 30_000, ..Limits::DEFAULT }
}

fn orders() -> Value {
    json!([
        { "sku": "tea", "customer": { "name": "Ada", "email": "ada@example.com" } },
        { "sku": "cup", "customer": { "name": "Grace", "email": "grace@example.com" } },
        { "sku": "pot", "customer": { "name": "Ada", "email": "ada@example.com" } },
        { "sku": "tea", "customer": { "email": "ada@example.com", "name": "Ada" } },
        { "sku": "jam", "customer": { "name": "Linus", "email": "linus@example.com" } }
    ])
}

fn dedupe_stage(config: Value) -> Value {
    json!({ "name": "notify", "mode": "dedupe", "actor": "Render",
            "scatter": { "input": "$.trigger.orders", "as": "order" },
            "input": { "customer": "$.order.customer", "orders": "$.occurrences", "position": "$.index" },
            "executorConfig": config })
}

#[test]
fn dedupe_is_a_0_2_0_executor_that_reports_every_problem_with_its_field() {
    let loader = loader();
    let dedupe = executor(&loader, "dedupe", &plugin("dedupe"), js_limits());
    assert_eq!(dedupe.info().wit_version, "0.2.1", "dedupe is built against wit/, troupe:executor@0.2.1");
    let host: Arc<dyn StageHost> = Arc::new(RecordingHost::with_actors(json!({}), ["Render".to_string()]));
    assert_eq!(dedupe.reported_name(host.clone()).unwrap(), "dedupe");

    let stage = dedupe.stage(
        "r",
        &json!({ "name": "d", "mode": "dedupe", "actor": "Mailer",
                 "scatter": { "input": "trigger", "as": "occurrences" },
                 "executorConfig": { "key": "$[", "maxParallel": 0, "size": 3, "toleratedFailures": 1 } }),
    );
    let problems: Vec<(String, String)> =
        dedupe.validate(host.clone(), &stage).unwrap().into_iter().map(|p| (p.field, p.message)).collect();
    let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "actor",
            "scatter.input",
            "scatter.as",
            "executorConfig.key",
            "executorConfig.maxParallel",
            "executorConfig.size"
        ],
        "{problems:#?}"
    );
    let message = |field: &str| problems.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str()).unwrap();
    assert_eq!(
        message("actor"),
        "unknown actor `Mailer`: the manifest has no [actors.Mailer] (add it with `component = \"<file>.wasm\"`, \
         or `external = true` when a worker of your own serves it)"
    );
    assert_eq!(message("scatter.input"), "must be a JSONPath string starting with `$`, found a string");
    assert_eq!(message("scatter.as"), "`occurrences` is bound by dedupe itself; choose another name");
    assert!(!message("executorConfig.key").is_empty(), "the host's JSONPath parser explains `$[`");
    assert_eq!(message("executorConfig.maxParallel"), "must be a whole number of at least 1, found 0");
    assert_eq!(message("executorConfig.size"), "is not a dedupe setting (known: key, maxParallel)");

    // A good stage has no problem (the host's own tolerance settings are not dedupe's).
    let good = dedupe.stage("r", &dedupe_stage(json!({ "key": "$.customer.email", "toleratedFailures": 1 })));
    let problems = dedupe.validate(host, &good).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn dedupe_enqueues_one_task_per_distinct_item_in_first_seen_order() {
    let loader = loader();
    let dedupe = executor(&loader, "dedupe", &plugin("dedupe"), js_limits());
    let (recorder, host) = troupe_tests::recorder(json!({ "trigger": { "orders": orders() } }));

    // By key: three customers among five orders.
    let stage = dedupe.stage("r", &dedupe_stage(json!({ "key": "$.customer.email", "maxParallel": 2 })));
    let execution = dedupe.execute(host.clone(), &stage).unwrap();
    assert_eq!(
        execution,
        Ok(Execution {
            expected_tasks: 3,
            metadata: Some(json!({ "items": 5, "distinct": 3, "duplicates": 2 })),
            output: OutputShape::List,
            detached: false,
        })
    );
    let tasks: Vec<(u64, String, Value, Option<Value>)> = recorder
        .enqueued()
        .into_iter()
        .map(|e| (e.task.index, e.task.actor, e.task.input.to_value(), e.task.key))
        .collect();
    let customer = |i: usize| orders()[i]["customer"].clone();
    assert_eq!(
        tasks,
        [
            (0, "Render".into(), json!({ "customer": customer(0), "orders": 3, "position": 0 }), None),
            (1, "Render".into(), json!({ "customer": customer(1), "orders": 1, "position": 1 }), None),
            (2, "Render".into(), json!({ "customer": customer(4), "orders": 1, "position": 2 }), None),
        ]
    );
    assert!(recorder.enqueued().iter().all(|e| e.options.max_parallel == Some(2)), "maxParallel reaches the host");

    // Without a key the whole item is the key, its object keys in any order: orders 0 and
    // 3 are the same item written two ways; order 2 differs in its sku.
    recorder.clear_tasks_and_logs();
    let stage = dedupe.stage("r2", &dedupe_stage(json!({})));
    let execution = dedupe.execute(host.clone(), &stage).unwrap().unwrap();
    assert_eq!(execution.expected_tasks, 4);
    assert_eq!(execution.metadata, Some(json!({ "items": 5, "distinct": 4, "duplicates": 1 })));
    let counts: Vec<Value> =
        recorder.enqueued().into_iter().map(|e| e.task.input.to_value()["orders"].clone()).collect();
    assert_eq!(counts, [json!(2), json!(1), json!(1), json!(1)]);

    // No items: no task, and the output (the metadata) is an empty list, as scatter's.
    let (_, empty) = troupe_tests::recorder(json!({ "trigger": { "orders": [] } }));
    let execution = dedupe.execute(empty, &stage).unwrap().unwrap();
    assert_eq!((execution.expected_tasks, execution.metadata), (0, Some(json!([]))));
}

#[test]
fn dedupe_fails_its_stage_with_a_clear_message_for_bad_stage_input() {
    let loader = loader();
    let dedupe = executor(&loader, "dedupe", &plugin("dedupe"), js_limits());
    let fatal = |context: Value, config: Value| {
        let (_, host) = troupe_tests::recorder(context);
        dedupe.execute(host, &dedupe.stage("r", &dedupe_stage(config))).unwrap()
    };
    assert_eq!(
        fatal(json!({ "trigger": { "orders": { "sku": "tea" } } }), json!({})),
        Err(ExecutorError::Fatal("scatter.input: `$.trigger.orders` is an object, not an array (stage notify)".into()))
    );
    assert_eq!(
        fatal(json!({ "trigger": {} }), json!({})),
        Err(ExecutorError::Fatal("scatter.input: `$.trigger.orders` matched nothing".into()))
    );
    assert_eq!(
        fatal(
            json!({ "trigger": { "orders": [{ "email": "a@example.com" }, { "name": "b" }] } }),
            json!({ "key": "$.email" })
        ),
        Err(ExecutorError::Fatal("executorConfig.key: `$.email` matched nothing in item 1 ({\"name\":\"b\"})".into()))
    );
    // `execute` checks what `validate` checks, in one message.
    assert_eq!(
        fatal(json!({ "trigger": { "orders": [] } }), json!({ "maxParallel": "2" })),
        Err(ExecutorError::Fatal(
            "executorConfig.maxParallel: must be a whole number of at least 1, found \"2\"".into()
        ))
    );
}

#[test]
fn render_fills_its_template_and_refuses_bad_input_with_the_reason() {
    let render = loader()
        .load_actor(&PluginSpec::file("Render", plugin("render")).with_limits(js_limits()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(render.info().wit_version, "0.2.1");
    let (_, host) = troupe_tests::recorder(json!({}));
    let invoke = |input: Value| {
        render.invoke(host.clone(), "r", "s", &input.into()).unwrap_or_else(|e| panic!("{e}")).map(|p| p.to_value())
    };

    let values = json!({ "name": "Ada", "lines": [{ "sku": "tea", "qty": 2 }, { "sku": "jam", "qty": 1 }],
                         "note": " <fragile> ", "total": 12.5 });
    let template = "Dear {{ name | upper }}: {{#each lines}}{{@index}}. {{qty}} x {{ this.sku }} for {{name}}; \
                    {{/each}}total {{total}}, {{ lines | length }} lines, {{ note | trim | html }}, {{ name | json }}";
    assert_eq!(
        invoke(json!({ "template": template, "values": values })),
        Ok(
            json!({ "text": "Dear ADA: 0. 2 x tea for Ada; 1. 1 x jam for Ada; total 12.5, 2 lines, &lt;fragile&gt;, \"Ada\"" })
        )
    );
    assert_eq!(invoke(json!({ "template": "no values" })), Ok(json!({ "text": "no values" })));

    let refused = [
        (json!([1]), "Render: the input must be an object {\"template\": \"...\", \"values\": {...}}, found an array"),
        (json!({ "values": {} }), "Render: `template` must be a string, found nothing"),
        (
            json!({ "template": "x", "value": {} }),
            "Render: unknown input field `value` (Render reads `template` and `values`)",
        ),
        (json!({ "template": "x", "values": [] }), "Render: `values` must be an object, found an array"),
        (
            json!({ "template": "Hi {{nmae}}", "values": { "name": "Ada" } }),
            "Render: `nmae` at offset 3: no value named `nmae`",
        ),
        (
            json!({ "template": "{{a.b.c}}", "values": { "a": { "b": 1 } } }),
            "Render: `a.b.c` at offset 0: `a.b` is a number without `c`",
        ),
        (json!({ "template": "Hi {{name", "values": {} }), "Render: `{{` at offset 3 is never closed with `}}`"),
        (
            json!({ "template": "{{name | shout}}", "values": { "name": "Ada" } }),
            "Render: unknown filter `shout` at offset 0 (known: upper, lower, trim, json, html, length)",
        ),
        (
            json!({ "template": "{{#each name}}x{{/each}}", "values": { "name": "Ada" } }),
            "Render: `{{#each name}}` at offset 0: `name` is a string, not an array",
        ),
        (
            json!({ "template": "{{#each xs}}x", "values": { "xs": [] } }),
            "Render: `{{#each xs}}` at offset 0 is never closed with `{{/each}}`",
        ),
        (json!({ "template": "x{{/each}}" }), "Render: `{{/each}}` at offset 1 closes no `{{#each}}`"),
    ];
    for (input, message) in refused {
        assert_eq!(invoke(input.clone()), Err(message.to_string()), "input {input}");
    }
}

/// `troupe run --json PIPELINE --input INPUT` with the repository's `troupe.toml`, on the
/// embedded engine and the shared compile cache.
fn troupe_run(dir: &Path, pipeline: &Value, input: &Value) -> Output {
    let (p, i) = (dir.join("pipeline.json"), dir.join("input.json"));
    std::fs::write(&p, pipeline.to_string()).unwrap();
    std::fs::write(&i, input.to_string()).unwrap();
    Command::new(root().join("target/release/troupe"))
        .arg("run")
        .arg(&p)
        .arg("--input")
        .arg(&i)
        .arg("--json")
        .arg("--manifest")
        .arg(root().join("troupe.toml"))
        .arg("--cache-dir")
        .arg(root().join("target/test-cache"))
        .env_remove("TROUPE_REDIS")
        .output()
        .unwrap()
}

#[test]
fn a_pipeline_of_dedupe_and_render_runs_in_troupe() {
    let dir = tempfile::tempdir().unwrap();
    // One letter per customer (dedupe by email, each rendered by Render), then a summary
    // of the letters (a single stage, Render again, iterating over the first stage's output).
    let pipeline = json!({ "name": "thank-you", "stages": [
        { "name": "letters", "mode": "dedupe", "actor": "Render",
          "scatter": { "input": "$.trigger.orders", "as": "order" },
          "input": { "template": "Dear {{name}}, thank you for your {{count}} order(s).",
                     "values": { "name": "$.order.customer.name", "count": "$.occurrences" } },
          "executorConfig": { "key": "$.customer.email" } },
        { "name": "summary", "mode": "single", "actor": "Render",
          "input": { "template": "{{#each letters}}{{@index}}: {{this.text}}\n{{/each}}{{letters | length}} letters",
                     "values": { "letters": "$.letters" } } }
    ] });
    let out = troupe_run(dir.path(), &pipeline, &json!({ "orders": orders() }));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "troupe run failed: {stderr}");
    let context: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        context["letters"],
        json!([
            { "text": "Dear Ada, thank you for your 3 order(s)." },
            { "text": "Dear Grace, thank you for your 1 order(s)." },
            { "text": "Dear Linus, thank you for your 1 order(s)." }
        ])
    );
    assert_eq!(
        context["summary"],
        json!({ "text": "0: Dear Ada, thank you for your 3 order(s).\n1: Dear Grace, thank you for your 1 order(s).\n\
                         2: Dear Linus, thank you for your 1 order(s).\n3 letters" })
    );

    // Bad stage input: the orders are an object, so dedupe fails the stage and the run
    // says why (exit 1).
    let out = troupe_run(dir.path(), &pipeline, &json!({ "orders": { "sku": "tea" } }));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            ": stage letters failed: the `dedupe` executor returned an error: \
             scatter.input: `$.trigger.orders` is an object, not an array (stage letters)\n"
        ),
        "{stderr}"
    );

    // A template naming a value the task lacks: Render's error is the task's error.
    let mut misspelt = pipeline.clone();
    misspelt["stages"][1]["input"]["template"] = json!("{{lettres | length}}");
    let out = troupe_run(dir.path(), &misspelt, &json!({ "orders": orders() }));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            ": stage summary failed: 1 of 1 tasks failed (tolerated: 0)\n  \
             task 0 (Render): Render: `lettres` at offset 0: no value named `lettres`"
        ),
        "{stderr}"
    );
}
