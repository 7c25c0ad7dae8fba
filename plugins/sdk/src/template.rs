//! [`Template`]: an input template compiled once and rendered for many items.
//!
//! A scatter over 100,000 items renders its `input` template 100,000 times. Asking the
//! host each time would cross the plugin boundary with the item twice per render. A
//! compiled template instead resolves the paths that read the context (`$.trigger.x`,
//! the same for every item) once through the host, and evaluates the paths that read a
//! binding (`$.file.path`, `$.index`) in the guest. Binding paths beyond the simple
//! subset (`$.a.b`, `$['a-b']`, `$.a[0]`) fall back to the host per render, so every
//! RFC 9535 path still works.

use crate::executor::ExecutorError;
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone)]
enum Node {
    Literal(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    /// A simple path into a binding, evaluated in the guest.
    Binding {
        field: String,
        path: String,
        name: String,
        steps: Vec<Step>,
    },
    /// A binding path the guest does not evaluate: resolved by the host per render.
    HostPath {
        field: String,
        path: String,
    },
}

/// A compiled input template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Node,
}

impl Template {
    /// Compile `template`, whose binding names are `bindings` (for example `["file",
    /// "index"]`). Context paths are resolved now; `root` names the template in errors.
    pub fn compile(template: &Value, bindings: &[&str], root: &str) -> Result<Template, ExecutorError> {
        Ok(Template { root: compile(template, bindings, root)? })
    }

    /// Render for one item: `bindings` is the object of binding values.
    pub fn render(&self, bindings: &Map<String, Value>) -> Result<Value, ExecutorError> {
        render(&self.root, bindings)
    }
}

fn compile(template: &Value, bindings: &[&str], field: &str) -> Result<Node, ExecutorError> {
    Ok(match template {
        Value::String(path) if path.starts_with('$') => match parse_simple(path) {
            Some((name, steps)) if bindings.contains(&name.as_str()) => {
                Node::Binding { field: field.to_string(), path: path.clone(), name, steps }
            }
            _ if first_member(path).is_some_and(|m| bindings.contains(&m)) || first_member(path).is_none() => {
                Node::HostPath { field: field.to_string(), path: path.clone() }
            }
            _ => Node::Literal(resolve_on_host(path, None, field)?),
        },
        Value::Object(fields) => Node::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), compile(v, bindings, &format!("{field}.{k}"))?)))
                .collect::<Result<_, ExecutorError>>()?,
        ),
        Value::Array(items) => Node::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| compile(v, bindings, &format!("{field}[{i}]")))
                .collect::<Result<_, ExecutorError>>()?,
        ),
        literal => Node::Literal(literal.clone()),
    })
}

fn render(node: &Node, bindings: &Map<String, Value>) -> Result<Value, ExecutorError> {
    Ok(match node {
        Node::Literal(v) => v.clone(),
        Node::Object(fields) => Value::Object(
            fields.iter().map(|(k, n)| Ok((k.clone(), render(n, bindings)?))).collect::<Result<_, ExecutorError>>()?,
        ),
        Node::Array(items) => {
            Value::Array(items.iter().map(|n| render(n, bindings)).collect::<Result<_, ExecutorError>>()?)
        }
        Node::Binding { field, path, name, steps } => {
            let found = steps.iter().try_fold(bindings.get(name), |v, step| match step {
                Step::Key(k) => Some(v?.get(k.as_str())),
                Step::Index(i) => {
                    let items = v?.as_array()?;
                    let at = if *i < 0 { items.len() as i64 + i } else { *i };
                    Some(usize::try_from(at).ok().and_then(|at| items.get(at)))
                }
            });
            match found.flatten() {
                Some(v) => v.clone(),
                None => return Err(ExecutorError::fatal(format!("{field}: `{path}` matched nothing"))),
            }
        }
        Node::HostPath { field, path } => resolve_on_host(path, Some(&Value::Object(bindings.clone())), field)?,
    })
}

/// Resolve one path through the host, naming `field` in the error.
fn resolve_on_host(path: &str, bindings: Option<&Value>, field: &str) -> Result<Value, ExecutorError> {
    crate::context::resolve_input(&Value::String(path.to_string()), bindings).map_err(|e| {
        match ExecutorError::from(e) {
            ExecutorError::Fatal(m) => ExecutorError::Fatal(m.replacen("input", field, 1)),
            other => other,
        }
    })
}

/// The member a path starts with, when it starts with one.
fn first_member(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("$.")?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|s| !s.is_empty() && !s.starts_with('*') && !s.starts_with('.'))
}

/// Parse `$.name(.key | [n] | ['key'])*` into a binding name and steps; `None` for
/// anything else (wildcards, filters, slices, descendants).
fn parse_simple(path: &str) -> Option<(String, Vec<Step>)> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || !key.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            steps.push(Step::Key(key.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(key) if !key.contains(['\'', '"', '\\']) => steps.push(Step::Key(key.to_string())),
                Some(_) => return None,
                None => steps.push(Step::Index(inner.parse().ok()?)),
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    match steps.first() {
        Some(Step::Key(name)) => {
            let name = name.clone();
            Some((name, steps.split_off(1)))
        }
        _ => None,
    }
}

/// Evaluate a simple path (`$.a.b`, `$['a-b'][0]`) against `document` in the guest:
/// `Some(matches)` (zero or one), or `None` when the path is not simple and the host
/// must evaluate it (`context::select`).
pub fn select_simple(document: &Value, path: &str) -> Option<Vec<Value>> {
    if path == "$" {
        return Some(vec![document.clone()]);
    }
    let (first, steps) = parse_simple(path)?;
    let mut current = document.get(first.as_str());
    for step in &steps {
        current = match (current, step) {
            (Some(v), Step::Key(k)) => v.get(k.as_str()),
            (Some(Value::Array(items)), Step::Index(i)) => {
                let at = if *i < 0 { items.len() as i64 + i } else { *i };
                usize::try_from(at).ok().and_then(|at| items.get(at))
            }
            _ => None,
        };
    }
    Some(current.cloned().into_iter().collect())
}
