//! Loading plugins: components and plain core modules, the on-disk compile cache, sha256
//! pins, a WIT version the host does not speak, and the `troupe plugins` listing.

use serde_json::json;
use std::process::Command;
use troupe::manifest::{Limits, Sha256Pin};
use troupe::plugin::{CacheOutcome, CompileCache, EngineOptions, LoadProblem, Loader, PluginSpec, SourceKind};
use troupe::{OutputShape, Problem};
use troupe_tests::{core_module, executor, loader, plugin, recorder, root};

#[test]
fn a_plain_cargo_build_output_can_be_dropped_in() {
    let dir = tempfile::tempdir().unwrap();
    let dropped = dir.path().join("single.wasm");
    std::fs::copy(core_module("single"), &dropped).unwrap();
    let loader = loader();
    let single = executor(&loader, "single", &dropped, Limits::default());
    assert_eq!(single.info().source, SourceKind::CoreModule);
    assert_eq!(single.info().wit_version, "0.2.1");
    let (recorded, host) = recorder(json!({ "trigger": { "payload": [1, 2] } }));
    let stage = single.stage(
        "r",
        &json!({ "name": "s", "mode": "single", "actor": "Pass", "input": { "data": "$.trigger.payload" } }),
    );
    single.execute(host, &stage).unwrap().unwrap();
    assert_eq!(recorded.enqueued()[0].task.input, json!({ "data": [1, 2] }));
}

#[test]
fn compiled_components_are_cached_on_disk_and_a_corrupt_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompileCache::new(dir.path());
    let options = EngineOptions { max_memory_mib: 128 };
    let spec = PluginSpec::file("single", plugin("single"));
    let load = || {
        let loader = Loader::new(&options, Some(cache.clone())).unwrap();
        loader.load_executor(&spec, json!({})).unwrap().info().cache.clone()
    };
    assert_eq!(load(), CacheOutcome::Compiled);
    assert_eq!(load(), CacheOutcome::Hit);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"not a compiled component").unwrap();
    }
    match load() {
        CacheOutcome::Rejected(why) => assert!(why.ends_with("too short to hold an authentication tag"), "{why}"),
        other => panic!("expected the corrupt entry to be rejected, got {other:?}"),
    }
    assert_eq!(load(), CacheOutcome::Hit);
}

#[test]
fn a_matching_pin_loads_and_a_wrong_one_names_the_actual_hash() {
    let loader = loader();
    let file = plugin("single");
    let actual = troupe_tests::loader()
        .load_executor(&PluginSpec::file("single", &file), json!({}))
        .unwrap()
        .info()
        .sha256
        .clone();
    let mut spec = PluginSpec::file("single", &file);
    spec.sha256 = Some(Sha256Pin::try_from(actual.clone()).unwrap());
    loader.load_executor(&spec, json!({})).expect("the right pin loads");
    spec.sha256 = Some(Sha256Pin::try_from("ab".repeat(32)).unwrap());
    let err = loader.load_executor(&spec, json!({})).map(drop).expect_err("a wrong pin is refused");
    match err.problem {
        LoadProblem::PinMismatch { actual: reported, .. } => assert_eq!(reported, actual),
        other => panic!("expected a pin mismatch, got {other}"),
    }
}

#[test]
fn a_component_built_against_another_wit_version_is_refused_and_the_host_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let future = dir.path().join("future.wasm");
    let wat = r#"(component
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f")))
        (instance $e (export "name" (func $f)))
        (export "troupe:executor/stage-executor@1.0.0" (instance $e)))"#;
    std::fs::write(&future, wat::parse_str(wat).unwrap()).unwrap();
    let loader = loader();
    let err = loader.load_executor(&PluginSpec::file("future", &future), json!({})).map(drop).unwrap_err();
    match &err.problem {
        LoadProblem::UnsupportedVersion { found } => assert_eq!(found, "troupe:executor@1.0.0"),
        other => panic!("expected an unsupported version, got {other}"),
    }
    assert!(err.to_string().contains("this host speaks troupe:executor@0.1 and @0.2"), "{err}");
    let single = executor(&loader, "single", &plugin("single"), Limits::default());
    let (_, host) = recorder(json!({}));
    assert_eq!(single.reported_name(host).unwrap(), "single");
}

#[test]
fn single_validates_and_enqueues_one_task_with_its_resolved_input() {
    let loader = loader();
    let single = executor(&loader, "single", &plugin("single"), Limits::default());
    let (recorded, host) = recorder(json!({ "trigger": { "payload": { "id": 9 } } }));
    let bad = single.stage("r", &json!({ "name": "process", "mode": "single" }));
    assert_eq!(
        single.validate(host.clone(), &bad).unwrap(),
        vec![Problem { field: "actor".into(), message: "is required".into() }]
    );
    let good = single.stage("r", &json!({ "name": "process", "mode": "single", "actor": "DataProcessor", "input": { "data": "$.trigger.payload" } }));
    assert!(single.validate(host.clone(), &good).unwrap().is_empty());
    let execution = single.execute(host, &good).unwrap().unwrap();
    assert_eq!((execution.expected_tasks, execution.output), (1, OutputShape::Single));
    let enqueued = recorded.enqueued();
    assert_eq!(enqueued.len(), 1);
    assert_eq!((enqueued[0].stage.as_str(), enqueued[0].task.actor.as_str()), ("process", "DataProcessor"));
    assert_eq!(enqueued[0].task.input, json!({ "data": { "id": 9 } }));
}

#[test]
fn single_reports_a_template_path_that_matches_nothing() {
    let loader = loader();
    let single = executor(&loader, "single", &plugin("single"), Limits::default());
    let (_, host) = recorder(json!({ "trigger": {} }));
    let stage = single.stage(
        "r",
        &json!({ "name": "process", "mode": "single", "actor": "A", "input": { "data": "$.trigger.missing" } }),
    );
    let err = single.execute(host, &stage).unwrap().unwrap_err();
    assert_eq!(err, troupe::ExecutorError::Fatal("input.data: `$.trigger.missing` matched nothing".into()));
}

#[test]
fn the_python_chunk_executor_validates_and_enqueues_chunks() {
    let loader = loader();
    let chunk =
        executor(&loader, "chunk", &plugin("chunk"), Limits { memory_mib: 256, timeout_ms: 10_000, ..Limits::DEFAULT });
    let items: Vec<u32> = (0..5).collect();
    let (recorded, host) = recorder(json!({ "trigger": { "items": items } }));
    let bad = chunk.stage(
        "r",
        &json!({ "name": "c", "mode": "chunk", "scatter": { "input": "trigger" }, "executorConfig": { "size": 0 } }),
    );
    let fields: Vec<String> = chunk.validate(host.clone(), &bad).unwrap().into_iter().map(|p| p.field).collect();
    assert_eq!(fields, ["actor", "scatter.input", "scatter.as", "executorConfig.size"]);
    let good = chunk.stage(
        "r",
        &json!({ "name": "c", "mode": "chunk", "actor": "Bulk", "scatter": { "input": "$.trigger.items", "as": "part" },
                 "input": { "items": "$.part", "n": "$.index" }, "executorConfig": { "size": 2 } }),
    );
    let execution = chunk.execute(host, &good).unwrap().unwrap();
    assert_eq!(execution.expected_tasks, 3);
    assert_eq!(execution.metadata, Some(json!({ "items": 5, "chunks": 3, "size": 2 })));
    let inputs: Vec<_> = recorded.enqueued().into_iter().map(|e| e.task.input).collect();
    assert_eq!(
        inputs,
        [json!({ "items": [0, 1], "n": 0 }), json!({ "items": [2, 3], "n": 1 }), json!({ "items": [4], "n": 2 })]
    );
}

#[test]
fn troupe_plugins_lists_every_manifest_entry() {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    let out = Command::new(&troupe)
        .current_dir(root())
        .args(["plugins", "--json", "--cache-dir"])
        .arg(root().join("target/test-cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let manifest = troupe::Manifest::load(&root().join("troupe.toml")).unwrap();
    assert_eq!(rows.len(), manifest.executors.len() + manifest.actors.len());
    for (mode, entry) in &manifest.executors {
        let row = rows.iter().find(|r| r["name"] == mode.as_str()).unwrap_or_else(|| panic!("{mode} is not listed"));
        assert_eq!(row["role"], "mode");
        assert_eq!(row["wit_version"], "0.2.1");
        assert_eq!(row["size"], std::fs::metadata(&entry.component).unwrap().len());
        assert_eq!(row["sha256"].as_str().unwrap().len(), 64);
    }
}
