//! One stage of each kind to its JSON object, fields in the order the JSON examples use
//! (name, mode, actor, scatter/gather, input, executorConfig), spans recorded as it goes.

use super::scope::{Local, Scope};
use super::Lower;
use crate::ast::{Call, ExprKind, Gather, Group, Header, InputSection, Pattern, SegmentKind, Stage};
use crate::diagnostic::Diagnostic;
use crate::source_map::StageSpans;
use crate::span::Span;
use serde_json::{Map, Value};

/// The actor field of stages whose actors are listed in `executorConfig` (the seed's
/// placeholder, which the host accepts).
const PLACEHOLDER_ACTOR: &str = "unused";

/// The order of a stage's fields in the JSON examples.
const FIELD_ORDER: &[&str] = &["name", "mode", "actor", "scatter", "gather", "input", "executorConfig"];

fn in_field_order(mut fields: Map<String, Value>) -> Map<String, Value> {
    let mut ordered = Map::new();
    for key in FIELD_ORDER {
        if let Some(v) = fields.remove(*key) {
            ordered.insert(key.to_string(), v);
        }
    }
    ordered.extend(fields);
    ordered
}

impl<'s> Lower<'_, 's> {
    pub fn stage(&mut self, i: usize, stage: &Stage<'s>) -> (Value, StageSpans) {
        let mut spans = StageSpans::new(self.names[i].clone(), self.heads[i]);
        let mut out = Map::new();
        out.insert("name".into(), Value::String(self.names[i].clone()));
        match stage {
            Stage::Call(call) => {
                spans.record("mode", call.keyword.span);
                out.insert("mode".into(), "single".into());
                self.call_fields(call, &Scope::at(i), &mut out, &mut spans);
            }
            Stage::Pattern(p) => self.pattern(i, p, &mut out, &mut spans),
            Stage::Gather(g) => self.gather(i, g, &mut out, &mut spans),
            Stage::Broadcast(g) => self.broadcast(i, g, &mut out, &mut spans),
            Stage::Parallel(g) => self.parallel(i, g, &mut out, &mut spans),
        }
        (Value::Object(in_field_order(out)), spans)
    }

    /// `actor`, `input` and `executorConfig` from a call (its name was set by the caller).
    fn call_fields(
        &mut self,
        call: &Call<'s>,
        scope: &Scope<'s>,
        out: &mut Map<String, Value>,
        spans: &mut StageSpans,
    ) {
        spans.record("name", call.alias.unwrap_or(call.actor).span);
        spans.record("actor", call.actor.span);
        out.insert("actor".into(), call.actor.text.into());
        if let Some(input) = &call.sections.input {
            if let Some(v) = self.inputs_object(input, scope, "input", spans) {
                out.insert("input".into(), v);
            }
        }
        if let Some(config) = &call.sections.config {
            spans.record("executorConfig", config.keyword);
            if let Some(v) = self.literal(&config.value, "executorConfig", spans) {
                out.insert("executorConfig".into(), v);
            }
        }
    }

    /// `input: a = x, b = y` as the object `{ "a": ..., "b": ... }`.
    fn inputs_object(
        &mut self,
        input: &InputSection<'s>,
        scope: &Scope<'s>,
        field: &str,
        spans: &mut StageSpans,
    ) -> Option<Value> {
        spans.record(field, input.keyword);
        let mut object = Map::new();
        let mut ok = true;
        for (key, value) in &input.bindings {
            if object.contains_key(key.text) {
                self.report(Diagnostic::new(key.span, format!("the input `{}` is given twice", key.text), "again"));
                ok = false;
                continue;
            }
            let field = format!("{field}.{}", key.text);
            spans.record(&field, key.span.to(value.span));
            match self.template(value, scope, &field, spans) {
                Some(v) => {
                    object.insert(key.text.to_string(), v);
                }
                None => ok = false,
            }
        }
        ok.then_some(Value::Object(object))
    }

    /// The one call of a block that holds exactly one.
    fn one_call<'c>(&mut self, calls: &'c [Call<'s>], block: &str, body: Span) -> Option<&'c Call<'s>> {
        match calls {
            [] => {
                self.report(
                    Diagnostic::new(body, format!("a `{block}` block holds one call"), "no call")
                        .with_help("write `call Actor { input: ... }` inside it"),
                );
                None
            }
            [one] => Some(one),
            [_, second, ..] => {
                self.report(
                    Diagnostic::new(second.keyword.span, format!("a `{block}` block holds one call"), "second call")
                        .with_help("give each call a block of its own; `broadcast` sends one input to several actors"),
                );
                None
            }
        }
    }

    /// `(var in items)`: the `scatter` field and the scope of the call.
    fn header(
        &mut self,
        i: usize,
        header: &Header<'s>,
        out: &mut Map<String, Value>,
        spans: &mut StageSpans,
    ) -> Scope<'s> {
        spans.record("scatter", header.span);
        spans.record("scatter.as", header.var.span);
        let items = self.template(&header.items, &Scope::at(i), "scatter.input", spans);
        match items {
            Some(Value::String(query)) if query.starts_with('$') => {
                let mut scatter = Map::new();
                scatter.insert("input".into(), Value::String(query));
                scatter.insert("as".into(), header.var.text.into());
                out.insert("scatter".into(), Value::Object(scatter));
            }
            Some(_) => self.report(
                Diagnostic::new(header.items.span, "the items must be read from the context", "not a path").with_help(
                    "write a name such as `files` or `Stage.output.items` (or a JSONPath string `\"$.trigger.files\"`)",
                ),
            ),
            None => {}
        }
        Scope::at(i).with("index", Local::Index).with(header.var.text, Local::Item(header.var.text))
    }

    fn pattern(&mut self, i: usize, p: &Pattern<'s>, out: &mut Map<String, Value>, spans: &mut StageSpans) {
        spans.record("mode", p.mode.span);
        out.insert("mode".into(), p.mode.text.into());
        let scope = match &p.header {
            Some(header) => self.header(i, header, out, spans),
            None => Scope::at(i),
        };
        if let Some(call) = self.one_call(&p.calls, p.mode.text, p.body) {
            self.call_fields(call, &scope, out, spans);
        }
    }

    fn gather(&mut self, i: usize, g: &Gather<'s>, out: &mut Map<String, Value>, spans: &mut StageSpans) {
        spans.record("mode", g.keyword.span);
        spans.record("gather", g.header.span);
        out.insert("mode".into(), "gather".into());
        let var = g.header.var.text;
        let mut gather = Map::new();
        spans.record("gather.stage", g.header.items.span);
        if let Some(stage) = self.gathered_stage(i, g) {
            gather.insert("stage".into(), stage.into());
        }
        if let Some(group_by) = &g.group_by {
            spans.record("gather.groupBy", group_by.span);
            let query = match &group_by.kind {
                ExprKind::Path(path) if path.root.text == var => {
                    self.resolve(path, &Scope::at(i).with(var, Local::GroupByItem)).ok()
                }
                ExprKind::Str(s) if s.starts_with('$') => Some(s.clone()),
                _ => {
                    self.report(
                        Diagnostic::new(
                            group_by.span,
                            format!("`groupBy` reads each gathered result, `{var}`"),
                            "not a path from `{var}`".replace("{var}", var),
                        )
                        .with_help(format!("write `groupBy: {var}.someField`")),
                    );
                    None
                }
            };
            if let Some(query) = query {
                gather.insert("groupBy".into(), query.into());
            }
        }
        out.insert("gather".into(), Value::Object(gather));
        let scope = Scope::at(i).with("gather", Local::Gather).with(var, Local::GatheredOutsideGroupBy(var));
        if let Some(call) = self.one_call(&g.calls, "gather", g.body) {
            self.call_fields(call, &scope, out, spans);
        }
    }

    /// The stage named by `gather (x in Stage.outputs)`.
    fn gathered_stage(&mut self, i: usize, g: &Gather<'s>) -> Option<&'s str> {
        let items = &g.header.items;
        let help = "a gather reads a whole earlier stage: `gather (page in process-files.outputs)`";
        let ExprKind::Path(path) = &items.kind else {
            self.report(
                Diagnostic::new(items.span, "a gather reads an earlier stage's outputs", "not a stage").with_help(help),
            );
            return None;
        };
        let output = matches!(path.segments.first().map(|s| &s.kind), Some(SegmentKind::Name(n)) if n == "output" || n == "outputs");
        match self.positions.get(path.root.text).copied() {
            Some(at) if at < i && output && path.segments.len() == 1 => Some(path.root.text),
            Some(at) if at < i => {
                self.report(
                    Diagnostic::new(items.span, "a gather reads an earlier stage's outputs", "not `Stage.outputs`")
                        .with_help(help),
                );
                None
            }
            Some(_) => {
                let resolved = self.resolve(path, &Scope::at(i));
                if let Err(d) = resolved {
                    self.report(d);
                }
                None
            }
            None => {
                let d = self.no_such_stage(path.root, i);
                self.report(d);
                None
            }
        }
    }

    /// The calls of a broadcast or the branches of a parallel may not carry what only the
    /// block can say.
    fn member_call(&mut self, call: &Call<'s>, block: &str) {
        if let Some(alias) = call.alias {
            let what = if block == "parallel" {
                "the branch's name names it"
            } else {
                "a broadcast's results are keyed by actor"
            };
            self.report(
                Diagnostic::new(alias.span, format!("a call in a `{block}` block takes no `as` name"), "not used")
                    .with_help(format!("remove `as {}`: {what}", alias.text)),
            );
        }
        if let Some(config) = &call.sections.config {
            self.report(
                Diagnostic::new(
                    config.keyword,
                    format!("a call in a `{block}` block takes no `config:`"),
                    "one config per stage",
                )
                .with_help(format!("move it to the block: `{block} {{ config: {{ ... }} ... }}`")),
            );
        }
    }

    fn block_config(&mut self, g: &Group<'s>, reserved: &str, out: &mut Map<String, Value>, spans: &mut StageSpans) {
        let Some(config) = &g.sections.config else { return };
        spans.record("executorConfig", config.keyword);
        let mut scratch = StageSpans::default();
        let Some(Value::Object(fields)) = self.literal(&config.value, "executorConfig", &mut scratch) else { return };
        let reserved_field = format!("executorConfig.{reserved}");
        if let Some(span) = scratch.get(&reserved_field) {
            let by = if reserved == "actors" { "the block's calls" } else { "the block's `branch` lines" };
            self.report(
                Diagnostic::new(span, format!("`{reserved}` is set by {by}"), "not in `config:`")
                    .with_help(format!("remove `{reserved}` from `config:`")),
            );
        }
        spans.merge(scratch, &reserved_field);
        let target = out.entry("executorConfig").or_insert_with(|| Value::Object(Map::new()));
        let target = target.as_object_mut().expect("the block's executorConfig is an object");
        target.extend(fields.into_iter().filter(|(k, _)| k != reserved));
    }

    fn broadcast(&mut self, i: usize, g: &Group<'s>, out: &mut Map<String, Value>, spans: &mut StageSpans) {
        spans.record("mode", g.keyword.span);
        spans.record("name", g.alias.unwrap_or(g.keyword).span);
        spans.record("actor", g.keyword.span);
        spans.record("executorConfig.actors", g.keyword.span);
        out.insert("mode".into(), "broadcast".into());
        out.insert("actor".into(), PLACEHOLDER_ACTOR.into());
        let scope = Scope::at(i);
        if g.members.is_empty() {
            self.report(
                Diagnostic::new(g.body, "a `broadcast` block needs at least one call", "no call")
                    .with_help("write the actors it sends to: `call EmailNotifier call SlackNotifier`"),
            );
        }
        let mut input = match &g.sections.input {
            Some(section) => self.inputs_object(section, &scope, "input", spans).map(|v| (v, section.keyword, None)),
            None => None,
        };
        let mut actors = Vec::new();
        for (k, member) in g.members.iter().enumerate() {
            let call = &member.call;
            self.member_call(call, "broadcast");
            spans.record(format!("executorConfig.actors[{k}]"), call.actor.span);
            actors.push(Value::String(call.actor.text.to_string()));
            let Some(section) = &call.sections.input else { continue };
            // The first call's input is the stage's (its spans recorded); the others must equal it.
            let mut scratch = StageSpans::default();
            let target = if input.is_none() { &mut *spans } else { &mut scratch };
            let Some(value) = self.inputs_object(section, &scope, "input", target) else { continue };
            match &input {
                None => input = Some((value, section.keyword, Some(call.actor.text))),
                Some((_, _, None)) => self.report(
                    Diagnostic::new(section.keyword, "this broadcast's input is given on the block", "a second input")
                        .with_help("every actor of a broadcast gets the block's input; remove this one"),
                ),
                Some((first, at, Some(actor))) if *first != value => {
                    let line = at.line_col(self.source).0;
                    self.report(
                        Diagnostic::new(section.keyword, "every actor of a broadcast gets the same input", "differs")
                            .with_help(format!("this input differs from {actor}'s on line {line}; write it once on the block: `broadcast {{ input: ... }}`")),
                    )
                }
                Some(_) => {}
            }
        }
        // Inputs written on the calls: on every call, or the reader cannot tell which
        // actors get one.
        if let Some((_, at, Some(actor))) = &input {
            for member in g.members.iter().filter(|m| m.call.sections.input.is_none()) {
                let line = at.line_col(self.source).0;
                self.report(
                    Diagnostic::new(member.call.actor.span, "every actor of a broadcast gets the same input", "no input")
                        .with_help(format!(
                            "{actor} on line {line} gives one; write it once on the block instead: `broadcast {{ input: ... }}`"
                        )),
                );
            }
        }
        if let Some((value, _, _)) = input {
            out.insert("input".into(), value);
        }
        let mut config = Map::new();
        config.insert("actors".into(), Value::Array(actors));
        out.insert("executorConfig".into(), Value::Object(config));
        self.block_config(g, "actors", out, spans);
    }

    fn parallel(&mut self, i: usize, g: &Group<'s>, out: &mut Map<String, Value>, spans: &mut StageSpans) {
        spans.record("mode", g.keyword.span);
        spans.record("name", g.alias.unwrap_or(g.keyword).span);
        spans.record("actor", g.keyword.span);
        spans.record("executorConfig.branches", g.keyword.span);
        out.insert("mode".into(), "fork-join".into());
        out.insert("actor".into(), PLACEHOLDER_ACTOR.into());
        let mut branch_scope = Scope::at(i);
        if let Some(section) = &g.sections.input {
            if let Some(v) = self.inputs_object(section, &Scope::at(i), "input", spans) {
                out.insert("input".into(), v);
            }
            for (key, _) in &section.bindings {
                branch_scope = branch_scope.with(key.text, Local::ForkInput(key.text));
            }
        }
        if g.members.is_empty() {
            self.report(
                Diagnostic::new(g.body, "a `parallel` block needs at least one branch", "no branch")
                    .with_help("write its branches: `branch extract: call DataExtractor`"),
            );
        }
        let mut branches = Vec::new();
        for (k, member) in g.members.iter().enumerate() {
            let call = &member.call;
            self.member_call(call, "parallel");
            let name = member.branch.expect("the parser gives every parallel member a branch name");
            let field = format!("executorConfig.branches[{k}]");
            spans.record(field.clone(), name.span.to(call.actor.span));
            spans.record(format!("{field}.name"), name.span);
            spans.record(format!("{field}.actor"), call.actor.span);
            let mut branch = Map::new();
            branch.insert("name".into(), name.text.into());
            branch.insert("actor".into(), call.actor.text.into());
            if let Some(section) = &call.sections.input {
                if let Some(v) = self.inputs_object(section, &branch_scope, &format!("{field}.input"), spans) {
                    branch.insert("input".into(), v);
                }
            }
            branches.push(Value::Object(branch));
        }
        let mut config = Map::new();
        config.insert("branches".into(), Value::Array(branches));
        out.insert("executorConfig".into(), Value::Object(config));
        self.block_config(g, "branches", out, spans);
    }
}
