//! A plugin cannot hurt the host: each way of misbehaving ends in its own specific
//! error, and the same host (same engine, same loader) then runs a good plugin.

use serde_json::{json, Value};
use troupe::manifest::Limits;
use troupe::plugin::{ExecutorPlugin, Failure, Loader};
use troupe::{ExecutorError, OutputShape};
use troupe_tests::{executor, fixture, loader, plugin, recorder};

const TIGHT: Limits = Limits { memory_mib: 32, timeout_ms: 300, ..Limits::DEFAULT };

fn stage_for(plugin: &ExecutorPlugin, definition: Value) -> troupe::Stage {
    plugin.stage("run-1", &definition)
}

fn misbehave(behave: &str) -> Value {
    json!({ "name": "bad", "mode": "misbehave", "executorConfig": { "behave": behave } })
}

/// The good plugin every test runs after the bad one, on the same loader.
fn assert_host_still_serves(loader: &Loader) {
    let single = executor(loader, "single", &plugin("single"), Limits::default());
    let (recorded, host) = recorder(json!({ "trigger": { "n": 7 } }));
    let stage = stage_for(
        &single,
        json!({ "name": "after", "mode": "single", "actor": "Pass", "input": { "n": "$.trigger.n" } }),
    );
    let execution = single.execute(host, &stage).unwrap().unwrap();
    assert_eq!(execution.expected_tasks, 1);
    assert_eq!(recorded.enqueued()[0].task.input, json!({ "n": 7 }));
}

fn failure_of(behave: &str, loader: &Loader) -> troupe::CallError {
    let bad = executor(loader, "misbehave", &fixture("misbehave"), TIGHT);
    let (_, host) = recorder(json!({}));
    let stage = stage_for(&bad, misbehave(behave));
    bad.execute(host, &stage).expect_err("the call must fail")
}

#[test]
fn a_plugin_that_loops_forever_is_stopped_at_its_deadline() {
    let loader = loader();
    let err = failure_of("loop", &loader);
    assert_eq!(err.failure, Failure::Deadline { timeout_ms: 300 });
    assert_eq!(err.name, "misbehave");
    let message = err.to_string();
    assert!(
        message.contains("fixtures/misbehave.wasm (mode misbehave): stopped at its deadline of 300 ms"),
        "{message}"
    );
    assert_host_still_serves(&loader);
}

#[test]
fn a_plugin_that_allocates_without_bound_is_stopped_at_its_memory_limit() {
    let loader = loader();
    let err = failure_of("allocate", &loader);
    match err.failure {
        Failure::Memory { limit_mib, requested_mib } => {
            assert_eq!(limit_mib, 32);
            assert!(requested_mib > 32, "it asked for {requested_mib} MiB");
        }
        other => panic!("expected a memory failure, got {other:?}"),
    }
    assert!(err.to_string().contains("stopped at its memory limit of 32 MiB"), "{err}");
    assert_host_still_serves(&loader);
}

#[test]
fn a_plugin_that_panics_traps_with_its_panic_message() {
    let loader = loader();
    let err = failure_of("panic", &loader);
    match &err.failure {
        Failure::Trap(why) => {
            assert!(why.contains("misbehave was asked to panic"), "{why}");
            assert!(why.contains("unreachable"), "{why}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_host_still_serves(&loader);
}

#[test]
fn an_executor_error_is_a_value_not_a_failure() {
    let loader = loader();
    let bad = executor(&loader, "misbehave", &fixture("misbehave"), TIGHT);
    let (_, host) = recorder(json!({}));
    let result = bad.execute(host, &stage_for(&bad, misbehave("fail"))).expect("the call itself succeeds");
    assert_eq!(result, Err(ExecutorError::Fatal("misbehave was asked to fail".into())));
}

#[test]
fn a_python_plugin_cannot_open_a_file() {
    let loader = loader();
    let snoop = executor(
        &loader,
        "snoop",
        &fixture("snoop"),
        Limits { memory_mib: 256, timeout_ms: 10_000, ..Limits::DEFAULT },
    );
    let (_, host) = recorder(json!({}));
    let secret = std::env::temp_dir().join("troupe-sandbox-secret.txt");
    std::fs::write(&secret, "the host's secret").unwrap();
    let stage = stage_for(
        &snoop,
        json!({ "name": "snoop", "mode": "snoop", "executorConfig": { "try": "open", "path": secret.to_str().unwrap() } }),
    );
    let err = snoop.execute(host, &stage).expect_err("opening a host file must fail");
    assert!(matches!(err.failure, Failure::Trap(_)), "expected a trap, got {:?}", err.failure);
    let printed = err.output.as_deref().expect("the Python traceback is in the call's output");
    assert!(printed.contains("FileNotFoundError") || printed.contains("PermissionError"), "{printed}");
    assert!(!err.to_string().contains("the host's secret"), "{err}");
    assert_host_still_serves(&loader);
}

#[test]
fn a_python_plugin_sees_no_environment_arguments_or_clock() {
    let loader = loader();
    let snoop = executor(
        &loader,
        "snoop",
        &fixture("snoop"),
        Limits { memory_mib: 256, timeout_ms: 10_000, ..Limits::DEFAULT },
    );
    let (_, host) = recorder(json!({}));
    // The host's own environment (PATH at least) must not reach the plugin. No variable
    // is set for the occasion: this process runs every suite, and `set_var` races any
    // thread reading the environment.
    assert!(std::env::var_os("PATH").is_some(), "the test process has an environment to leak");
    let stage = stage_for(&snoop, json!({ "name": "snoop", "mode": "snoop", "executorConfig": { "try": "ambient" } }));
    let execution = snoop.execute(host, &stage).unwrap().unwrap();
    assert_eq!(execution.output, OutputShape::Metadata);
    let seen = execution.metadata.unwrap();
    assert_eq!(seen["env"], json!({}));
    assert_eq!(seen["time"], json!(0.0));
    assert_eq!(seen["monotonic"], json!(0.0));
}
