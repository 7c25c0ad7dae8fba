//! Cancelling a run, on the engine the suite runs on (`TROUPE_TEST_ENGINE`): through the
//! `Engine` API mid-scatter, and through the CLI (Ctrl-C on `troupe run`, and
//! `troupe cancel` without `--redis`). The Redis side from other processes is in
//! `tests/suite/distributed.rs`.

use serde_json::json;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::engine::{EmbeddedEngine, Engine, RunStatus};
use troupe::orchestrator::{Orchestrator, RunError, Silent};
use troupe::pipeline::Pipeline;
use troupe::plugin::Plugins;
use troupe::LogLevel;
use troupe_tests::{default_plugins, redis_engine, root};

const TASKS: u64 = 30;

/// A scatter of `TASKS` 200 ms waits, two at a time.
fn slow_scatter() -> Pipeline {
    let stages = json!({ "name": "slow", "stages": [
        { "name": "waits", "mode": "scatter", "actor": "Wait",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": 200 },
          "executorConfig": { "maxParallel": 2 } },
        { "name": "after", "mode": "single", "actor": "Pass", "input": { "never": true } } ] });
    Pipeline::from_value(stages, "test").unwrap()
}

async fn cancel_mid_scatter<E: Engine>(engine: Arc<E>, plugins: Arc<Plugins>) {
    let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 2);
    let orchestrator = Arc::new(Orchestrator::new(engine.clone(), plugins));
    let run_id = format!("cancelled-{}", std::process::id());
    let items: Vec<u64> = (0..TASKS).collect();
    let driving = {
        let (orchestrator, run_id) = (orchestrator.clone(), run_id.clone());
        tokio::spawn(
            async move { orchestrator.run_as(&run_id, &slow_scatter(), json!({ "items": items }), &Silent).await },
        )
    };
    let started = Instant::now();
    loop {
        let done = engine.counts(&run_id, "waits").map(|c| c.succeeded).unwrap_or(0);
        if done >= 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the scatter never got under way");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = Instant::now();
    engine.cancel_run(&run_id).unwrap();
    let outcome =
        tokio::time::timeout(Duration::from_secs(30), driving).await.expect("the orchestrator stopped").unwrap();
    println!("the orchestrator stopped {} ms after the cancel", asked.elapsed().as_millis());
    match outcome {
        Err(RunError::Cancelled { run_id: id }) => assert_eq!(id, run_id),
        other => panic!("expected a cancelled run, got {other:?}"),
    }
    assert_eq!(engine.run_status(&run_id).unwrap(), RunStatus::Cancelled);
    let at_cancel = engine.counts(&run_id, "waits").unwrap();

    // Tasks not yet started never run: after a while, at most the two that were running
    // have ended, and nothing of the next stage exists.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = engine.counts(&run_id, "waits").unwrap();
    let ended = later.succeeded + later.failed;
    assert!(
        ended <= at_cancel.succeeded + at_cancel.failed + 2,
        "tasks ran after the cancel: {at_cancel:?} then {later:?}"
    );
    assert!(ended < TASKS / 2, "most tasks never ran: {later:?}");
    assert!(engine.counts(&run_id, "after").is_err(), "the next stage never opened");

    // Cancelling again says it already ended; the engine serves the next run.
    let again = engine.cancel_run(&run_id).unwrap_err().to_string();
    assert!(again.contains(&format!("run `{run_id}` already ended: cancelled")), "{again}");
    let next =
        Pipeline::from_value(json!([{ "name": "one", "mode": "single", "actor": "Pass", "input": { "n": 1 } }]), "t")
            .unwrap();
    let report = orchestrator.run(&next, json!({}), &Silent).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.context["one"], json!({ "n": 1 }));
    tokio::task::spawn_blocking(move || workers.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_through_the_engine_stops_and_runs_no_task_not_yet_started() {
    let (plugins, manifest) = default_plugins();
    if std::env::var("TROUPE_TEST_ENGINE").is_ok_and(|e| e == "redis") {
        cancel_mid_scatter(redis_engine(&manifest, |o| o.prefetch = 2), plugins).await;
    } else {
        let actors = manifest.actors.keys().map(|a| a.to_string());
        cancel_mid_scatter(Arc::new(EmbeddedEngine::new(actors, LogLevel::Warn)), plugins).await;
    }
}

fn troupe() -> Command {
    let mut cmd = Command::new(root().join("target/release/troupe"));
    cmd.env_remove("TROUPE_REDIS").stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

#[test]
fn ctrl_c_on_troupe_run_cancels_an_embedded_run_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("slow.json");
    let stages = json!([{ "name": "waits", "mode": "scatter", "actor": "Wait",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": 300 } }]);
    std::fs::write(&pipeline, stages.to_string()).unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(&input, json!({ "items": (0..200).collect::<Vec<_>>() }).to_string()).unwrap();
    let mut child = troupe()
        .arg("run")
        .arg(&pipeline)
        .arg("--input")
        .arg(&input)
        .args(["--concurrency", "2", "--manifest"])
        .arg(root().join("troupe.toml"))
        .arg("--cache-dir")
        .arg(root().join("target/test-cache"))
        .spawn()
        .unwrap();
    // The run is under way once it prints its id (loading the plugins comes first).
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).unwrap();
    assert!(first.starts_with("run "), "{first}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "200 waits of 300 ms, 2 at a time, take 30 s");
    let interrupted = Instant::now();
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    println!("troupe run exited {} ms after SIGINT", interrupted.elapsed().as_millis());
    let stderr = rest;
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("was cancelled: its orchestrator stopped and tasks not yet started were dropped"),
        "{stderr}"
    );
}

#[test]
fn troupe_cancel_without_redis_says_what_to_do_instead() {
    let out = troupe().args(["cancel", "run-123"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("troupe cancel needs --redis URL (or TROUPE_REDIS)"), "{stderr}");
    assert!(stderr.contains("press Ctrl-C there (or send it SIGINT: kill -INT <pid>)"), "{stderr}");
}
