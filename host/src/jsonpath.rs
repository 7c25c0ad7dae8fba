//! JSONPath (RFC 9535, by jsonpath-rust) over the run's context, with scoped bindings
//! (`$.file`, `$.index`, `$.group`) laid over its top level.
//!
//! Bindings are laid over the context without copying it: a path whose first segment
//! names a binding is evaluated against that binding alone, any other simple path
//! against the context alone. Only paths that start with a wildcard or descendant
//! segment see a merged copy. A scatter over 100,000 items resolves 100,000 inputs, and
//! copying the context for each would make that quadratic.

use jsonpath_rust::JsonPath;
use serde_json::{Map, Value};

/// Every match of `path` in `context` with `bindings` (an object) laid over it.
pub fn query(context: &Value, path: &str, bindings: Option<&Value>) -> Result<Vec<Value>, String> {
    let bindings = match bindings {
        None | Some(Value::Null) => return select(context, path),
        Some(Value::Object(b)) if b.is_empty() => return select(context, path),
        Some(Value::Object(b)) => b,
        Some(other) => return Err(format!("bindings must be a JSON object, found {}", kind(other))),
    };
    match first_segment(path) {
        Some(name) if bindings.contains_key(name) => {
            let mut scope = Map::with_capacity(1);
            scope.insert(name.to_string(), bindings[name].clone());
            select(&Value::Object(scope), path)
        }
        Some(_) => select(context, path),
        None => {
            let mut merged = context.as_object().cloned().unwrap_or_default();
            merged.extend(bindings.iter().map(|(k, v)| (k.clone(), v.clone())));
            select(&Value::Object(merged), path)
        }
    }
}

/// Every match of `path` in `document`.
pub fn select(document: &Value, path: &str) -> Result<Vec<Value>, String> {
    document.query(path).map(|found| found.into_iter().cloned().collect()).map_err(|e| invalid(path, &e.to_string()))
}

/// Every match of `path` in `document`, borrowed: a scatter reads its items in place.
pub fn select_refs<'v>(document: &'v Value, path: &str) -> Result<Vec<&'v Value>, String> {
    document.query(path).map_err(|e| invalid(path, &e.to_string()))
}

/// Every match of `path` in `document`, serialized as one JSON array without copying the
/// matches first (a gather reads 100,000 results this way).
pub fn select_json(document: &Value, path: &str) -> Result<String, String> {
    let found = document.query(path).map_err(|e| invalid(path, &e.to_string()))?;
    serde_json::to_string(&found).map_err(|e| e.to_string())
}

/// Check a path's syntax without evaluating it.
pub fn check(path: &str) -> Result<(), String> {
    jsonpath_rust::parser::parse_json_path(path).map(drop).map_err(|e| invalid(path, &e.to_string()))
}

/// One line saying what is wrong with `path`, from the parser's multi-line report
/// (` --> 1:11 ... = expected selector`).
fn invalid(path: &str, report: &str) -> String {
    let column = report.split("--> 1:").nth(1).and_then(|rest| rest.split_whitespace().next());
    let expected = report.lines().find_map(|l| l.trim().strip_prefix("= ")).map(str::trim);
    // The parser names its grammar rules; say what they mean.
    let expected = expected.map(|e| match e {
        "expected jp_query" => "expected a path starting with `$`",
        "expected atom_expr" => "expected a filter expression",
        other => other,
    });
    match (column, expected) {
        (Some(column), Some(expected)) => format!("invalid JSONPath `{path}`: {expected} at character {column}"),
        _ => format!("invalid JSONPath `{path}`: {}", report.lines().next().unwrap_or(report).trim()),
    }
}

/// Resolve an input template: strings starting with `$` are queries (one match yields
/// the value, several an array, none an error naming the field and path); everything
/// else is literal; objects and arrays recurse. `field` names the template's root in
/// errors (`input`).
pub fn resolve_input(
    context: &Value,
    template: &Value,
    bindings: Option<&Value>,
    field: &str,
) -> Result<Value, String> {
    match template {
        Value::String(path) if path.starts_with('$') => {
            let mut found = query(context, path, bindings).map_err(|e| format!("{field}: {e}"))?;
            match found.len() {
                0 => Err(format!("{field}: `{path}` matched nothing")),
                1 => Ok(found.pop().expect("one match")),
                _ => Ok(Value::Array(found)),
            }
        }
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| Ok((k.clone(), resolve_input(context, v, bindings, &format!("{field}.{k}"))?)))
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| resolve_input(context, v, bindings, &format!("{field}[{i}]")))
            .collect::<Result<Vec<_>, String>>()
            .map(Value::Array),
        literal => Ok(literal.clone()),
    }
}

/// The member name a path starts with (`$.file.path` -> `file`, `$['a-b'][0]` -> `a-b`),
/// or `None` when it starts with anything else (`$..x`, `$.*`, `$[0]`).
pub fn first_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('$')?;
    if let Some(dotted) = rest.strip_prefix('.') {
        if dotted.starts_with('.') || dotted.starts_with('*') {
            return None;
        }
        let end = dotted.find(['.', '[']).unwrap_or(dotted.len());
        return Some(&dotted[..end]).filter(|s| !s.is_empty());
    }
    let bracket = rest.strip_prefix('[')?;
    let quote = bracket.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = &bracket[1..];
    let end = inner.find(quote)?;
    Some(&inner[..end])
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({ "trigger": { "files": [{ "path": "a.pdf" }, { "path": "b.pdf" }] }, "process-files": [1, 2] })
    }

    #[test]
    fn first_segment_names_the_member_a_path_starts_with() {
        assert_eq!(first_segment("$.file.path"), Some("file"));
        assert_eq!(first_segment("$.index"), Some("index"));
        assert_eq!(first_segment("$['process-files'][0]"), Some("process-files"));
        assert_eq!(first_segment("$..path"), None);
        assert_eq!(first_segment("$.*"), None);
        assert_eq!(first_segment("$[0]"), None);
    }

    #[test]
    fn bindings_shadow_the_context_and_the_context_stays_reachable() {
        let b = json!({ "file": { "path": "x.pdf" }, "index": 4 });
        assert_eq!(query(&ctx(), "$.file.path", Some(&b)).unwrap(), vec![json!("x.pdf")]);
        assert_eq!(query(&ctx(), "$.index", Some(&b)).unwrap(), vec![json!(4)]);
        assert_eq!(query(&ctx(), "$.trigger.files[1].path", Some(&b)).unwrap(), vec![json!("b.pdf")]);
        assert_eq!(query(&ctx(), "$['process-files'][1]", Some(&b)).unwrap(), vec![json!(2)]);
        assert_eq!(query(&ctx(), "$..path", Some(&b)).unwrap().len(), 3);
    }

    #[test]
    fn templates_resolve_recursively_and_name_the_field_that_matched_nothing() {
        let t = json!({ "one": "$.trigger.files[0].path", "many": "$.trigger.files[*].path", "lit": [1, "x"] });
        assert_eq!(
            resolve_input(&ctx(), &t, None, "input").unwrap(),
            json!({ "one": "a.pdf", "many": ["a.pdf", "b.pdf"], "lit": [1, "x"] })
        );
        let bad = json!({ "deep": { "p": "$.trigger.nope" } });
        assert_eq!(
            resolve_input(&ctx(), &bad, None, "input").unwrap_err(),
            "input.deep.p: `$.trigger.nope` matched nothing"
        );
    }

    #[test]
    fn invalid_paths_are_errors_that_quote_the_path() {
        assert_eq!(
            select(&ctx(), "$.trigger[").unwrap_err(),
            "invalid JSONPath `$.trigger[`: expected selector at character 11"
        );
        assert!(check("$.trigger.files[*]").is_ok());
    }
}
