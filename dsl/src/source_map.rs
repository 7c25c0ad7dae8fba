//! Where each part of the compiled definition came from: for every stage, the source
//! span of each field path (`mode`, `input.path`, `executorConfig.actors[1]`, ...), so
//! problems found later in the JSON (by the host's validation, by an executor's
//! `validate`) are shown at the DSL text that produced them.

use crate::span::Span;

/// Spans of one stage's fields.
#[derive(Clone, Debug, Default)]
pub struct StageSpans {
    pub name: String,
    /// The stage's head (`scatter (file in files)`, `call Actor as name`).
    pub head: Span,
    fields: Vec<(String, Span)>,
}

impl StageSpans {
    pub fn new(name: String, head: Span) -> StageSpans {
        StageSpans { name, head, fields: Vec::new() }
    }

    pub fn record(&mut self, field: impl Into<String>, span: Span) {
        self.fields.push((field.into(), span));
    }

    /// The span recorded for exactly `field`, if any.
    pub fn get(&self, field: &str) -> Option<Span> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, span)| *span)
    }

    /// Take over `other`'s fields, except those under `skip`.
    pub fn merge(&mut self, other: StageSpans, skip: &str) {
        let under = |f: &str| f == skip || f.starts_with(&format!("{skip}.")) || f.starts_with(&format!("{skip}["));
        self.fields.extend(other.fields.into_iter().filter(|(f, _)| !under(f)));
    }

    /// The span of `field`, or of the nearest enclosing field that has one
    /// (`input.a.b` falls back to `input.a`, then `input`), or the stage's head.
    pub fn locate(&self, field: &str) -> Span {
        let mut field = field;
        loop {
            if let Some((_, span)) = self.fields.iter().find(|(f, _)| f == field) {
                return *span;
            }
            match field.rfind(['.', '[']) {
                Some(cut) => field = &field[..cut],
                None => return self.head,
            }
        }
    }
}

/// The spans of a compiled workflow.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    /// The workflow's name, for problems of the pipeline as a whole.
    pub workflow: Span,
    /// One entry per stage, in stage order.
    pub stages: Vec<StageSpans>,
}

impl SourceMap {
    /// Where a problem reported for `stage` (its name, `#n` counted from 1, or `name (#n)`,
    /// as the host's validation labels stages) and `field` comes from.
    pub fn locate(&self, stage: &str, field: &str) -> Span {
        if stage.is_empty() {
            return self.workflow;
        }
        // `#3` (a stage without a name) or `name (#3)` (a repeated name).
        let number = match stage.rsplit_once(" (#") {
            Some((_, n)) => n.strip_suffix(')'),
            None => stage.strip_prefix('#'),
        };
        let by_number = number.and_then(|n| n.parse::<usize>().ok()).and_then(|n| self.stages.get(n.wrapping_sub(1)));
        match by_number.or_else(|| self.stages.iter().find(|s| s.name == stage)) {
            Some(spans) => spans.locate(field),
            None => self.workflow,
        }
    }
}
