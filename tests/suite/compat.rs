//! WIT compatibility (README, "Compatibility"): the host speaks `troupe:executor@0.1` and
//! `@0.2`, each in full, and refuses any other version at load.
//!
//! - The 0.1 components frozen in `tests/fixtures/wit-0.1/` (built before 0.2 existed;
//!   see its README) run a pipeline through a manifest naming them, on the embedded
//!   engine and on Redis (each test picks its engine; no `TROUPE_TEST_ENGINE` needed).
//! - Components made here, from WAT and a WIT: a 0.1 executor whose hook calls `enqueue`
//!   (refused with an error it can read, and the call fails), and the same executor
//!   built against a version no host speaks (refused at load, with the exact message).

use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use troupe::engine::{EmbeddedEngine, RunStore};
use troupe::manifest::Limits;
use troupe::orchestrator::{Orchestrator, RunReport, Silent};
use troupe::pipeline::Pipeline;
use troupe::plugin::{Failure, LoadOptions, LoadProblem, PluginSpec, Plugins};
use troupe::{EnqueueOptions, Extension, LogLevel, Manifest, NewTask, Outcome, RecordingHost, Stage, StageHost};
use troupe::{TaskRef, Verdict};
use troupe_tests::{loader, recorder, redis_engine, root, shared_cache};

/// The 0.1 fixtures and their sha256, as `tests/fixtures/wit-0.1/README.md` lists them.
const FIXTURES: [(&str, &str); 4] = [
    ("scatter", "3806ee837c6f71250a7e30421abd35cbfada821bb0726364222f68d50feb8e32"),
    ("retry", "e1f267d15adcdaad9b157c48d61c0b08704991f68f9ae1ddcc2c2e3a015462c8"),
    ("pass", "bf487ca09a3282bbe554bf82a71ecc054d04e1125a57fe50647fb4a46f4dec09"),
    ("flaky", "b805341313904bf12ee46f93370ef7a3f2710be0bef20434bc3e766e8f5d67f7"),
];

fn pin(name: &str) -> &'static str {
    FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, sha)| *sha).expect("a listed fixture")
}

/// A manifest naming the 0.1 fixtures, each pinned, read as if at the repository root.
fn fixture_manifest() -> (Arc<Plugins>, Manifest) {
    let text = format!(
        r#"version = 1
plugins-dir = "tests/fixtures/wit-0.1"

[executors.scatter]
component = "scatter.wasm"
sha256 = "{}"

[executors.retry]
component = "retry.wasm"
sha256 = "{}"

[actors.Pass]
component = "pass.wasm"
sha256 = "{}"

[actors.Flaky]
component = "flaky.wasm"
sha256 = "{}"
"#,
        pin("scatter"),
        pin("retry"),
        pin("pass"),
        pin("flaky")
    );
    let manifest = Manifest::parse(&root().join("compat.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let options = LoadOptions { cache: Some(shared_cache()), builtins: vec![] };
    let plugins = Plugins::load(&manifest, &options).unwrap_or_else(|e| panic!("{e}"));
    (Arc::new(plugins), manifest)
}

/// Scatter over the trigger's items with `Pass`, then a retried `Flaky` that fails
/// twice before it answers with its input, which carries the first stage's output.
fn pipeline() -> Pipeline {
    Pipeline::from_value(
        json!({ "stages": [
            { "name": "spread", "mode": "scatter", "actor": "Pass",
              "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "n": "$.item" } },
            { "name": "settle", "mode": "retry", "actor": "Flaky",
              "input": { "key": "compat", "failures": 2, "seen": "$.spread" },
              "executorConfig": { "maxRetries": 3, "backoff": "fixed", "baseDelayMs": 10 } }
        ] }),
        "compat",
    )
    .expect("a valid pipeline")
}

fn check_run(report: RunReport, engine: &dyn RunStore) {
    let spread = json!([{ "n": 1 }, { "n": 2 }, { "n": 3 }]);
    assert_eq!(report.context["spread"], spread);
    assert_eq!(report.context["settle"], json!({ "key": "compat", "failures": 2, "seen": spread }));
    let history = engine.task_history(&report.run_id, "settle").unwrap();
    assert_eq!(history[0].1.len(), 3, "two failures, then the third attempt answers: {history:?}");
}

#[test]
fn the_fixtures_load_as_0_1_components_pinned_through_a_manifest() {
    let (plugins, _) = fixture_manifest();
    for mode in ["scatter", "retry"] {
        let info = plugins.executor(mode).unwrap().info();
        assert_eq!((info.wit_version.as_str(), info.sha256.as_str()), ("0.1.0", pin(mode)), "{mode}");
    }
    for (actor, file) in [("Pass", "pass"), ("Flaky", "flaky")] {
        let Some(troupe::plugin::Actor::Component(plugin)) = plugins.actor(actor) else { panic!("{actor}") };
        assert_eq!((plugin.info().wit_version.as_str(), plugin.info().sha256.as_str()), ("0.1.0", pin(file)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_0_1_fixtures_run_a_pipeline_on_the_embedded_engine() {
    let (plugins, manifest) = fixture_manifest();
    let engine = Arc::new(EmbeddedEngine::new(manifest.actors.keys().map(|a| a.to_string()), LogLevel::Warn));
    let _workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 4);
    let orchestrator = Orchestrator::new(engine.clone(), plugins);
    let trigger = json!({ "items": [1, 2, 3] });
    let report = orchestrator.run(&pipeline(), trigger, &Silent).await.unwrap_or_else(|e| panic!("{e}"));
    check_run(report, engine.as_ref());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_0_1_fixtures_run_a_pipeline_on_redis() {
    let (plugins, manifest) = fixture_manifest();
    let engine = redis_engine(&manifest, |o| o.prefetch = 4);
    let _workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 4);
    let orchestrator = Orchestrator::new(engine.clone(), plugins);
    let trigger = json!({ "items": [1, 2, 3] });
    let report = orchestrator.run(&pipeline(), trigger, &Silent).await.unwrap_or_else(|e| panic!("{e}"));
    check_run(report, engine.as_ref());
}

/// A core module implementing the `executor` world of `troupe:executor@{version}` by
/// hand, in the canonical ABI: `name` is "hook-enqueue"; `plan` asks for the after-task
/// hook; `execute` and `after-task` both enqueue task 0 for `Pass` and log at warn any
/// error that returns, then `execute` says one task, single output, and `after-task`
/// accepts. `validate` finds nothing; `before-task` is not called (it traps).
fn hook_enqueue_module(version: &str) -> String {
    let export = |f: &str| format!("troupe:executor/stage-executor@{version}#{f}");
    format!(
        r#"(module
  (import "troupe:executor/queue@{version}" "enqueue"
    (func $enqueue (param i64 i32 i32 i32 i32 i32 i32 i32  i64 i32 i32 i32 i32 i32 f64 i32  i32)))
  (import "troupe:executor/log@{version}" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  ;; 16: actor, 24: input, 32: name, 64: name's (ptr, len), 80: an empty list,
  ;; 96: enqueue's result, 128: the verdict, 160: execute's and plan's results.
  (data (i32.const 16) "Pass")
  (data (i32.const 24) "{{}}")
  (data (i32.const 32) "hook-enqueue")
  (data (i32.const 64) "\20\00\00\00\0c\00\00\00")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                            (i32.sub (i32.const 0) (local.get 2))))
    (global.set $next (i32.add (local.get $at) (local.get 3)))
    (block $fits
      (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
      (drop (memory.grow (i32.add (i32.div_u (global.get $next) (i32.const 65536)) (i32.const 1)))))
    (local.get $at))
  ;; Enqueue {{index 0, actor "Pass", input "{{}}", no key}} with default options; log
  ;; the error, if any, at warn.
  (func $enqueue_one
    (call $enqueue (i64.const 0) (i32.const 16) (i32.const 4) (i32.const 24) (i32.const 2)
                   (i32.const 0) (i32.const 0) (i32.const 0)
                   (i64.const 0) (i32.const 0) (i32.const 0)
                   (i32.const 0) (i32.const 0) (i32.const 0) (f64.const 0) (i32.const 0)
                   (i32.const 96))
    (if (i32.load8_u (i32.const 96))
      (then (call $log (i32.const 3) (i32.load (i32.const 100)) (i32.load (i32.const 104))))))
  (func (export "{name}") (result i32) (i32.const 64))
  (func (export "{validate}") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 80))
  (func (export "{plan}") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    ;; ok, no early start, hooks = after-task
    (i32.store8 (i32.const 160) (i32.const 0))
    (i32.store8 (i32.const 168) (i32.const 0))
    (i32.store8 (i32.const 192) (i32.const 2))
    (i32.const 160))
  (func (export "{execute}") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $enqueue_one)
    ;; ok, expected-tasks 1, no metadata, output single, not detached
    (i32.store8 (i32.const 160) (i32.const 0))
    (i64.store (i32.const 168) (i64.const 1))
    (i32.store8 (i32.const 176) (i32.const 0))
    (i32.store8 (i32.const 188) (i32.const 0))
    (i32.store8 (i32.const 189) (i32.const 0))
    (i32.const 160))
  (func (export "{before_task}") (param i32 i32 i32 i32 i32 i32 i32 i32 i64 i32 i32 i32) (result i32)
    unreachable)
  (func (export "{after_task}")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i64 i32 i32 i32 i32 i32 i32) (result i32)
    (call $enqueue_one)
    ;; accept
    (i32.store8 (i32.const 128) (i32.const 0))
    (i32.const 128)))"#,
        name = export("name"),
        validate = export("validate"),
        plan = export("plan"),
        execute = export("execute"),
        before_task = export("before-task"),
        after_task = export("after-task"),
    )
}

/// Write `module` (WAT) as a core module carrying the `executor` world of the WIT in
/// `wit_dir` with its version `@{from}` replaced by `@{to}` (or not), the way
/// wit-bindgen's output carries its world; the host componentizes it on load.
fn build_executor(dir: &Path, file: &str, wit_dir: &Path, from: &str, to: &str, module: &str) -> PathBuf {
    build(dir, file, wit_dir, (from, to), "executor", module)
}

/// [`build_executor`] for any world of the package.
fn build(dir: &Path, file: &str, wit_dir: &Path, (from, to): (&str, &str), world: &str, module: &str) -> PathBuf {
    let wit = dir.join(format!("wit-{file}"));
    std::fs::create_dir_all(&wit).unwrap();
    for name in ["types.wit", "host.wit", "worlds.wit"] {
        let text = std::fs::read_to_string(wit_dir.join(name)).unwrap();
        std::fs::write(wit.join(name), text.replace(&format!("@{from}"), &format!("@{to}"))).unwrap();
    }
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(&wit).unwrap();
    let world = resolve.select_world(&[package], Some(world)).unwrap();
    let mut module = wat::parse_str(module).unwrap();
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8, false)
        .unwrap();
    let path = dir.join(file);
    std::fs::write(&path, module).unwrap();
    path
}

/// [`build_executor`] for [`hook_enqueue_module`] against `wit/v0.1`, as `version`.
fn build_hook_enqueue(dir: &Path, file: &str, version: &str) -> PathBuf {
    build_executor(dir, file, &root().join("wit/v0.1"), "0.1.0", version, &hook_enqueue_module(version))
}

/// A core module implementing the `executor` world of `troupe:executor@0.2.0` by hand:
/// `plan` asks for the after-task hook; `execute` enqueues task 0 for `Pass` with
/// `enqueue-batch`; `after-task` picks by the reviewed task's index:
/// - 0: `extend` with one new task for `Pass`, `skip` = "" and `max-stage-tasks` = the
///   task's generation + 10 (so the generation it was handed shows in the extension);
/// - 1: `extend` with a task for `Nobody`;
/// - 2: `enqueue-batch` (not allowed from a hook);
/// - 3: `extend` with three new tasks and `max-stage-tasks` = 2;
///
/// then accepts. Any host error is logged with the `host-error` case as the level
/// (invalid = trace, not-found = debug, unavailable = info, limit-exceeded = warn), so
/// the test sees the kind the guest received.
const EXTENDER_0_2: &str = r#"(module
  (import "troupe:executor/queue@0.2.0" "enqueue-batch"
    (func $enqueue_batch (param i32 i32  i64 i32 i32 i32 i32 i32 f64 i32 i32 i32 i32  i32)))
  (import "troupe:executor/queue@0.2.0" "extend"
    (func $extend (param i32 i32  i64 i32 i32 i32 i32 i32 f64 i32 i32 i32 i32  i32 i64  i32)))
  (import "troupe:executor/log@0.2.0" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  ;; 16: "Pass", 24: "{}", 32: name, 40: "Nobody", 64: name's (ptr, len), 80: an empty
  ;; list, 96: a host call's result, 128: the verdict, 160: execute's and plan's results,
  ;; 256: new-task {Pass, {}}, 288: new-task {Nobody, {}}, 320: task {0, Pass, {}},
  ;; 384: three new-tasks {Pass, {}} (28 bytes each).
  (data (i32.const 16) "Pass")
  (data (i32.const 24) "{}")
  (data (i32.const 32) "extender")
  (data (i32.const 40) "Nobody")
  (data (i32.const 64) "\20\00\00\00\08\00\00\00")
  (data (i32.const 256) "\10\00\00\00\04\00\00\00\18\00\00\00\02\00\00\00")
  (data (i32.const 288) "\28\00\00\00\06\00\00\00\18\00\00\00\02\00\00\00")
  (data (i32.const 328) "\10\00\00\00\04\00\00\00\18\00\00\00\02\00\00\00")
  (data (i32.const 384) "\10\00\00\00\04\00\00\00\18\00\00\00\02\00\00\00")
  (data (i32.const 412) "\10\00\00\00\04\00\00\00\18\00\00\00\02\00\00\00")
  (data (i32.const 440) "\10\00\00\00\04\00\00\00\18\00\00\00\02\00\00\00")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                            (i32.sub (i32.const 0) (local.get 2))))
    (global.set $next (i32.add (local.get $at) (local.get 3)))
    (block $fits
      (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
      (drop (memory.grow (i32.add (i32.div_u (global.get $next) (i32.const 65536)) (i32.const 1)))))
    (local.get $at))
  ;; Log the host error at 96, if any, with its case as the level.
  (func $log_error
    (if (i32.load8_u (i32.const 96))
      (then (call $log (i32.load8_u (i32.const 100)) (i32.load (i32.const 104)) (i32.load (i32.const 108))))))
  (func $enqueue_one
    (call $enqueue_batch (i32.const 320) (i32.const 1)
                         (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                         (f64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                         (i32.const 96))
    (call $log_error))
  (func (export "troupe:executor/stage-executor@0.2.0#name") (result i32) (i32.const 64))
  (func (export "troupe:executor/stage-executor@0.2.0#validate")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 80))
  (func (export "troupe:executor/stage-executor@0.2.0#plan")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 160) (i32.const 0))
    (i32.store8 (i32.const 168) (i32.const 0))
    (i32.store8 (i32.const 192) (i32.const 2))
    (i32.const 160))
  (func (export "troupe:executor/stage-executor@0.2.0#execute")
    (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $enqueue_one)
    (i32.store8 (i32.const 160) (i32.const 0))
    (i64.store (i32.const 168) (i64.const 1))
    (i32.store8 (i32.const 176) (i32.const 0))
    (i32.store8 (i32.const 188) (i32.const 0))
    (i32.store8 (i32.const 189) (i32.const 0))
    (i32.const 160))
  (func (export "troupe:executor/stage-executor@0.2.0#before-task")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i64 i32 i32 i32 i32) (result i32)
    unreachable)
  (func (export "troupe:executor/stage-executor@0.2.0#after-task")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i64 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (if (i64.eq (local.get 8) (i64.const 0))
      (then
        (call $extend (i32.const 256) (i32.const 1)
                      (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                      (f64.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)
                      (i32.const 1) (i64.add (i64.extend_i32_u (local.get 12)) (i64.const 10))
                      (i32.const 96))
        (call $log_error)))
    (if (i64.eq (local.get 8) (i64.const 1))
      (then
        (call $extend (i32.const 288) (i32.const 1)
                      (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                      (f64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                      (i32.const 0) (i64.const 0)
                      (i32.const 96))
        (call $log_error)))
    (if (i64.eq (local.get 8) (i64.const 2))
      (then (call $enqueue_one)))
    (if (i64.eq (local.get 8) (i64.const 3))
      (then
        (call $extend (i32.const 384) (i32.const 3)
                      (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                      (f64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                      (i32.const 1) (i64.const 2)
                      (i32.const 96))
        (call $log_error)))
    (i32.store8 (i32.const 128) (i32.const 0))
    (i32.const 128)))"#;

#[test]
fn a_0_2_hook_grows_its_stage_and_reads_each_error_by_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let file = build_executor(dir.path(), "extender.wasm", &root().join("wit"), "0.2.1", "0.2.0", EXTENDER_0_2);
    let plugin = loader()
        .load_executor(&PluginSpec::file("extender", &file).with_limits(Limits::default()), json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plugin.info().wit_version, "0.2.0");
    let recorded = Arc::new(RecordingHost::with_actors(json!({}), ["Pass".to_string()]));
    let host: Arc<dyn StageHost> = recorded.clone();
    assert!(plugin.plan(host.clone(), &stage()).unwrap().unwrap().after_task_hook);
    assert_eq!(plugin.execute(host.clone(), &stage()).unwrap().unwrap().expected_tasks, 1);
    assert_eq!(recorded.enqueued().len(), 1, "enqueue-batch from execute: {:?}", recorded.logs());

    let review = |index: u64, generation: u32| {
        let task = TaskRef { index, actor: "Pass".into(), attempt: 1, generation };
        plugin.after_task(host.clone(), &stage(), &task, &Outcome::Succeeded(json!({}).into()))
    };
    // Index 0: one new task, skipped with the default reason, the cap from the
    // generation the hook was handed (7 + 10).
    let (verdict, extension) = review(0, 7).unwrap();
    assert_eq!(verdict, Verdict::Accept);
    let expected = Extension {
        tasks: vec![NewTask { actor: "Pass".into(), input: json!({}).into(), key: None }],
        options: EnqueueOptions { skip: Some("skipped by the executor".into()), ..Default::default() },
        cap: 17,
    };
    assert_eq!(extension, Some(expected));
    assert!(recorded.logs().is_empty(), "{:?}", recorded.logs());

    // Index 3: three tasks for a stage of at most two: the third is left out, and said.
    recorded.clear_tasks_and_logs();
    let (_, extension) = review(3, 0).unwrap();
    let extension = extension.expect("an extension");
    assert_eq!((extension.tasks.len(), extension.cap, extension.options.skip), (2, 2, None));
    let logs: Vec<_> = recorded.logs().into_iter().map(|l| (l.level, l.message)).collect();
    let said = "after-task extended the stage past 2 tasks (the smaller of max-stage-tasks and the mode's \
                max-tasks): 1 task(s) left out";
    assert_eq!(logs, vec![(LogLevel::Warn, said.to_string())]);

    // Index 1: an unknown actor is not-found; index 2: enqueue from a hook is invalid.
    // Each is the guest's error, of its kind, and the call's refusal.
    for (index, level, message) in [
        (
            1,
            LogLevel::Debug,
            "queue.extend: new task 0: unknown actor `Nobody`; the manifest has no [actors.Nobody] (add it with \
                 `component = \"<file>.wasm\"`, or `external = true` when a worker of your own serves it)",
        ),
        (
            2,
            LogLevel::Trace,
            "called queue.enqueue from after-task: it may be called only from execute (after-task grows its \
             stage with queue.extend, WIT 0.2)",
        ),
    ] {
        recorded.clear_tasks_and_logs();
        let err = review(index, 0).map(drop).unwrap_err();
        assert_eq!(err.failure, Failure::Refused(message.into()));
        let logs: Vec<_> = recorded.logs().into_iter().map(|l| (l.level, l.message)).collect();
        assert_eq!(logs, vec![(level, message.to_string())]);
        assert!(recorded.enqueued().is_empty());
    }
}

fn stage() -> Stage {
    Stage { run_id: "r".into(), name: "s".into(), definition: json!({ "name": "s" }), config: json!({}) }
}

#[test]
fn a_0_1_hook_that_enqueues_gets_an_error_and_its_call_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = build_hook_enqueue(dir.path(), "hook-enqueue.wasm", "0.1.0");
    let loader = loader();
    let plugin = loader
        .load_executor(&PluginSpec::file("hook-enqueue", &file).with_limits(Limits::default()), json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plugin.info().wit_version, "0.1.0");
    let (recorded, host) = recorder(json!({}));
    assert!(plugin.plan(host.clone(), &stage()).unwrap().unwrap().after_task_hook);

    // From execute, enqueue is what it is for.
    let execution = plugin.execute(host.clone(), &stage()).unwrap().unwrap();
    assert_eq!(execution.expected_tasks, 1);
    assert_eq!(recorded.enqueued().len(), 1);
    assert!(recorded.logs().is_empty(), "{:?}", recorded.logs());
    recorded.clear_tasks_and_logs();

    // From after-task it is refused: the guest reads the error (0.1: the message) ...
    let task = TaskRef { index: 0, actor: "Pass".into(), attempt: 1, generation: 0 };
    let err = plugin.after_task(host, &stage(), &task, &Outcome::Succeeded(json!({}).into())).map(drop).unwrap_err();
    let refusal = "called queue.enqueue from after-task: it may be called only from execute (after-task grows \
                   its stage with queue.extend, WIT 0.2)";
    let logs = recorded.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!((logs[0].level, logs[0].message.as_str()), (LogLevel::Warn, refusal));
    // ... nothing reaches the stage, and the call fails whatever the guest did next.
    assert!(recorded.enqueued().is_empty());
    assert_eq!(err.failure, Failure::Refused(refusal.into()));
    assert!(err.to_string().ends_with(&format!("(mode hook-enqueue): {refusal}")), "{err}");
}

#[test]
fn a_component_of_a_version_no_host_speaks_is_refused_naming_it_and_the_versions_spoken() {
    let dir = tempfile::tempdir().unwrap();
    build_hook_enqueue(dir.path(), "future.wasm", "0.9.0");
    build_hook_enqueue(dir.path(), "present.wasm", "0.1.0");
    let manifest_file = dir.path().join("troupe.toml");
    let text = r#"version = 1
plugins-dir = "."

[executors.future]
component = "future.wasm"

[executors.present]
component = "present.wasm"
"#;
    let manifest = Manifest::parse(&manifest_file, text).unwrap_or_else(|e| panic!("{e}"));
    let options = LoadOptions { cache: None, builtins: vec![] };
    let errors = Plugins::load(&manifest, &options).map(drop).unwrap_err();
    assert_eq!(errors.0.len(), 1, "only the 0.9 component is refused: {errors}");
    assert!(
        matches!(&errors.0[0].problem, LoadProblem::UnsupportedVersion { found } if found == "troupe:executor@0.9.0")
    );
    let future = dir.path().join("future.wasm");
    assert_eq!(
        errors.to_string(),
        format!(
            "{}: [executors.future]: {}: asks for troupe:executor@0.9.0; this host speaks troupe:executor@0.1 and \
             @0.2; rebuild it against one of them (troupe-sdk builds against the newest, troupe:executor@0.2.1 in \
             wit/)",
            manifest_file.display(),
            future.display()
        )
    );
}

#[test]
fn a_component_mixing_versions_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mixed = dir.path().join("mixed.wasm");
    let wat = r#"(component
        (import "troupe:executor/log@0.1.0" (instance))
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f")))
        (instance $e (export "name" (func $f)))
        (export "troupe:executor/stage-executor@0.2.0" (instance $e)))"#;
    std::fs::write(&mixed, wat::parse_str(wat).unwrap()).unwrap();
    let err = loader().load_executor(&PluginSpec::file("mixed", &mixed), json!({})).map(drop).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "[executors.mixed]: {}: mixes troupe:executor/log@0.1.0 and troupe:executor/stage-executor@0.2.0; a \
             component targets one version of troupe:executor, and this host speaks troupe:executor@0.1 and @0.2",
            mixed.display()
        )
    );
}

/// An actor of `troupe:executor@0.2.0` by hand: `invoke` answers with its input.
const ECHO_0_2: &str = r#"(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                            (i32.sub (i32.const 0) (local.get 2))))
    (global.set $next (i32.add (local.get $at) (local.get 3)))
    (block $fits
      (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
      (drop (memory.grow (i32.add (i32.div_u (global.get $next) (i32.const 65536)) (i32.const 1)))))
    (local.get $at))
  (func (export "troupe:executor/actor@0.2.0#invoke") (param i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (local.get 0))
    (i32.store (i32.const 72) (local.get 1))
    (i32.const 64)))"#;

#[test]
fn a_0_2_actor_is_served_by_the_0_2_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let file = build(dir.path(), "echo.wasm", &root().join("wit"), ("0.2.1", "0.2.0"), "actor-component", ECHO_0_2);
    let actor = loader().load_actor(&PluginSpec::file("Echo", &file)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(actor.info().wit_version, "0.2.0");
    let (_, host) = recorder(json!({}));
    let input = json!({ "text": "hello", "n": [1, 2] });
    assert_eq!(actor.invoke(host, "r", "s", &input.clone().into()).unwrap(), Ok(input.into()));
}

#[test]
fn a_later_patch_of_a_spoken_version_is_that_version() {
    let dir = tempfile::tempdir().unwrap();
    let file = build_hook_enqueue(dir.path(), "patch.wasm", "0.1.7");
    let plugin = loader().load_executor(&PluginSpec::file("patch", &file), json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plugin.info().wit_version, "0.1.7");
    let (recorded, host) = recorder(json!({}));
    assert_eq!(plugin.reported_name(host.clone()).unwrap(), "hook-enqueue");
    assert_eq!(plugin.execute(host, &stage()).unwrap().unwrap().expected_tasks, 1);
    assert_eq!(recorded.enqueued().len(), 1, "its 0.1.7 imports are served by the 0.1 bindings");
}

/// The 0.2.0 fixtures and their sha256, as `tests/fixtures/wit-0.2.0/README.md` lists them.
const FIXTURES_0_2_0: [(&str, &str); 2] = [
    ("scatter", "226cc70874a75a4fe55c3b210f120d13f6901543e90b94ad36279a3dad76e1db"),
    ("gather", "9d092ee0190af9552e3d5ae6c9b7c71e574ca4d5eb3305e7a0640ca859329b3a"),
];

/// Components built against 0.2.0, before `enqueue-each` and `enqueue-groups` (0.2.1),
/// run unchanged next to a 0.2.1 actor: the host's 0.2 bindings are 0.2.1's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_0_2_0_fixtures_run_a_scatter_and_a_gather_with_0_2_1_actors() {
    let mut text = String::from("version = 1\nplugins-dir = \".\"\n\n");
    for (mode, sha) in FIXTURES_0_2_0 {
        text += &format!(
            "[executors.{mode}]\ncomponent = \"tests/fixtures/wit-0.2.0/{mode}.wasm\"\nsha256 = \"{sha}\"\n\n"
        );
    }
    text += "[actors.Pass]\ncomponent = \"target/plugins/pass.wasm\"\n";
    let manifest = Manifest::parse(&root().join("compat-0.2.0.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let options = LoadOptions { cache: Some(shared_cache()), builtins: vec![] };
    let plugins = Arc::new(Plugins::load(&manifest, &options).unwrap_or_else(|e| panic!("{e}")));
    for (mode, sha) in FIXTURES_0_2_0 {
        let info = plugins.executor(mode).unwrap().info();
        assert_eq!((info.wit_version.as_str(), info.sha256.as_str()), ("0.2.0", sha), "{mode}");
    }
    let Some(troupe::plugin::Actor::Component(pass)) = plugins.actor("Pass") else { panic!("Pass") };
    assert_eq!(pass.info().wit_version, troupe::plugin::WIT_VERSION, "today's actor");

    let engine = Arc::new(EmbeddedEngine::new(manifest.actors.keys().map(|a| a.to_string()), LogLevel::Warn));
    let _workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 4);
    let orchestrator = Orchestrator::new(engine.clone(), plugins);
    let pipeline = Pipeline::from_value(
        json!({ "stages": [
            { "name": "spread", "mode": "scatter", "actor": "Pass",
              "scatter": { "input": "$.trigger.items", "as": "item" },
              "input": { "n": "$.item.n", "kind": "$.item.kind", "at": "$.index" } },
            { "name": "by-kind", "mode": "gather", "actor": "Pass",
              "gather": { "stage": "spread", "groupBy": "$.kind" },
              "input": { "kind": "$.group.key", "ns": "$.group.items[*].n" } }
        ] }),
        "compat-0.2.0",
    )
    .expect("a valid pipeline");
    let trigger = json!({ "items": [
        { "n": 1, "kind": "a" }, { "n": 2, "kind": "b" }, { "n": 3, "kind": "a" }
    ] });
    let report = orchestrator.run(&pipeline, trigger, &Silent).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.context["spread"][2], json!({ "n": 3, "kind": "a", "at": 2 }));
    assert_eq!(
        report.context["by-kind"],
        json!([
            { "key": "a", "result": { "kind": "a", "ns": [1, 3] } },
            { "key": "b", "result": { "kind": "b", "ns": 2 } }
        ]),
        "one match of `$.group.items[*].n` is the value, several an array (the seed's resolveInput)"
    );
}
