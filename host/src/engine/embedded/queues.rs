//! The workers' and the hook host's side of the embedded engine: [`TaskQueue`] and
//! [`HookQueue`].

use super::*;

impl TaskQueue for EmbeddedEngine {
    fn next_task(&self) -> BoxFuture<'_, TaskEnvelope> {
        Box::pin(async move {
            loop {
                let notified = self.task_ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let next_due = {
                    let mut inner = self.lock();
                    let next_due = inner.promote_due();
                    if !inner.hooks.is_empty() {
                        self.hook_ready.notify_one();
                    }
                    if let Some((task, _)) = inner.ready.pop_front() {
                        if !inner.ready.is_empty() {
                            self.task_ready.notify_one();
                        }
                        return task;
                    }
                    next_due
                };
                match next_due {
                    Some(due) => {
                        tokio::select! {
                            _ = &mut notified => {}
                            _ = tokio::time::sleep_until(due.into()) => {}
                        }
                    }
                    None => notified.await,
                }
            }
        })
    }

    fn report(&self, task: &TaskEnvelope, outcome: Outcome) -> anyhow::Result<()> {
        let mut inner = self.lock();
        if inner.runs.get(&*task.run_id).is_some_and(|r| r.record.status == RunStatus::Cancelled) {
            return Ok(()); // cancelled: nothing is recorded or reviewed
        }
        if !inner.stage(&task.run_id, &task.stage)?.info.after_task_hook {
            // The common path: recorded under the same lock.
            return self.record_locked(inner, task, outcome, None).map(|_| ());
        }
        let s = inner.stage(&task.run_id, &task.stage)?;
        if !s.tasks.contains_key(&task.index) {
            anyhow::bail!("run `{}` stage `{}` has no task {}", task.run_id, task.stage, task.index);
        }
        // As on Redis: a task that already has a result (a redelivery) is not reviewed
        // again, so `after-task` never sees an attempt of a task that has ended.
        let ended = s.results.contains_key(&task.index) || s.stragglers.iter().any(|r| r.index == task.index);
        if !ended {
            inner.hooks.push_back(HookWork { task: task.clone(), kind: HookKind::Review(outcome) });
            drop(inner);
            self.hook_ready.notify_one();
        }
        Ok(())
    }

    fn flush(&self) {}
}

impl HookQueue for EmbeddedEngine {
    fn next_hook_work(&self) -> BoxFuture<'_, HookWork> {
        Box::pin(async move {
            loop {
                let notified = self.hook_ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let next_due = {
                    let mut inner = self.lock();
                    // Gated tasks become hook work when their delay is due.
                    let next_due = inner.promote_due();
                    if let Some(work) = inner.hooks.pop_front() {
                        if !inner.hooks.is_empty() {
                            self.hook_ready.notify_one();
                        }
                        if !inner.ready.is_empty() {
                            self.task_ready.notify_one();
                        }
                        return work;
                    }
                    if !inner.ready.is_empty() {
                        self.task_ready.notify_one();
                    }
                    next_due
                };
                match next_due {
                    Some(due) => {
                        tokio::select! {
                            _ = &mut notified => {}
                            _ = tokio::time::sleep_until(due.into()) => {}
                        }
                    }
                    None => notified.await,
                }
            }
        })
    }

    fn stage_info(&self, run_id: &str, stage: &str) -> anyhow::Result<StageInfo> {
        Ok(self.lock().stage(run_id, stage)?.info.clone())
    }

    fn admit(&self, task: TaskEnvelope) -> anyhow::Result<()> {
        let mut inner = self.lock();
        if inner.runs.get(&*task.run_id).is_some_and(|r| r.record.status == RunStatus::Cancelled) {
            return Ok(()); // cancelled: an admitted task is not run
        }
        inner.ready.push_back((task, Instant::now()));
        drop(inner);
        self.task_ready.notify_one();
        Ok(())
    }

    fn record(&self, task: &TaskEnvelope, outcome: Outcome, extension: Option<&Extension>) -> anyhow::Result<Recorded> {
        self.record_locked(self.lock(), task, outcome, extension)
    }

    fn requeue(&self, mut task: TaskEnvelope, delay_ms: u64, next_attempt: bool) -> anyhow::Result<()> {
        if next_attempt {
            task.attempt += 1;
        }
        let mut inner = self.lock();
        if inner.runs.get(&*task.run_id).is_some_and(|r| r.record.status == RunStatus::Cancelled) {
            return Ok(()); // cancelled: a retry is not run
        }
        inner.release(task, &EnqueueOptions { delay_ms, ..Default::default() }, "");
        drop(inner);
        // Wake a worker and the hook host either way: a delayed task may now be the
        // next one due.
        self.task_ready.notify_one();
        self.hook_ready.notify_one();
        self.changed();
        Ok(())
    }

    fn count_deferral(&self, task: &TaskEnvelope) -> anyhow::Result<u64> {
        let mut inner = self.lock();
        let count = inner.stage(&task.run_id, &task.stage)?.deferrals.entry(task.index).or_insert(0);
        *count += 1;
        Ok(*count)
    }

    fn abandon_hook_work(&self, work: &HookWork) {
        // One process holds every plugin of an embedded run, so no other host could take
        // the work over: fail the task rather than leave its run waiting for ever.
        let message = format!("stage `{}` has hooks but no hook host here loads its mode", work.task.stage);
        let _ = self.record(&work.task, Outcome::Failed(message), None);
    }
}
