//! `troupe:executor/queue`: hands the plugin's tasks to the [`StageHost`], each checked
//! on the way in (its index, its bytes, the call's [`Ledger`](super::ledger::Ledger))
//! and the call's options bounded ([`crate::rules::bounds`]).
//!
//! A refusal is returned to the plugin as the call's error and also kept as the call's
//! refusal ([`HostState::refuse`]): a plugin that ignores the error still fails its stage.
//!
//! [`StageHost`]: crate::StageHost

use crate::api::{EnqueueOptions, RateLimit, Task};
use crate::plugin::bindings::queue::{self as wit, Host};
use crate::plugin::store::HostState;

fn task(t: wit::Task) -> Result<(Task, usize, usize), String> {
    let (input_len, key_len) = (t.input.len(), t.key.as_ref().map_or(0, String::len));
    let input = serde_json::from_str(&t.input).map_err(|e| format!("task {}: input is not JSON: {e}", t.index))?;
    let key = t
        .key
        .map(|k| serde_json::from_str(&k).map_err(|e| format!("task {}: key is not JSON: {e}", t.index)))
        .transpose()?;
    Ok((Task { index: t.index, actor: t.actor, input, key }, input_len, key_len))
}

fn options(o: wit::EnqueueOptions) -> EnqueueOptions {
    let rate_limit =
        o.rate_limit.map(|r| RateLimit { bucket: r.bucket, per_second: r.per_second, burst: r.burst.max(1) });
    EnqueueOptions { delay_ms: o.delay_ms, max_parallel: o.max_parallel, rate_limit, skip: None }
}

impl HostState {
    /// Check a call's tasks and options, then hand them to the host.
    fn enqueue_checked(&mut self, tasks: Vec<wit::Task>, o: wit::EnqueueOptions) -> Result<(), String> {
        if let Some(refused) = &self.refused {
            return Err(format!("an earlier enqueue of this call was refused: {refused}"));
        }
        let options = options(o);
        crate::rules::bounds::enqueue_options(&options, &self.limits).map_err(|e| self.refuse(e))?;
        let mut checked = Vec::with_capacity(tasks.len());
        for t in tasks {
            let (task, input_len, key_len) = task(t)?;
            self.ledger.admit(&task, input_len, key_len, &self.limits).map_err(|e| self.refuse(e))?;
            checked.push(task);
        }
        self.host.enqueue(&self.scope, checked, &options).map_err(|e| e.to_string())
    }
}

impl Host for HostState {
    fn enqueue(&mut self, t: wit::Task, o: wit::EnqueueOptions) -> Result<(), String> {
        self.enqueue_checked(vec![t], o)
    }

    fn has_actor(&mut self, name: String) -> bool {
        self.host.has_actor(&name)
    }

    fn enqueue_batch(&mut self, tasks: Vec<wit::Task>, o: wit::EnqueueOptions) -> Result<(), String> {
        self.enqueue_checked(tasks, o)
    }
}
