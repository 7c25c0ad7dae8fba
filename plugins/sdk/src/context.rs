//! Reading the run's context (`$.trigger`, `$.<stage>`) through the host.

use crate::bindings::troupe::executor::context as raw;
use crate::executor::ExecutorError;
use serde_json::Value;

fn parse(what: &str, text: String) -> Result<Value, ExecutorError> {
    serde_json::from_str(&text)
        .map_err(|e| ExecutorError::fatal(format!("the host returned {what} that is not JSON: {e}")))
}

/// Every match of `path` in the context (with `bindings` laid over it), as an array.
pub fn query(path: &str, bindings: Option<&Value>) -> Result<Vec<Value>, ExecutorError> {
    let bindings = bindings.map(Value::to_string);
    let text = raw::query(path, bindings.as_deref()).map_err(ExecutorError::Fatal)?;
    match parse("a query result", text)? {
        Value::Array(matches) => Ok(matches),
        other => Ok(vec![other]),
    }
}

/// Every match of `path` in `document`, as an array (for example a `groupBy` path).
pub fn select(document: &Value, path: &str) -> Result<Vec<Value>, ExecutorError> {
    let text = raw::select(&document.to_string(), path).map_err(ExecutorError::Fatal)?;
    match parse("a select result", text)? {
        Value::Array(matches) => Ok(matches),
        other => Ok(vec![other]),
    }
}

/// Resolve an input template against the context (the seed's `resolveInput`).
pub fn resolve_input(template: &Value, bindings: Option<&Value>) -> Result<Value, ExecutorError> {
    let bindings = bindings.map(Value::to_string);
    let text = raw::resolve_input(&template.to_string(), bindings.as_deref()).map_err(ExecutorError::Fatal)?;
    parse("a resolved input", text)
}
