//! The engines under test, and a run to drive through their roles as the orchestrator,
//! an executor, a worker and the hook host would, with no plugin in between.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use troupe::api::{EnqueueOptions, Execution, Outcome, OutputShape, Stage, Task};
use troupe::engine::{
    EmbeddedEngine, Engine, HookWork, RedisEngine, RedisOptions, StageCounts, StageInfo, TaskEnvelope,
};
use troupe::pipeline::Pipeline;
use troupe::{LogLevel, Role, Scope};
use troupe_tests::{test_redis_url, unique_prefix};

/// The actors every engine here knows.
pub const ACTORS: [&str; 2] = ["A", "B"];

/// The mode (the state namespace a stage's rate buckets live in) of every stage, unless
/// a case says otherwise.
pub const MODE: &str = "conformance";

/// How long one wait for a task or hook work may take before the case fails: an engine
/// that lost the task would otherwise hang the case (not a timing assertion).
const DELIVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Embedded,
    Redis,
}

impl Subject {
    pub fn name(self) -> &'static str {
        match self {
            Subject::Embedded => "embedded",
            Subject::Redis => "redis",
        }
    }

    /// A fresh engine, nothing shared with any other case, and its Redis key prefix.
    pub fn engine(self) -> (Arc<dyn Engine>, Option<String>) {
        let actors = ACTORS.iter().map(|a| a.to_string());
        match self {
            Subject::Embedded => (Arc::new(EmbeddedEngine::new(actors, LogLevel::Warn)), None),
            Subject::Redis => {
                let mut options = RedisOptions::new(&test_redis_url());
                options.prefix = unique_prefix("conformance");
                options.reconnect_for = Duration::from_secs(5);
                let engine = RedisEngine::connect(&options, actors, LogLevel::Warn)
                    .unwrap_or_else(|e| panic!("cannot reach the test Redis at {}: {e:#}", test_redis_url()));
                (Arc::new(engine), Some(options.prefix))
            }
        }
    }
}

/// Delete what a case left in Redis under its engine's `prefix`.
pub fn clean_up(prefix: &str) {
    use redis::Commands;
    let Ok(mut conn) = redis::Client::open(test_redis_url()).and_then(|c| c.get_connection()) else { return };
    let keys: Vec<String> = match conn.scan_match(format!("{prefix}:*")) {
        Ok(keys) => keys.filter_map(Result::ok).collect(),
        Err(_) => return,
    };
    for chunk in keys.chunks(500) {
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(chunk).query(&mut conn);
    }
}

/// Which hooks a stage asked for in its plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hooks {
    pub before: bool,
    pub after: bool,
}

pub const NO_HOOKS: Hooks = Hooks { before: false, after: false };

/// A task of `actor` whose input names its index.
pub fn task(index: u64, actor: &str) -> Task {
    Task { index, actor: actor.to_string(), input: json!({ "n": index }).into(), key: None }
}

/// Tasks `indices` of actor `A`.
pub fn tasks(indices: impl IntoIterator<Item = u64>) -> Vec<Task> {
    indices.into_iter().map(|i| task(i, "A")).collect()
}

/// A pipeline of `stages` (names only: no plugin reads them here).
pub fn pipeline(stages: &[&str]) -> Pipeline {
    let stages: Vec<Value> = stages.iter().map(|s| json!({ "name": s, "mode": MODE, "actor": "A" })).collect();
    Pipeline::from_value(json!({ "name": "conformance", "stages": stages }), "conformance").expect("a pipeline")
}

/// One run on one engine, driven stage by stage.
pub struct Run {
    pub engine: Arc<dyn Engine>,
    pub id: String,
}

impl Run {
    /// Start a run of [`pipeline`]`(stages)`.
    pub fn start(engine: &Arc<dyn Engine>, stages: &[&str]) -> Run {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!("conf-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        engine.start_run(&id, &pipeline(stages), json!({ "case": id })).unwrap_or_else(|e| panic!("start_run: {e:#}"));
        Run { engine: engine.clone(), id }
    }

    /// Open `stage` of mode [`MODE`].
    pub fn open(&self, stage: &str, hooks: Hooks) {
        self.open_as(stage, MODE, hooks);
    }

    /// Open `stage` as a stage of `mode`.
    pub fn open_as(&self, stage: &str, mode: &str, hooks: Hooks) {
        let definition = json!({ "name": stage, "mode": mode, "actor": "A" });
        let info = StageInfo {
            mode: mode.to_string(),
            stage: Arc::new(Stage { run_id: self.id.clone(), name: stage.to_string(), definition, config: json!({}) }),
            before_task_hook: hooks.before,
            after_task_hook: hooks.after,
        };
        self.engine.open_stage(&self.id, info).unwrap_or_else(|e| panic!("open_stage {stage}: {e:#}"));
    }

    /// Enqueue as the executor of `stage` (mode [`MODE`]) would.
    pub fn enqueue(&self, stage: &str, tasks: Vec<Task>, options: &EnqueueOptions) {
        self.enqueue_as(stage, MODE, tasks, options);
    }

    pub fn enqueue_as(&self, stage: &str, mode: &str, tasks: Vec<Task>, options: &EnqueueOptions) {
        let scope = Scope { role: Role::Executor, name: mode.into(), run_id: self.id.clone(), stage: stage.into() };
        self.engine.enqueue(&scope, tasks, options).unwrap_or_else(|e| panic!("enqueue into {stage}: {e}"));
    }

    /// Seal `stage` as its executor returning `expected` tasks (a list output); returns
    /// how many tasks the engine holds for it. On Redis this also waits for every
    /// enqueued batch to land, so counters read after it are current.
    pub fn seal(&self, stage: &str, expected: u64) -> u64 {
        let execution =
            Execution { expected_tasks: expected, metadata: None, output: OutputShape::List, detached: false };
        self.engine.seal_stage(&self.id, stage, &execution).unwrap_or_else(|e| panic!("seal_stage {stage}: {e:#}"))
    }

    pub fn counts(&self, stage: &str) -> StageCounts {
        self.engine.counts(&self.id, stage).unwrap_or_else(|e| panic!("counts of {stage}: {e:#}"))
    }

    /// Each task's release times (ms since the stage opened), by index.
    pub fn history(&self, stage: &str) -> Vec<(u64, Vec<u64>)> {
        self.engine.task_history(&self.id, stage).unwrap_or_else(|e| panic!("task_history of {stage}: {e:#}"))
    }

    /// Report as a worker, and wait until the engine has it.
    pub fn report(&self, task: &TaskEnvelope, outcome: Outcome) {
        self.engine.report(task, outcome).unwrap_or_else(|e| panic!("report of task {}: {e:#}", task.index));
        self.engine.flush();
    }

    /// An envelope for task `index` of `stage` as a worker that took it would hold
    /// (no receipt: nothing to acknowledge).
    pub fn envelope(&self, stage: &str, index: u64, attempt: u32) -> TaskEnvelope {
        TaskEnvelope {
            run_id: Arc::from(self.id.as_str()),
            stage: Arc::from(stage),
            index,
            actor: "A".into(),
            input: json!({ "n": index }).into(),
            key: None,
            attempt,
            generation: 0,
            receipt: troupe::engine::Receipt::none(),
        }
    }
}

/// The next task due for an actor, as a worker takes it.
pub async fn take(engine: &Arc<dyn Engine>) -> TaskEnvelope {
    tokio::time::timeout(DELIVERY, engine.next_task())
        .await
        .unwrap_or_else(|_| panic!("no task was delivered within {} s", DELIVERY.as_secs()))
}

/// The next piece of hook work, as the hook host takes it.
pub async fn take_hook(engine: &Arc<dyn Engine>) -> HookWork {
    tokio::time::timeout(DELIVERY, engine.next_hook_work())
        .await
        .unwrap_or_else(|_| panic!("no hook work was delivered within {} s", DELIVERY.as_secs()))
}

/// `value`, as the JSON result of a succeeded task.
pub fn ok(value: Value) -> Outcome {
    Outcome::Succeeded(value.into())
}
