//! The [`TaskQueue`] (workers) and [`HookQueue`] (hook hosts) methods of [`RedisEngine`].
//! Workers take tasks from the actor streams and report with `troupe_v5_finish`; hook
//! hosts take hook work from the runs' hooks streams and answer with `troupe_v5_admit`,
//! `troupe_v5_record` and `troupe_v5_requeue`. Every call acknowledges the delivery it
//! answers, on the stream its receipt names.

use super::acker::Report;
use super::codec;
use super::conn::function;
use super::feed::wall_ms;
use super::RedisEngine;
use crate::api::{Extension, Outcome};
use crate::engine::{BoxFuture, HookQueue, HookWork, Recorded, StageInfo, TaskEnvelope, TaskQueue};
use crate::stage_host::{Role, Scope};
use anyhow::{anyhow, bail};
use std::sync::atomic::Ordering;

/// How long a stage's deferral counts outlive the last deferral (a day: more than any
/// task waits, as `max-delay-ms` is a day at most by default).
const DEFERRALS_KEPT_MS: u64 = 86_400_000;

/// The stream and entry id a receipt names ('' and '' for none).
fn receipt_args(task: &TaskEnvelope) -> (String, String) {
    match &task.receipt.0 {
        Some(r) => (r.stream.clone(), r.entry.clone()),
        None => (String::new(), String::new()),
    }
}

impl RedisEngine {
    /// The `troupe_v5_finish` arguments that report `outcome` for `task`.
    fn finish_report(&self, task: &TaskEnvelope, outcome: &Outcome) -> Report {
        let (kind, payload) = codec::outcome_args(outcome);
        let (_, entry) = receipt_args(task);
        Report {
            head: [
                self.keys.stage(&task.run_id, &task.stage),
                self.keys.base(&task.run_id),
                self.keys.prefix().to_string(),
                task.run_id.to_string(),
                task.stage.to_string(),
                task.actor.clone(),
            ],
            task: [task.index.to_string(), task.attempt.to_string(), kind.to_string(), payload, entry],
        }
    }
}

impl TaskQueue for RedisEngine {
    fn next_task(&self) -> BoxFuture<'_, TaskEnvelope> {
        Box::pin(async move {
            self.feed.serve_actors.store(true, Ordering::Relaxed);
            self.start_feed();
            loop {
                let notified = self.feed.ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(task) = self.feed.take() {
                    return task;
                }
                notified.await;
            }
        })
    }

    fn report(&self, task: &TaskEnvelope, outcome: Outcome) -> anyhow::Result<()> {
        self.feed.ended(&task.receipt);
        self.acker.finish(self.finish_report(task, &outcome));
        Ok(())
    }

    fn flush(&self) {
        self.acker.flush();
    }
}

impl HookQueue for RedisEngine {
    fn next_hook_work(&self) -> BoxFuture<'_, HookWork> {
        Box::pin(async move {
            self.feed.serve_hooks.store(true, Ordering::Relaxed);
            self.start_feed();
            loop {
                let notified = self.feed.hook_ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(work) = self.feed.take_hook_work() {
                    return work;
                }
                notified.await;
            }
        })
    }

    fn stage_info(&self, run_id: &str, stage: &str) -> anyhow::Result<StageInfo> {
        let id = (run_id.to_string(), stage.to_string());
        if let Some(info) = self.infos.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(info.clone());
        }
        let fields = self.stage_fields(run_id, stage)?;
        let text = fields.get("info").ok_or_else(|| anyhow!("stage `{stage}` of run `{run_id}` has no info"))?;
        let info: StageInfo =
            codec::json_field(run_id, &self.keys.stage(run_id, stage), "info", text, "a stage info record")?;
        self.infos.lock().unwrap_or_else(|p| p.into_inner()).insert(id, info.clone());
        Ok(info)
    }

    fn admit(&self, task: TaskEnvelope) -> anyhow::Result<()> {
        self.feed.ended(&task.receipt);
        let (stream, entry) = receipt_args(&task);
        self.pool.with(|c| {
            redis::cmd("FCALL")
                .arg(function::ADMIT)
                .arg(1)
                .arg(self.keys.stage(&task.run_id, &task.stage))
                .arg(self.keys.base(&task.run_id))
                .arg(&*task.run_id)
                .arg(&*task.stage)
                .arg(task.index)
                .arg(task.attempt)
                .arg(&stream)
                .arg(&entry)
                .query::<i64>(c)
        })?;
        Ok(())
    }

    fn record(&self, task: &TaskEnvelope, outcome: Outcome, extension: Option<&Extension>) -> anyhow::Result<Recorded> {
        let extension = match extension {
            Some(extension) => {
                let mode = self.stage_info(&task.run_id, &task.stage)?.mode;
                let namespace = Scope { role: Role::Executor, name: mode, run_id: String::new(), stage: String::new() }
                    .state_namespace();
                codec::extension(extension, &namespace, task.generation.saturating_add(1))
            }
            None => String::new(),
        };
        self.feed.ended(&task.receipt);
        let (kind, payload) = codec::outcome_args(&outcome);
        let (stream, entry) = receipt_args(task);
        let (recorded, left_out): (String, usize) = self.pool.with(|c| {
            redis::cmd("FCALL")
                .arg(function::RECORD)
                .arg(1)
                .arg(self.keys.stage(&task.run_id, &task.stage))
                .arg(self.keys.base(&task.run_id))
                .arg(self.keys.prefix())
                .arg(&*task.run_id)
                .arg(&*task.stage)
                .arg(&stream)
                .arg(task.index)
                .arg(task.attempt)
                .arg(kind)
                .arg(&payload)
                .arg(&entry)
                .arg(&task.actor)
                .arg(&extension)
                .query(c)
        })?;
        if left_out > 0 {
            self.warn_left_out(&task.run_id, &task.stage, left_out);
        }
        match recorded.as_str() {
            "counted" => Ok(Recorded::Counted),
            "duplicate" => Ok(Recorded::Duplicate),
            "straggler" => Ok(Recorded::Straggler),
            "ended" => Ok(Recorded::Ended),
            "unknown" => bail!("run `{}` stage `{}` has no task {}", task.run_id, task.stage, task.index),
            other => bail!("{} answered `{}`", function::RECORD, crate::text::one_line(other, 80)),
        }
    }

    fn count_deferral(&self, task: &TaskEnvelope) -> anyhow::Result<u64> {
        // A hash of the run's own (one field per deferred task), expiring a day after its
        // last deferral at the latest, so it never outlives a finished run for long.
        let key = self.keys.deferrals(&task.run_id, &task.stage);
        let (count,): (u64,) = self.pool.with(|c| {
            redis::pipe()
                .atomic()
                .cmd("HINCRBY")
                .arg(&key)
                .arg(task.index)
                .arg(1)
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(DEFERRALS_KEPT_MS)
                .ignore()
                .query(c)
        })?;
        Ok(count)
    }

    fn requeue(&self, task: TaskEnvelope, delay_ms: u64, next_attempt: bool) -> anyhow::Result<()> {
        self.feed.ended(&task.receipt);
        let attempt = if next_attempt { task.attempt + 1 } else { task.attempt };
        let (stream, entry) = receipt_args(&task);
        self.pool.with(|c| {
            redis::cmd("FCALL")
                .arg(function::REQUEUE)
                .arg(1)
                .arg(self.keys.stage(&task.run_id, &task.stage))
                .arg(self.keys.base(&task.run_id))
                .arg(self.keys.prefix())
                .arg(&*task.run_id)
                .arg(&*task.stage)
                .arg(task.index)
                .arg(attempt)
                .arg(delay_ms)
                .arg(&stream)
                .arg(&entry)
                .arg(task.input.as_str())
                .query::<i64>(c)
        })?;
        if delay_ms > 0 {
            self.feed.requeued_due.fetch_min(wall_ms().saturating_add(delay_ms), Ordering::Relaxed);
        }
        Ok(())
    }

    fn abandon_hook_work(&self, work: &HookWork) {
        // Stop keeping it claimed: another hook host takes it over after the visibility
        // timeout.
        self.feed.ended(&work.task.receipt);
    }
}
