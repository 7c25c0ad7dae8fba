//! The orchestrator's side of the embedded engine: [`RunStore`] (runs, stages, results,
//! outputs, leases, live reads, retuning).

use super::*;

impl RunStore for EmbeddedEngine {
    fn start_run(&self, run_id: &str, pipeline: &Pipeline, trigger: Value) -> anyhow::Result<()> {
        let mut context = Map::new();
        context.insert("trigger".into(), trigger);
        let record = RunRecord { pipeline: pipeline.to_value(), status: RunStatus::Running, stage: 0 };
        let run = Run { context: Arc::new(Value::Object(context)), stages: HashMap::new(), record, lease: None };
        let mut inner = self.lock();
        if inner.runs.contains_key(run_id) {
            return Err(anyhow!("run `{run_id}` already exists"));
        }
        inner.runs.insert(run_id.to_string(), run);
        inner.order.push(run_id.to_string());
        Ok(())
    }

    fn run_exists(&self, run_id: &str) -> anyhow::Result<bool> {
        Ok(self.lock().runs.contains_key(run_id))
    }

    fn recent_runs(&self, limit: usize) -> anyhow::Result<Vec<String>> {
        let inner = self.lock();
        Ok(inner.order[inner.order.len().saturating_sub(limit)..].to_vec())
    }

    fn lease_holder(&self, run_id: &str) -> anyhow::Result<Option<String>> {
        let inner = self.lock();
        let run = inner.runs.get(run_id).with_context(|| format!("no run `{run_id}`"))?;
        Ok(run.lease.as_ref().filter(|(_, until)| *until > Instant::now()).map(|(holder, _)| holder.clone()))
    }

    fn run_record(&self, run_id: &str) -> anyhow::Result<RunRecord> {
        Ok(self.lock().runs.get(run_id).with_context(|| format!("no run `{run_id}`"))?.record.clone())
    }

    fn set_run_stage(&self, run_id: &str, stage: usize) -> anyhow::Result<()> {
        self.lock().runs.get_mut(run_id).with_context(|| format!("no run `{run_id}`"))?.record.stage = stage;
        Ok(())
    }

    fn finish_run(&self, run_id: &str, status: &RunStatus) -> anyhow::Result<()> {
        let mut inner = self.lock();
        let run = inner.runs.get_mut(run_id).with_context(|| format!("no run `{run_id}`"))?;
        run.record.status = status.clone();
        run.lease = None;
        Ok(())
    }

    fn run_status(&self, run_id: &str) -> anyhow::Result<RunStatus> {
        Ok(self.lock().runs.get(run_id).with_context(|| format!("no run `{run_id}`"))?.record.status.clone())
    }

    fn cancel_run(&self, run_id: &str) -> anyhow::Result<()> {
        {
            let mut inner = self.lock();
            let run = inner.runs.get_mut(run_id).with_context(|| format!("no run `{run_id}`"))?;
            if run.record.status != RunStatus::Running {
                anyhow::bail!("run `{run_id}` already ended: {}", run.record.status.word());
            }
            run.record.status = RunStatus::Cancelled;
            run.lease = None;
            // Tasks not yet started are dropped: held, delayed and ready ones alike.
            for stage in run.stages.values_mut() {
                stage.held.clear();
            }
            inner.ready.retain(|(t, _)| &*t.run_id != run_id);
            inner.hooks.retain(|w| &*w.task.run_id != run_id);
            inner.delayed.retain(|_, t| &*t.run_id != run_id);
        }
        self.changed();
        Ok(())
    }

    fn queue_stats(&self) -> anyhow::Result<Vec<ActorQueue>> {
        let inner = self.lock();
        let now = Instant::now();
        let known = self.actors.read().unwrap_or_else(|p| p.into_inner());
        let mut by: BTreeMap<&str, (u64, f64)> = known.iter().map(|a| (a.as_str(), (0, 0.0))).collect();
        for (task, since) in &inner.ready {
            let entry = by.entry(&task.actor).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(now.saturating_duration_since(*since).as_secs_f64());
        }
        for task in inner.delayed.values() {
            by.entry(&task.actor).or_default().0 += 1;
        }
        Ok(by
            .into_iter()
            .map(|(actor, (waiting, oldest_seconds))| ActorQueue { actor: actor.to_string(), waiting, oldest_seconds })
            .collect())
    }

    fn stage_live(&self, run_id: &str, stage: &str) -> anyhow::Result<StageLive> {
        let mut inner = self.lock();
        let now = Instant::now();
        let timed = inner.delayed.values().filter(|t| &*t.run_id == run_id && &*t.stage == stage).count() as u64;
        let s = inner.stage(run_id, stage)?;
        let namespace = executor_namespace(&s.info.mode);
        let paced = match (s.rate, &s.paced_by) {
            (Some((per_second, burst)), _) => Some((
                (RETUNED.to_string(), retuned_bucket(run_id, stage)),
                RETUNED_BUCKET.to_string(),
                per_second,
                burst,
                true,
            )),
            (None, Some(r)) => Some(((namespace, r.bucket.clone()), r.bucket.clone(), r.per_second, r.burst, false)),
            (None, None) => None,
        };
        let mut live = StageLive { max_parallel: s.max_parallel, retuned: s.retuned, timed, ..StageLive::default() };
        if let Some((key, bucket, per_second, burst, retuned)) = paced {
            let tat = inner.buckets.get(&key).map(|tat| tat.saturating_duration_since(now).as_secs_f64() * 1000.0);
            let tokens = crate::rules::rate::tokens(tat, 0.0, per_second, burst);
            live.rate = Some(RateLive { bucket, per_second, burst, tokens, retuned });
        }
        Ok(live)
    }

    fn plugin_state(&self, namespace: &str, prefix: &str, limit: usize) -> anyhow::Result<Vec<StateEntry>> {
        Ok(self.state.list(namespace, prefix, limit))
    }

    fn retune(&self, run_id: &str, stage: &str, retune: &Retune) -> anyhow::Result<Retuned> {
        if let Some(max) = retune.max_parallel {
            anyhow::ensure!(max > 0, "maxParallel must be at least 1");
        }
        if let Some((per_second, burst)) = retune.rate {
            anyhow::ensure!(per_second.is_finite() && per_second > 0.0 && burst > 0, "a rate must be positive");
        }
        let mut inner = self.lock();
        if inner.runs.get(run_id).is_some_and(|r| r.record.status != RunStatus::Running) {
            anyhow::bail!("run `{run_id}` already ended");
        }
        let s = inner.stage(run_id, stage)?;
        let namespace = executor_namespace(&s.info.mode);
        let mut done = Retuned::default();
        let mut ready = 0;
        if let Some(rate) = retune.rate {
            s.rate = Some(rate);
            // The stage's first tries waiting for their turn go again, from now, at the
            // new rate, in the order they had.
            let waiting: Vec<(Instant, u64)> = inner
                .delayed
                .iter()
                .filter(|(_, t)| &*t.run_id == run_id && &*t.stage == stage && t.attempt == 1)
                .map(|(at, _)| *at)
                .collect();
            let tasks: Vec<TaskEnvelope> = waiting.iter().filter_map(|at| inner.delayed.remove(at)).collect();
            if let Some(first) = tasks.first() {
                inner.buckets.remove(&(RETUNED.to_string(), retuned_bucket(&first.run_id, &first.stage)));
            }
            done.retimed = tasks.len() as u64;
            for task in tasks {
                ready += usize::from(inner.release(task, &EnqueueOptions::default(), &namespace));
            }
        }
        let gated = inner.hooks.len();
        let mut released_ready = 0;
        if let Some(max) = retune.max_parallel {
            let s = inner.stage(run_id, stage)?;
            s.max_parallel = Some(max);
            s.retuned = true;
            let mut released = Vec::new();
            while s.in_flight < u64::from(max) {
                let Some(next) = s.held.pop_front() else { break };
                s.in_flight += 1;
                s.max_in_flight = s.max_in_flight.max(s.in_flight);
                released.push(next);
            }
            done.released = released.len() as u64;
            for (envelope, options) in released {
                released_ready += usize::from(inner.release(envelope, &options, &namespace));
            }
        }
        let gated = inner.hooks.len() > gated || released_ready < done.released as usize;
        drop(inner);
        for _ in 0..ready + released_ready {
            self.task_ready.notify_one();
        }
        // Re-timed tasks may be due sooner than the delayed set's next wake-up.
        if gated || done.retimed > 0 {
            self.hook_ready.notify_one();
            self.task_ready.notify_one();
        }
        self.changed();
        Ok(done)
    }

    fn acquire_lease(&self, run_id: &str, owner: &str, ttl: Duration) -> anyhow::Result<bool> {
        let mut inner = self.lock();
        let run = inner.runs.get_mut(run_id).with_context(|| format!("no run `{run_id}`"))?;
        let now = Instant::now();
        match &run.lease {
            Some((holder, until)) if holder != owner && *until > now => Ok(false),
            _ => {
                run.lease = Some((owner.to_string(), now + ttl));
                Ok(true)
            }
        }
    }

    fn sealed(&self, run_id: &str, stage: &str) -> anyhow::Result<Option<Execution>> {
        let mut inner = self.lock();
        let run = inner.runs.get_mut(run_id).with_context(|| format!("no run `{run_id}`"))?;
        Ok(run.stages.get(stage).and_then(|s| s.execution.clone()))
    }

    fn open_stage(&self, run_id: &str, info: StageInfo) -> anyhow::Result<()> {
        let mut inner = self.lock();
        let run = inner.runs.get_mut(run_id).with_context(|| format!("no run `{run_id}`"))?;
        run.stages.entry(info.stage.name.clone()).or_insert_with(|| StageState {
            info,
            expected: None,
            execution: None,
            tasks: HashMap::new(),
            max_parallel: None,
            retuned: false,
            rate: None,
            paced_by: None,
            held: VecDeque::new(),
            in_flight: 0,
            max_in_flight: 0,
            results: HashMap::new(),
            succeeded: 0,
            failed: 0,
            skipped: 0,
            pending: Vec::new(),
            cut: false,
            stragglers: Vec::new(),
            opened: Instant::now(),
            history: Vec::new(),
            deferrals: HashMap::new(),
        });
        Ok(())
    }

    fn seal_stage(&self, run_id: &str, stage: &str, execution: &Execution) -> anyhow::Result<u64> {
        let (enqueued, grown) = {
            let mut inner = self.lock();
            let s = inner.stage(run_id, stage)?;
            s.expected = Some(execution.expected_tasks);
            s.execution = Some(execution.clone());
            let enqueued = s.tasks.len() as u64;
            // Reviews that grew the stage while `execute` ran: their tasks join now,
            // numbered after execute's.
            let pending = std::mem::take(&mut s.pending);
            let (run, name): (Arc<str>, Arc<str>) = (Arc::from(run_id), Arc::from(stage));
            let mut grown = Added::default();
            for (generation, extension) in pending {
                let added = inner.extend(&run, &name, generation, &extension, self.log_level)?;
                grown.ready += added.ready;
                grown.gated |= added.gated;
            }
            (enqueued, grown)
        };
        for _ in 0..grown.ready {
            self.task_ready.notify_one();
        }
        if grown.gated {
            self.hook_ready.notify_one();
        }
        self.changed();
        Ok(enqueued)
    }

    fn counts(&self, run_id: &str, stage: &str) -> anyhow::Result<StageCounts> {
        let mut inner = self.lock();
        let s = inner.stage(run_id, stage)?;
        Ok(StageCounts {
            expected: s.expected,
            enqueued: s.tasks.len() as u64,
            succeeded: s.succeeded,
            failed: s.failed,
            skipped: s.skipped,
            in_flight: s.in_flight,
            waiting: s.held.len() as u64,
            max_in_flight: s.max_in_flight,
            stragglers: s.stragglers.len() as u64,
        })
    }

    fn results(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<TaskResult>> {
        let mut inner = self.lock();
        let mut results: Vec<TaskResult> = inner.stage(run_id, stage)?.results.values().cloned().collect();
        results.sort_by_key(|r| r.index);
        Ok(results)
    }

    fn stragglers(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<TaskResult>> {
        Ok(self.lock().stage(run_id, stage)?.stragglers.clone())
    }

    fn task_history(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<(u64, Vec<u64>)>> {
        let log = self.lock().stage(run_id, stage)?.history.clone();
        Ok(crate::engine::group_history(log))
    }

    fn cut_stage(&self, run_id: &str, stage: &str) -> anyhow::Result<()> {
        self.lock().stage(run_id, stage)?.cut = true;
        Ok(())
    }

    fn set_output(&self, run_id: &str, stage: &str, output: Value) -> anyhow::Result<()> {
        {
            let mut inner = self.lock();
            let run = inner.runs.get_mut(run_id).with_context(|| format!("no run `{run_id}`"))?;
            if let Value::Object(context) = Arc::make_mut(&mut run.context) {
                context.insert(stage.to_string(), output);
            }
        }
        self.changed();
        Ok(())
    }

    fn run_context(&self, run_id: &str) -> anyhow::Result<Arc<Value>> {
        Ok(self.lock().runs.get(run_id).with_context(|| format!("no run `{run_id}`"))?.context.clone())
    }

    fn wait_for_change<'a>(&'a self, _run_id: &'a str, timeout: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut rx = self.progress.subscribe();
            let _ = tokio::time::timeout(timeout, rx.changed()).await;
        })
    }
}
