//! The [`RunStore`] methods of [`RedisEngine`]: runs, stages, the barrier and results. The
//! orchestrator writes through these and keeps nothing only in memory, so another
//! process can carry a run on from what is here.

use super::codec;
use super::conn::function;
use super::feed::wall_ms;
use super::keys::GROUP;
use super::RedisEngine;
use crate::api::Execution;
use crate::engine::live::{StageLive, StateEntry};
use crate::engine::{
    BoxFuture, Retune, Retuned, RunRecord, RunStatus, RunStore, StageCounts, StageInfo, StateError, TaskResult,
};
use crate::pipeline::Pipeline;
use anyhow::{anyhow, bail};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How often the orchestrator looks at a stage's counters while it waits.
const POLL: Duration = Duration::from_millis(20);

/// How many run ids `P:runs:all` keeps (the latest).
const RUNS_LISTED: usize = 10_000;

impl RedisEngine {
    /// The error for a stage hash found empty: the run's whole state is gone, or only
    /// this stage was never opened.
    fn missing_stage(&self, run_id: &str, stage: &str) -> anyhow::Error {
        match self.run_exists(run_id) {
            Ok(false) => StateError::Gone { run_id: run_id.to_string(), key: self.keys.run(run_id) }.into(),
            Ok(true) => anyhow!("run `{run_id}` has no open stage `{stage}`"),
            Err(e) => e,
        }
    }

    /// The run's stage names (from its pipeline) and the actors it has streams for.
    fn run_layout(&self, run_id: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let (pipeline, actors): (Option<String>, Option<String>) = self
            .pool
            .with(|c| redis::cmd("HMGET").arg(self.keys.run(run_id)).arg("pipeline").arg("actors").query(c))?;
        let pipeline: Value = serde_json::from_str(pipeline.as_deref().unwrap_or("{}"))?;
        let actors: Vec<String> = serde_json::from_str(actors.as_deref().unwrap_or("[]"))?;
        let stages = pipeline["stages"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str());
        Ok((stages.map(str::to_string).collect(), actors))
    }

    /// Every key `run_id` can have (from its pipeline's stages and its actors).
    fn all_run_keys(&self, run_id: &str) -> anyhow::Result<Vec<String>> {
        let (stages, actors) = self.run_layout(run_id)?;
        Ok(self.keys.run_keys(run_id, stages.iter().map(String::as_str), actors.iter().map(String::as_str)))
    }

    pub(super) fn read_context(&self, run_id: &str) -> anyhow::Result<Arc<Value>> {
        if self.driving.lock().unwrap_or_else(|p| p.into_inner()).contains(run_id) {
            if let Some((_, context)) = self.contexts.lock().unwrap_or_else(|p| p.into_inner()).get(run_id) {
                return Ok(context.clone());
            }
        }
        let run_key = self.keys.run(run_id);
        let version: Option<String> =
            self.pool.with(|c| redis::cmd("HGET").arg(&run_key).arg("ctx_version").query(c))?;
        let version = version.ok_or_else(|| StateError::Gone { run_id: run_id.to_string(), key: run_key.clone() })?;
        let version: u64 = version
            .parse()
            .map_err(|_| StateError::garbage(run_id, &run_key, "ctx_version", &version, "a version (an integer)"))?;
        if let Some((v, context)) = self.contexts.lock().unwrap_or_else(|p| p.into_inner()).get(run_id) {
            if *v == version {
                return Ok(context.clone());
            }
        }
        let (fields, version, pipeline): (HashMap<String, String>, Option<String>, Option<String>) =
            self.pool.with(|c| {
                redis::pipe()
                    .atomic()
                    .cmd("HGETALL")
                    .arg(self.keys.context(run_id))
                    .cmd("HGET")
                    .arg(&run_key)
                    .arg("ctx_version")
                    .cmd("HGET")
                    .arg(&run_key)
                    .arg("pipeline")
                    .query(c)
            })?;
        let context = Arc::new(codec::context(fields, pipeline.as_deref()).map_err(|e| {
            StateError::garbage(run_id, &self.keys.context(run_id), &format!("{e}"), "(not JSON)", "JSON text")
        })?);
        let version = version.and_then(|v| v.parse().ok()).unwrap_or(0);
        self.contexts.lock().unwrap_or_else(|p| p.into_inner()).insert(run_id.to_string(), (version, context.clone()));
        Ok(context)
    }

    /// The entry on the run events stream that wakes idle workers (kept to ~1,000).
    fn run_event(&self, event: &str, run_id: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.keys.run_events()).arg("MAXLEN").arg("~").arg(1000).arg("*").arg(event).arg(run_id);
        cmd
    }

    pub(super) fn stage_fields(&self, run_id: &str, stage: &str) -> anyhow::Result<HashMap<String, String>> {
        let fields: HashMap<String, String> =
            self.pool.with(|c| redis::cmd("HGETALL").arg(self.keys.stage(run_id, stage)).query(c))?;
        if fields.is_empty() {
            return Err(self.missing_stage(run_id, stage));
        }
        Ok(fields)
    }

    /// Every task record of a stage: index -> (actor, key).
    fn task_actors(&self, run_id: &str, stage: &str) -> anyhow::Result<HashMap<u64, (String, Option<Value>)>> {
        let key = self.keys.tasks(run_id, stage);
        let records: HashMap<String, String> = self.pool.with(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        codec::by_index(run_id, &key, records)?
            .into_iter()
            .map(|(i, r)| {
                let parsed = codec::record_actor_key(&r)
                    .map_err(|_| StateError::garbage(run_id, &key, &i.to_string(), &r, "a task record"))?;
                Ok((i, parsed))
            })
            .collect()
    }

    fn results_where(&self, run_id: &str, stage: &str, stragglers: bool) -> anyhow::Result<Vec<TaskResult>> {
        let (results_key, stragglers_key) = (self.keys.results(run_id, stage), self.keys.stragglers(run_id, stage));
        let (records, late): (HashMap<String, String>, Vec<String>) = self.pool.with(|c| {
            redis::pipe().cmd("HGETALL").arg(&results_key).cmd("LRANGE").arg(&stragglers_key).arg(0).arg(-1).query(c)
        })?;
        let records = codec::by_index(run_id, &results_key, records)?;
        let late = codec::indices(run_id, &stragglers_key, late)?;
        // Task records are read only for keys (their actors are in the results).
        let keyed: Option<String> =
            self.pool.with(|c| redis::cmd("HGET").arg(self.keys.stage(run_id, stage)).arg("keyed").query(c))?;
        let mut actors = if keyed.is_some() { self.task_actors(run_id, stage)? } else { HashMap::new() };
        let mut take = |index: u64, record: &str| {
            let (actor, key) = actors.remove(&index).unwrap_or_default();
            codec::result(index, record, actor, key)
        };
        if stragglers {
            return Ok(late.iter().filter_map(|i| records.get(i).map(|r| take(*i, r))).collect());
        }
        let late: std::collections::HashSet<u64> = late.into_iter().collect();
        let mut results: Vec<TaskResult> =
            records.iter().filter(|(i, _)| !late.contains(i)).map(|(i, r)| take(*i, r)).collect();
        results.sort_by_key(|r| r.index);
        Ok(results)
    }
}

impl RunStore for RedisEngine {
    fn unread(&self, run_id: &str) -> anyhow::Result<Vec<crate::engine::Unread>> {
        self.unread_streams(run_id)
    }

    fn served_by(&self, run_id: &str) -> anyhow::Result<Vec<crate::engine::ServedBy>> {
        self.stream_readers(run_id)
    }

    fn run_exists(&self, run_id: &str) -> anyhow::Result<bool> {
        self.pool.with(|c| redis::cmd("EXISTS").arg(self.keys.run(run_id)).query(c))
    }

    fn recent_runs(&self, limit: usize) -> anyhow::Result<Vec<String>> {
        let key = self.keys.all_runs();
        let from = -(limit.max(1) as i64);
        self.pool.with(|c| redis::cmd("LRANGE").arg(&key).arg(from).arg(-1).query(c))
    }

    fn lease_holder(&self, run_id: &str) -> anyhow::Result<Option<String>> {
        self.pool.with(|c| redis::cmd("GET").arg(self.keys.lease(run_id)).query(c))
    }

    fn start_run(&self, run_id: &str, pipeline: &Pipeline, trigger: Value) -> anyhow::Result<()> {
        let run_key = self.keys.run(run_id);
        let created: bool = self.pool.with(|c| {
            redis::cmd("HSETNX").arg(&run_key).arg("pipeline").arg(pipeline.to_value().to_string()).query(c)
        })?;
        if !created {
            bail!("run `{run_id}` already exists");
        }
        let mut actors: Vec<&String> = self.actors.iter().collect();
        actors.sort();
        let trigger_text = trigger.to_string();
        let mut context = Map::new();
        context.insert("trigger".into(), trigger);
        let status = serde_json::to_string(&RunStatus::Running)?;
        let mut pipe = redis::pipe();
        let streams = actors.iter().map(|a| self.keys.queue(run_id, a)).chain([self.keys.hooks(run_id)]);
        for stream in streams {
            // Ignore BUSYGROUP: the group may exist from an earlier attempt to start.
            pipe.cmd("XGROUP").arg("CREATE").arg(stream).arg(GROUP).arg(0).arg("MKSTREAM");
        }
        let _ = self.pool.with(|c| pipe.query::<redis::Value>(c));
        self.pool.with(|c| {
            redis::pipe()
                .atomic()
                .cmd("HSET")
                .arg(self.keys.context(run_id))
                .arg("trigger")
                .arg(&trigger_text)
                .ignore()
                .cmd("HSET")
                .arg(&run_key)
                .arg("status")
                .arg(&status)
                .arg("stage")
                .arg(0)
                .arg("ctx_version")
                .arg(1)
                .arg("actors")
                .arg(serde_json::to_string(&actors).expect("names serialise"))
                .arg("started_ms")
                .arg(wall_ms())
                .ignore()
                .cmd("SADD")
                .arg(self.keys.active_runs())
                .arg(run_id)
                .ignore()
                .cmd("RPUSH")
                .arg(self.keys.all_runs())
                .arg(run_id)
                .ignore()
                // The list `troupe status` reads: the latest runs, not all of them forever.
                .cmd("LTRIM")
                .arg(self.keys.all_runs())
                .arg(-(RUNS_LISTED as i64))
                .arg(-1)
                .ignore()
                .add_command(self.run_event("started", run_id))
                .ignore()
                .query::<()>(c)
        })?;
        // Local workers read the run's streams at once.
        self.feed.wake();
        // Version 1 is the context just written: no need to read it back.
        self.contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run_id.to_string(), (1, Arc::new(Value::Object(context))));
        Ok(())
    }

    fn run_record(&self, run_id: &str) -> anyhow::Result<RunRecord> {
        let key = self.keys.run(run_id);
        let fields: HashMap<String, String> = self.pool.with(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        if fields.is_empty() {
            bail!("no run `{run_id}` in Redis (under the key prefix `{}`)", self.keys.prefix());
        }
        Ok(codec::run_record(run_id, &key, &fields)?)
    }

    fn set_run_stage(&self, run_id: &str, stage: usize) -> anyhow::Result<()> {
        self.pool.with(|c| redis::cmd("HSET").arg(self.keys.run(run_id)).arg("stage").arg(stage).query::<()>(c))
    }

    fn finish_run(&self, run_id: &str, status: &RunStatus) -> anyhow::Result<()> {
        let status = serde_json::to_string(status)?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HSET")
            .arg(self.keys.run(run_id))
            .arg("status")
            .arg(&status)
            .arg("finished_ms")
            .arg(wall_ms())
            .ignore()
            .cmd("SREM")
            .arg(self.keys.active_runs())
            .arg(run_id)
            .ignore()
            .cmd("DEL")
            .arg(self.keys.lease(run_id))
            .ignore()
            .add_command(self.run_event("ended", run_id))
            .ignore();
        // The end and the retention in one transaction: a run never ends without it.
        if let Some(retain) = self.retain {
            let ms = retain.as_millis().max(1) as u64;
            for key in self.all_run_keys(run_id)? {
                pipe.cmd("PEXPIRE").arg(key).arg(ms).ignore();
            }
        }
        self.pool.with(|c| pipe.query::<()>(c))?;
        // The feed stops reading the run's streams at its next turn: with no run left it
        // waits on the runs' events, so the next run here is seen the moment it starts.
        self.feed.look_now.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn run_status(&self, run_id: &str) -> anyhow::Result<RunStatus> {
        let key = self.keys.run(run_id);
        let status: Option<String> = self.pool.with(|c| redis::cmd("HGET").arg(&key).arg("status").query(c))?;
        Ok(codec::run_status(run_id, &key, status.as_deref())?)
    }

    fn cancel_run(&self, run_id: &str) -> anyhow::Result<()> {
        let key = self.keys.run(run_id);
        let run_keys = self.all_run_keys(run_id)?;
        // The tasks `maxParallel` holds back are dropped with the delayed ones, as the
        // embedded engine drops them: `waiting` reads 0 after a cancel on both.
        let held: Vec<String> = self.run_layout(run_id)?.0.iter().map(|s| self.keys.held(run_id, s)).collect();
        let cancelled = serde_json::to_string(&RunStatus::Cancelled)?;
        // WATCH the run hash: the run ending (or being cancelled) meanwhile aborts the
        // transaction, and the status is read again.
        let outcome: Result<(), String> = self.pool.with(|c| {
            redis::transaction(c, &[&key], |c, pipe| {
                let status: Option<String> = redis::cmd("HGET").arg(&key).arg("status").query(c)?;
                match status.as_deref().map(|s| codec::run_status(run_id, &key, Some(s))) {
                    None => {
                        let prefix = self.keys.prefix();
                        return Ok(Some(Err(format!("no run `{run_id}` in Redis (under the key prefix `{prefix}`)"))));
                    }
                    Some(Ok(RunStatus::Running)) => {}
                    Some(Ok(ended)) => return Ok(Some(Err(format!("run `{run_id}` already ended: {}", ended.word())))),
                    // Garbage in the status: cancelling is how to end such a run.
                    Some(Err(_)) => {}
                }
                pipe.cmd("HSET").arg(&key).arg("status").arg(&cancelled).arg("finished_ms").arg(wall_ms()).ignore();
                pipe.cmd("SREM").arg(self.keys.active_runs()).arg(run_id).ignore();
                pipe.cmd("DEL").arg(self.keys.lease(run_id)).arg(self.keys.delayed(run_id)).arg(&held).ignore();
                pipe.add_command(self.run_event("ended", run_id)).ignore();
                if let Some(retain) = self.retain {
                    let ms = retain.as_millis().max(1) as u64;
                    for k in &run_keys {
                        pipe.cmd("PEXPIRE").arg(k).arg(ms).ignore();
                    }
                }
                pipe.query::<Option<()>>(c).map(|done| done.map(Ok))
            })
        })?;
        outcome.map_err(|e| anyhow!(e))
    }

    fn acquire_lease(&self, run_id: &str, owner: &str, ttl: Duration) -> anyhow::Result<bool> {
        let key = self.keys.lease(run_id);
        let ms = ttl.as_millis().max(1) as u64;
        let taken: Option<String> =
            self.pool.with(|c| redis::cmd("SET").arg(&key).arg(owner).arg("NX").arg("PX").arg(ms).query(c))?;
        let held = taken.is_some() || {
            let holder: Option<String> = self.pool.with(|c| redis::cmd("GET").arg(&key).query(c))?;
            let ours = holder.as_deref() == Some(owner);
            if ours {
                self.pool.with(|c| redis::cmd("PEXPIRE").arg(&key).arg(ms).query::<()>(c))?;
            }
            ours
        };
        let mut driving = self.driving.lock().unwrap_or_else(|p| p.into_inner());
        if held && !driving.contains(run_id) {
            // Bring the cached context up to date once (`read_context` compares versions),
            // then keep it current through `set_output`.
            drop(driving);
            self.read_context(run_id)?;
            self.driving.lock().unwrap_or_else(|p| p.into_inner()).insert(run_id.to_string());
        } else if !held {
            driving.remove(run_id);
        }
        Ok(held)
    }

    fn sealed(&self, run_id: &str, stage: &str) -> anyhow::Result<Option<Execution>> {
        let text: Option<String> =
            self.pool.with(|c| redis::cmd("HGET").arg(self.keys.stage(run_id, stage)).arg("execution").query(c))?;
        let key = self.keys.stage(run_id, stage);
        Ok(text.map(|t| codec::json_field(run_id, &key, "execution", &t, "an execution record")).transpose()?)
    }

    fn open_stage(&self, run_id: &str, info: StageInfo) -> anyhow::Result<()> {
        let key = self.keys.stage(run_id, &info.stage.name);
        let text = serde_json::to_string(&info)?;
        // What the functions read to send the stage's tasks and outcomes to its hooks.
        let hooks: Vec<&str> = [("before_task", info.before_task_hook), ("after_task", info.after_task_hook)]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(field, _)| *field)
            .collect();
        // Opening an open stage changes nothing, its hook fields included (a resumed run
        // whose executor now plans other hooks keeps the stage as it was opened, as on
        // the embedded engine): WATCHed, so two openers cannot mix their fields.
        self.pool.with(|c| {
            redis::transaction(c, &[&key], |c, pipe| {
                let open: bool = redis::cmd("HEXISTS").arg(&key).arg("info").query(c)?;
                if open {
                    return Ok(Some(()));
                }
                for field in &hooks {
                    pipe.cmd("HSET").arg(&key).arg(*field).arg(1).ignore();
                }
                pipe.cmd("HSET").arg(&key).arg("info").arg(&text).arg("opened_ms").arg(wall_ms()).ignore();
                pipe.query::<Option<()>>(c)
            })
        })
    }

    fn queue_stats(&self) -> anyhow::Result<Vec<crate::telemetry::metrics::ActorQueue>> {
        self.actor_queues()
    }

    fn stage_live(&self, run_id: &str, stage: &str) -> anyhow::Result<StageLive> {
        self.read_stage_live(run_id, stage)
    }

    fn plugin_state(&self, namespace: &str, prefix: &str, limit: usize) -> anyhow::Result<Vec<StateEntry>> {
        self.read_plugin_state(namespace, prefix, limit)
    }

    fn retune(&self, run_id: &str, stage: &str, retune: &Retune) -> anyhow::Result<Retuned> {
        if let Some(max) = retune.max_parallel {
            anyhow::ensure!(max > 0, "maxParallel must be at least 1");
        }
        if let Some((per_second, burst)) = retune.rate {
            anyhow::ensure!(per_second.is_finite() && per_second > 0.0 && burst > 0, "a rate must be positive");
        }
        // Tasks the executor enqueued just before are in Redis before the retune sees them.
        if let Some(error) = self.enqueuer.flush() {
            bail!("Redis refused tasks of stage `{stage}`: {error}");
        }
        let (per_second, burst) =
            retune.rate.map_or((String::new(), String::new()), |(p, b)| (p.to_string(), b.to_string()));
        let (released, retimed): (u64, u64) = self.pool.with(|c| {
            redis::cmd("FCALL")
                .arg(function::RETUNE)
                .arg(1)
                .arg(self.keys.stage(run_id, stage))
                .arg(self.keys.base(run_id))
                .arg(self.keys.prefix())
                .arg(run_id)
                .arg(stage)
                .arg(retune.max_parallel.map(|m| m.to_string()).unwrap_or_default())
                .arg(&per_second)
                .arg(&burst)
                .query(c)
        })?;
        Ok(Retuned { released, retimed })
    }

    fn seal_stage(&self, run_id: &str, stage: &str, execution: &Execution) -> anyhow::Result<u64> {
        if let Some(error) = self.enqueuer.flush() {
            bail!("Redis refused tasks of stage `{stage}`: {error}");
        }
        let key = self.keys.stage(run_id, stage);
        let (enqueued, left_out): (u64, usize) = self.pool.with(|c| {
            redis::cmd("FCALL")
                .arg(function::SEAL)
                .arg(1)
                .arg(&key)
                .arg(self.keys.base(run_id))
                .arg(self.keys.prefix())
                .arg(run_id)
                .arg(stage)
                .arg(execution.expected_tasks)
                .arg(serde_json::to_string(execution).expect("an execution serialises"))
                .query(c)
        })?;
        if left_out > 0 {
            self.warn_left_out(run_id, stage, left_out);
        }
        Ok(enqueued)
    }

    fn counts(&self, run_id: &str, stage: &str) -> anyhow::Result<StageCounts> {
        let (fields, waiting): (HashMap<String, String>, u64) = self.pool.with(|c| {
            redis::pipe()
                .cmd("HGETALL")
                .arg(self.keys.stage(run_id, stage))
                .cmd("LLEN")
                .arg(self.keys.held(run_id, stage))
                .query(c)
        })?;
        if fields.is_empty() {
            return Err(self.missing_stage(run_id, stage));
        }
        Ok(codec::stage_counts(run_id, &self.keys.stage(run_id, stage), &fields, waiting)?)
    }

    fn results(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<TaskResult>> {
        self.results_where(run_id, stage, false)
    }

    fn stragglers(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<TaskResult>> {
        self.results_where(run_id, stage, true)
    }

    fn task_history(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<(u64, Vec<u64>)>> {
        let (log, opened): (Vec<String>, Option<String>) = self.pool.with(|c| {
            redis::pipe()
                .cmd("LRANGE")
                .arg(self.keys.history(run_id, stage))
                .arg(0)
                .arg(-1)
                .cmd("HGET")
                .arg(self.keys.stage(run_id, stage))
                .arg("opened_ms")
                .query(c)
        })?;
        let stage_key = self.keys.stage(run_id, stage);
        let opened = match opened {
            Some(text) => {
                text.parse().map_err(|_| StateError::garbage(run_id, &stage_key, "opened_ms", &text, "a time (ms)"))?
            }
            None => 0,
        };
        let log = codec::history(run_id, &self.keys.history(run_id, stage), &log, opened)?;
        Ok(crate::engine::group_history(log))
    }

    fn cut_stage(&self, run_id: &str, stage: &str) -> anyhow::Result<()> {
        self.pool.with(|c| redis::cmd("HSET").arg(self.keys.stage(run_id, stage)).arg("cut").arg(1).query::<()>(c))
    }

    fn set_output(&self, run_id: &str, stage: &str, output: Value) -> anyhow::Result<()> {
        // Only the new output is written; the cached context is changed in place unless
        // someone still holds it (then `make_mut` copies it).
        let text = output.to_string();
        let mut context = self.read_context(run_id)?;
        self.contexts.lock().unwrap_or_else(|p| p.into_inner()).remove(run_id);
        if let Value::Object(map) = Arc::make_mut(&mut context) {
            map.insert(stage.to_string(), output);
        }
        let (version,): (u64,) = self.pool.with(|c| {
            redis::pipe()
                .atomic()
                .cmd("HSET")
                .arg(self.keys.context(run_id))
                .arg(stage)
                .arg(&text)
                .ignore()
                .cmd("HINCRBY")
                .arg(self.keys.run(run_id))
                .arg("ctx_version")
                .arg(1)
                .query(c)
        })?;
        self.contexts.lock().unwrap_or_else(|p| p.into_inner()).insert(run_id.to_string(), (version, context));
        Ok(())
    }

    fn run_context(&self, run_id: &str) -> anyhow::Result<Arc<Value>> {
        self.read_context(run_id)
    }

    fn wait_for_change<'a>(&'a self, _run_id: &'a str, timeout: Duration) -> BoxFuture<'a, ()> {
        // Results this process's workers record wake the wait at once; others' (workers
        // elsewhere) are seen at the next poll. A notification missed between the
        // caller's read and this call costs one poll, as before.
        let recorded = self.progress.notified();
        Box::pin(async move {
            tokio::select! {
                _ = tokio::time::sleep(timeout.min(POLL)) => {}
                _ = recorded => {}
            }
        })
    }
}

impl RedisEngine {
    /// [`RunStore::served_by`] on Redis: the consumers of each actor stream's group. A
    /// consumer joins a group when it first reads the stream, and a worker reads only its
    /// own actors' streams, so they are exactly the processes that served the actor for
    /// this run (names come from workers: shown escaped and bounded).
    pub(super) fn stream_readers(&self, run_id: &str) -> anyhow::Result<Vec<crate::engine::ServedBy>> {
        let (_, actors) = self.run_layout(run_id)?;
        let mut out = Vec::new();
        for actor in actors {
            let stream = self.keys.queue(run_id, &actor);
            let consumers: Vec<HashMap<String, redis::Value>> =
                match self.pool.with(|c| redis::cmd("XINFO").arg("CONSUMERS").arg(&stream).arg(GROUP).query(c)) {
                    Ok(consumers) => consumers,
                    Err(_) => continue, // no stream: the run released no task to this actor
                };
            let mut workers: Vec<String> = consumers
                .iter()
                .filter_map(|c| text(c.get("name")))
                .map(|name| crate::text::one_line(&name, 120))
                .collect();
            workers.sort();
            if !workers.is_empty() {
                out.push(crate::engine::ServedBy { actor, workers });
            }
        }
        Ok(out)
    }

    /// [`RunStore::unread`] on Redis: for each stream of the run (its actors', and its
    /// hooks stream), the consumer group's `lag` (entries never delivered) and its
    /// consumers' idle times; the oldest undelivered entry's age from its id.
    pub(super) fn unread_streams(&self, run_id: &str) -> anyhow::Result<Vec<crate::engine::Unread>> {
        let (_, actors) = self.run_layout(run_id)?;
        let after = crate::engine::UNREAD_AFTER.as_millis() as u64;
        let now = wall_ms();
        let mut out = Vec::new();
        let streams = actors.iter().map(|a| (a.clone(), self.keys.queue(run_id, a)));
        for (actor, stream) in streams.chain([("hooks".to_string(), self.keys.hooks(run_id))]) {
            let groups: Vec<HashMap<String, redis::Value>> =
                match self.pool.with(|c| redis::cmd("XINFO").arg("GROUPS").arg(&stream).query(c)) {
                    Ok(groups) => groups,
                    Err(_) => continue, // no stream yet
                };
            let Some(group) = groups.iter().find(|g| text(g.get("name")).as_deref() == Some(GROUP)) else { continue };
            let lag = number(group.get("lag")).unwrap_or(0);
            if lag == 0 {
                continue;
            }
            let consumers: Vec<HashMap<String, redis::Value>> =
                self.pool.with(|c| redis::cmd("XINFO").arg("CONSUMERS").arg(&stream).arg(GROUP).query(c))?;
            if consumers.iter().any(|c| number(c.get("idle")).is_some_and(|idle| idle < after)) {
                continue; // someone reads it: the tasks wait for a free worker, not for a reader
            }
            let last = text(group.get("last-delivered-id")).unwrap_or_else(|| "0-0".into());
            let next: Vec<(String, HashMap<String, String>)> = self.pool.with(|c| {
                redis::cmd("XRANGE").arg(&stream).arg(format!("({last}")).arg("+").arg("COUNT").arg(1).query(c)
            })?;
            let oldest_ms = next
                .first()
                .and_then(|(id, _)| id.split('-').next()?.parse::<u64>().ok())
                .map_or(0, |at| now.saturating_sub(at));
            if oldest_ms >= after {
                out.push(crate::engine::Unread { actor, waiting: lag, oldest_ms });
            }
        }
        Ok(out)
    }
}

fn text(v: Option<&redis::Value>) -> Option<String> {
    match v? {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn number(v: Option<&redis::Value>) -> Option<u64> {
    match v? {
        redis::Value::Int(n) => u64::try_from(*n).ok(),
        other => text(Some(other))?.parse().ok(),
    }
}
