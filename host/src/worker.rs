//! Workers: take tasks from an engine and run them on their actors, calling the stage's
//! per-task hooks when it asked for them. `concurrency` tasks run at once; a wasm actor
//! runs on tokio's blocking pool, a native actor (`Wait`) on the async runtime, so a
//! waiting task holds no thread.

use crate::actors;
use crate::api::{Admission, Outcome, TaskRef, Verdict};
use crate::engine::{Engine, TaskEnvelope};
use crate::plugin::{Actor, Plugins};
use crate::stage_host::StageHost;
use std::sync::Arc;
use tokio::task::JoinSet;

/// Start `concurrency` workers on the current tokio runtime. They run until the
/// returned set is dropped or aborted.
pub fn spawn<E: Engine>(engine: Arc<E>, plugins: Arc<Plugins>, concurrency: usize) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (engine, plugins) = (engine.clone(), plugins.clone());
        set.spawn(async move {
            loop {
                let task = engine.next_task().await;
                if let Err(e) = run_task(&engine, &plugins, task).await {
                    eprintln!("troupe worker: {e:#}");
                }
            }
        });
    }
    set
}

/// Run one task to its recorded outcome (or its requeue).
pub async fn run_task<E: Engine>(engine: &Arc<E>, plugins: &Arc<Plugins>, task: TaskEnvelope) -> anyhow::Result<()> {
    let info = engine.stage_info(&task.run_id, &task.stage)?;
    let host: Arc<dyn StageHost> = engine.clone();
    let task_ref = TaskRef { index: task.index, actor: task.actor.clone(), attempt: task.attempt };

    let admission = if info.before_task_hook {
        let (plugins, stage, mode, host, task_ref) =
            (plugins.clone(), info.stage.clone(), info.mode.clone(), host.clone(), task_ref.clone());
        tokio::task::spawn_blocking(move || {
            let executor = plugins.executor(&mode).expect("a running stage's mode is loaded");
            executor.before_task(host, &stage, &task_ref)
        })
        .await?
        .unwrap_or_else(|e| Admission::Reject(e.to_string()))
    } else {
        Admission::Run
    };

    let outcome = match admission {
        Admission::Defer(ms) => return engine.requeue(task, ms, false),
        Admission::Reject(message) => Outcome::Failed(message),
        Admission::Run => invoke(engine, plugins, &task).await,
    };

    if info.after_task_hook {
        let (plugins, stage, mode, outcome2) =
            (plugins.clone(), info.stage.clone(), info.mode.clone(), outcome.clone());
        let verdict = tokio::task::spawn_blocking(move || {
            let executor = plugins.executor(&mode).expect("a running stage's mode is loaded");
            executor.after_task(host, &stage, &task_ref, &outcome2)
        })
        .await?;
        match verdict {
            Ok(Verdict::Retry(ms)) => return engine.requeue(task, ms, true),
            Ok(Verdict::Accept) => {}
            Err(e) => {
                engine.finish_task(&task, Outcome::Failed(format!("after-task hook failed: {e}")))?;
                return Ok(());
            }
        }
    }
    engine.finish_task(&task, outcome)?;
    Ok(())
}

async fn invoke<E: Engine>(engine: &Arc<E>, plugins: &Arc<Plugins>, task: &TaskEnvelope) -> Outcome {
    match plugins.actor(&task.actor) {
        Some(Actor::Component(_)) => {
            let (plugins, host, task) = (plugins.clone(), engine.clone() as Arc<dyn StageHost>, task.clone());
            let joined = tokio::task::spawn_blocking(move || {
                let Some(Actor::Component(actor)) = plugins.actor(&task.actor) else { unreachable!() };
                actor.invoke(host, &task.run_id, &task.stage, &task.input)
            })
            .await;
            match joined {
                Ok(Ok(Ok(result))) => Outcome::Succeeded(result),
                Ok(Ok(Err(message))) => Outcome::Failed(message),
                Ok(Err(call)) => Outcome::Failed(call.to_string()),
                Err(join) => Outcome::Failed(format!("the actor's thread failed: {join}")),
            }
        }
        Some(Actor::Builtin(name)) => actors::invoke(name, &task.input).await,
        None => Outcome::Failed(format!("unknown actor `{}`", task.actor)),
    }
}
