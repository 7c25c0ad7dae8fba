//! Enqueueing the stage's tasks through the host.

use crate::bindings::troupe::executor::queue as raw;
use crate::executor::ExecutorError;
use serde_json::Value;

/// One actor invocation (WIT `task`), with its input as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub index: u64,
    pub actor: String,
    pub input: Value,
    /// The task's key in `by-key` and `keyed-list` outputs.
    pub key: Option<Value>,
}

impl Task {
    pub fn with_key(mut self, key: Value) -> Self {
        self.key = Some(key);
        self
    }

    fn into_wit(self) -> raw::Task {
        raw::Task {
            index: self.index,
            actor: self.actor,
            input: self.input.to_string(),
            key: self.key.map(|k| k.to_string()),
        }
    }
}

/// How the host releases tasks (WIT `enqueue-options`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnqueueOptions {
    pub delay_ms: u64,
    pub max_parallel: Option<u32>,
    pub rate_limit: Option<RateLimit>,
}

/// A host-kept token bucket (WIT `rate-limit`).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub bucket: String,
    pub per_second: f64,
    pub burst: u32,
}

impl EnqueueOptions {
    fn to_wit(&self) -> raw::EnqueueOptions {
        raw::EnqueueOptions {
            delay_ms: self.delay_ms,
            max_parallel: self.max_parallel,
            rate_limit: self.rate_limit.as_ref().map(|r| raw::RateLimit {
                bucket: r.bucket.clone(),
                per_second: r.per_second,
                burst: r.burst,
            }),
        }
    }
}

/// Whether the manifest names this actor (for `validate`).
pub fn has_actor(name: &str) -> bool {
    raw::has_actor(name)
}

/// Enqueue one task.
pub fn enqueue(task: Task, options: &EnqueueOptions) -> Result<(), ExecutorError> {
    raw::enqueue(&task.into_wit(), &options.to_wit()).map_err(ExecutorError::Retryable)
}

/// Enqueue many tasks, `batch_size` per host round trip (at least 1).
pub fn enqueue_all(
    tasks: impl IntoIterator<Item = Task>,
    batch_size: usize,
    options: &EnqueueOptions,
) -> Result<u64, ExecutorError> {
    let batch_size = batch_size.max(1);
    let options = options.to_wit();
    let mut batch = Vec::with_capacity(batch_size);
    let mut count = 0u64;
    for task in tasks {
        batch.push(task.into_wit());
        count += 1;
        if batch.len() == batch_size {
            raw::enqueue_batch(&batch, &options).map_err(ExecutorError::Retryable)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        raw::enqueue_batch(&batch, &options).map_err(ExecutorError::Retryable)?;
    }
    Ok(count)
}
