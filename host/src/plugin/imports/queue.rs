//! `troupe:executor/queue`: hands the plugin's tasks to the [`StageHost`], each checked
//! on the way in (its index, its bytes, the call's [`Ledger`](super::ledger::Ledger))
//! and the call's options bounded ([`crate::rules::bounds`]); and collects what
//! `after-task` asks to add to its stage (`extend`, 0.2).
//!
//! Which export may call what: `enqueue` belongs to `execute`, `extend` to `after-task`.
//! Why it is checked here: a hook's enqueue used to land in a stage whose barrier was
//! already counted, so its tasks ran uncounted (or never); from any other export both
//! fail with `invalid`, for 0.1 guests too.
//!
//! A refusal (a limit, an option out of bounds, a call from the wrong export, anything
//! wrong with an extension) is returned to the plugin as the call's error and also kept
//! as the call's refusal ([`HostState::refuse`]): a plugin that ignores the error still
//! fails its call. Everything a plugin hands over is untrusted: JSON is parsed, sizes
//! counted, actors looked up, text escaped before anything else sees it.
//!
//! [`StageHost`]: crate::StageHost

use crate::api::{EnqueueOptions, Extension, HostError, NewTask, Task};
use crate::payload::Payload;
use crate::plugin::store::{Export, HostState};
use crate::text;
use serde_json::Value;

/// The reason a task is skipped when its executor gives none.
pub(crate) const DEFAULT_SKIP_REASON: &str = "skipped by the executor";

/// Longest excerpt of an actor name quoted in an error.
const NAME_SHOWN: usize = 120;

/// A task as a guest hands it over, JSON still as text (`queue.task`, either version).
pub(crate) struct TaskText {
    pub index: u64,
    pub actor: String,
    pub input: String,
    pub key: Option<String>,
}

/// A task for `extend` as a guest hands it over (`queue.new-task`, 0.2).
pub(crate) struct NewTaskText {
    pub actor: String,
    pub input: String,
    pub key: Option<String>,
}

/// `skip` as the host records it: a plugin's text, on one line and cut; an empty reason
/// is the default one.
pub(crate) fn skip_reason(skip: Option<String>) -> Option<String> {
    skip.map(|reason| match reason.trim() {
        "" => DEFAULT_SKIP_REASON.to_string(),
        _ => text::one_line(&reason, text::LINE_BUDGET),
    })
}

fn parse(which: &str, what: &str, text: &str) -> Result<Value, HostError> {
    serde_json::from_str(text).map_err(|e| HostError::Invalid(format!("{which}: {what} is not JSON: {e}")))
}

/// A task's input: checked, kept as the guest's text.
fn payload(which: &str, text: String) -> Result<Payload, HostError> {
    Payload::parse(text).map_err(|e| HostError::Invalid(format!("{which}: input is not JSON: {e}")))
}

fn task(t: TaskText) -> Result<(Task, usize, usize), HostError> {
    let (input_len, key_len) = (t.input.len(), t.key.as_ref().map_or(0, String::len));
    let which = format!("task {}", t.index);
    let input = payload(&which, t.input)?;
    let key = t.key.map(|k| parse(&which, "key", &k)).transpose()?;
    Ok((Task { index: t.index, actor: t.actor, input, key }, input_len, key_len))
}

impl HostState {
    /// Whether this executor may enqueue for `actor` (its manifest entry's `actors`).
    pub(super) fn may_enqueue_for(&self, which: &str, actor: &str) -> Result<(), HostError> {
        match &self.may_enqueue {
            Some(allowed) if !allowed.iter().any(|a| a == actor) => Err(HostError::Invalid(format!(
                "{which}: mode `{}` may not enqueue for actor `{}`: its manifest entry allows actors = [{}]",
                self.scope.name,
                text::one_line(actor, NAME_SHOWN),
                allowed.join(", ")
            ))),
            _ => Ok(()),
        }
    }

    /// A queue call from an export that may not make it: `invalid`, and refused.
    fn only_in(&mut self, call: &str, allowed: Export, instead: &str) -> Result<(), HostError> {
        if self.export == allowed {
            return Ok(());
        }
        Err(self.refuse(HostError::Invalid(format!(
            "called queue.{call} from {}: it may be called only from {allowed}{instead}",
            self.export
        ))))
    }

    /// Check a call's tasks and options, then hand them to the host.
    pub(super) fn queue_enqueue(&mut self, tasks: Vec<TaskText>, options: EnqueueOptions) -> Result<(), HostError> {
        self.earlier_refusal("enqueue")?;
        self.only_in("enqueue", Export::Execute, " (after-task grows its stage with queue.extend, WIT 0.2)")?;
        crate::rules::bounds::enqueue_options(&options, &self.limits)
            .map_err(|e| self.refuse(HostError::Invalid(e)))?;
        let mut checked = Vec::with_capacity(tasks.len());
        for t in tasks {
            self.may_enqueue_for(&format!("task {}", t.index), &t.actor).map_err(|e| self.refuse(e))?;
            let (task, input_len, key_len) = task(t)?;
            self.ledger.admit(&task, input_len, key_len, &self.limits).map_err(|e| self.refuse(e))?;
            checked.push(task);
        }
        self.host.enqueue(&self.scope, checked, &options)
    }

    pub(super) fn queue_has_actor(&mut self, name: String) -> bool {
        self.host.has_actor(&name)
    }

    /// Check an extension's tasks and options and add them to the call's extension,
    /// which the engine applies when `after-task` returns accept. A call is all or
    /// nothing: a task that fails a check adds none of the call's tasks, and refuses the
    /// whole `after-task` call.
    pub(super) fn queue_extend(
        &mut self,
        tasks: Vec<NewTaskText>,
        options: EnqueueOptions,
        max_stage_tasks: Option<u64>,
    ) -> Result<(), HostError> {
        self.earlier_refusal("enqueue")?;
        let checked = self.check_extension(tasks, options, max_stage_tasks);
        checked.map_err(|e| self.refuse(e))
    }

    fn check_extension(
        &mut self,
        tasks: Vec<NewTaskText>,
        options: EnqueueOptions,
        max_stage_tasks: Option<u64>,
    ) -> Result<(), HostError> {
        self.only_in("extend", Export::AfterTask, "")?;
        crate::rules::bounds::enqueue_options(&options, &self.limits).map_err(HostError::Invalid)?;
        if let Some(earlier) = self.extension.as_ref().filter(|e| e.options != options) {
            return Err(HostError::Invalid(format!(
                "called queue.extend again in one after-task with other options ({:?}, then {:?}): one review's \
                 tasks share one set of options",
                earlier.options, options
            )));
        }
        let cap = max_stage_tasks.unwrap_or(u64::MAX).min(self.limits.max_tasks);
        let cap = self.extension.as_ref().map_or(cap, |e| e.cap.min(cap));
        // A stage never holds more than `cap` tasks, so no more are kept; the rest are
        // checked like the others and counted (the host logs how many were left out).
        let held = self.extension.as_ref().map_or(0, |e| e.tasks.len());
        let room = usize::try_from(cap).unwrap_or(usize::MAX).saturating_sub(held);
        let mut kept = Vec::with_capacity(tasks.len().min(room));
        let mut left_out = 0;
        for (n, t) in tasks.into_iter().enumerate() {
            let which = format!("new task {n}");
            if !self.host.has_actor(&t.actor) {
                let actor = text::one_line(&t.actor, NAME_SHOWN);
                return Err(HostError::NotFound(format!(
                    "queue.extend: {which}: unknown actor `{actor}`; the manifest has no [actors.{actor}] ({})",
                    crate::manifest::ADD_ACTOR_HINT
                )));
            }
            self.may_enqueue_for(&format!("queue.extend: {which}"), &t.actor)?;
            let (input_len, key_len) = (t.input.len(), t.key.as_ref().map_or(0, String::len));
            let input = payload(&format!("queue.extend: {which}"), t.input)?;
            let key = t.key.as_deref().map(|k| parse(&format!("queue.extend: {which}"), "key", k)).transpose()?;
            self.ledger.admit_bytes(&which, input_len, key_len, &self.limits)?;
            if kept.len() < room {
                kept.push(NewTask { actor: t.actor, input, key });
            } else {
                left_out += 1;
            }
        }
        let extension = self.extension.get_or_insert_with(|| Extension { tasks: Vec::new(), options, cap });
        extension.cap = cap;
        extension.tasks.extend(kept);
        self.left_out += left_out;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RateLimit;
    use crate::manifest::Limits;
    use crate::recording::RecordingHost;
    use serde_json::json;
    use std::sync::Arc;

    fn state(export: Export, limits: Limits) -> (Arc<RecordingHost>, HostState) {
        super::super::test_state(export, limits)
    }

    fn new(actor: &str, input: &str) -> NewTaskText {
        NewTaskText { actor: actor.into(), input: input.into(), key: None }
    }

    fn one(index: u64) -> Vec<TaskText> {
        vec![TaskText { index, actor: "Pass".into(), input: "{}".into(), key: None }]
    }

    #[test]
    fn enqueue_belongs_to_execute_and_extend_to_after_task() {
        for export in [Export::AfterTask, Export::BeforeTask, Export::Plan, Export::Validate] {
            let (host, mut s) = state(export, Limits::DEFAULT);
            let err = s.queue_enqueue(one(0), EnqueueOptions::default()).unwrap_err();
            let expected = format!("called queue.enqueue from {export}: it may be called only from execute");
            assert!(matches!(&err, HostError::Invalid(m) if m.starts_with(&expected)), "{err:?}");
            assert_eq!(s.refused, Some(err), "and the call is refused");
            assert!(host.enqueued().is_empty(), "nothing reached the stage");
        }
        for export in [Export::Execute, Export::BeforeTask] {
            let (_, mut s) = state(export, Limits::DEFAULT);
            let err = s.queue_extend(vec![new("Pass", "{}")], EnqueueOptions::default(), None).unwrap_err();
            assert!(matches!(&err, HostError::Invalid(m) if m.contains("only from after-task")), "{err:?}");
            assert!(s.extension.is_none() && s.refused.is_some());
        }
        let (host, mut s) = state(Export::Execute, Limits::DEFAULT);
        s.queue_enqueue(one(0), EnqueueOptions::default()).unwrap();
        assert_eq!(host.enqueued().len(), 1);
    }

    #[test]
    fn extend_collects_checked_tasks_up_to_the_cap() {
        let limits = Limits { max_tasks: 5, ..Limits::DEFAULT };
        let (_, mut s) = state(Export::AfterTask, limits);
        let options = EnqueueOptions { skip: skip_reason(Some(String::new())), ..Default::default() };
        let tasks = vec![new("Pass", r#"{"page":1}"#), NewTaskText { key: Some(r#""k""#.into()), ..new("Pass", "2") }];
        s.queue_extend(tasks, options.clone(), Some(10)).unwrap();
        let ext = s.extension.clone().unwrap();
        assert_eq!(ext.cap, 5, "the smaller of max-stage-tasks and max-tasks");
        assert_eq!(ext.options.skip.as_deref(), Some(DEFAULT_SKIP_REASON));
        assert_eq!(ext.tasks[0], NewTask { actor: "Pass".into(), input: json!({ "page": 1 }).into(), key: None });
        assert_eq!(ext.tasks[1].key, Some(json!("k")));
        // A second call adds to the first, down to its own (smaller) cap.
        s.queue_extend((0..4).map(|_| new("Pass", "0")).collect(), options, Some(3)).unwrap();
        let ext = s.extension.clone().unwrap();
        assert_eq!((ext.cap, ext.tasks.len(), s.left_out), (3, 3, 3));
        assert!(s.refused.is_none());
    }

    /// Tasks and options for one `extend`, and what its error must be.
    type Case = (Vec<NewTaskText>, EnqueueOptions, fn(&HostError) -> bool);

    #[test]
    fn a_bad_extension_is_the_calls_refusal_with_its_kind() {
        let cases: Vec<Case> = vec![
            (
                vec![new("Nobody", "{}")],
                EnqueueOptions::default(),
                |e| matches!(e, HostError::NotFound(m) if m.contains("unknown actor `Nobody`")),
            ),
            (
                vec![new("Pass", "{nope")],
                EnqueueOptions::default(),
                |e| matches!(e, HostError::Invalid(m) if m.contains("new task 0: input is not JSON")),
            ),
            (
                vec![new("Pass", &format!("\"{}\"", "x".repeat(20)))],
                EnqueueOptions::default(),
                |e| matches!(e, HostError::LimitExceeded(m) if m.contains("task-input-bytes = 16")),
            ),
            (
                vec![new("Pass", "1")],
                EnqueueOptions {
                    rate_limit: Some(RateLimit { bucket: "b".into(), per_second: 1e-300, burst: 1 }),
                    ..Default::default()
                },
                |e| matches!(e, HostError::Invalid(m) if m.contains("rate-limit.per-second")),
            ),
        ];
        for (tasks, options, expected) in cases {
            let (_, mut s) = state(Export::AfterTask, Limits { task_input_bytes: 16, ..Limits::DEFAULT });
            let err = s.queue_extend(tasks, options, None).unwrap_err();
            assert!(expected(&err), "{err:?}");
            assert_eq!(s.refused.as_ref(), Some(&err));
            assert!(s.extension.is_none(), "nothing of a refused call is kept");
            let again = s.queue_extend(vec![new("Pass", "1")], EnqueueOptions::default(), None).unwrap_err();
            assert!(again.message().starts_with("an earlier enqueue of this call was refused"), "{again:?}");
        }
    }

    #[test]
    fn one_review_has_one_set_of_options_and_its_bytes_are_counted() {
        let (_, mut s) = state(Export::AfterTask, Limits::DEFAULT);
        s.queue_extend(vec![new("Pass", "1")], EnqueueOptions::default(), None).unwrap();
        let other = EnqueueOptions { delay_ms: 5, ..Default::default() };
        let err = s.queue_extend(vec![new("Pass", "1")], other, None).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("with other options")), "{err:?}");

        let (_, mut s) = state(Export::AfterTask, Limits { enqueue_bytes: 10, ..Limits::DEFAULT });
        s.queue_extend(vec![new("Pass", "123456")], EnqueueOptions::default(), None).unwrap();
        let err = s.queue_extend(vec![new("Pass", "123456")], EnqueueOptions::default(), None).unwrap_err();
        assert!(matches!(&err, HostError::LimitExceeded(m) if m.contains("enqueue-bytes = 10")), "{err:?}");
    }

    #[test]
    fn a_skip_reason_is_one_line_and_never_empty() {
        assert_eq!(skip_reason(None), None);
        assert_eq!(skip_reason(Some("  ".into())).as_deref(), Some(DEFAULT_SKIP_REASON));
        assert_eq!(skip_reason(Some("canary failed\n\u{1b}[2J".into())).as_deref(), Some("canary failed\\n\\u{1b}[2J"));
    }
}
