//! The hook host: runs the stages' `before-task` and `after-task` hooks for an engine,
//! in a troupe process that holds the executor plugins (the orchestrator, and on Redis
//! `troupe worker` processes too), never in an actor's worker.
//!
//! Why: a worker in another language that follows the Redis protocol cannot run a wasm
//! hook; with the hooks inside workers, retry and circuit-breaker stopped working as
//! soon as such a worker served the actor. Now a task of a stage with `before-task` goes
//! to the hook host when it is released and reaches its actor only once admitted, and
//! an outcome of a stage with `after-task` goes to the hook host before it is recorded.
//! The decisions follow [`crate::rules::hooks`], as in the plugin harness.
//!
//! One thread with its own single-threaded runtime: a hook is a short wasm call, made
//! inline, as in the workers.

use crate::api::{Outcome, TaskRef};
use crate::engine::{Engine, HookKind, HookWork, StageInfo, TaskEnvelope};
use crate::plugin::{Catalog, ExecutorPlugin, Plugins};
use crate::rules::hooks::{self, Admit, Review};
use crate::stage_host::StageHost;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// A running hook host; dropping it stops it (it finishes the work in hand).
pub struct HookHost {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    done: Arc<AtomicU64>,
}

impl HookHost {
    /// Stop taking hook work and wait for the work in hand.
    pub fn shutdown(mut self) -> u64 {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.done()
    }

    /// How many pieces of hook work this host has done.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

impl Drop for HookHost {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Start a hook host for `engine`, running the hooks of the executors in each run's
/// plugins in `catalog`.
pub fn spawn<E: Engine>(engine: Arc<E>, catalog: impl Catalog) -> HookHost {
    let (stop, mut stopped) = watch::channel(false);
    let done = Arc::new(AtomicU64::new(0));
    let counter = done.clone();
    let thread = std::thread::Builder::new()
        .name("troupe-hooks".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a hook runtime");
            runtime.block_on(async move {
                loop {
                    let work = tokio::select! {
                        work = engine.next_hook_work() => work,
                        _ = stopped.changed() => break,
                    };
                    let plugins = catalog.plugins_for(&work.task.run_id);
                    if let Err(e) = handle(&engine, &plugins, work) {
                        eprintln!("troupe hooks: {e:#}");
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        })
        .expect("cannot start the hook thread");
    HookHost { stop, thread: Some(thread), done }
}

/// Do one piece of hook work to its end: the task admitted, deferred, retried or its
/// outcome recorded.
pub fn handle<E: Engine>(engine: &Arc<E>, plugins: &Arc<Plugins>, work: HookWork) -> anyhow::Result<()> {
    let info = match engine.stage_info(&work.task.run_id, &work.task.stage) {
        Ok(info) => info,
        Err(e) => {
            engine.abandon_hook_work(&work);
            return Err(e);
        }
    };
    let Some(executor) = plugins.executor(&info.mode) else {
        engine.abandon_hook_work(&work);
        anyhow::bail!(
            "mode `{}` is not loaded here; hook work for task {} of stage {} left for another host",
            info.mode,
            work.task.index,
            work.task.stage
        );
    };
    let host: Arc<dyn StageHost> = engine.clone();
    let HookWork { task, kind } = work;
    match kind {
        HookKind::Admit => {
            let task_ref = task_ref(&task);
            let (_, admit) = hooks::admit(executor, host, &info.stage, &task_ref, || engine.count_deferral(&task));
            match admit {
                Admit::Run => engine.admit(task),
                Admit::Defer { delay_ms } => engine.requeue(task, delay_ms, false),
                Admit::Fail(message) => conclude(engine, executor, &info, task, Outcome::Failed(message)),
            }
        }
        HookKind::Review(outcome) => conclude(engine, executor, &info, task, outcome),
    }
}

/// An attempt ended with `outcome`: review it when the stage asked for `after-task`,
/// then record it or run the task again.
fn conclude<E: Engine>(
    engine: &Arc<E>,
    executor: &ExecutorPlugin,
    info: &StageInfo,
    task: TaskEnvelope,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let review = if info.after_task_hook {
        hooks::review(executor, engine.clone(), &info.stage, &task_ref(&task), outcome).1
    } else {
        Review::Record(outcome, None)
    };
    match review {
        Review::Record(outcome, extension) => engine.record(&task, outcome, extension.as_ref()).map(|_| ()),
        Review::Retry { delay_ms } => engine.requeue(task, delay_ms, true),
    }
}

fn task_ref(task: &TaskEnvelope) -> TaskRef {
    TaskRef { index: task.index, actor: task.actor.clone(), attempt: task.attempt, generation: task.generation }
}
