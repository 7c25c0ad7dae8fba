//! Names in expressions, resolved to JSONPath queries over the run's context:
//!
//! | written | query | where |
//! |---|---|---|
//! | `file.path` (`file` bound by `scatter (file in ...)`) | `$.file.path` | the call of that block |
//! | `index` | `$.index` | the call of a block with `(x in ...)` |
//! | `gather.group.items` | `$.group.items` | the call of a `gather` |
//! | `page.documentType` (`page` bound by `gather (page in ...)`) | `$.documentType` | its `groupBy` |
//! | `data.pages` (`data` an input of the `parallel` block) | `$.data.pages` | the branches' inputs |
//! | `trigger.x` | `$.trigger.x` | anywhere |
//! | `files` (declared in `input { files }`) | `$.trigger.files` | anywhere |
//! | `Consolidator.output`, `process-files.outputs[0]` | `$.Consolidator`, `$['process-files'][0]` | after that stage |
//! | any other name, when the workflow has no `input` block | `$.trigger.<name>` | anywhere |

use super::Lower;
use crate::ast::{Ident, Path, Segment, SegmentKind};
use crate::diagnostic::Diagnostic;
use std::fmt::Write as _;

/// A name bound inside a stage.
#[derive(Clone, Copy, Debug)]
pub enum Local<'s> {
    /// The item of `(x in items)`: `$.x`.
    Item(&'s str),
    /// `index`, the item's position: `$.index`.
    Index,
    /// `gather`, in the call of a gather: `gather.group` is `$.group`.
    Gather,
    /// The gathered result in `groupBy`: `$`.
    GroupByItem,
    /// The gathered result's name, used in the call, where it means nothing.
    GatheredOutsideGroupBy(&'s str),
    /// A key of a `parallel` block's input, in its branches: `$.key`.
    ForkInput(&'s str),
}

/// The names a stage's expressions can use besides the workflow's.
#[derive(Clone, Debug, Default)]
pub struct Scope<'s> {
    pub locals: Vec<(&'s str, Local<'s>)>,
    /// The index of the stage being lowered: stages before it can be read.
    pub stage: usize,
}

impl<'s> Scope<'s> {
    pub fn at(stage: usize) -> Scope<'s> {
        Scope { locals: Vec::new(), stage }
    }

    pub fn with(mut self, name: &'s str, local: Local<'s>) -> Scope<'s> {
        self.locals.push((name, local));
        self
    }
}

/// `$` followed by `name` as a member: `.name`, or `['na-me']` when it is not a plain
/// JSONPath member name.
pub fn push_member(out: &mut String, name: &str) {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        out.push('.');
        out.push_str(name);
    } else {
        out.push_str("['");
        for c in name.chars() {
            match c {
                '\'' => out.push_str("\\'"),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        out.push_str("']");
    }
}

fn push_segments(out: &mut String, segments: &[Segment]) {
    for s in segments {
        match &s.kind {
            SegmentKind::Name(name) => push_member(out, name),
            SegmentKind::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            SegmentKind::Any => out.push_str("[*]"),
        }
    }
}

fn query(root: &[&str], segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for r in root {
        push_member(&mut out, r);
    }
    push_segments(&mut out, segments);
    out
}

fn is_output(segment: Option<&Segment>) -> bool {
    matches!(segment.map(|s| &s.kind), Some(SegmentKind::Name(n)) if n == "output" || n == "outputs")
}

impl<'s> Lower<'_, 's> {
    /// The JSONPath query a path means in `scope`.
    pub fn resolve(&self, path: &Path<'s>, scope: &Scope<'s>) -> Result<String, Diagnostic> {
        let root = path.root;
        let segments = &path.segments[..];
        if let Some((_, local)) = scope.locals.iter().rev().find(|(n, _)| *n == root.text) {
            return match *local {
                Local::Item(name) => Ok(query(&[name], segments)),
                Local::Index => Ok(query(&["index"], segments)),
                Local::ForkInput(name) => Ok(query(&[name], segments)),
                Local::GroupByItem => Ok(query(&[], segments)),
                Local::Gather => match segments.first().map(|s| &s.kind) {
                    Some(SegmentKind::Name(n)) if n == "group" => Ok(query(&["group"], &segments[1..])),
                    _ => Err(Diagnostic::new(
                        path_span(path),
                        "`gather` is read through `gather.group`",
                        "not `gather.group`",
                    )
                    .with_help(
                        "a group is `gather.group` (`{ key, items }`): `gather.group.items`, `gather.group.key`",
                    )),
                },
                Local::GatheredOutsideGroupBy(name) => Err(Diagnostic::new(
                    root.span,
                    format!("`{name}` names each gathered result only in `groupBy`"),
                    "not bound in the call",
                )
                .with_help(
                    "in the call, `gather.group.items` holds the group's results and `gather.group.key` its key",
                )),
            };
        }
        if root.text == "trigger" {
            return Ok(query(&["trigger"], segments));
        }
        if self.inputs.as_ref().is_some_and(|inputs| inputs.iter().any(|i| i.text == root.text)) {
            return Ok(query(&["trigger", root.text], segments));
        }
        if let Some(at) = self.positions.get(root.text).copied() {
            return self.stage_reference(root, segments, at, scope.stage);
        }
        if is_output(segments.first()) {
            return Err(self.no_such_stage(root, scope.stage));
        }
        match &self.inputs {
            None => Ok(query(&["trigger", root.text], segments)),
            Some(inputs) => {
                let mut known: Vec<&str> = scope.locals.iter().map(|(n, _)| *n).collect();
                known.extend(inputs.iter().map(|i| i.text));
                known.push("trigger");
                let mut seen = std::collections::HashSet::new();
                known.retain(|k| seen.insert(*k));
                Err(Diagnostic::new(root.span, format!("unknown name `{}`", root.text), "not declared").with_help(
                    format!(
                        "declare it in the workflow's `input {{ }}` block, or use one of: {}",
                        known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        }
    }

    /// `Stage.output...` for the stage at `at`, read from the stage at `current`.
    fn stage_reference(
        &self,
        root: Ident<'s>,
        segments: &[Segment],
        at: usize,
        current: usize,
    ) -> Result<String, Diagnostic> {
        if at == current {
            return Err(Diagnostic::new(
                root.span,
                format!("`{}` is this stage", root.text),
                "its output does not exist yet",
            )
            .with_help("a stage reads the outputs of the stages before it"));
        }
        if at > current {
            return Err(Diagnostic::new(
                root.span,
                format!("stage `{}` runs after this one", root.text),
                format!("defined on line {}", self.heads[at].line_col(self.source).0),
            )
            .with_help("a stage reads the outputs of the stages before it"));
        }
        if !is_output(segments.first()) {
            return Err(Diagnostic::new(root.span, format!("`{}` is a stage", root.text), "a stage, not a value")
                .with_help(format!("its result is `{}.output`", root.text)));
        }
        Ok(query(&[root.text], &segments[1..]))
    }

    pub fn no_such_stage(&self, root: Ident<'s>, current: usize) -> Diagnostic {
        let mut earlier: Vec<String> = Vec::new();
        for name in &self.names[..current.min(self.names.len())] {
            let shown = format!("`{name}`");
            if !earlier.contains(&shown) {
                earlier.push(shown);
            }
        }
        let help = if earlier.is_empty() {
            "no stage comes before this one".to_string()
        } else {
            format!("the stages before this one: {}", earlier.join(", "))
        };
        Diagnostic::new(root.span, format!("no stage is named `{}`", root.text), "unknown stage").with_help(help)
    }
}

fn path_span(path: &Path<'_>) -> crate::span::Span {
    path.segments.first().map_or(path.root.span, |s| path.root.span.to(s.span))
}
