//! Reading the run's context (`$.trigger`, `$.<stage>`) through the host. A failed call
//! is the host's [`HostError`]; `?` in an executor method turns it into the matching
//! [`crate::ExecutorError`].

use crate::bindings::raw_context as raw;
use crate::error::HostError;
use serde_json::Value;

/// The host answered with text that is not JSON: a host bug, never worth retrying.
fn parse(what: &str, text: String) -> Result<Value, HostError> {
    serde_json::from_str(&text)
        .map_err(|e| HostError::Invalid(format!("the host returned {what} that is not JSON: {e}")))
}

fn matches(value: Value) -> Vec<Value> {
    match value {
        Value::Array(matches) => matches,
        other => vec![other],
    }
}

/// Every match of `path` in the context (with `bindings` laid over it), as an array.
pub fn query(path: &str, bindings: Option<&Value>) -> Result<Vec<Value>, HostError> {
    let bindings = bindings.map(Value::to_string);
    let text = raw::query(path, bindings.as_deref())?;
    parse("a query result", text).map(matches)
}

/// Every match of `path` in `document`, as an array (for example a `groupBy` path).
pub fn select(document: &Value, path: &str) -> Result<Vec<Value>, HostError> {
    let text = raw::select(&document.to_string(), path)?;
    parse("a select result", text).map(matches)
}

/// Resolve an input template against the context (the seed's `resolveInput`).
pub fn resolve_input(template: &Value, bindings: Option<&Value>) -> Result<Value, HostError> {
    let bindings = bindings.map(Value::to_string);
    let text = raw::resolve_input(&template.to_string(), bindings.as_deref())?;
    parse("a resolved input", text)
}
