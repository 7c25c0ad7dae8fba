//! The 0.1 imports: each call served by the version-neutral methods, an error handed to
//! the guest as its message alone (0.1's `result<_, string>`). 0.1 has no `extend`, no
//! `skip` and no kinds; nothing else differs.

use super::TaskText;
use crate::api::{EnqueueOptions, HostError, LogLevel, RateLimit};
use crate::plugin::bindings::v0_1::{context, log, queue, state, types};
use crate::plugin::store::HostState;

fn message<T>(result: Result<T, HostError>) -> Result<T, String> {
    result.map_err(|e| e.message().to_string())
}

fn task(t: queue::Task) -> TaskText {
    TaskText { index: t.index, actor: t.actor, input: t.input, key: t.key }
}

fn options(o: queue::EnqueueOptions) -> EnqueueOptions {
    let rate_limit =
        o.rate_limit.map(|r| RateLimit { bucket: r.bucket, per_second: r.per_second, burst: r.burst.max(1) });
    EnqueueOptions { delay_ms: o.delay_ms, max_parallel: o.max_parallel, rate_limit, skip: None }
}

impl context::Host for HostState {
    fn query(&mut self, path: String, bindings: Option<String>) -> Result<String, String> {
        message(self.context_query(path, bindings))
    }

    fn select(&mut self, document: String, path: String) -> Result<String, String> {
        message(self.context_select(document, path))
    }

    fn resolve_input(&mut self, template: String, bindings: Option<String>) -> Result<String, String> {
        message(self.context_resolve_input(template, bindings))
    }
}

impl queue::Host for HostState {
    fn enqueue(&mut self, t: queue::Task, o: queue::EnqueueOptions) -> Result<(), String> {
        message(self.queue_enqueue(vec![task(t)], options(o)))
    }

    fn enqueue_batch(&mut self, tasks: Vec<queue::Task>, o: queue::EnqueueOptions) -> Result<(), String> {
        message(self.queue_enqueue(tasks.into_iter().map(task).collect(), options(o)))
    }

    fn has_actor(&mut self, name: String) -> bool {
        self.queue_has_actor(name)
    }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>, String> {
        message(self.state_get(key))
    }

    fn set(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<(), String> {
        message(self.state_set(key, value, ttl_ms))
    }

    fn set_if_absent(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<bool, String> {
        message(self.state_set_if_absent(key, value, ttl_ms))
    }

    fn increment(&mut self, key: String, delta: i64, ttl_ms: Option<u64>) -> Result<i64, String> {
        message(self.state_increment(key, delta, ttl_ms))
    }

    fn delete(&mut self, key: String) -> Result<(), String> {
        message(self.state_delete(key))
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        self.log_message(level, message);
    }
}

impl types::Host for HostState {}
