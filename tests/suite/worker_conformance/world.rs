//! A case's world: one implementation, a key prefix of its own on a Redis, a manifest in a
//! temporary directory, the processes it started (orchestrators and workers), and the
//! engine's records read straight from their keys (`docs/redis-protocol.md`): the stage
//! hash's counters, `P:{R}:res:<stage>`, the streams' pending deliveries, and the
//! executions `Tally` counted.

use super::implementations::{Implementation, Stopped};
use redis::streams::StreamRangeReply;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use troupe::engine::Keys;
use troupe_tests::{root, test_redis_url, unique_prefix};

/// How long a run may take before the case counts it as hung.
const HUNG: Duration = Duration::from_secs(90);

/// A process of the case, with its stderr in a file (a pipe nobody reads could fill and
/// stall it) and its stdout piped (small: a run's context, a worker's last line).
pub struct Process {
    child: Child,
    log: PathBuf,
    what: String,
}

impl Process {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// How a process ended: its exit status, stdout and the stderr it logged.
pub struct Ended {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A stage hash's counters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub succeeded: u64,
    pub failed: u64,
    pub in_flight: u64,
}

pub struct World {
    pub imp: Implementation,
    /// Who the case is about, in every message: the implementation's name, or "mixed".
    label: String,
    dir: tempfile::TempDir,
    manifest: PathBuf,
    pub url: String,
    pub prefix: String,
    /// Every process started, killed if the case fails (so none outlives it).
    started: Mutex<Vec<u32>>,
    spawned: AtomicU32,
    /// When the case started, for its time.
    began: Instant,
    case: String,
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for pid in self.started.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
            return;
        }
        println!("[{}] {}: {} ms", self.label, self.case, self.began.elapsed().as_millis());
        // The conformance servers' counters carry no expiry: leave nothing behind.
        if let Ok(mut redis) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection()) {
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("{}:*", self.prefix)).query(&mut redis).unwrap_or_default();
            for chunk in keys.chunks(500) {
                let _ = redis::cmd("DEL").arg(chunk).query::<()>(&mut redis);
            }
        }
    }
}

impl World {
    /// A world on the test Redis.
    pub fn new(imp: Implementation, case: &str) -> World {
        World::on(imp, case, &test_redis_url())
    }

    /// A world on the Redis at `url`.
    pub fn on(imp: Implementation, case: &str, url: &str) -> World {
        World::with_actors(imp, imp.name(), case, url, imp.manifest_actors())
    }

    /// A world whose manifest declares `actors` (TOML `[actors.*]` entries), its workers of
    /// several implementations (`start_worker_of`), on the test Redis. `imp` is the
    /// implementation `start_worker` starts.
    pub fn mixed(imp: Implementation, case: &str, actors: &str) -> World {
        World::with_actors(imp, "mixed", case, &test_redis_url(), actors)
    }

    fn with_actors(imp: Implementation, label: &str, case: &str, url: &str, actors: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("troupe.toml");
        let text = format!(
            "version = 1\nplugins-dir = \"{}\"\n\n[executors.scatter]\ncomponent = \"scatter.wasm\"\n\n\
             [executors.single]\ncomponent = \"single.wasm\"\n{}",
            root().join("target/plugins").display(),
            actors
        );
        std::fs::write(&manifest, text).unwrap();
        World {
            imp,
            label: label.to_string(),
            dir,
            manifest,
            url: url.to_string(),
            prefix: unique_prefix(&format!("conformance-{}", if label == "mixed" { "mixed" } else { imp.slug() })),
            started: Default::default(),
            spawned: AtomicU32::new(0),
            began: Instant::now(),
            case: case.to_string(),
        }
    }

    /// `message`, naming the implementation (every failure of the suite says which).
    pub fn say(&self, message: impl std::fmt::Display) -> String {
        format!("[{}] {message}", self.label)
    }

    pub fn keys(&self) -> Keys {
        Keys::new(&self.prefix)
    }

    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str()).unwrap().get_connection().unwrap()
    }

    fn spawn(&self, what: &str, mut cmd: Command) -> Process {
        let n = self.spawned.fetch_add(1, Ordering::Relaxed) + 1;
        let log = self.dir.path().join(format!("{n}-{}.log", what.replace(' ', "-")));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(File::create(&log).unwrap());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{}", self.say(format!("cannot start {what}: {e}"))));
        self.started.lock().unwrap().push(child.id());
        Process { child, log, what: what.to_string() }
    }

    fn write(&self, name: &str, value: &Value) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    }

    /// `troupe run` of `pipeline` as run `run`, serving no actor itself (`--concurrency
    /// 0`): only the worker under test runs tasks. It still hosts the stages' hooks.
    pub fn start_run(&self, run: &str, pipeline: &Value, trigger: &Value) -> Process {
        let (p, t) = (self.write(&format!("{run}.json"), pipeline), self.write(&format!("{run}-input.json"), trigger));
        let mut cmd = Command::new(root().join("target/release/troupe"));
        cmd.arg("run")
            .arg(p)
            .arg("--input")
            .arg(t)
            .args(["--run-id", run, "--concurrency", "0", "--json", "--redis", &self.url, "--redis-prefix"])
            .arg(&self.prefix)
            .arg("--manifest")
            .arg(&self.manifest)
            .arg("--cache-dir")
            .arg(root().join("target/test-cache"));
        self.spawn("troupe run", cmd)
    }

    /// A worker of the implementation under test.
    pub fn start_worker(&self, concurrency: usize, visibility_ms: u64) -> Process {
        self.start_worker_of(self.imp, concurrency, visibility_ms)
    }

    /// A worker of `imp`, serving what that implementation serves of this world's manifest.
    pub fn start_worker_of(&self, imp: Implementation, concurrency: usize, visibility_ms: u64) -> Process {
        let what = format!("{} worker", imp.slug());
        self.spawn(&what, imp.worker(&self.manifest, &self.url, &self.prefix, concurrency, visibility_ms))
    }

    /// Wait for `process` to end, at most `limit`; while waiting, fail at once if one of
    /// `workers` exits (a run whose only worker died would wait for ever).
    pub fn ended(&self, mut process: Process, workers: &mut [&mut Process], limit: Duration) -> Ended {
        let started = Instant::now();
        while process.alive() {
            for w in workers.iter_mut() {
                if !w.alive() {
                    let status = w.child.wait().unwrap();
                    panic!("{}", self.say(format!("the {} exited ({status}) during the run:\n{}", w.what, w.log())));
                }
            }
            if started.elapsed() > limit {
                let _ = process.child.kill();
                let logs: Vec<String> = workers.iter().map(|w| format!("{}:\n{}", w.what, w.log())).collect();
                panic!(
                    "{}",
                    self.say(format!("{} hung for {limit:?}:\n{}\n{}", process.what, process.log(), logs.join("\n")))
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let stderr = process.log();
        let out = process.child.wait_with_output().unwrap();
        Ended { status: out.status, stdout: String::from_utf8_lossy(&out.stdout).to_string(), stderr }
    }

    /// The context of a run that succeeded (`troupe run --json`).
    pub fn finish(&self, orchestrator: Process, workers: &mut [&mut Process]) -> Value {
        let out = self.ended(orchestrator, workers, HUNG);
        assert!(out.status.success(), "{}", self.say(format!("the run failed ({}):\n{}", out.status, out.stderr)));
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{}", self.say(format!("{e}: {}\n{}", out.stdout, out.stderr))))
    }

    /// Stop a worker with SIGTERM; what it says it did. It must exit cleanly.
    pub fn stop(&self, worker: Process) -> Stopped {
        self.stop_as(self.imp, worker)
    }

    /// Stop a worker of `imp` with SIGTERM; what it says it did.
    pub fn stop_as(&self, imp: Implementation, worker: Process) -> Stopped {
        Command::new("kill").args(["-TERM", &worker.id().to_string()]).status().unwrap();
        let out = self.ended(worker, &mut [], Duration::from_secs(30));
        assert!(
            out.status.success(),
            "{}",
            self.say(format!("the worker failed on SIGTERM ({}):\n{}", out.status, out.stderr))
        );
        imp.stopped(&out.stdout, &out.stderr).unwrap_or_else(|| {
            panic!("{}", self.say(format!("the worker did not say what it ran:\n{}\n{}", out.stdout, out.stderr)))
        })
    }

    /// SIGKILL: no handler runs, nothing is handed back or reported.
    pub fn kill(&self, process: &mut Process) {
        process.child.kill().unwrap();
        process.child.wait().unwrap();
    }

    pub fn wait_until(&self, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(
                started.elapsed() < timeout,
                "{}",
                self.say(format!("timed out after {timeout:?} waiting for {what}"))
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The stage hash's counters (`P:{R}:st:<stage>`).
    pub fn counters(&self, run: &str, stage: &str) -> Counters {
        let hash: HashMap<String, String> =
            redis::cmd("HGETALL").arg(self.keys().stage(run, stage)).query(&mut self.redis()).unwrap();
        let field = |name: &str| hash.get(name).map_or(0, |v| v.parse().unwrap());
        Counters { succeeded: field("succeeded"), failed: field("failed"), in_flight: field("in_flight") }
    }

    /// The recorded results (`P:{R}:res:<stage>`), by task index.
    pub fn results(&self, run: &str, stage: &str) -> BTreeMap<u64, Value> {
        let hash: HashMap<String, String> =
            redis::cmd("HGETALL").arg(self.keys().results(run, stage)).query(&mut self.redis()).unwrap();
        hash.into_iter().map(|(k, v)| (k.parse().unwrap(), serde_json::from_str(&v).unwrap())).collect()
    }

    /// How many times `Tally` ran the task with this id (the key both the wasm fixture
    /// and the conformance servers increment).
    pub fn executions(&self, id: &Value) -> u64 {
        let key = self.keys().state("actor:Tally", &format!("runs/{id}"));
        let n: Option<u64> = redis::cmd("GET").arg(key).query(&mut self.redis()).unwrap();
        n.unwrap_or(0)
    }

    /// Ids `0..n` whose `Tally` task has started and has no result yet: running.
    pub fn running(&self, run: &str, stage: &str, n: u64) -> Vec<u64> {
        let results = self.results(run, stage);
        (0..n).filter(|&id| self.executions(&json!(id)) > 0 && !results.contains_key(&id)).collect()
    }

    /// The actor's stream in the run (`P:{R}:q:<actor>`).
    pub fn stream(&self, run: &str, actor: &str) -> String {
        self.keys().queue(run, actor)
    }

    pub fn stream_length(&self, stream: &str) -> u64 {
        redis::cmd("XLEN").arg(stream).query(&mut self.redis()).unwrap()
    }

    /// Deliveries of the stream taken and not acknowledged.
    pub fn pending(&self, stream: &str) -> u64 {
        let summary: redis::Value = redis::cmd("XPENDING").arg(stream).arg("workers").query(&mut self.redis()).unwrap();
        match summary {
            redis::Value::Array(parts) => match parts.first() {
                Some(redis::Value::Int(n)) => *n as u64,
                other => panic!("XPENDING answered {other:?}"),
            },
            other => panic!("XPENDING answered {other:?}"),
        }
    }

    /// The tasks of `stage` whose deliveries on `stream` are held (taken, not acknowledged)
    /// by the worker process `pid`: every implementation names its consumer
    /// `<implementation>-<host>-<pid>-<suffix>` (`troupe worker`: `<host>-<pid>-<suffix>`).
    pub fn held_by(&self, stream: &str, stage: &str, pid: u32) -> Vec<u64> {
        // Before the stage starts the stream and its group do not exist yet: nothing held.
        let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(stream)
            .arg("workers")
            .arg("-")
            .arg("+")
            .arg(10_000)
            .query(&mut self.redis())
            .unwrap_or_default();
        let mark = format!("-{pid}-");
        let held: Vec<String> =
            pending.into_iter().filter(|(_, consumer, _, _)| consumer.contains(&mark)).map(|(id, ..)| id).collect();
        if held.is_empty() {
            return Vec::new();
        }
        let reply: StreamRangeReply =
            redis::cmd("XRANGE").arg(stream).arg("-").arg("+").query(&mut self.redis()).unwrap();
        let mut tasks: Vec<u64> = reply
            .ids
            .into_iter()
            .filter(|e| held.contains(&e.id) && e.get::<String>("stage").as_deref() == Some(stage))
            .filter_map(|e| e.get::<u64>("index"))
            .collect();
        tasks.sort_unstable();
        tasks
    }

    /// The entry of `stream` holding task `index` of `stage`: its id and fields.
    pub fn entry(&self, stream: &str, stage: &str, index: u64) -> (String, Vec<(String, String)>) {
        let reply: StreamRangeReply =
            redis::cmd("XRANGE").arg(stream).arg("-").arg("+").query(&mut self.redis()).unwrap();
        let entry = reply
            .ids
            .into_iter()
            .find(|e| e.get::<String>("stage").as_deref() == Some(stage) && e.get::<u64>("index") == Some(index))
            .unwrap_or_else(|| panic!("{}", self.say(format!("no entry of {stream} holds task {index} of {stage}"))));
        let fields = entry.map.iter().map(|(f, v)| (f.clone(), redis::from_redis_value(v.clone()).unwrap())).collect();
        (entry.id, fields)
    }

    /// Delete the entry `id` of `stream` (`XDEL`): one not yet delivered is simply gone.
    pub fn delete_entry(&self, stream: &str, id: &str) {
        let deleted: u64 = redis::cmd("XDEL").arg(stream).arg(id).query(&mut self.redis()).unwrap();
        assert_eq!(deleted, 1, "{}", self.say(format!("entry {id} of {stream} was not there to delete")));
    }

    /// Add an entry with `fields` to `stream` (`XADD`), as the functions add tasks.
    pub fn add_entry(&self, stream: &str, fields: &[(String, String)]) {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(stream).arg("*");
        for (f, v) in fields {
            cmd.arg(f).arg(v);
        }
        cmd.query::<String>(&mut self.redis()).unwrap();
    }
}
