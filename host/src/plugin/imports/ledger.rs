//! [`Ledger`]: what one plugin call has enqueued, checked task by task as it crosses
//! into the host and, when `execute` returns, against what it said it did.
//!
//! Why at this boundary: the engines store what they are given, and a result whose
//! index or key does not fit the stage's output shape used to vanish silently (indices
//! {0, 5} with 2 expected gave `[r0, null]`). Checking here covers both engines, the
//! harness and `dry-run` with one piece of code.
//!
//! The rules (README, "What the host guarantees against a hostile plugin"):
//! - Indices are below the plugin's `max-tasks`, so a stage holds at most that many
//!   tasks whatever the plugin enqueues; memory is bounded by it and `enqueue-bytes`.
//! - Within one call an index is enqueued once: a second enqueue of it is a plugin bug.
//!   Across calls (a retried `execute`, a resumed run) the same index is the same task,
//!   idempotent by design: the first one stored wins.
//! - When `execute` returns, its tasks are exactly `0..expectedTasks` (with the count
//!   the orchestrator checks, the largest index below `expectedTasks` suffices); a
//!   `single` stage has at most one task; `by-key` and `keyed-list` stages give every
//!   task a key, distinct within the call.

use crate::api::{Execution, HostError, OutputShape, Task};
use crate::manifest::Limits;
use std::collections::HashMap;

/// Longest excerpt of a key quoted in an error.
const KEY_SHOWN: usize = 120;

pub(crate) struct Ledger {
    tasks: u64,
    bytes: u64,
    /// One bit per index seen in this call (indices are below `max-tasks`).
    seen: Vec<u64>,
    highest: Option<u64>,
    /// Key (as JSON text) -> the first index that had it.
    keys: HashMap<String, u64>,
    /// Two tasks sharing a key, or a task without one: kept until the shape is known.
    same_key: Option<(u64, u64, String)>,
    unkeyed: Option<u64>,
}

impl Ledger {
    pub fn new() -> Self {
        Ledger {
            tasks: 0,
            bytes: 0,
            seen: Vec::new(),
            highest: None,
            keys: HashMap::new(),
            same_key: None,
            unkeyed: None,
        }
    }

    /// Admit one task of this call, or say which limit or rule it breaks. `input_len`
    /// and `key_len` are the bytes of its JSON text as the plugin handed it over.
    pub fn admit(&mut self, task: &Task, input_len: usize, key_len: usize, limits: &Limits) -> Result<(), HostError> {
        let index = task.index;
        if index >= limits.max_tasks {
            return Err(HostError::LimitExceeded(format!(
                "enqueued task index {index}, past its limit max-tasks = {} (a stage's tasks are numbered from 0)",
                limits.max_tasks
            )));
        }
        self.admit_bytes(&format!("task {index}"), input_len, key_len, limits)?;
        let (word, bit) = ((index / 64) as usize, 1u64 << (index % 64));
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & bit != 0 {
            return Err(HostError::Invalid(format!(
                "enqueued task index {index} twice in one call (each task of a stage has its own index)"
            )));
        }
        self.seen[word] |= bit;
        self.tasks += 1;
        self.highest = self.highest.max(Some(index));
        match &task.key {
            Some(key) => {
                let text = key.to_string();
                if let Some(first) = self.keys.get(&text) {
                    self.same_key.get_or_insert((*first, index, text));
                } else {
                    self.keys.insert(text, index);
                }
            }
            None => {
                self.unkeyed.get_or_insert(index);
            }
        }
        Ok(())
    }

    /// Count the bytes of one task handed over in this call (by `enqueue` or `extend`),
    /// `which` naming it (`task 7`, `new task 2`): its input is held to
    /// `task-input-bytes`, and the call's inputs and keys together to `enqueue-bytes`.
    pub fn admit_bytes(
        &mut self,
        which: &str,
        input_len: usize,
        key_len: usize,
        limits: &Limits,
    ) -> Result<(), HostError> {
        if input_len as u64 > limits.task_input_bytes {
            return Err(HostError::LimitExceeded(format!(
                "enqueued {which} with an input of {input_len} bytes, over its limit task-input-bytes = {}",
                limits.task_input_bytes
            )));
        }
        self.bytes += (input_len + key_len) as u64;
        if self.bytes > limits.enqueue_bytes {
            return Err(HostError::LimitExceeded(format!(
                "enqueued {} bytes of task input and keys in one call (at {which}), over its limit enqueue-bytes = {}",
                self.bytes, limits.enqueue_bytes
            )));
        }
        Ok(())
    }

    /// Check what `execute` returned against the tasks this call enqueued.
    pub fn settle(&self, execution: &Execution, limits: &Limits) -> Result<(), String> {
        let expected = execution.expected_tasks;
        let shape = shape_name(execution.output);
        if expected > limits.max_tasks {
            return Err(format!(
                "returned expectedTasks = {expected}, over its limit max-tasks = {}",
                limits.max_tasks
            ));
        }
        if let Some(highest) = self.highest.filter(|h| *h >= expected) {
            return Err(format!(
                "enqueued task {highest}, outside 0..{expected}: execute returned expectedTasks = {expected}, so \
                 every task index must be below {expected}"
            ));
        }
        if execution.output == OutputShape::Single && expected > 1 {
            return Err(format!(
                "returned output shape single with expectedTasks = {expected}: a single stage has one task, index 0"
            ));
        }
        if matches!(execution.output, OutputShape::ByKey | OutputShape::KeyedList) {
            if let Some(index) = self.unkeyed {
                return Err(format!(
                    "enqueued task {index} without a key, but output shape {shape} needs a key for every task"
                ));
            }
            if let Some((first, second, key)) = &self.same_key {
                return Err(format!(
                    "enqueued tasks {first} and {second} with the same key {}, but output shape {shape} needs a \
                     distinct key for every task",
                    crate::text::one_line(key, KEY_SHOWN)
                ));
            }
        }
        Ok(())
    }
}

fn shape_name(shape: OutputShape) -> &'static str {
    match shape {
        OutputShape::Single => "single",
        OutputShape::List => "list",
        OutputShape::ByKey => "by-key",
        OutputShape::KeyedList => "keyed-list",
        OutputShape::Metadata => "metadata",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn task(index: u64, key: Option<Value>) -> Task {
        Task { index, actor: "Pass".into(), input: json!({}).into(), key }
    }

    fn ledger(tasks: &[Task]) -> Ledger {
        let mut l = Ledger::new();
        for t in tasks {
            l.admit(t, 2, 0, &Limits::DEFAULT).unwrap();
        }
        l
    }

    fn execution(expected: u64, output: OutputShape) -> Execution {
        Execution { expected_tasks: expected, metadata: None, output, detached: false }
    }

    #[test]
    fn indices_must_fill_zero_to_expected() {
        let l = ledger(&[task(0, None), task(5, None)]);
        let err = l.settle(&execution(2, OutputShape::List), &Limits::DEFAULT).unwrap_err();
        assert!(err.starts_with("enqueued task 5, outside 0..2"), "{err}");
        assert!(ledger(&[task(1, None), task(0, None)])
            .settle(&execution(2, OutputShape::List), &Limits::DEFAULT)
            .is_ok());
        let err = ledger(&[task(3, None)]).settle(&execution(1, OutputShape::Single), &Limits::DEFAULT).unwrap_err();
        assert!(err.contains("task 3, outside 0..1"), "{err}");
    }

    #[test]
    fn huge_and_repeated_indices_are_refused_as_they_arrive() {
        let mut l = Ledger::new();
        let err = l.admit(&task(1 << 63, None), 2, 0, &Limits::DEFAULT).unwrap_err();
        assert!(
            matches!(&err, HostError::LimitExceeded(m)
            if m.contains("task index 9223372036854775808, past its limit max-tasks = 1000000")),
            "{err:?}"
        );
        l.admit(&task(7, None), 2, 0, &Limits::DEFAULT).unwrap();
        let err = l.admit(&task(7, None), 2, 0, &Limits::DEFAULT).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("task index 7 twice in one call")), "{err:?}");
    }

    #[test]
    fn keyed_shapes_need_distinct_keys() {
        let l = ledger(&[task(0, Some(json!("a"))), task(1, Some(json!("a")))]);
        let err = l.settle(&execution(2, OutputShape::ByKey), &Limits::DEFAULT).unwrap_err();
        assert!(err.contains("tasks 0 and 1 with the same key \"a\""), "{err}");
        assert!(l.settle(&execution(2, OutputShape::List), &Limits::DEFAULT).is_ok(), "a list ignores keys");
        let l = ledger(&[task(0, Some(json!("a"))), task(1, None)]);
        let err = l.settle(&execution(2, OutputShape::KeyedList), &Limits::DEFAULT).unwrap_err();
        assert!(err.contains("task 1 without a key"), "{err}");
    }
}
