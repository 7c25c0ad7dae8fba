//! Distributed mode, with real processes against a real redis-server: workers killed with
//! SIGKILL, an orchestrator killed and resumed, a result delivered twice, three workers
//! sharing a scatter, Redis itself restarted mid-run (with persistence, and empty), a run
//! cancelled from another process, and an orphaned run shown and ended.
//!
//! Each test uses a key prefix of its own on the machine's Redis (`TROUPE_TEST_REDIS`,
//! default 127.0.0.1:6379), except the restart test, which starts its own redis-server.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use troupe::engine::{HookQueue, Keys, Recorded, RunStore, TaskQueue};
use troupe_tests::{redis_engine, root, test_redis_url, unique_prefix, OwnRedis};

/// A manifest for these tests, with absolute paths so processes can run anywhere.
fn manifest(dir: &Path) -> PathBuf {
    let text = format!(
        r#"version = 1
plugins-dir = "{}"

[executors.scatter]
component = "scatter.wasm"

[executors.gather]
component = "gather.wasm"

[executors.single]
component = "single.wasm"

[actors.Tally]
component = "fixtures/tally.wasm"
# Tasks that take their time in work rounds (Redis round trips): on a loaded machine
# 40,000 of them passed the default 5 s budget (seen in CI).
limits = {{ timeout-ms = 60000 }}

[actors.Pass]
component = "pass.wasm"

[actors.Wait]
builtin = "wait"

[executors.retry]
component = "retry.wasm"

[executors.circuit-breaker]
component = "circuit-breaker.wasm"

# Served by tests/python/worker.py only: no troupe process ever serves them.
[actors.Shout]
external = true
description = "text in, text upper-cased out, with servedBy"

[actors.Fail]
external = true

[actors.Flaky]
external = true
"#,
        root().join("target/plugins").display()
    );
    let path = dir.join("troupe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A test's world: a temporary directory with the manifest, a Redis URL and a key prefix.
struct World {
    dir: tempfile::TempDir,
    manifest: PathBuf,
    url: String,
    prefix: String,
    /// Every process the test started, killed if the test fails (so none outlives it).
    started: std::sync::Mutex<Vec<u32>>,
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for pid in self.started.lock().unwrap().iter() {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
    }
}

impl World {
    fn new(what: &str) -> World {
        World::on(what, &test_redis_url())
    }

    fn on(what: &str, url: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let manifest = manifest(dir.path());
        World { dir, manifest, url: url.to_string(), prefix: unique_prefix(what), started: Default::default() }
    }

    fn keys(&self) -> Keys {
        Keys::new(&self.prefix)
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str()).unwrap().get_connection().unwrap()
    }

    /// `troupe <args>` on this world's manifest and Redis, with stdout and stderr captured.
    fn troupe(&self, args: &[&str]) -> Command {
        let mut cmd = self.troupe_on_redis(args);
        cmd.arg("--manifest").arg(&self.manifest).arg("--cache-dir").arg(root().join("target/test-cache"));
        cmd
    }

    /// `troupe <args>` on this world's Redis only (`troupe status` loads no plugins).
    fn troupe_on_redis(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(root().join("target/release/troupe"));
        cmd.args(args)
            .arg("--redis")
            .arg(&self.url)
            .arg("--redis-prefix")
            .arg(&self.prefix)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn spawn(&self, mut cmd: Command) -> Child {
        let child = cmd.spawn().unwrap();
        self.started.lock().unwrap().push(child.id());
        child
    }

    fn write(&self, name: &str, value: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path.display().to_string()
    }

    /// Start `troupe run` of `pipeline` as run `run_id`, serving no tasks itself.
    fn start_run(&self, run_id: &str, pipeline: &Value, trigger: &Value) -> Child {
        let (p, t) = (self.write("pipeline.json", pipeline), self.write("input.json", trigger));
        self.spawn(self.troupe(&["run", &p, "--input", &t, "--run-id", run_id, "--concurrency", "0", "--json"]))
    }

    fn start_worker(&self, concurrency: usize, visibility_ms: u64) -> Child {
        let (c, v) = (concurrency.to_string(), visibility_ms.to_string());
        self.spawn(self.troupe(&[
            "worker",
            "--concurrency",
            &c,
            "--visibility-timeout-ms",
            &v,
            "--actors",
            "Tally,Pass,Wait",
        ]))
    }

    /// How many results stage `stage` of `run` has recorded so far.
    fn recorded(&self, run: &str, stage: &str) -> u64 {
        redis::cmd("HLEN").arg(self.keys().results(run, stage)).query(&mut self.redis()).unwrap()
    }

    /// How many times `Tally` ran the task with this id.
    fn executions(&self, id: u64) -> u64 {
        let key = self.keys().state("actor:Tally", &format!("runs/{id}"));
        let n: Option<u64> = redis::cmd("GET").arg(key).query(&mut self.redis()).unwrap();
        n.unwrap_or(0)
    }
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(child: &mut Child) {
    // SIGKILL: no handler runs, nothing is handed back.
    child.kill().unwrap();
    child.wait().unwrap();
}

fn terminate(child: Child) -> Output {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait_with_output().unwrap()
}

fn finish(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "troupe failed ({}):\n{stderr}", out.status);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)))
}

fn tally_scatter(work: u64) -> Value {
    json!({ "name": "tallies", "stages": [
        { "name": "count", "mode": "scatter", "actor": "Tally",
          "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": { "id": "$.item.id", "work": work },
          "executorConfig": { "batchSize": 500 } },
        { "name": "sum", "mode": "gather", "actor": "Pass",
          "gather": { "stage": "count" }, "input": { "items": "$.group.items" } } ] })
}

fn items(n: u64) -> Value {
    json!({ "items": (0..n).map(|id| json!({ "id": id })).collect::<Vec<_>>() })
}

/// The gathered results: each task's id exactly once, in order.
fn assert_every_id_once(context: &Value, n: u64) {
    let results = context["count"].as_array().expect("count outputs a list");
    let ids: Vec<u64> = results.iter().map(|r| r["id"].as_u64().expect("an id")).collect();
    assert_eq!(ids, (0..n).collect::<Vec<_>>());
    assert_eq!(context["sum"]["items"].as_array().map(Vec::len), Some(n as usize));
}

#[test]
fn a_worker_killed_mid_task_loses_nothing_and_every_task_counts_once() {
    let world = World::new("kill-worker");
    let n = 400;
    let run = "killed-worker";
    let orchestrator = world.start_run(run, &tally_scatter(300), &items(n));
    let mut doomed = world.start_worker(4, 1500);
    wait_until("the doomed worker to have run 40 tasks", Duration::from_secs(60), || {
        world.recorded(run, "count") >= 40
    });
    let survivor = world.start_worker(4, 1500);
    kill(&mut doomed);
    let context = finish(orchestrator);
    terminate(survivor);

    assert_every_id_once(&context, n);
    let executions: Vec<u64> = (0..n).map(|id| world.executions(id)).collect();
    assert!(executions.iter().all(|&e| e >= 1), "a task never ran: {executions:?}");
    let rerun = executions.iter().filter(|&&e| e > 1).count();
    assert!(rerun >= 1, "the killed worker was mid-task, so some task ran again elsewhere");
    let counts = troupe_counts(&world, run, "count");
    assert_eq!((counts.succeeded, counts.failed, counts.in_flight), (n, 0, 0), "each task counted once");
}

#[test]
fn an_orchestrator_killed_mid_scatter_is_resumed_with_no_task_lost_or_run_twice() {
    let world = World::new("kill-orchestrator");
    let n = 2000;
    let run = "killed-orchestrator";
    let workers: Vec<Child> = (0..2).map(|_| world.start_worker(4, 60_000)).collect();
    let mut orchestrator = world.start_run(run, &tally_scatter(20), &items(n));
    wait_until("the scatter to be under way", Duration::from_secs(60), || world.recorded(run, "count") >= 100);
    kill(&mut orchestrator);
    assert!(world.recorded(run, "count") < n, "the orchestrator was killed mid-scatter");

    let resumed = world.spawn(world.troupe(&["resume", run, "--concurrency", "0", "--json"]));
    let context = finish(resumed);
    for w in workers {
        terminate(w);
    }
    assert_every_id_once(&context, n);
    let executions: Vec<u64> = (0..n).map(|id| world.executions(id)).collect();
    let wrong: Vec<(u64, u64)> =
        executions.iter().enumerate().filter(|(_, &e)| e != 1).map(|(i, &e)| (i as u64, e)).collect();
    assert!(wrong.is_empty(), "every task runs exactly once; (id, executions) that did not: {wrong:?}");

    let status = world.troupe_on_redis(&["status", run, "--json"]).output().unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["status"], json!({ "state": "succeeded" }));
    assert_eq!(status["stages"][0]["counts"]["succeeded"], json!(n));
}

#[test]
fn a_result_delivered_twice_is_counted_once() {
    let world = World::new("twice");
    let run = "delivered-twice";
    let pipeline = json!([{ "name": "one", "mode": "single", "actor": "Pass", "input": { "n": 1 } }]);
    let orchestrator = world.start_run(run, &pipeline, &json!({}));

    // This process takes the task first and sits on it, as a worker that stalled would.
    let manifest = troupe::Manifest::load(&world.manifest).unwrap();
    let slow = redis_engine(&manifest, |o| {
        o.url = world.url.clone();
        o.prefix = world.prefix.clone();
        o.prefetch = 1;
    });
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let task = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(30), slow.next_task()).await });
    let task = task.expect("the task reached the slow worker");
    assert_eq!((task.stage.as_ref(), task.index), ("one", 0));

    // A real worker process takes it over after its visibility timeout and finishes it.
    let fast = world.start_worker(1, 300);
    let context = finish(orchestrator);
    assert_eq!(context["one"], json!({ "n": 1 }));
    terminate(fast);

    // Now the stalled worker reports too: a second delivery of the same task.
    let second = slow.record(&task, troupe::Outcome::Succeeded(json!({ "n": "late" }).into()), None).unwrap();
    assert_eq!(second, Recorded::Duplicate);
    let counts = slow.counts(run, "one").unwrap();
    assert_eq!((counts.succeeded, counts.failed, counts.in_flight), (1, 0, 0));
    assert_eq!(slow.results(run, "one").unwrap()[0].outcome, troupe::Outcome::Succeeded(json!({ "n": 1 }).into()));
}

#[test]
fn three_workers_share_a_ten_thousand_item_scatter() {
    let world = World::new("three");
    let n = 10_000;
    let run = "shared";
    let workers: Vec<Child> = (0..3).map(|_| world.start_worker(4, 60_000)).collect();
    let context = finish(world.start_run(run, &tally_scatter(0), &items(n)));
    assert_every_id_once(&context, n);

    let mut ran = Vec::new();
    for w in workers {
        let out = terminate(w);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "a worker failed to stop cleanly:\n{stderr}");
        let count = stderr
            .split("ran ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no task count in:\n{stderr}"));
        ran.push(count);
    }
    // Each worker served part of it; together they ran every task of both stages once.
    assert!(ran.iter().all(|&r| r > 0), "every worker served some tasks: {ran:?}");
    assert_eq!(ran.iter().sum::<u64>(), n + 1, "10,000 scatter tasks and one gather task: {ran:?}");
    assert!((0..n).all(|id| world.executions(id) == 1));
}

#[test]
fn a_redis_restart_mid_run_does_not_lose_the_run() {
    let mut own = OwnRedis::start();
    let world = World::on("restart", &own.url());
    let n = 600;
    let run = "survives-restart";
    let (p, t) = (world.write("pipeline.json", &tally_scatter(100)), world.write("input.json", &items(n)));
    let orchestrator =
        world.spawn(world.troupe(&["run", &p, "--input", &t, "--run-id", run, "--concurrency", "4", "--json"]));
    wait_until("the run to be under way", Duration::from_secs(60), || world.recorded(run, "count") >= 50);
    let before = world.recorded(run, "count");
    own.shut_down();
    assert!(before < n, "Redis goes down mid-run ({before} of {n} results were in)");
    std::thread::sleep(Duration::from_millis(500));
    own.boot();
    let context = finish(orchestrator);
    assert_every_id_once(&context, n);
    assert!((0..n).all(|id| world.executions(id) >= 1));
}

fn troupe_counts(world: &World, run: &str, stage: &str) -> troupe::engine::StageCounts {
    let manifest = troupe::Manifest::load(&world.manifest).unwrap();
    let engine = redis_engine(&manifest, |o| {
        o.url = world.url.clone();
        o.prefix = world.prefix.clone();
    });
    engine.counts(run, stage).unwrap()
}

#[test]
fn a_python_worker_serves_an_actor_over_the_open_protocol() {
    let world = World::new("python");
    let run = "python-served";
    let pipeline = json!({ "name": "shouting", "stages": [
        { "name": "shout", "mode": "scatter", "actor": "Shout",
          "scatter": { "input": "$.trigger.words", "as": "word" }, "input": { "text": "$.word" } },
        { "name": "all", "mode": "gather", "actor": "Pass",
          "gather": { "stage": "shout" }, "input": { "items": "$.group.items" } } ] });
    let words: Vec<String> = (0..50).map(|i| format!("word {i}")).collect();
    // The orchestrator and a troupe worker both serve every actor they may: Pass (the
    // gather); Shout is external, so only Python serves it, though they run first.
    let (p, t) = (world.write("pipeline.json", &pipeline), world.write("input.json", &json!({ "words": words })));
    let orchestrator =
        world.spawn(world.troupe(&["run", &p, "--input", &t, "--run-id", run, "--concurrency", "2", "--json"]));
    let rust = world.spawn(world.troupe(&["worker", "--concurrency", "2"]));
    std::thread::sleep(Duration::from_millis(500));
    wait_until("the run to start", Duration::from_secs(30), || {
        redis::cmd("EXISTS").arg(world.keys().run(run)).query::<bool>(&mut world.redis()).unwrap()
    });
    let mut python = Command::new("python3");
    python
        .arg(root().join("tests/python/worker.py"))
        .args([&world.url, &world.prefix, run, "Shout"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut python = world.spawn(python);
    // A worker that dies (say, redis-py missing) would leave the run waiting forever:
    // fail with its stderr instead.
    wait_until("the Python worker to serve the run", Duration::from_secs(120), || match python.try_wait().unwrap() {
        Some(status) if !status.success() => {
            let mut stderr = String::new();
            std::io::Read::read_to_string(python.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("the Python worker failed ({status}):\n{stderr}");
        }
        Some(_) => true,
        None => false,
    });
    let context = finish(orchestrator);
    let python = python.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), "served 50");
    terminate(rust);
    let shouted = context["shout"].as_array().unwrap();
    assert_eq!(shouted.len(), 50);
    for (i, r) in shouted.iter().enumerate() {
        assert_eq!(r, &json!({ "text": format!("WORD {i}"), "servedBy": "python" }));
    }
    assert_eq!(context["all"]["items"].as_array().map(Vec::len), Some(50));
}

#[test]
fn max_parallel_holds_across_worker_processes() {
    let world = World::new("max-parallel");
    let run = "capped";
    let pipeline = json!([{ "name": "capped", "mode": "scatter", "actor": "Wait",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": 20 },
        "executorConfig": { "maxParallel": 5 } }]);
    let workers: Vec<Child> = (0..2).map(|_| world.start_worker(8, 60_000)).collect();
    let context = finish(world.start_run(run, &pipeline, &items(200)));
    for w in workers {
        terminate(w);
    }
    assert_eq!(context["capped"].as_array().map(Vec::len), Some(200));
    let counts = troupe_counts(&world, run, "capped");
    // Two processes with 16 slots between them never ran more than 5 at once.
    assert_eq!(counts.max_in_flight, 5, "{counts:?}");
}

/// How many tasks a stopped worker says it ran.
fn tasks_ran(out: &Output) -> u64 {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .split("ran ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no task count in:\n{stderr}"))
}

#[test]
fn a_task_longer_than_the_visibility_timeout_is_not_taken_over_while_its_worker_lives() {
    let world = World::new("heartbeat");
    let run = "long-tasks";
    let pipeline = json!([{ "name": "long", "mode": "scatter", "actor": "Wait",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": 1500, "id": "$.item.id" } }]);
    // Tasks of 1.5 s, a visibility timeout of 0.4 s: only the heartbeat keeps them.
    let workers: Vec<Child> = (0..2).map(|_| world.start_worker(2, 400)).collect();
    let context = finish(world.start_run(run, &pipeline, &items(4)));
    assert_eq!(context["long"].as_array().map(Vec::len), Some(4));
    let ran: u64 = workers.into_iter().map(|w| tasks_ran(&terminate(w))).sum();
    assert_eq!(ran, 4, "each task ran once: none was taken over from its live worker");
}

/// Wait for `child` to exit, at most `limit` (then kill it and fail: a hang).
fn exit_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("{what} hung for {limit:?}:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn waits(ms: u64) -> Value {
    json!([{ "name": "waits", "mode": "scatter", "actor": "Wait",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": ms } }])
}

/// `troupe status RUN --json`.
fn status_json(world: &World, run: &str) -> Value {
    let out = world.troupe_on_redis(&["status", run, "--json"]).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Every key of `run` with its time to live (ms; -1 = none).
fn run_key_ttls(world: &World, run: &str) -> Vec<(String, i64)> {
    let mut redis = world.redis();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}:*", world.keys().base(run))).query(&mut redis).unwrap();
    keys.into_iter().map(|k| (k.clone(), redis::cmd("PTTL").arg(&k).query(&mut redis).unwrap())).collect()
}

/// Each key of the run expires within the default retention (a week).
fn assert_every_key_expires(world: &World, run: &str) {
    let ttls = run_key_ttls(world, run);
    assert!(ttls.len() >= 4, "the run's keys: {ttls:?}");
    let week = 7 * 24 * 3600 * 1000;
    let forever: Vec<_> = ttls.iter().filter(|(_, ttl)| !(1..=week).contains(ttl)).collect();
    assert!(forever.is_empty(), "keys that would not expire with the retention: {forever:?}");
}

#[test]
fn a_run_cancelled_from_another_process_stops_everywhere_and_its_keys_expire() {
    let world = World::new("cancel");
    let (run, n) = ("cancel-me", 40);
    let orchestrator = world.start_run(run, &waits(300), &items(n));
    let worker = world.start_worker(2, 60_000);
    wait_until("a few tasks to finish", Duration::from_secs(60), || world.recorded(run, "waits") >= 4);

    let asked = Instant::now();
    let out = world.troupe_on_redis(&["cancel", run]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("run {run} cancelled: its orchestrator stops, tasks not yet started will not run")),
        "{said}"
    );
    let recorded = world.recorded(run, "waits");

    // The orchestrator, in another process, stops at once and says why.
    let out = exit_within(orchestrator, Duration::from_secs(20), "the cancelled run's orchestrator");
    println!("the orchestrator exited {} ms after `troupe cancel` was started", asked.elapsed().as_millis());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains(&format!("run {run} was cancelled")), "{stderr}");

    // No result is recorded after the cancel; the worker drops the tasks not yet started.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(world.recorded(run, "waits"), recorded, "results were recorded after the cancel");
    assert_eq!(status_json(&world, run)["state"], "cancelled");
    assert_every_key_expires(&world, run);

    // The same worker serves the next run.
    let next = json!([{ "name": "one", "mode": "single", "actor": "Pass", "input": { "n": 1 } }]);
    let context = finish(world.start_run("after-cancel", &next, &json!({})));
    assert_eq!(context["one"], json!({ "n": 1 }));
    let ran = tasks_ran(&terminate(worker));
    println!("the worker ran {ran} tasks: {recorded} recorded before the cancel, the next run's one");
    // At most the 2 running at the cancel, and 2 more a worker may have started in the
    // moment before it learnt of the cancel (it looks every 50 ms), and the next run's one.
    assert!(ran <= recorded + 2 + 2 + 1, "tasks not yet started ran after the cancel ({ran} ran, {recorded} recorded)");
    assert!(ran < n, "most of the {n} tasks never ran ({ran})");
}

#[test]
fn an_orphaned_run_shows_in_status_with_its_resume_command_and_cancel_ends_it() {
    let world = World::new("orphan");
    let run = "orphaned";
    // No worker: the run waits on its scatter until its orchestrator dies.
    let mut orchestrator = world.start_run(run, &waits(10), &items(3));
    wait_until("the run to hold its lease", Duration::from_secs(60), || {
        redis::cmd("EXISTS").arg(world.keys().lease(run)).query::<bool>(&mut world.redis()).unwrap()
    });
    assert_eq!(status_json(&world, run)["state"], "running");
    kill(&mut orchestrator);

    let died = Instant::now();
    wait_until("the run to show as orphaned", Duration::from_secs(20), || {
        status_json(&world, run)["state"] == "orphaned"
    });
    println!("shown as orphaned {} ms after its orchestrator died", died.elapsed().as_millis());
    let status = status_json(&world, run);
    let resume = format!("troupe resume {run} --redis-prefix {}", world.prefix);
    assert_eq!(status["resume"], json!(resume), "{status}");
    let text = world.troupe_on_redis(&["status", run]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "run {run}: orphaned (no orchestrator holds it: its lease lapsed); carry it on with `{resume}`"
        )),
        "{text}"
    );
    let list = world.troupe_on_redis(&["status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains(&format!("{run}  orphaned")), "{list:?}");

    // Nothing drives it, and `troupe cancel` ends it for good.
    let out = world.troupe_on_redis(&["cancel", run]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(status_json(&world, run)["state"], "cancelled");
    assert_every_key_expires(&world, run);
    let out = world.troupe(&["resume", run]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("run {run} already ended: it was cancelled")), "{stderr}");
    let out = world.troupe_on_redis(&["cancel", run]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("run `{run}` already ended: cancelled")), "{stderr}");
}

#[test]
fn a_redis_restarted_empty_mid_run_says_the_runs_state_is_gone() {
    let mut own = OwnRedis::volatile();
    let world = World::on("restart-empty", &own.url());
    let (run, n) = ("emptied", 600);
    let (p, t) = (world.write("pipeline.json", &tally_scatter(100)), world.write("input.json", &items(n)));
    let orchestrator =
        world.spawn(world.troupe(&["run", &p, "--input", &t, "--run-id", run, "--concurrency", "4", "--json"]));
    wait_until("the run to be under way", Duration::from_secs(60), || world.recorded(run, "count") >= 50);
    own.shut_down();
    std::thread::sleep(Duration::from_millis(500));
    own.boot();
    let restarted = Instant::now();
    let out = exit_within(orchestrator, Duration::from_secs(90), "the run whose state is gone");
    println!("troupe run failed {} ms after Redis came back empty", restarted.elapsed().as_millis());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "run {run}: its state is gone from Redis (`{}` no longer exists)",
            world.keys().run(run)
        )),
        "{stderr}"
    );
    assert!(stderr.contains("most likely Redis was restarted without persistence"), "{stderr}");
    assert!(!stderr.contains("has no open stage"), "{stderr}");
    // The run was not brought back as fragments, and the same Redis serves the next run.
    let left = run_key_ttls(&world, run);
    assert!(left.iter().all(|(_, ttl)| *ttl > 0), "keys of the gone run that never expire: {left:?}");
    let next = json!([{ "name": "one", "mode": "single", "actor": "Pass", "input": { "n": 1 } }]);
    let (p, t) = (world.write("next.json", &next), world.write("none.json", &json!({})));
    let context = finish(world.spawn(world.troupe(&["run", &p, "--input", &t, "--concurrency", "1", "--json"])));
    assert_eq!(context["one"], json!({ "n": 1 }));
}

/// Start `tests/python/worker.py` serving `actors` (comma-separated) of `run`.
fn start_python(world: &World, run: &str, actors: &str) -> Child {
    wait_until("the run to start", Duration::from_secs(30), || {
        redis::cmd("EXISTS").arg(world.keys().run(run)).query::<bool>(&mut world.redis()).unwrap()
    });
    let mut python = Command::new("python3");
    python
        .arg(root().join("tests/python/worker.py"))
        .args([&world.url, &world.prefix, run, actors])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    world.spawn(python)
}

/// How many tasks the Python worker ran, once the run ended (it stops by itself).
fn python_served(python: Child) -> u64 {
    let out = python.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the Python worker failed:\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.trim().strip_prefix("served ").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{stdout}"))
}

/// A Redis engine on the world's keys, to read what a run recorded.
fn reader(world: &World) -> std::sync::Arc<troupe::engine::RedisEngine> {
    let manifest = troupe::Manifest::load(&world.manifest).unwrap();
    redis_engine(&manifest, |o| {
        o.url = world.url.clone();
        o.prefix = world.prefix.clone();
    })
}

// The retry and circuit-breaker suites again, with their actors served only by the Python
// worker and the orchestrator (`--concurrency 0`) as the only troupe process: the hooks
// hold because they run in the orchestrator's hook host, never in the worker.

#[test]
fn retry_holds_when_a_python_worker_serves_a_failing_actor() {
    let world = World::new("py-retry-fail");
    let run = "py-retry-fail";
    let pipeline = json!({ "stages": [
        { "name": "fetch-data", "mode": "retry", "actor": "Fail", "input": { "message": "upstream 503" },
          "executorConfig": { "maxRetries": 3, "backoff": "exponential", "baseDelayMs": 50 } } ] });
    let orchestrator = world.start_run(run, &pipeline, &json!({}));
    let python = start_python(&world, run, "Fail,Flaky");
    let out = orchestrator.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the stage must fail: {stderr}");
    assert!(stderr.contains("1 of 1 tasks failed (tolerated: 0)"), "{stderr}");
    assert!(stderr.contains("task 0 (Fail, 4 attempts): upstream 503"), "{stderr}");
    assert_eq!(python_served(python), 4, "maxRetries + 1 attempts reached the Python worker");
    let history = reader(&world).task_history(run, "fetch-data").unwrap();
    let gaps: Vec<u64> = history[0].1.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), 3, "{history:?}");
    for (gap, at_least) in gaps.iter().zip([50, 100, 200]) {
        assert!(*gap + 5 >= at_least, "delays must grow 50, 100, 200 ms: {gaps:?}");
    }
}

#[test]
fn retry_holds_when_a_python_worker_serves_a_flaky_actor() {
    let world = World::new("py-retry-flaky");
    let run = "py-retry-flaky";
    let pipeline = json!({ "stages": [
        { "name": "fetch-data", "mode": "retry", "actor": "Flaky", "input": { "key": "fetch", "failures": 2 },
          "executorConfig": { "maxRetries": 3, "backoff": "fixed", "baseDelayMs": 10 } } ] });
    let orchestrator = world.start_run(run, &pipeline, &json!({}));
    let python = start_python(&world, run, "Fail,Flaky");
    let context = finish(orchestrator);
    assert_eq!(context["fetch-data"], json!({ "key": "fetch", "failures": 2 }));
    assert_eq!(python_served(python), 3);
    let results = reader(&world).results(run, "fetch-data").unwrap();
    assert_eq!(results[0].attempts, 3, "{results:?}");
}

#[test]
fn circuit_breaker_holds_when_a_python_worker_serves_the_actor() {
    let world = World::new("py-breaker");
    let run = "py-breaker";
    let items: Vec<Value> = (0..10).map(|i| json!({ "key": "svc", "failures": 3, "n": i })).collect();
    let pipeline = json!({ "stages": [
        { "name": "process", "mode": "circuit-breaker", "actor": "Flaky",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": "$.item",
          "executorConfig": { "threshold": 3, "timeout": 60000, "toleratedFailurePercent": 100 } } ] });
    let orchestrator = world.start_run(run, &pipeline, &json!({ "items": items }));
    let python = start_python(&world, run, "Flaky");
    finish(orchestrator);
    // Three calls fail and open the circuit; the other seven are rejected by the hook
    // host before any worker sees them.
    assert_eq!(python_served(python), 3, "only the three calls before the circuit opened reached the worker");
    let results = reader(&world).results(run, "process").unwrap();
    let errors: Vec<String> = results
        .iter()
        .map(|r| match &r.outcome {
            troupe::Outcome::Failed(e) => e.clone(),
            troupe::Outcome::Succeeded(_) => "ok".into(),
            troupe::Outcome::Skipped(_) => "skipped".into(),
        })
        .collect();
    assert_eq!(errors.iter().filter(|e| e.starts_with("flaky: call")).count(), 3, "{errors:?}");
    assert_eq!(errors.iter().filter(|e| *e == "circuit open").count(), 7, "{errors:?}");
}

/// A task that waits in its worker's buffer past the visibility timeout is reclaimable:
/// the worker's own reclaim (`XAUTOCLAIM` under its own name) must not take it a second
/// time while it still holds it, or the same process runs it twice. Two slots, a buffer
/// of two refilled (and reclaimed from) when one is taken, and tasks about three times as
/// long as the timeout make buffered tasks wait past it.
#[test]
fn a_task_that_waited_past_the_timeout_in_its_own_workers_buffer_runs_once() {
    let world = World::new("own-buffer");
    let run = "own-buffer";
    let n = 10;
    let pipeline = json!({ "stages": [
        { "name": "count", "mode": "scatter", "actor": "Tally",
          "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": { "id": "$.item.id", "work": 40000 } } ] });
    let orchestrator = world.start_run(run, &pipeline, &items(n));
    let worker = world.start_worker(2, 300);
    let context = finish(orchestrator);
    let stopped = terminate(worker);
    assert_eq!(context["count"].as_array().map(Vec::len), Some(n as usize));
    let executions: Vec<u64> = (0..n).map(|id| world.executions(id)).collect();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(executions, vec![1; n as usize], "each task ran once in the one live worker:\n{stderr}");
    assert!(stderr.contains(&format!("stopped; ran {n} tasks")), "{stderr}");
}

/// The run's summary and `troupe status` name the worker processes that read each
/// actor's tasks (their consumer names), so a surprising result can be traced.
#[test]
fn the_run_summary_and_status_name_the_workers_that_served_it() {
    let world = World::new("served-by");
    let run = "served-by";
    let (p, t) = (world.write("pipeline.json", &tally_scatter(0)), world.write("input.json", &items(20)));
    let orchestrator = world.spawn(world.troupe(&["run", &p, "--input", &t, "--run-id", run, "--concurrency", "0"]));
    let worker = world.start_worker(2, 60_000);
    let out = orchestrator.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let stopped = terminate(worker);
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    let consumer = stderr
        .lines()
        .find_map(|l| l.strip_prefix("troupe worker ")?.split_once(": stopped;").map(|(name, _)| name))
        .unwrap_or_else(|| panic!("the worker names itself when it stops:\n{stderr}"))
        .to_string();
    let line = |actor: &str| format!("  {actor:<24} served by {consumer}");
    assert!(stdout.lines().any(|l| l == line("Tally")), "no `served by` line for Tally:\n{stdout}");
    assert!(stdout.lines().any(|l| l == line("Pass")), "no `served by` line for Pass:\n{stdout}");

    let status = world.troupe_on_redis(&["status", run, "--json"]).output().unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status["served_by"],
        json!([{ "actor": "Pass", "workers": [&consumer] }, { "actor": "Tally", "workers": [&consumer] }])
    );
}
