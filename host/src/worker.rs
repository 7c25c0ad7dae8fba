//! Workers: take tasks from an engine and run them on their actors. Only actors: the
//! stages' hooks run in the hook host ([`crate::gatekeeper`]), so a troupe worker and a
//! worker in another language following the protocol behave the same.
//!
//! Why threads of their own: a wasm call is short CPU work (about 15 µs for `Pass`), and
//! handing each one to tokio's blocking pool cost more than the call itself (futex
//! wake-ups, a different thread touching each instance slot). So each worker thread runs
//! its own single-threaded runtime and calls wasm inline; native async actors (`Wait`)
//! are spawned onto that runtime, so a waiting task holds no thread. A semaphore keeps
//! at most `concurrency` tasks (wasm or native) in progress across all worker threads.

use crate::actors;
use crate::api::Outcome;
use crate::engine::{Engine, TaskEnvelope};
use crate::plugin::{Actor, Catalog, Plugins};
use crate::stage_host::StageHost;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Semaphore};
use tracing::Instrument as _;

/// Running workers; dropping this stops them (each finishes the task in hand).
pub struct Workers {
    stop: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    ran: Arc<AtomicU64>,
    /// The engine's [`crate::engine::TaskQueue::flush`], called once the workers have stopped.
    flush: Option<Box<dyn FnOnce() + Send>>,
}

impl Workers {
    /// Stop taking tasks and wait until every task in progress has ended (a graceful
    /// shutdown: nothing is left half-done). Returns how many tasks these workers ran.
    pub fn shutdown(mut self) -> u64 {
        let _ = self.stop.send(true);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        if let Some(flush) = self.flush.take() {
            flush();
        }
        self.ran()
    }

    /// How many tasks these workers have run to an outcome (or a requeue) so far.
    pub fn ran(&self) -> u64 {
        self.ran.load(Ordering::Relaxed)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Start workers serving `engine`: at most `concurrency` tasks in progress, on
/// `min(concurrency, 2 x cores)` threads. Each task runs on its run's plugins in
/// `catalog` (one set for everything, or the set its run is pinned to).
pub fn spawn<E: Engine>(engine: Arc<E>, catalog: impl Catalog, concurrency: usize) -> Workers {
    let catalog: Arc<dyn Catalog> = Arc::new(catalog);
    let concurrency = concurrency.max(1);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let permits = Arc::new(Semaphore::new(concurrency));
    let (stop, stopped) = watch::channel(false);
    let mut threads = Vec::new();
    let ran = Arc::new(AtomicU64::new(0));
    for n in 0..concurrency.min(2 * cores) {
        let (engine, catalog, permits, mut stopped) =
            (engine.clone(), catalog.clone(), permits.clone(), stopped.clone());
        let ran = ran.clone();
        let thread = std::thread::Builder::new()
            .name(format!("troupe-worker-{n}"))
            .spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a worker runtime");
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    loop {
                        let permit = tokio::select! {
                            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                            _ = stopped.changed() => break,
                        };
                        let task = tokio::select! {
                            task = engine.next_task() => task,
                            _ = stopped.changed() => break,
                        };
                        let plugins = catalog.plugins_for(&task.run_id);
                        let native = matches!(plugins.actor(&task.actor), Some(Actor::Builtin(_)));
                        let (engine, ran) = (engine.clone(), ran.clone());
                        let work = async move {
                            if let Err(e) = run_task(&engine, &plugins, task).await {
                                eprintln!("troupe worker: {e:#}");
                            }
                            ran.fetch_add(1, Ordering::Relaxed);
                            drop(permit);
                        };
                        if native {
                            tokio::task::spawn_local(work);
                        } else {
                            work.await;
                        }
                    }
                    // Let the native tasks this thread started end: every permit back
                    // means nothing is in progress anywhere.
                    let _ = permits.acquire_many(concurrency as u32).await;
                });
            })
            .expect("cannot start a worker thread");
        threads.push(thread);
    }
    let flush: Option<Box<dyn FnOnce() + Send>> = Some(Box::new(move || engine.flush()));
    Workers { stop, threads, ran, flush }
}

/// Run one task on its actor and report the outcome. The stage's hooks are not this
/// worker's business: the engine hands the outcome to the hook host when the stage has
/// `after-task`, and only admitted tasks reach a worker when it has `before-task`.
pub async fn run_task<E: Engine>(engine: &Arc<E>, plugins: &Arc<Plugins>, task: TaskEnvelope) -> anyhow::Result<()> {
    let span = tracing::debug_span!("task", run_id = %task.run_id, stage = %task.stage, index = task.index,
        actor = %task.actor, attempt = task.attempt);
    let outcome = invoke(engine, plugins, &task).instrument(span.clone()).await;
    let word = match &outcome {
        Outcome::Succeeded(_) => "succeeded",
        Outcome::Failed(error) => {
            // Its own fields, not only the span's: `task` spans are debug-level.
            tracing::info!(parent: &span, run_id = %task.run_id, stage = %task.stage, index = task.index,
                actor = %task.actor, attempt = task.attempt, error = %crate::text::one_line(error, 512), "task failed");
            "failed"
        }
        Outcome::Skipped(_) => "skipped",
    };
    crate::telemetry::metrics::task_ended(&mode_of(engine, &task), &task.actor, word);
    engine.report(&task, outcome)
}

/// The mode of a task's stage, for metrics: asked of the engine once per stage and
/// thread (on Redis a round trip), then remembered.
fn mode_of<E: Engine>(engine: &Arc<E>, task: &TaskEnvelope) -> String {
    type Modes = std::collections::HashMap<(Arc<str>, Arc<str>), String>;
    thread_local! {
        static MODES: std::cell::RefCell<Modes> = Default::default();
    }
    let key = (task.run_id.clone(), task.stage.clone());
    if let Some(mode) = MODES.with(|m| m.borrow().get(&key).cloned()) {
        return mode;
    }
    let mode = engine.stage_info(&task.run_id, &task.stage).map(|i| i.mode).unwrap_or_else(|_| "unknown".into());
    MODES.with(|m| {
        let mut modes = m.borrow_mut();
        // Stages come and go: a long-lived worker forgets them in bulk.
        if modes.len() >= 4096 {
            modes.clear();
        }
        modes.insert(key, mode.clone());
    });
    mode
}

async fn invoke<E: Engine>(engine: &Arc<E>, plugins: &Arc<Plugins>, task: &TaskEnvelope) -> Outcome {
    match plugins.actor(&task.actor) {
        Some(Actor::Component(actor)) => {
            match actor.invoke(engine.clone() as Arc<dyn StageHost>, &task.run_id, &task.stage, &task.input) {
                Ok(Ok(result)) => Outcome::Succeeded(result),
                Ok(Err(message)) => Outcome::Failed(message),
                Err(call) => Outcome::Failed(call.to_string()),
            }
        }
        Some(Actor::Builtin(name)) => actors::invoke(name, &task.input).await,
        // Only reached on the embedded engine (on Redis no troupe worker reads an
        // external actor's stream): nothing here can serve it.
        Some(Actor::External(_)) => Outcome::Failed(crate::engine::external_refusal(&task.actor)),
        None => Outcome::Failed(format!("unknown actor `{}`", task.actor)),
    }
}
