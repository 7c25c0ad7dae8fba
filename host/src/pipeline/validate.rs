//! Checking a pipeline before anything runs: every problem at once, each naming its
//! stage and field. The host checks what every stage shares (names, modes, actors,
//! JSONPath syntax, gather references, failure tolerance); each stage's executor checks
//! the rest through its `validate` export.

use super::{reads, Pipeline, STAGE_FIELDS};
use crate::jsonpath;
use crate::plugin::Plugins;
use crate::stage_host::StageHost;
use crate::text;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageProblem {
    /// The stage's name, or `#n` (1-based) when it has none; empty for the pipeline.
    pub stage: String,
    pub field: String,
    pub message: String,
}

/// On one line, control characters escaped and each part cut to a budget: a problem
/// carries text from the pipeline file and from executor plugins, and reaches terminals.
impl fmt::Display for StageProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = text::one_line(&self.message, text::LINE_BUDGET);
        let stage = text::one_line(&self.stage, NAME_BUDGET);
        let field = text::one_line(&self.field, NAME_BUDGET);
        match (self.stage.is_empty(), self.field.is_empty()) {
            (true, _) => write!(f, "pipeline: {message}"),
            (false, true) => write!(f, "stage {stage}: {message}"),
            (false, false) => write!(f, "stage {stage}: {field}: {message}"),
        }
    }
}

/// How much of a stage's or field's name a problem shows.
const NAME_BUDGET: usize = 256;

/// The seed writes `actor: 'unused'` for stages whose actors are in `executorConfig`.
const PLACEHOLDER_ACTOR: &str = "unused";

/// The context's name for the run's input.
const TRIGGER: &str = "trigger";

/// The pipeline as a [`super::ValidPipeline`], or every problem in it (see [`validate`]).
pub fn check(
    pipeline: &Pipeline,
    plugins: &Plugins,
    host: Arc<dyn StageHost>,
) -> Result<super::ValidPipeline, Vec<StageProblem>> {
    let problems = validate(pipeline, plugins, host);
    if !problems.is_empty() {
        return Err(problems);
    }
    let stages = pipeline
        .stages
        .iter()
        .map(|def| super::ValidStage {
            name: def["name"].as_str().unwrap_or_default().to_string(),
            mode: def["mode"].as_str().unwrap_or_default().to_string(),
            definition: def.clone(),
        })
        .collect();
    Ok(super::ValidPipeline { name: pipeline.name.clone(), stages })
}

/// Every problem in `pipeline`, in stage order. `host` serves the executors' `validate`
/// calls (it answers `has-actor` from the manifest).
pub fn validate(pipeline: &Pipeline, plugins: &Plugins, host: Arc<dyn StageHost>) -> Vec<StageProblem> {
    let mut problems = Vec::new();
    if pipeline.stages.is_empty() {
        problems.push(StageProblem {
            stage: String::new(),
            field: "stages".into(),
            message: "a pipeline needs at least one stage".into(),
        });
    }
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    let positions = reads::positions(pipeline);
    for (i, stage) in pipeline.stages.iter().enumerate() {
        let mut label = pipeline.stage_label(i);
        // `first_seen` holds the names of the stages before this one: a lookup, not a
        // scan of them (a scan made validating 10,000 stages take seconds).
        if first_seen.contains_key(label.as_str()) {
            label = format!("{label} (#{})", i + 1);
        }
        let reported_from = problems.len();
        let mut push = |field: &str, message: String| {
            problems.push(StageProblem { stage: label.clone(), field: field.to_string(), message })
        };
        let Some(fields) = stage.as_object() else {
            push("", "a stage must be an object".into());
            continue;
        };
        for key in fields.keys().filter(|k| !STAGE_FIELDS.contains(&k.as_str())) {
            push(
                key,
                format!(
                    "unknown field; a stage has {} (pattern settings go in executorConfig)",
                    STAGE_FIELDS.join(", ")
                ),
            );
        }
        match stage.get("name") {
            Some(Value::String(name)) if name.is_empty() => push("name", "must not be empty".into()),
            // `$.trigger` is the run's input; a stage's output stored there would replace it.
            Some(Value::String(name)) if name == TRIGGER => {
                push("name", "`trigger` is reserved: `$.trigger` is the run's input; name the stage otherwise".into())
            }
            Some(Value::String(name)) => {
                if let Some(first) = first_seen.get(name.as_str()) {
                    push("name", format!("duplicate stage name; stage #{} is already named `{name}`", first + 1));
                } else {
                    first_seen.insert(name, i);
                }
            }
            Some(_) => push("name", "must be a string".into()),
            None => push("name", "is required".into()),
        }
        let mode = match stage.get("mode") {
            Some(Value::String(mode)) => plugins.executor(mode).map(|e| (mode, e)).or_else(|| {
                let modes: Vec<&str> = plugins.executors().map(|(m, _)| m).collect();
                push("mode", format!("unknown mode `{mode}`; the manifest has: {}", modes.join(", ")));
                None
            }),
            Some(_) => {
                push("mode", "must be a string".into());
                None
            }
            None => {
                push("mode", "is required".into());
                None
            }
        };
        match stage.get("actor") {
            Some(Value::String(actor)) if actor == PLACEHOLDER_ACTOR => {}
            Some(Value::String(actor)) if plugins.actor(actor).is_none() => {
                let actors: Vec<&str> = plugins.actors().map(|(a, _)| a).collect();
                push("actor", unknown_actor(actor, &actors));
            }
            Some(Value::String(_)) | None => {}
            Some(_) => push("actor", "must be a string".into()),
        }
        if let Some(input) = stage.get("input") {
            check_template_paths(input, "input", &mut push);
        }
        if let Some(Value::String(path)) = stage.pointer("/scatter/input") {
            if let Err(e) = jsonpath::check(path) {
                push("scatter.input", e);
            }
        }
        reads::check(stage, i, &positions, &mut push);
        if let Some(gather) = stage.get("gather") {
            check_gather(gather, i, &first_seen, pipeline, &mut push);
        }
        if let Some(config) = stage.get("executorConfig") {
            check_tolerance(config, &mut push);
        }
        if let Some((_, executor)) = mode {
            let definition = executor.stage("", stage);
            match executor.validate(host.clone(), &definition) {
                Ok(found) => {
                    // The host already reported some fields (actor, JSONPath syntax); the
                    // executor's view of the same field would only repeat it.
                    let reported: Vec<String> = problems[reported_from..].iter().map(|p| p.field.clone()).collect();
                    let mut push = |field: &str, message: String| {
                        problems.push(StageProblem { stage: label.clone(), field: field.to_string(), message })
                    };
                    for p in found.into_iter().filter(|p| !reported.contains(&p.field)) {
                        push(&p.field, p.message);
                    }
                }
                Err(e) => problems.push(StageProblem {
                    stage: label.clone(),
                    field: "mode".into(),
                    message: format!("the executor failed while validating: {e}"),
                }),
            }
        }
    }
    problems.dedup();
    problems
}

fn check_template_paths(template: &Value, field: &str, push: &mut impl FnMut(&str, String)) {
    match template {
        Value::String(path) if path.starts_with('$') => {
            if let Err(e) = jsonpath::check(path) {
                push(field, e);
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                check_template_paths(v, &format!("{field}.{k}"), push);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_template_paths(v, &format!("{field}[{i}]"), push);
            }
        }
        _ => {}
    }
}

fn check_gather(
    gather: &Value,
    i: usize,
    earlier: &HashMap<&str, usize>,
    pipeline: &Pipeline,
    push: &mut impl FnMut(&str, String),
) {
    let Some(fields) = gather.as_object() else {
        push("gather", "must be an object: { \"stage\": \"<earlier stage>\", \"groupBy\"?: \"$.path\" }".into());
        return;
    };
    match fields.get("stage") {
        Some(Value::String(name)) => match earlier.get(name.as_str()) {
            Some(&at) if at < i => {}
            _ => {
                let later = pipeline.stages.iter().position(|s| s.get("name").and_then(Value::as_str) == Some(name));
                match later {
                    Some(at) if at == i => {
                        push("gather.stage", format!("`{name}` is this stage; gather an earlier one"))
                    }
                    Some(at) => push(
                        "gather.stage",
                        format!("`{name}` is stage #{}, which runs after this one; gather an earlier stage", at + 1),
                    ),
                    None => push("gather.stage", format!("no stage is named `{name}`")),
                }
            }
        },
        Some(_) => push("gather.stage", "must be a string naming an earlier stage".into()),
        None => push("gather.stage", "is required: the earlier stage whose results are gathered".into()),
    }
    match fields.get("groupBy") {
        Some(Value::String(path)) => {
            if let Err(e) = jsonpath::check(path) {
                push("gather.groupBy", e);
            }
        }
        Some(_) => push("gather.groupBy", "must be a JSONPath string such as `$.documentType`".into()),
        None => {}
    }
}

fn check_tolerance(config: &Value, push: &mut impl FnMut(&str, String)) {
    let Some(config) = config.as_object() else {
        push("executorConfig", "must be an object".into());
        return;
    };
    if let Some(v) = config.get("toleratedFailures") {
        if v.as_u64().is_none() {
            push("executorConfig.toleratedFailures", format!("must be a whole number of tasks, found {v}"));
        }
    }
    if let Some(v) = config.get("toleratedFailurePercent") {
        if !v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p)) {
            push("executorConfig.toleratedFailurePercent", format!("must be a number from 0 to 100, found {v}"));
        }
    }
}

/// What to say of an actor the manifest lacks: the closest name when it looks like a
/// typo, else how to add it (a component, or an actor a worker of the user's own serves).
fn unknown_actor(actor: &str, known: &[&str]) -> String {
    let add = format!(
        "add [actors.{actor}] to the manifest with `component = \"<file>.wasm\"`, or `external = true` when a \
         worker of your own serves it"
    );
    if known.is_empty() {
        return format!("unknown actor `{actor}`; the manifest has no actors: {add}");
    }
    let close = known
        .iter()
        .map(|k| (strsim::levenshtein(&k.to_lowercase(), &actor.to_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(1))
        .min();
    match close {
        Some((_, name)) => {
            format!("unknown actor `{actor}` (did you mean `{name}`?); the manifest has: {}", known.join(", "))
        }
        None => format!("unknown actor `{actor}`; the manifest has: {}; {add}", known.join(", ")),
    }
}
