//! `troupe:executor/queue`: hands the plugin's tasks to the [`StageHost`].
//!
//! [`StageHost`]: crate::StageHost

use crate::api::{EnqueueOptions, RateLimit, Task};
use crate::plugin::bindings::queue::{self as wit, Host};
use crate::plugin::store::HostState;

fn task(t: wit::Task) -> Result<Task, String> {
    let input = serde_json::from_str(&t.input).map_err(|e| format!("task {}: input is not JSON: {e}", t.index))?;
    let key = t
        .key
        .map(|k| serde_json::from_str(&k).map_err(|e| format!("task {}: key is not JSON: {e}", t.index)))
        .transpose()?;
    Ok(Task { index: t.index, actor: t.actor, input, key })
}

fn options(o: wit::EnqueueOptions) -> Result<EnqueueOptions, String> {
    let rate_limit = match o.rate_limit {
        Some(r) if !(r.per_second.is_finite() && r.per_second > 0.0) => {
            return Err(format!("rate-limit.per-second must be a positive number, found {}", r.per_second))
        }
        Some(r) => Some(RateLimit { bucket: r.bucket, per_second: r.per_second, burst: r.burst.max(1) }),
        None => None,
    };
    if o.max_parallel == Some(0) {
        return Err("max-parallel must be at least 1".to_string());
    }
    Ok(EnqueueOptions { delay_ms: o.delay_ms, max_parallel: o.max_parallel, rate_limit })
}

impl Host for HostState {
    fn enqueue(&mut self, t: wit::Task, o: wit::EnqueueOptions) -> Result<(), String> {
        let options = options(o)?;
        self.host.enqueue(&self.scope, vec![task(t)?], &options)
    }

    fn has_actor(&mut self, name: String) -> bool {
        self.host.has_actor(&name)
    }

    fn enqueue_batch(&mut self, tasks: Vec<wit::Task>, o: wit::EnqueueOptions) -> Result<(), String> {
        let options = options(o)?;
        let tasks = tasks.into_iter().map(task).collect::<Result<Vec<_>, _>>()?;
        self.host.enqueue(&self.scope, tasks, &options)
    }
}
