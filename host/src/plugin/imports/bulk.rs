//! `queue.enqueue-each` and `queue.enqueue-groups` (WIT 0.2.1): the host reads the items
//! or results, renders each task's input from the stage's template
//! ([`crate::template::Template`]) and enqueues them in batches, so payloads never pass
//! through the guest. The plugin still decides what runs: the source path, the actor,
//! the template, the grouping, the options.
//!
//! Every task made here goes through the checks a guest's own tasks get (the actor
//! allowed, the call's [`Ledger`](super::ledger::Ledger) with each input's bytes), so
//! these calls are never a way around a limit.
//!
//! Why the time spent here is not charged to the plugin's `timeout-ms`: it is the host's
//! own work, bounded by `max-tasks` (tasks are numbered from 0, so a second call in the
//! same `execute` is refused at its first task), and it grows with the items, not with
//! anything the plugin computes. The call's deadline moves by the time the host took.

use crate::api::{EnqueueOptions, HostError, Task};
use crate::jsonpath::{self, kind};
use crate::plugin::store::{Export, HostState};
use crate::template::{self, json_len, Bound, RenderError, Template};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

/// Tasks per engine round trip when the plugin does not say.
const DEFAULT_BATCH: usize = 1000;

/// Why a bulk call failed: the plugin broke a rule (refused: the call fails whatever the
/// guest does, as with `enqueue`), or the data did not fit the definition (a source that
/// matched nothing, a result without a key: the guest's error to return, as with a
/// `context.query` that fails).
enum Failure {
    Refused(HostError),
    Data(HostError),
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        Failure::Refused(e)
    }
}

fn data(message: String) -> Failure {
    Failure::Data(HostError::Invalid(message))
}

/// A definition path and the field errors name it by (WIT `path-field`).
pub(crate) struct PathField {
    pub path: String,
    pub field: String,
}

/// `enqueue-each`'s request, JSON still as text.
pub(crate) struct Each {
    pub source: PathField,
    pub item_name: String,
    pub actor: String,
    pub input: String,
    pub batch_size: Option<u32>,
}

/// `enqueue-groups`' request, JSON still as text.
pub(crate) struct Groups {
    pub stage: String,
    pub group_by: Option<PathField>,
    pub actor: String,
    pub input: String,
}

fn invalid(message: String) -> HostError {
    HostError::Invalid(message)
}

impl HostState {
    pub(super) fn queue_enqueue_each(&mut self, each: Each, options: EnqueueOptions) -> Result<u64, HostError> {
        let started = Instant::now();
        let result = self.enqueue_each(each, options);
        self.deadline += started.elapsed();
        self.settle_bulk(result)
    }

    pub(super) fn queue_enqueue_groups(&mut self, groups: Groups, options: EnqueueOptions) -> Result<u64, HostError> {
        let started = Instant::now();
        let result = self.enqueue_groups(groups, options);
        self.deadline += started.elapsed();
        self.settle_bulk(result)
    }

    fn settle_bulk(&mut self, result: Result<u64, Failure>) -> Result<u64, HostError> {
        match result {
            Ok(count) => Ok(count),
            Err(Failure::Refused(e)) => Err(self.refuse(e)),
            Err(Failure::Data(e)) => Err(e),
        }
    }

    /// The most bytes one rendered input may have.
    fn input_limit(&self) -> usize {
        usize::try_from(self.limits.task_input_bytes).unwrap_or(usize::MAX)
    }

    /// What every bulk call checks before it reads anything.
    fn bulk_preamble(&mut self, call: &str, actor: &str, options: &EnqueueOptions) -> Result<(), HostError> {
        self.earlier_refusal("enqueue")?;
        if self.export != Export::Execute {
            return Err(invalid(format!(
                "called queue.{call} from {}: it may be called only from {}",
                self.export,
                Export::Execute
            )));
        }
        crate::rules::bounds::enqueue_options(options, &self.limits).map_err(invalid)?;
        if !self.host.has_actor(actor) {
            let actor = crate::text::one_line(actor, 120);
            return Err(HostError::NotFound(format!(
                "queue.{call}: unknown actor `{actor}`; the manifest has no [actors.{actor}] ({})",
                crate::manifest::ADD_ACTOR_HINT
            )));
        }
        self.may_enqueue_for(&format!("queue.{call}"), actor)
    }

    fn enqueue_each(&mut self, each: Each, options: EnqueueOptions) -> Result<u64, Failure> {
        self.bulk_preamble("enqueue-each", &each.actor, &options)?;
        if each.item_name == "index" || each.item_name.is_empty() {
            return Err(Failure::Refused(invalid(format!(
                "queue.enqueue-each: item-name `{}` would hide `$.index`; choose another name",
                crate::text::one_line(&each.item_name, 120)
            ))));
        }
        let template = parse_template("enqueue-each", &each.input)?;
        let context = self.host.context(&self.scope).map_err(Failure::Data)?;
        let compiled = Template::compile(&context, &template, &[&each.item_name, "index"], "input").map_err(data)?;
        let PathField { path, field } = &each.source;
        let found = jsonpath::select_refs(&context, path).map_err(|e| data(format!("{field}: {e}")))?;
        let items: Vec<&Value> = match found.as_slice() {
            [] => return Err(data(format!("{field}: `{path}` matched nothing"))),
            // The one match is the array of items, read in place.
            [Value::Array(items)] => items.iter().collect(),
            [other] => {
                return Err(data(format!(
                    "{field}: `{path}` is {}, not an array (stage {})",
                    kind(other),
                    self.scope.stage
                )))
            }
            _ => found,
        };
        let batch = each.batch_size.map_or(DEFAULT_BATCH, |b| b.max(1) as usize);
        let mut tasks = Vec::with_capacity(batch.min(items.len()));
        for (index, item) in items.iter().enumerate() {
            let position = json!(index);
            let bindings = [(each.item_name.as_str(), Bound::Value(item)), ("index", Bound::Value(&position))];
            let input = compiled.render(&context, &bindings, self.input_limit()).map_err(|e| too_large(e, index))?;
            tasks.push(Task { index: index as u64, actor: each.actor.clone(), input, key: None });
            if tasks.len() == batch {
                self.hand_over(std::mem::take(&mut tasks), &options)?;
            }
        }
        self.hand_over(tasks, &options)?;
        Ok(items.len() as u64)
    }

    fn enqueue_groups(&mut self, groups: Groups, options: EnqueueOptions) -> Result<u64, Failure> {
        self.bulk_preamble("enqueue-groups", &groups.actor, &options)?;
        let template = parse_template("enqueue-groups", &groups.input)?;
        let context = self.host.context(&self.scope).map_err(Failure::Data)?;
        let gathered = &groups.stage;
        let output = context
            .get(gathered)
            .filter(|_| gathered != "trigger")
            .ok_or_else(|| data(format!("stage `{gathered}` has no output in the context")))?;
        // A list output has `null` for failed (tolerated) or not-arrived tasks; any other
        // output is one result.
        let results: Vec<(usize, &Value)> = match output {
            Value::Array(items) => items.iter().enumerate().filter(|(_, v)| !v.is_null()).collect(),
            other => vec![(0, other)],
        };
        let compiled = Template::compile(&context, &template, &["group", "index"], "input").map_err(data)?;
        let Some(group_by) = &groups.group_by else {
            let items: Vec<&Value> = results.into_iter().map(|(_, v)| v).collect();
            let group = Bound::Group { key: &Value::Null, items: &items };
            let bindings = [("group", group), ("index", Bound::Value(&json!(0)))];
            let input = compiled.render(&context, &bindings, self.input_limit()).map_err(|e| too_large(e, 0))?;
            self.hand_over(vec![Task { index: 0, actor: groups.actor, input, key: None }], &options)?;
            return Ok(1);
        };
        // Keys in first-seen order, each with its results (borrowed from the context).
        let mut order: Vec<(Value, Vec<&Value>)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, result) in results {
            let key = group_key(result, group_by, gathered, index).map_err(Failure::Data)?;
            let slot = *seen.entry(key.to_string()).or_insert_with(|| {
                order.push((key, Vec::new()));
                order.len() - 1
            });
            order[slot].1.push(result);
        }
        let count = order.len() as u64;
        let mut tasks = Vec::with_capacity(order.len().min(DEFAULT_BATCH));
        for (index, (key, items)) in order.into_iter().enumerate() {
            let position = json!(index);
            let bindings = [("group", Bound::Group { key: &key, items: &items }), ("index", Bound::Value(&position))];
            let input = compiled.render(&context, &bindings, self.input_limit()).map_err(|e| too_large(e, index))?;
            tasks.push(Task { index: index as u64, actor: groups.actor.clone(), input, key: Some(key) });
            if tasks.len() == DEFAULT_BATCH {
                self.hand_over(std::mem::take(&mut tasks), &options)?;
            }
        }
        self.hand_over(tasks, &options)?;
        Ok(count)
    }

    /// Check each task against the call's ledger (a broken rule is a refusal) and hand
    /// the batch to the engine (its failure, a state store gone, is the guest's error).
    fn hand_over(&mut self, tasks: Vec<Task>, options: &EnqueueOptions) -> Result<(), Failure> {
        if tasks.is_empty() {
            return Ok(());
        }
        for task in &tasks {
            let key_len = task.key.as_ref().map_or(0, json_len);
            self.ledger.admit(task, task.input.len(), key_len, &self.limits)?;
        }
        self.host.enqueue(&self.scope, tasks, options).map_err(Failure::Data)
    }
}

/// A render's failure: a data error, or a task past `task-input-bytes` (refused, with
/// the words the ledger uses for a guest's task).
fn too_large(e: RenderError, index: usize) -> Failure {
    match e {
        RenderError::Data(message) => data(message),
        RenderError::TooLarge { limit } => Failure::Refused(HostError::LimitExceeded(format!(
            "enqueued task {index} with an input of more than {limit} bytes, over its limit task-input-bytes = {limit}"
        ))),
    }
}

fn parse_template(call: &str, text: &str) -> Result<Value, Failure> {
    serde_json::from_str(text).map_err(|e| Failure::Refused(invalid(format!("queue.{call}: input is not JSON: {e}"))))
}

/// The key of result `index` (its position in the gathered stage's output).
fn group_key(result: &Value, by: &PathField, stage: &str, index: usize) -> Result<Value, HostError> {
    let found = match template::select_simple(result, &by.path) {
        Some(found) => found.cloned(),
        None => {
            jsonpath::select(result, &by.path).map_err(|e| invalid(format!("{}: {e}", by.field)))?.into_iter().next()
        }
    };
    found.ok_or_else(|| {
        invalid(format!(
            "{}: `{}` matched nothing on result {index} of stage `{stage}`; every result needs a key (have the \
             actor always return it)",
            by.field, by.path
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Limits;
    use crate::recording::RecordingHost;
    use std::sync::Arc;

    fn context() -> Value {
        json!({
            "trigger": { "items": [{ "id": 1, "k": "a" }, { "id": 2, "k": "b" }, { "id": 3, "k": "a" }], "tag": "t",
                         "one": 5 },
            "pages": [{ "k": "a", "n": 1 }, null, { "k": "b", "n": 2 }, { "k": "a", "n": 3 }],
            "summary": { "k": "z" }
        })
    }

    fn state(export: Export, limits: Limits) -> (Arc<RecordingHost>, HostState) {
        super::super::test_state_with(context(), export, limits)
    }

    fn each(source: &str, input: Value) -> Each {
        Each {
            source: PathField { path: source.into(), field: "scatter.input".into() },
            item_name: "item".into(),
            actor: "Pass".into(),
            input: input.to_string(),
            batch_size: Some(2),
        }
    }

    fn groups(stage: &str, by: Option<&str>, input: Value) -> Groups {
        Groups {
            stage: stage.into(),
            group_by: by.map(|p| PathField { path: p.into(), field: "gather.groupBy".into() }),
            actor: "Pass".into(),
            input: input.to_string(),
        }
    }

    fn inputs(host: &RecordingHost) -> Vec<(u64, Value, Option<Value>)> {
        host.enqueued().into_iter().map(|e| (e.task.index, e.task.input.to_value(), e.task.key)).collect()
    }

    #[test]
    fn each_renders_every_item_on_the_host_in_batches() {
        let (host, mut s) = state(Export::Execute, Limits::DEFAULT);
        let input = json!({ "id": "$.item.id", "at": "$.index", "tag": "$.trigger.tag" });
        let options = EnqueueOptions { max_parallel: Some(2), ..Default::default() };
        assert_eq!(s.queue_enqueue_each(each("$.trigger.items", input), options.clone()).unwrap(), 3);
        assert_eq!(
            inputs(&host),
            vec![
                (0, json!({ "id": 1, "at": 0, "tag": "t" }), None),
                (1, json!({ "id": 2, "at": 1, "tag": "t" }), None),
                (2, json!({ "id": 3, "at": 2, "tag": "t" }), None),
            ]
        );
        assert!(host.enqueued().iter().all(|e| e.options == options && e.stage == "s"));
        // Several matches are the items themselves.
        let (host, mut s) = state(Export::Execute, Limits::DEFAULT);
        assert_eq!(s.queue_enqueue_each(each("$.trigger.items[*].id", json!("$.item")), options).unwrap(), 3);
        assert_eq!(
            inputs(&host).into_iter().map(|(_, i, _)| i).collect::<Vec<_>>(),
            vec![json!(1), json!(2), json!(3)]
        );
    }

    #[test]
    fn each_says_what_is_wrong_with_its_source_and_template_by_field() {
        let cases = [
            ("$.trigger.nope", json!({}), "scatter.input: `$.trigger.nope` matched nothing"),
            ("$.trigger.one", json!({}), "scatter.input: `$.trigger.one` is a number, not an array (stage s)"),
            ("$.trigger.items", json!({ "x": "$.item.nope" }), "input.x: `$.item.nope` matched nothing"),
            ("$.trigger.items", json!({ "y": ["$.trigger.gone"] }), "input.y[0]: `$.trigger.gone` matched nothing"),
        ];
        for (source, input, message) in cases {
            let (host, mut s) = state(Export::Execute, Limits::DEFAULT);
            let err = s.queue_enqueue_each(each(source, input), EnqueueOptions::default()).unwrap_err();
            assert_eq!(err, HostError::Invalid(message.into()));
            assert_eq!(s.refused, None, "a definition that does not fit the data is the guest's error, not a refusal");
            assert!(host.enqueued().is_empty() || message.starts_with("input"), "{message}");
        }
        let (_, mut s) = state(Export::Execute, Limits::DEFAULT);
        let err = s.queue_enqueue_each(each("$.trigger[", json!({})), EnqueueOptions::default()).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.starts_with("scatter.input: invalid JSONPath")), "{err:?}");
    }

    #[test]
    fn bulk_calls_keep_every_rule_of_enqueue() {
        // Only from execute.
        let (_, mut s) = state(Export::AfterTask, Limits::DEFAULT);
        let err = s.queue_enqueue_each(each("$.trigger.items", json!({})), EnqueueOptions::default()).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("only from execute")), "{err:?}");
        assert_eq!(s.refused, Some(err), "breaking a rule is the call's refusal");
        // An actor the manifest lacks.
        let (_, mut s) = state(Export::Execute, Limits::DEFAULT);
        let mut g = groups("pages", None, json!({}));
        g.actor = "Nobody".into();
        let err = s.queue_enqueue_groups(g, EnqueueOptions::default()).unwrap_err();
        assert!(matches!(&err, HostError::NotFound(m) if m.contains("unknown actor `Nobody`")), "{err:?}");
        // The ledger: max-tasks, then the bytes of what the host rendered.
        let (host, mut s) = state(Export::Execute, Limits { max_tasks: 2, ..Limits::DEFAULT });
        let err = s.queue_enqueue_each(each("$.trigger.items", json!({})), EnqueueOptions::default()).unwrap_err();
        assert!(matches!(&err, HostError::LimitExceeded(m) if m.contains("max-tasks = 2")), "{err:?}");
        assert_eq!(host.enqueued().len(), 2, "the first batch was handed over before the third task");
        let (_, mut s) = state(Export::Execute, Limits { task_input_bytes: 8, ..Limits::DEFAULT });
        let input = json!({ "all": "$.trigger.items" });
        let err = s.queue_enqueue_each(each("$.trigger.items", input), EnqueueOptions::default()).unwrap_err();
        assert!(matches!(&err, HostError::LimitExceeded(m) if m.contains("task-input-bytes = 8")), "{err:?}");
        // A second bulk call in one execute starts again at index 0: refused.
        let (_, mut s) = state(Export::Execute, Limits::DEFAULT);
        s.queue_enqueue_each(each("$.trigger.items", json!({})), EnqueueOptions::default()).unwrap();
        s.refused = None;
        let err = s.queue_enqueue_each(each("$.trigger.items", json!({})), EnqueueOptions::default()).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("index 0 twice")), "{err:?}");
        // `index` is taken.
        let (_, mut s) = state(Export::Execute, Limits::DEFAULT);
        let mut e = each("$.trigger.items", json!({}));
        e.item_name = "index".into();
        assert!(s.queue_enqueue_each(e, EnqueueOptions::default()).is_err());
    }

    #[test]
    fn groups_gather_results_by_key_in_first_seen_order_skipping_nulls() {
        let (host, mut s) = state(Export::Execute, Limits::DEFAULT);
        let input = json!({ "key": "$.group.key", "ns": "$.group.items[*].n", "at": "$.index" });
        assert_eq!(s.queue_enqueue_groups(groups("pages", Some("$.k"), input), EnqueueOptions::default()).unwrap(), 2);
        assert_eq!(
            inputs(&host),
            vec![
                (0, json!({ "key": "a", "ns": [1, 3], "at": 0 }), Some(json!("a"))),
                (1, json!({ "key": "b", "ns": 2, "at": 1 }), Some(json!("b"))),
            ]
        );
        // Without a key path, one task gets every result; a non-array output is one result.
        let (host, mut s) = state(Export::Execute, Limits::DEFAULT);
        let input = json!({ "all": "$.group.items", "key": "$.group.key" });
        assert_eq!(s.queue_enqueue_groups(groups("pages", None, input.clone()), EnqueueOptions::default()).unwrap(), 1);
        let all = json!([{ "k": "a", "n": 1 }, { "k": "b", "n": 2 }, { "k": "a", "n": 3 }]);
        assert_eq!(inputs(&host), vec![(0, json!({ "all": all, "key": null }), None)]);
        let (host, mut s) = state(Export::Execute, Limits::DEFAULT);
        s.queue_enqueue_groups(groups("summary", None, input), EnqueueOptions::default()).unwrap();
        assert_eq!(inputs(&host)[0].1["all"], json!([{ "k": "z" }]));
    }

    #[test]
    fn a_result_without_a_key_or_a_missing_stage_is_named() {
        let (_, mut s) = state(Export::Execute, Limits::DEFAULT);
        let err = s.queue_enqueue_groups(groups("pages", Some("$.n.x"), json!({})), EnqueueOptions::default());
        assert_eq!(
            err.unwrap_err(),
            HostError::Invalid(
                "gather.groupBy: `$.n.x` matched nothing on result 0 of stage `pages`; every result needs a key \
                 (have the actor always return it)"
                    .into()
            )
        );
        for stage in ["nope", "trigger"] {
            let (_, mut s) = state(Export::Execute, Limits::DEFAULT);
            let err = s.queue_enqueue_groups(groups(stage, None, json!({})), EnqueueOptions::default()).unwrap_err();
            assert_eq!(err, HostError::Invalid(format!("stage `{stage}` has no output in the context")));
        }
    }

    #[test]
    fn the_time_the_host_spends_does_not_count_against_the_plugin() {
        let (_, mut s) = state(Export::Execute, Limits::DEFAULT);
        let before = s.deadline;
        s.queue_enqueue_each(each("$.trigger.items", json!({})), EnqueueOptions::default()).unwrap();
        assert!(s.deadline > before);
    }
}
