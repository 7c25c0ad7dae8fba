//! The syntax tree to the pipeline definition: `{"name", "stages": [...]}` exactly as
//! the equivalent JSON file holds it, and a [`SourceMap`] of where each field came from.
//!
//! Stage names: a call's stage is named by `call Actor as name`, else after the actor;
//! a `broadcast` or `parallel` block by `broadcast as name`, else `broadcast` /
//! `parallel`. Two stages may not share a name. Modes: a lone `call` is `single`,
//! `parallel` is `fork-join`, and every other block is the mode it is named after
//! (`scatter`, `gather`, `broadcast`, `retry`, `rate-limited`, ...): the manifest decides
//! which modes exist, not the language.

mod scope;
mod stages;
mod value;

use crate::ast::{Ident, Stage, Workflow};
use crate::diagnostic::Diagnostic;
use crate::source_map::SourceMap;
use crate::span::Span;
use serde_json::Value;
use std::collections::HashMap;

/// The state of one lowering: the workflow's names, and the problems found so far.
pub struct Lower<'a, 's> {
    source: &'s str,
    /// The declared inputs; `None` when the workflow has no `input` block.
    inputs: Option<&'a [Ident<'s>]>,
    /// Every stage's name, in order.
    names: Vec<String>,
    /// Each name's first stage.
    positions: HashMap<&'s str, usize>,
    /// Every stage's head, in order.
    heads: Vec<Span>,
    diagnostics: Vec<Diagnostic>,
}

impl Lower<'_, '_> {
    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }
}

/// Lower a parsed workflow, reporting every problem found.
pub fn lower<'s>(workflow: &Workflow<'s>, source: &'s str) -> Result<(Value, SourceMap), Vec<Diagnostic>> {
    let mut lower = Lower {
        source,
        inputs: workflow.inputs.as_ref().map(|i| i.names.as_slice()),
        names: workflow.stages.iter().map(|s| stage_name(s).to_string()).collect(),
        positions: HashMap::with_capacity(workflow.stages.len()),
        heads: workflow.stages.iter().map(Stage::head).collect(),
        diagnostics: Vec::new(),
    };
    for (i, stage) in workflow.stages.iter().enumerate() {
        lower.positions.entry(stage_name(stage)).or_insert(i);
    }
    lower.check_inputs();
    lower.check_names(workflow);
    if workflow.stages.is_empty() {
        lower.report(
            Diagnostic::new(workflow.close, "a workflow needs at least one stage", "the workflow ends here")
                .with_help("add a stage, for example `call Pass { input: data = trigger }`"),
        );
    }
    let mut map = SourceMap { workflow: workflow.name.span, stages: Vec::with_capacity(workflow.stages.len()) };
    let mut stages = Vec::with_capacity(workflow.stages.len());
    for (i, stage) in workflow.stages.iter().enumerate() {
        let (value, spans) = lower.stage(i, stage);
        stages.push(value);
        map.stages.push(spans);
    }
    if !lower.diagnostics.is_empty() {
        lower.diagnostics.sort_by_key(|d| d.span.start);
        return Err(lower.diagnostics);
    }
    let mut pipeline = serde_json::Map::new();
    pipeline.insert("name".into(), workflow.name.text.into());
    pipeline.insert("stages".into(), Value::Array(stages));
    Ok((Value::Object(pipeline), map))
}

/// The stage's name: `as name`, else the actor's name, else the block's keyword.
pub fn stage_name<'s>(stage: &Stage<'s>) -> &'s str {
    stage_name_ident(stage).text
}

fn stage_name_ident<'s>(stage: &Stage<'s>) -> Ident<'s> {
    match stage {
        Stage::Call(call) => call.alias.unwrap_or(call.actor),
        Stage::Pattern(p) => p.calls.first().map_or(p.mode, |c| c.alias.unwrap_or(c.actor)),
        Stage::Gather(g) => g.calls.first().map_or(g.keyword, |c| c.alias.unwrap_or(c.actor)),
        Stage::Broadcast(g) | Stage::Parallel(g) => g.alias.unwrap_or(g.keyword),
    }
}

impl<'s> Lower<'_, 's> {
    fn check_inputs(&mut self) {
        let Some(inputs) = self.inputs else { return };
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for input in inputs {
            if input.text == "trigger" {
                self.report(Diagnostic::new(input.span, "`trigger` is the run's whole input", "reserved").with_help(
                    "declare the input's fields instead (`input { files }`), or read `trigger` without declaring it",
                ));
            } else if let Some(first) = seen.insert(input.text, input.span) {
                let line = first.line_col(self.source).0;
                self.report(
                    Diagnostic::new(input.span, format!("the input `{}` is declared twice", input.text), "again")
                        .with_help(format!("it is already declared on line {line}")),
                );
            }
        }
    }

    fn check_names(&mut self, workflow: &Workflow<'s>) {
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(workflow.stages.len());
        for stage in &workflow.stages {
            let ident = stage_name_ident(stage);
            if let Some(first) = seen.insert(ident.text, ident.span) {
                let line = first.line_col(self.source).0;
                let how = match stage {
                    Stage::Broadcast(g) | Stage::Parallel(g) => {
                        format!("name this one: `{} as other-name {{`", g.keyword.text)
                    }
                    _ => format!("name this one: `call {} as other-name`", ident.text),
                };
                self.report(
                    Diagnostic::new(
                        ident.span,
                        format!("two stages are named `{}`", ident.text),
                        "second stage of that name",
                    )
                    .with_help(format!("the stage on line {line} has that name already; {how}")),
                );
            }
            if ident.text == "trigger" {
                self.report(
                    Diagnostic::new(ident.span, "a stage cannot be named `trigger`", "reserved")
                        .with_help("`trigger` is the run's input in the context; name the stage with `as`"),
                );
            }
            if self.inputs.is_some_and(|inputs| inputs.iter().any(|i| i.text == ident.text)) {
                self.report(
                    Diagnostic::new(
                        ident.span,
                        format!("`{}` is both a declared input and a stage", ident.text),
                        "stage name",
                    )
                    .with_help("rename the stage with `as`, or the input"),
                );
            }
        }
    }
}
