//! Which stages a stage's templates read, checked against the order stages run in.
//!
//! A stage sees the trigger and the outputs of the stages before it; a query naming a
//! later stage (or the stage itself) can only match nothing at run time, after the stages
//! before it have done their work. `validate` says so up front, naming the stage, the
//! field and the path. Names bound by the stage itself shadow stage names, as they do
//! when queries run (`jsonpath::query` lays bindings over the context): the scatter
//! variable and `index`, gather's `group`, and for fork-join branch inputs the keys of the
//! stage's own `input`.

use super::Pipeline;
use crate::jsonpath;
use serde_json::Value;
use std::collections::HashMap;

/// Each stage name's position (the first, for a duplicated name), for lookups in O(1):
/// a pipeline of 30,000 stages is checked in linear time.
pub fn positions(pipeline: &Pipeline) -> HashMap<&str, usize> {
    let mut positions = HashMap::with_capacity(pipeline.stages.len());
    for (i, stage) in pipeline.stages.iter().enumerate() {
        if let Some(name) = stage.get("name").and_then(Value::as_str) {
            positions.entry(name).or_insert(i);
        }
    }
    positions
}

/// Report every query in stage `i`'s templates (`input`, `scatter.input`, fork-join
/// branch inputs) that reads stage `i` itself or a later one.
pub fn check(stage: &Value, i: usize, positions: &HashMap<&str, usize>, push: &mut impl FnMut(&str, String)) {
    let mut bound: Vec<&str> = Vec::new();
    if let Some(var) = stage.pointer("/scatter/as").and_then(Value::as_str) {
        bound.extend([var, "index"]);
    }
    if stage.get("gather").is_some() {
        bound.extend(["group", "index"]);
    }
    let check = Check { i, positions };
    if let Some(input) = stage.get("input") {
        check.template(input, "input", &bound, push);
    }
    if let Some(path) = stage.pointer("/scatter/input") {
        // The scatter's items are read from the context alone, before anything is bound.
        check.template(path, "scatter.input", &[], push);
    }
    if let Some(Value::Array(branches)) = stage.pointer("/executorConfig/branches") {
        // Branch inputs read the stage's resolved `input` laid over the context.
        let mut bound = bound.clone();
        if let Some(Value::Object(input)) = stage.get("input") {
            bound.extend(input.keys().map(String::as_str));
        }
        for (b, branch) in branches.iter().enumerate() {
            if let Some(input) = branch.get("input") {
                check.template(input, &format!("executorConfig.branches[{b}].input"), &bound, push);
            }
        }
    }
}

struct Check<'a> {
    i: usize,
    positions: &'a HashMap<&'a str, usize>,
}

impl Check<'_> {
    fn template(&self, template: &Value, field: &str, bound: &[&str], push: &mut impl FnMut(&str, String)) {
        match template {
            Value::String(path) if path.starts_with('$') => {
                let Some(name) = jsonpath::first_segment(path) else { return };
                if bound.contains(&name) {
                    return;
                }
                match self.positions.get(name) {
                    Some(&at) if at == self.i => push(
                        field,
                        format!("`{path}` reads this stage's own output, which does not exist while it runs"),
                    ),
                    Some(&at) if at > self.i => push(
                        field,
                        format!(
                            "`{path}` reads stage `{name}` (#{}), which runs after this one; \
                             a stage reads the trigger and the stages before it",
                            at + 1
                        ),
                    ),
                    _ => {}
                }
            }
            Value::Object(fields) => {
                for (k, v) in fields {
                    self.template(v, &format!("{field}.{k}"), bound, push);
                }
            }
            Value::Array(items) => {
                for (n, v) in items.iter().enumerate() {
                    self.template(v, &format!("{field}[{n}]"), bound, push);
                }
            }
            _ => {}
        }
    }
}
