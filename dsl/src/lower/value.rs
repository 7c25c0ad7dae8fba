//! Expressions to JSON: input templates (paths become JSONPath strings) and literal
//! config values (no paths). Each recorded with its span under its field path.

use super::scope::Scope;
use super::Lower;
use crate::ast::{Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::source_map::StageSpans;
use serde_json::{Map, Value};

/// The field path of `key` inside `field`, written as the host's validation names
/// fields (`input.data.pages`, whatever characters the key has).
pub fn child(field: &str, key: &str) -> String {
    format!("{field}.{key}")
}

impl<'s> Lower<'_, 's> {
    /// An input template: paths resolve in `scope`; strings, numbers, booleans, null,
    /// objects and arrays are as written. `None` when a problem was reported.
    pub fn template(&mut self, e: &Expr<'s>, scope: &Scope<'s>, field: &str, spans: &mut StageSpans) -> Option<Value> {
        spans.record(field, e.span);
        match &e.kind {
            ExprKind::Path(path) => match self.resolve(path, scope) {
                Ok(query) => Some(Value::String(query)),
                Err(d) => {
                    self.report(d);
                    None
                }
            },
            ExprKind::Object(fields) => {
                let mut out = Map::new();
                let mut ok = true;
                for (key, value) in fields {
                    let field = child(field, &key.text);
                    spans.record(&field, key.span.to(value.span));
                    match self.template(value, scope, &field, spans) {
                        Some(v) => {
                            out.insert(key.text.clone(), v);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Object(out))
            }
            ExprKind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.template(item, scope, &format!("{field}[{i}]"), spans));
                }
                out.into_iter().collect::<Option<Vec<_>>>().map(Value::Array)
            }
            _ => Some(scalar(e)),
        }
    }

    /// A literal JSON value (a stage's `config`): no names.
    pub fn literal(&mut self, e: &Expr<'s>, field: &str, spans: &mut StageSpans) -> Option<Value> {
        spans.record(field, e.span);
        match &e.kind {
            ExprKind::Path(path) => {
                let written = &self.source[e.span.range()];
                let help = if path.segments.is_empty() {
                    format!("config values are JSON: write the string `\"{written}\"`")
                } else {
                    "config values are JSON, read by the executor as written; inputs read the context (`input: x = ...`)".to_string()
                };
                self.report(Diagnostic::new(e.span, "a config value cannot be a name", "a name").with_help(help));
                None
            }
            ExprKind::Object(fields) => {
                let mut out = Map::new();
                let mut ok = true;
                for (key, value) in fields {
                    let field = child(field, &key.text);
                    spans.record(&field, key.span.to(value.span));
                    match self.literal(value, &field, spans) {
                        Some(v) => {
                            out.insert(key.text.clone(), v);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Object(out))
            }
            ExprKind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.literal(item, &format!("{field}[{i}]"), spans));
                }
                out.into_iter().collect::<Option<Vec<_>>>().map(Value::Array)
            }
            _ => Some(scalar(e)),
        }
    }
}

fn scalar(e: &Expr<'_>) -> Value {
    match &e.kind {
        ExprKind::Str(s) => Value::String(s.clone()),
        ExprKind::Num(n) => Value::Number(n.clone()),
        ExprKind::Bool(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}
