//! The 0.2 imports: each call served by the version-neutral methods, an error handed to
//! the guest as its `host-error` kind with the message.

use super::bulk::{Each, Groups, PathField};
use super::queue::skip_reason;
use super::{NewTaskText, TaskText};
use crate::api::{EnqueueOptions, HostError, LogLevel, RateLimit};
use crate::plugin::bindings::v0_2::{context, log, queue, state, types};
use crate::plugin::store::HostState;

fn typed<T>(result: Result<T, HostError>) -> Result<T, types::HostError> {
    result.map_err(|e| match e {
        HostError::Invalid(m) => types::HostError::Invalid(m),
        HostError::NotFound(m) => types::HostError::NotFound(m),
        HostError::Unavailable(m) => types::HostError::Unavailable(m),
        HostError::LimitExceeded(m) => types::HostError::LimitExceeded(m),
    })
}

fn task(t: queue::Task) -> TaskText {
    TaskText { index: t.index, actor: t.actor, input: t.input, key: t.key }
}

fn new_task(t: queue::NewTask) -> NewTaskText {
    NewTaskText { actor: t.actor, input: t.input, key: t.key }
}

fn path_field(p: queue::PathField) -> PathField {
    PathField { path: p.path, field: p.field }
}

fn options(o: queue::EnqueueOptions) -> EnqueueOptions {
    let rate_limit =
        o.rate_limit.map(|r| RateLimit { bucket: r.bucket, per_second: r.per_second, burst: r.burst.max(1) });
    EnqueueOptions { delay_ms: o.delay_ms, max_parallel: o.max_parallel, rate_limit, skip: skip_reason(o.skip) }
}

impl context::Host for HostState {
    fn query(&mut self, path: String, bindings: Option<String>) -> Result<String, types::HostError> {
        typed(self.context_query(path, bindings))
    }

    fn select(&mut self, document: String, path: String) -> Result<String, types::HostError> {
        typed(self.context_select(document, path))
    }

    fn resolve_input(&mut self, template: String, bindings: Option<String>) -> Result<String, types::HostError> {
        typed(self.context_resolve_input(template, bindings))
    }
}

impl queue::Host for HostState {
    fn enqueue(&mut self, t: queue::Task, o: queue::EnqueueOptions) -> Result<(), types::HostError> {
        typed(self.queue_enqueue(vec![task(t)], options(o)))
    }

    fn enqueue_batch(&mut self, tasks: Vec<queue::Task>, o: queue::EnqueueOptions) -> Result<(), types::HostError> {
        typed(self.queue_enqueue(tasks.into_iter().map(task).collect(), options(o)))
    }

    fn extend(
        &mut self,
        tasks: Vec<queue::NewTask>,
        o: queue::EnqueueOptions,
        max_stage_tasks: Option<u64>,
    ) -> Result<(), types::HostError> {
        typed(self.queue_extend(tasks.into_iter().map(new_task).collect(), options(o), max_stage_tasks))
    }

    fn has_actor(&mut self, name: String) -> bool {
        self.queue_has_actor(name)
    }

    fn enqueue_each(&mut self, each: queue::Each, o: queue::EnqueueOptions) -> Result<u64, types::HostError> {
        let each = Each {
            source: path_field(each.source),
            item_name: each.item_name,
            actor: each.actor,
            input: each.input,
            batch_size: each.batch_size,
        };
        typed(self.queue_enqueue_each(each, options(o)))
    }

    fn enqueue_groups(&mut self, groups: queue::Groups, o: queue::EnqueueOptions) -> Result<u64, types::HostError> {
        let groups = Groups {
            stage: groups.stage,
            group_by: groups.group_by.map(path_field),
            actor: groups.actor,
            input: groups.input,
        };
        typed(self.queue_enqueue_groups(groups, options(o)))
    }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>, types::HostError> {
        typed(self.state_get(key))
    }

    fn set(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<(), types::HostError> {
        typed(self.state_set(key, value, ttl_ms))
    }

    fn set_if_absent(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<bool, types::HostError> {
        typed(self.state_set_if_absent(key, value, ttl_ms))
    }

    fn increment(&mut self, key: String, delta: i64, ttl_ms: Option<u64>) -> Result<i64, types::HostError> {
        typed(self.state_increment(key, delta, ttl_ms))
    }

    fn delete(&mut self, key: String) -> Result<(), types::HostError> {
        typed(self.state_delete(key))
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
