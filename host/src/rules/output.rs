//! A stage's output, from what its `execute` returned and its tasks' results: the value
//! the next stages read as `$.<stage>`. One copy for the orchestrator and the harness,
//! so a plugin tested in the harness outputs exactly what a run would put in the context.

use crate::api::{Execution, Outcome, OutputShape};
use crate::engine::TaskResult;
use serde_json::{Map, Value};

/// The output of a stage that ended (call it only for one whose barrier tripped and whose
/// failures were tolerated). A detached stage, or one with no tasks, outputs its
/// executor's metadata, or `{}`: there are no results to assemble, and `{}` keeps
/// `$.<stage>` readable. `expected` is the stage's final task count: what `execute` said
/// plus what reviews added (`extend`).
pub fn stage_output(execution: &Execution, expected: u64, results: Vec<TaskResult>) -> Value {
    if execution.detached || expected == 0 {
        return execution.metadata.clone().unwrap_or_else(|| Value::Object(Map::new()));
    }
    assemble(execution.output, expected, results, execution.metadata.as_ref())
}

/// Assemble results as the executor's output shape says. A failed (tolerated) task is
/// `null` where its result would be, so positions keep their meaning; so is a skipped
/// one in `single` and `list`, while `by-key` and `keyed-list` leave skipped tasks out
/// (a key with no run behind it would read as a result of `null`).
pub fn assemble(shape: OutputShape, expected: u64, mut results: Vec<TaskResult>, metadata: Option<&Value>) -> Value {
    let value = |r: TaskResult| match r.outcome {
        Outcome::Succeeded(v) => v.to_value(),
        Outcome::Failed(_) | Outcome::Skipped(_) => Value::Null,
    };
    if matches!(shape, OutputShape::ByKey | OutputShape::KeyedList) {
        results.retain(|r| !matches!(r.outcome, Outcome::Skipped(_)));
    }
    let key_string = |k: &Option<Value>| match k {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    match shape {
        OutputShape::Single => results.into_iter().find(|r| r.index == 0).map(value).unwrap_or(Value::Null),
        OutputShape::List => {
            let mut out = vec![Value::Null; expected as usize];
            for r in results {
                let at = r.index as usize;
                if let Some(slot) = out.get_mut(at) {
                    *slot = value(r);
                }
            }
            Value::Array(out)
        }
        OutputShape::ByKey => Value::Object(results.into_iter().map(|r| (key_string(&r.key), value(r))).collect()),
        OutputShape::KeyedList => Value::Array(
            results
                .into_iter()
                .map(|r| {
                    let key = r.key.clone().unwrap_or(Value::Null);
                    serde_json::json!({ "key": key, "result": value(r) })
                })
                .collect(),
        ),
        OutputShape::Metadata => metadata.cloned().unwrap_or_else(|| Value::Object(Map::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(index: u64, key: Option<Value>, outcome: Outcome) -> TaskResult {
        TaskResult { index, actor: "A".into(), key, outcome, attempts: 1 }
    }

    fn execution(expected: u64, output: OutputShape) -> Execution {
        Execution { expected_tasks: expected, metadata: Some(json!({ "m": 1 })), output, detached: false }
    }

    #[test]
    fn a_list_keeps_positions_with_null_for_failed_tasks() {
        let results =
            vec![result(2, None, Outcome::Succeeded(json!("c").into())), result(0, None, Outcome::Failed("x".into()))];
        assert_eq!(stage_output(&execution(3, OutputShape::List), 3, results), json!([null, null, "c"]));
    }

    #[test]
    fn no_tasks_or_detached_gives_the_metadata_or_an_empty_object() {
        assert_eq!(stage_output(&execution(0, OutputShape::List), 0, vec![]), json!({ "m": 1 }));
        let detached = Execution { detached: true, metadata: None, ..execution(2, OutputShape::ByKey) };
        assert_eq!(stage_output(&detached, 2, vec![result(0, None, Outcome::Succeeded(json!(1).into()))]), json!({}));
    }

    #[test]
    fn keyed_shapes_use_the_task_keys() {
        let results = vec![
            result(0, Some(json!("a")), Outcome::Succeeded(json!(1).into())),
            result(1, Some(json!(7)), Outcome::Succeeded(json!(2).into())),
        ];
        assert_eq!(stage_output(&execution(2, OutputShape::ByKey), 2, results.clone()), json!({ "a": 1, "7": 2 }));
        assert_eq!(
            stage_output(&execution(2, OutputShape::KeyedList), 2, results),
            json!([{ "key": "a", "result": 1 }, { "key": 7, "result": 2 }])
        );
    }

    #[test]
    fn skipped_tasks_are_null_in_lists_and_left_out_of_keyed_shapes() {
        let results = vec![
            result(0, Some(json!("a")), Outcome::Succeeded(json!(1).into())),
            result(1, Some(json!("b")), Outcome::Skipped("canary failed".into())),
        ];
        assert_eq!(stage_output(&execution(1, OutputShape::List), 2, results.clone()), json!([1, null]));
        assert_eq!(stage_output(&execution(2, OutputShape::ByKey), 2, results.clone()), json!({ "a": 1 }));
        assert_eq!(
            stage_output(&execution(2, OutputShape::KeyedList), 2, results),
            json!([{ "key": "a", "result": 1 }])
        );
    }

    #[test]
    fn a_grown_list_is_as_long_as_every_task_in_the_stage() {
        let results = vec![
            result(0, None, Outcome::Succeeded(json!("seed").into())),
            result(2, None, Outcome::Succeeded(json!("c").into())),
        ];
        assert_eq!(stage_output(&execution(1, OutputShape::List), 3, results), json!(["seed", null, "c"]));
    }
}
