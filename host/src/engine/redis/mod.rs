//! [`RedisEngine`]: every run's state and queues in Redis, so runs survive the death of
//! any process and spread over many machines.
//!
//! - `mod.rs`: the engine, its options, and the plugin imports it serves.
//! - `run.rs`: the [`crate::engine::RunStore`] methods (runs, stages, the barrier, results).
//! - `queues.rs`: the [`crate::engine::TaskQueue`] and [`crate::engine::HookQueue`] methods.
//! - `feed.rs`: the per-process thread that takes tasks and hook work from the streams.
//! - `acker.rs`: the per-process thread that sends finished tasks' results in batches.
//! - `enqueuer.rs`: the per-process thread that sends executors' enqueued batches.
//! - `conn.rs`: the connection pool that retries across Redis restarts.
//! - `first_contact.rs`: the first connection, failing fast with what is wrong.
//! - `state.rs`: plugins' state, held to each plugin's quota, every key expiring.
//! - `stats.rs`: per-actor queue figures for the metrics.
//! - `codec.rs`: task records, stream entries and results as text.
//! - `poison.rs`: stream entries no actor can run, failed or dropped at once.
//! - `keys.rs`: the key layout.
//! - `troupe.lua`: the functions that make enqueue, finish and requeue atomic.
//!
//! The layout and message fields are public (docs/redis-protocol.md), so workers in other
//! languages can serve actors.

mod acker;
mod codec;
mod conn;
mod enqueuer;
mod feed;
mod first_contact;
mod keys;
mod live;
mod poison;
mod queues;
mod run;
mod state;
mod stats;

pub use first_contact::{redact_url, ConnectError};
pub use keys::Keys;

use crate::api::{EnqueueOptions, HostError, LogLevel, Task};
use crate::stage_host::{Role, Scope, StageHost, StateQuota};
use conn::{function, Pool};
use feed::Feed;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;

/// A week: long enough to look at a run after a weekend, short enough that a busy
/// deployment does not fill its Redis with finished runs.
pub const DEFAULT_RETAIN: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest retention: ten years. Longer is surely a mistake (and u64::MAX hours
/// overflows every clock Redis has).
pub const MAX_RETAIN: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Tasks per `troupe_v5_enqueue` call: big enough to amortise the round trip, small enough
/// that one call never holds Redis for long.
const ENQUEUE_CHUNK: usize = 1000;

/// How to reach Redis and how this process behaves on it.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://host:port/db`.
    pub url: String,
    /// What every key starts with (so several deployments, or tests, share one Redis).
    pub prefix: String,
    /// A delivery pending longer than this is taken back from its worker (presumed dead)
    /// and run elsewhere. Longer than the longest task.
    pub visibility_timeout: Duration,
    /// The actors this process's workers serve (None: all the manifest's).
    pub serve: Option<Vec<String>>,
    /// Actors this process's workers never serve, whatever `serve` says: the manifest's
    /// `external = true` ones, served by workers of the user's own.
    pub external: Vec<String>,
    /// Tasks a process keeps taken ahead of its workers.
    pub prefetch: usize,
    /// How long a call keeps retrying while Redis does not answer.
    pub reconnect_for: Duration,
    /// How long a run's keys stay in Redis after it ended (for `troupe status`); None
    /// keeps them forever.
    pub retain: Option<Duration>,
}

impl RedisOptions {
    pub fn new(url: &str) -> RedisOptions {
        RedisOptions {
            url: url.to_string(),
            prefix: "troupe".to_string(),
            visibility_timeout: Duration::from_secs(60),
            serve: None,
            external: Vec::new(),
            prefetch: 32,
            reconnect_for: Duration::from_secs(60),
            retain: Some(DEFAULT_RETAIN),
        }
    }
}

/// The Redis engine.
pub struct RedisEngine {
    pool: Arc<Pool>,
    keys: Keys,
    actors: HashSet<String>,
    log_level: LogLevel,
    feed: Arc<Feed>,
    acker: acker::Acker,
    /// Notified each time this process's acker has recorded results: an orchestrator
    /// here waiting for a stage's barrier looks at once rather than at its next poll.
    progress: Arc<tokio::sync::Notify>,
    enqueuer: enqueuer::Enqueuer,
    feed_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    feed_started: OnceLock<()>,
    /// Stage infos never change once a stage is open: read each once.
    infos: Mutex<HashMap<(String, String), crate::engine::StageInfo>>,
    /// Each run's context as last read, with its version.
    contexts: Mutex<HashMap<String, (u64, Arc<Value>)>>,
    /// Runs this process drives (it holds their lease): only it writes their context, so
    /// its cached copy is current and executors read it without a round trip each.
    driving: Mutex<std::collections::HashSet<String>>,
    retain: Option<Duration>,
}

impl Drop for RedisEngine {
    fn drop(&mut self) {
        self.feed.stop.store(true, Ordering::Relaxed);
    }
}

fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "host".into());
    let nanos = feed::wall_ms();
    format!("{}-{}-{:x}", host.trim(), std::process::id(), nanos & 0xffffff)
}

impl RedisEngine {
    /// Connect (loading troupe's functions). `actors` are the manifest's actor names.
    pub fn connect(
        options: &RedisOptions,
        actors: impl IntoIterator<Item = String>,
        log_level: LogLevel,
    ) -> anyhow::Result<RedisEngine> {
        if let Some(retain) = options.retain {
            anyhow::ensure!(
                retain <= MAX_RETAIN,
                "a retention of {} h is too long: at most {} h ({} years)",
                retain.as_secs() / 3600,
                MAX_RETAIN.as_secs() / 3600,
                MAX_RETAIN.as_secs() / (365 * 24 * 3600)
            );
        }
        let pool = Arc::new(Pool::new(&options.url, options.reconnect_for)?);
        let keys = Keys::new(&options.prefix);
        let feed = Arc::new(Feed {
            pool: pool.clone(),
            keys: keys.clone(),
            consumer: consumer_name(),
            serve: options.serve.as_ref().map(|s| s.iter().cloned().collect()),
            external: options.external.iter().cloned().collect(),
            prefetch: options.prefetch.max(1),
            visibility: options.visibility_timeout,
            buffer: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            hook_buffer: Mutex::new(VecDeque::new()),
            hook_ready: Notify::new(),
            serve_actors: AtomicBool::new(false),
            serve_hooks: AtomicBool::new(false),
            room: std::sync::Condvar::new(),
            running: Mutex::default(),
            stop: AtomicBool::new(false),
            requeued_due: std::sync::atomic::AtomicU64::new(u64::MAX),
            look_now: AtomicBool::new(false),
            reader_id: std::sync::atomic::AtomicU64::new(0),
        });
        let progress = Arc::new(tokio::sync::Notify::new());
        Ok(RedisEngine {
            pool: pool.clone(),
            keys,
            actors: actors.into_iter().collect(),
            log_level,
            feed,
            acker: acker::Acker::start(pool.clone(), progress.clone()),
            progress,
            enqueuer: enqueuer::Enqueuer::start(pool.clone()),
            feed_thread: Mutex::new(None),
            feed_started: OnceLock::new(),
            infos: Mutex::default(),
            contexts: Mutex::default(),
            driving: Mutex::default(),
            retain: options.retain,
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// This process's consumer name in the streams' group.
    pub fn consumer(&self) -> &str {
        &self.feed.consumer
    }

    /// Run `f` on a pooled connection (retrying across reconnects).
    pub fn with_connection<T>(
        &self,
        f: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> anyhow::Result<T> {
        self.pool.with(f)
    }

    fn start_feed(&self) {
        self.feed_started.get_or_init(|| {
            let feed = self.feed.clone();
            let handle = std::thread::Builder::new()
                .name("troupe-feed".into())
                .spawn(move || feed.run())
                .expect("cannot start the feed thread");
            *self.feed_thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        });
    }

    /// Stop taking tasks and give back the ones taken but not started, so other workers
    /// run them at once (a graceful shutdown). Returns how many were given back.
    pub fn stop_taking(&self) -> anyhow::Result<usize> {
        self.feed.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.feed_thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
        self.feed.hand_back()
    }
}

impl RedisEngine {
    /// Say that an extension left tasks out past its cap (the plugin's log line, as the
    /// embedded engine says it).
    pub(super) fn warn_left_out(&self, run_id: &str, stage: &str, left_out: usize) {
        use crate::engine::HookQueue as _;
        let mode = self.stage_info(run_id, stage).map(|i| i.mode).unwrap_or_default();
        let cap = self.stage_fields(run_id, stage).ok().and_then(|f| f.get("enqueued").and_then(|v| v.parse().ok()));
        let scope = Scope { role: Role::Executor, name: mode, run_id: run_id.to_string(), stage: stage.to_string() };
        crate::engine::log_line(
            &scope,
            LogLevel::Warn,
            self.log_level,
            &crate::engine::left_out(left_out, cap.unwrap_or(0)),
        );
    }
}

/// A failed Redis read: transient from the plugin's point of view.
fn unavailable(e: anyhow::Error) -> HostError {
    HostError::Unavailable(format!("{e:#}"))
}

impl StageHost for RedisEngine {
    fn context(&self, scope: &Scope) -> Result<Arc<Value>, HostError> {
        if scope.run_id.is_empty() {
            return Ok(Arc::new(Value::Object(Map::new())));
        }
        self.read_context(&scope.run_id).map_err(unavailable)
    }

    fn enqueue(&self, scope: &Scope, tasks: Vec<Task>, options: &EnqueueOptions) -> Result<(), HostError> {
        crate::engine::check_actors(&tasks, &self.actors)?;
        let namespace = scope.state_namespace();
        let (run, stage) = (&scope.run_id, &scope.stage);
        let stage_key = self.keys.stage(run, stage);
        let base = self.keys.base(run);
        let max_parallel = options.max_parallel.map(|m| m.to_string()).unwrap_or_default();
        let timed = options.delay_ms > 0 || options.rate_limit.is_some();
        // Most tasks' records differ only by actor: build each such record once per batch.
        let mut records: HashMap<&str, String> = HashMap::new();
        let args: Vec<[String; 6]> = tasks
            .iter()
            .map(|t| {
                let record = if t.key.is_none() {
                    records.entry(&t.actor).or_insert_with(|| codec::task_record(t, options, &namespace, 0)).clone()
                } else {
                    codec::task_record(t, options, &namespace, 0)
                };
                [
                    t.index.to_string(),
                    record,
                    t.actor.clone(),
                    t.input.as_str().to_string(),
                    t.key.as_ref().map(Value::to_string).unwrap_or_default(),
                    if timed { "1".to_string() } else { String::new() },
                ]
            })
            .collect();
        let mut pipe = redis::pipe();
        for chunk in args.chunks(ENQUEUE_CHUNK).chain(args.is_empty().then_some(&args[..])) {
            let call = pipe.cmd("FCALL").arg(function::ENQUEUE).arg(1).arg(&stage_key);
            call.arg(&base).arg(self.keys.prefix()).arg(run).arg(stage).arg(&max_parallel);
            call.arg(options.skip.as_deref().unwrap_or_default());
            for task in chunk {
                call.arg(&task[..]);
            }
            call.ignore();
        }
        self.enqueuer.send(pipe);
        Ok(())
    }

    fn has_actor(&self, name: &str) -> bool {
        self.actors.contains(name)
    }

    fn state_get(&self, namespace: &str, key: &str) -> Result<Option<String>, HostError> {
        let k = self.keys.state(namespace, key);
        self.pool.with(|c| redis::cmd("GET").arg(&k).query(c)).map_err(unavailable)
    }

    fn state_set(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<(), HostError> {
        self.state_write("set", namespace, key, value, ttl_ms, quota).map(|_| ())
    }

    fn state_set_if_absent(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<bool, HostError> {
        let written = self.state_write("nx", namespace, key, value, ttl_ms, quota)?;
        Ok(matches!(written, state::Written::Value(_)))
    }

    fn state_increment(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<i64, HostError> {
        match self.state_write("incr", namespace, key, &delta.to_string(), ttl_ms, quota)? {
            state::Written::Value(v) => v.parse().map_err(|_| {
                HostError::Invalid(format!(
                    "state key `{}` holds `{}`, not an integer",
                    crate::text::one_line(key, 120),
                    crate::text::one_line(&v, 80)
                ))
            }),
            state::Written::Absent => Err(HostError::Unavailable(format!(
                "state key `{}` was not incremented",
                crate::text::one_line(key, 120)
            ))),
        }
    }

    fn state_delete(&self, namespace: &str, key: &str) -> Result<(), HostError> {
        let quota = StateQuota { keys: u64::MAX, bytes: u64::MAX, max_ttl_ms: 1 };
        self.state_write("del", namespace, key, "", None, &quota).map(|_| ())
    }

    fn log(&self, scope: &Scope, level: LogLevel, message: &str) {
        crate::engine::log_line(scope, level, self.log_level, message);
    }
}
