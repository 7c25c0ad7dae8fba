//! [`Template`]: a stage's `input` template compiled once on the host and rendered for
//! every item of a host-side enqueue (`queue.enqueue-each`, `queue.enqueue-groups`).
//!
//! Why on the host: a scatter over a million items used to hand the whole array to its
//! guest and take every rendered task back, so the guest's memory limit capped the
//! stage's size. Rendered here, items never cross the plugin boundary.
//!
//! The rules are the SDK's `Template` and the seed's `resolveInput`: a string that
//! starts with `$` is a query, everything else is literal, objects and arrays recurse.
//! A path that reads the context (`$.trigger.bucket`, the same for every item) is
//! resolved once, at compile; a simple path into a binding (`$.item.id`, `$['a-b'][0]`)
//! is walked per item without any JSONPath engine; any other path is evaluated per item
//! with the bindings laid over the context ([`crate::jsonpath::query`]).

use crate::jsonpath;
use crate::payload::Payload;
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone)]
enum Node {
    /// A literal or a context path resolved at compile, as its JSON text.
    Literal(String),
    /// Each field's key as JSON text with its colon (`"id":`), then its value.
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    /// A simple path into a binding.
    Binding {
        field: String,
        path: String,
        name: String,
        steps: Vec<Step>,
    },
    /// Any other path that may read a binding: evaluated per render.
    Query {
        field: String,
        path: String,
    },
}

/// A compiled input template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Node,
}

/// A value bound for one render: borrowed, never copied to be bound.
#[derive(Debug, Clone, Copy)]
pub enum Bound<'a> {
    Value(&'a Value),
    /// `{"key": key, "items": items}`, a gather's group over results that stay where
    /// they are (in the gathered stage's output) until they are written.
    Group {
        key: &'a Value,
        items: &'a [&'a Value],
    },
}

/// The values bound for one render (`item` and `index`, or `group` and `index`).
pub type Bindings<'a> = [(&'a str, Bound<'a>)];

/// Why a render failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderError {
    /// The template does not fit the data: a path that matched nothing.
    Data(String),
    /// The rendered input would pass `limit` bytes of JSON; nothing that large was built.
    TooLarge { limit: usize },
}

impl From<String> for RenderError {
    fn from(message: String) -> Self {
        RenderError::Data(message)
    }
}

impl Template {
    /// Compile `template`, whose binding names are `names`, resolving its context paths
    /// in `context` now. `root` names the template in errors (`input`).
    pub fn compile(context: &Value, template: &Value, names: &[&str], root: &str) -> Result<Template, String> {
        Ok(Template { root: compile(context, template, names, root)? })
    }

    /// Render for one item as JSON text of at most `limit` bytes: written straight from
    /// the bound values (no copy of them is built), and stopped the moment it would pass
    /// `limit`, so a template that repeats a large value cannot make the host build it.
    pub fn render(&self, context: &Value, bindings: &Bindings, limit: usize) -> Result<Payload, RenderError> {
        let mut out = Bounded { text: Vec::new(), limit };
        render(&self.root, context, bindings, &mut out)?;
        // serde_json wrote it, so it is JSON; `parse` still checks its depth (a deep
        // item inside a deep template could pass what a reader accepts).
        let text = String::from_utf8(out.text).map_err(|e| RenderError::Data(format!("input: {e}")))?;
        Payload::parse(text).map_err(|e| RenderError::Data(format!("input: {e}")))
    }
}

fn compile(context: &Value, template: &Value, names: &[&str], field: &str) -> Result<Node, String> {
    Ok(match template {
        Value::String(path) if path.starts_with('$') => {
            jsonpath::check(path).map_err(|e| format!("{field}: {e}"))?;
            match (parse_simple(path), jsonpath::first_segment(path)) {
                (Some((name, steps)), _) if names.contains(&name.as_str()) => {
                    Node::Binding { field: field.to_string(), path: path.clone(), name, steps }
                }
                (_, Some(first)) if !names.contains(&first) => {
                    let value = jsonpath::resolve_input(context, template, None, field)?;
                    Node::Literal(value.to_string())
                }
                (_, Some(_)) => Node::Query { field: field.to_string(), path: path.clone() },
                // `$..x` or `$.*` would read the whole context merged with the item,
                // once per item: refused rather than made quadratic.
                (_, None) => {
                    return Err(format!(
                        "{field}: `{path}` does not start with a name; a template rendered per item starts with \
                         `$.<name>` (`$.trigger...`, `$.{}...`)",
                        names.first().unwrap_or(&"item")
                    ))
                }
            }
        }
        Value::Object(fields) => Node::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    Ok((format!("{}:", Value::String(k.clone())), compile(context, v, names, &format!("{field}.{k}"))?))
                })
                .collect::<Result<_, String>>()?,
        ),
        Value::Array(items) => Node::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| compile(context, v, names, &format!("{field}[{i}]")))
                .collect::<Result<_, String>>()?,
        ),
        literal => Node::Literal(literal.to_string()),
    })
}

/// The render's text, refusing to grow past its limit.
struct Bounded {
    text: Vec<u8>,
    limit: usize,
}

impl Bounded {
    fn push(&mut self, bytes: &[u8]) -> Result<(), RenderError> {
        if self.text.len() + bytes.len() > self.limit {
            return Err(RenderError::TooLarge { limit: self.limit });
        }
        self.text.extend_from_slice(bytes);
        Ok(())
    }

    /// Write `value` as JSON, stopping where the limit is passed.
    fn value(&mut self, value: &Value) -> Result<(), RenderError> {
        serde_json::to_writer(&mut *self, value).map_err(|_| RenderError::TooLarge { limit: self.limit })
    }
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(buf).map_err(|_| std::io::Error::other("past the render's limit"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The bytes of `value` as JSON text, counted without building the text.
pub fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and a `Value` always serializes.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Write a list of borrowed values as one JSON array.
fn write_list(out: &mut Bounded, items: &[&Value]) -> Result<(), RenderError> {
    out.push(b"[")?;
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(b",")?;
        }
        out.value(item)?;
    }
    out.push(b"]")
}

/// Write a bound value reached by `steps`; `false` when nothing is there.
fn write_bound(out: &mut Bounded, bound: Bound, steps: &[Step]) -> Result<bool, RenderError> {
    match bound {
        Bound::Value(v) => match walk(Some(v), steps) {
            Some(v) => out.value(v).map(|()| true),
            None => Ok(false),
        },
        Bound::Group { key, items } => match steps.split_first() {
            None => {
                out.push(b"{\"key\":")?;
                out.value(key)?;
                out.push(b",\"items\":")?;
                write_list(out, items)?;
                out.push(b"}").map(|()| true)
            }
            Some((Step::Key(k), rest)) if k == "key" => write_bound(out, Bound::Value(key), rest),
            Some((Step::Key(k), [])) if k == "items" => write_list(out, items).map(|()| true),
            Some((Step::Key(k), [Step::Index(i), rest @ ..])) if k == "items" => {
                let at = if *i < 0 { i64::try_from(items.len()).ok().map(|n| n + i) } else { Some(*i) };
                match at.and_then(|at| usize::try_from(at).ok()).and_then(|at| items.get(at)) {
                    Some(item) => write_bound(out, Bound::Value(item), rest),
                    None => Ok(false),
                }
            }
            Some(_) => Ok(false),
        },
    }
}

impl Bound<'_> {
    /// The bound value as one `Value` (a group is built: only for paths the walk
    /// cannot follow, such as a filter over a group's items).
    fn to_value(self) -> Value {
        match self {
            Bound::Value(v) => v.clone(),
            Bound::Group { key, items } => {
                serde_json::json!({ "key": key, "items": items.iter().map(|v| (*v).clone()).collect::<Vec<_>>() })
            }
        }
    }
}

fn render(node: &Node, context: &Value, bindings: &Bindings, out: &mut Bounded) -> Result<(), RenderError> {
    match node {
        Node::Literal(text) => out.push(text.as_bytes()),
        Node::Object(fields) => {
            out.push(b"{")?;
            for (n, (key, node)) in fields.iter().enumerate() {
                if n > 0 {
                    out.push(b",")?;
                }
                out.push(key.as_bytes())?;
                render(node, context, bindings, out)?;
            }
            out.push(b"}")
        }
        Node::Array(items) => {
            out.push(b"[")?;
            for (n, node) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b",")?;
                }
                render(node, context, bindings, out)?;
            }
            out.push(b"]")
        }
        Node::Binding { field, path, name, steps } => {
            let found = match bindings.iter().find(|(n, _)| n == name) {
                Some((_, bound)) => write_bound(out, *bound, steps)?,
                None => false,
            };
            match found {
                true => Ok(()),
                false => Err(RenderError::Data(format!("{field}: `{path}` matched nothing"))),
            }
        }
        Node::Query { field, path } => match within_binding(path, bindings) {
            // `$.group.items[*].id` is `$.items[*].id` on the group: no copy of an item.
            Some((Bound::Value(bound), rest)) => write_found(out, bound, &rest, field, path),
            // `$.group.items[*].id`: the rest of the path on each item, in order, which is
            // what JSONPath does with the nodes `[*]` selects; the group is never built.
            Some((Bound::Group { items, .. }, rest)) if rest.starts_with("$.items[*]") => {
                let each = format!("${}", &rest["$.items[*]".len()..]);
                let mut found = Vec::new();
                for item in items {
                    found.extend(jsonpath::select_refs(item, &each).map_err(|e| format!("{field}: {e}"))?);
                }
                write_matches(out, &found, field, path)
            }
            Some((group, rest)) => write_found(out, &group.to_value(), &rest, field, path),
            None => {
                // A filter that reads the root: evaluated on the binding it starts with,
                // as `jsonpath::query` does (one binding copied, bounded by the item).
                let scope: Map<String, Value> = bindings.iter().map(|(n, v)| (n.to_string(), v.to_value())).collect();
                let template = Value::String(path.clone());
                let value = jsonpath::resolve_input(context, &template, Some(&Value::Object(scope)), field)?;
                out.value(&value)
            }
        },
    }
}

/// The matches of `rest` on `bound`, written by the seed's rule: one match is the
/// value, several an array, none an error naming the field.
fn write_found(out: &mut Bounded, bound: &Value, rest: &str, field: &str, path: &str) -> Result<(), RenderError> {
    let found = jsonpath::select_refs(bound, rest).map_err(|e| format!("{field}: {e}"))?;
    write_matches(out, &found, field, path)
}

/// Matches written by the seed's rule: one is the value, several an array, none an error.
fn write_matches(out: &mut Bounded, found: &[&Value], field: &str, path: &str) -> Result<(), RenderError> {
    match found {
        [] => Err(RenderError::Data(format!("{field}: `{path}` matched nothing"))),
        [one] => out.value(one),
        many => write_list(out, many),
    }
}

/// A path that starts with a binding's name (`$.group...`, `$['group']...`), as the
/// binding and the path from it (`$...`). `None` when it does not, or when the rest
/// mentions `$` again (a filter reading the root: evaluated as `jsonpath::query` does).
fn within_binding<'b>(path: &str, bindings: &Bindings<'b>) -> Option<(Bound<'b>, String)> {
    let name = jsonpath::first_segment(path)?;
    let bound = bindings.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)?;
    let after = path.strip_prefix('$')?;
    let rest = if let Some(dotted) = after.strip_prefix('.') {
        dotted.strip_prefix(name)?
    } else {
        let bracket = after.strip_prefix('[')?;
        let quote = &bracket[..1];
        bracket.strip_prefix(quote)?.strip_prefix(name)?.strip_prefix(quote)?.strip_prefix(']')?
    };
    (!rest.contains('$')).then(|| (bound, format!("${rest}")))
}

fn walk<'v>(start: Option<&'v Value>, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(start?, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => {
            let items = v.as_array()?;
            let at = if *i < 0 { i64::try_from(items.len()).ok()? + i } else { *i };
            usize::try_from(at).ok().and_then(|at| items.get(at))
        }
    })
}

/// Evaluate `path` on `document` when it is simple (`$`, `$.a.b`, `$['a-b'][0]`), without
/// a JSONPath engine: `Some(match)` or `Some(None)` for no match; `None` when the path
/// is not simple. A gather's `groupBy` runs on every result this way.
pub fn select_simple<'v>(document: &'v Value, path: &str) -> Option<Option<&'v Value>> {
    if path == "$" {
        return Some(Some(document));
    }
    let (first, steps) = parse_simple(path)?;
    Some(walk(document.get(first.as_str()), &steps))
}

/// Parse `$.name(.key | [n] | ['key'])*` into its first member and the steps after it;
/// `None` for anything else (wildcards, filters, slices, descendants).
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
        Some(Step::Key(_)) => match steps.remove(0) {
            Step::Key(name) => Some((name, steps)),
            Step::Index(_) => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> Value {
        json!({ "trigger": { "bucket": "b1", "items": [{ "id": 1 }, { "id": 2 }] } })
    }

    fn render_one(template: Value, item: Value) -> Result<Value, String> {
        let context = context();
        let t = Template::compile(&context, &template, &["item", "index"], "input")?;
        let bindings = [("item", Bound::Value(&item)), ("index", Bound::Value(&json!(7)))];
        let rendered = t.render(&context, &bindings, 1 << 20).map_err(|e| match e {
            RenderError::Data(message) => message,
            too_large => format!("{too_large:?}"),
        })?;
        Ok(rendered.to_value())
    }

    #[test]
    fn context_paths_bindings_and_literals_render_as_the_seed_says() {
        let rendered = render_one(
            json!({ "id": "$.item.id", "at": "$.index", "bucket": "$.trigger.bucket", "n": 3, "tags": ["$.item['id']"] }),
            json!({ "id": "x" }),
        );
        assert_eq!(rendered.unwrap(), json!({ "id": "x", "at": 7, "bucket": "b1", "n": 3, "tags": ["x"] }));
        // Paths beyond the simple subset go through the JSONPath engine.
        let rendered = render_one(json!("$.item.parts[*].n"), json!({ "parts": [{ "n": 1 }, { "n": 2 }] }));
        assert_eq!(rendered.unwrap(), json!([1, 2]));
        assert_eq!(render_one(json!("$.item[-1]"), json!([1, 2, 3])).unwrap(), json!(3));
        assert_eq!(render_one(json!("$.item"), json!(null)).unwrap(), json!(null), "a null item is a match");
        assert_eq!(render_one(json!("$['item'].parts[0:1]"), json!({ "parts": [4, 5] })).unwrap(), json!(4));
        assert_eq!(render_one(json!("$.item..n"), json!({ "a": { "n": 1 }, "n": 0 })).unwrap(), json!([0, 1]));
    }

    #[test]
    fn a_path_that_matches_nothing_or_does_not_parse_names_its_field() {
        assert_eq!(
            render_one(json!({ "a": ["$.item.nope"] }), json!({})).unwrap_err(),
            "input.a[0]: `$.item.nope` matched nothing"
        );
        assert_eq!(
            render_one(json!({ "b": "$.trigger.nope" }), json!({})).unwrap_err(),
            "input.b: `$.trigger.nope` matched nothing"
        );
        let err = render_one(json!({ "c": "$.item[" }), json!({})).unwrap_err();
        assert!(err.starts_with("input.c: invalid JSONPath `$.item[`"), "{err}");
    }

    #[test]
    fn a_group_renders_from_borrowed_results_by_every_kind_of_path() {
        let context = context();
        let (a, b, key) = (json!({ "id": 1, "v": "x" }), json!({ "id": 2, "v": "y" }), json!("k"));
        let items = [&a, &b];
        let bindings = [("group", Bound::Group { key: &key, items: &items }), ("index", Bound::Value(&json!(0)))];
        let render = |template: Value| {
            let t = Template::compile(&context, &template, &["group", "index"], "input").unwrap();
            t.render(&context, &bindings, 1 << 20).map(|p| p.to_value())
        };
        let whole = json!({ "key": "k", "items": [a, b] });
        assert_eq!(render(json!("$.group")).unwrap(), whole);
        assert_eq!(
            render(json!({ "all": "$.group.items", "k": "$.group.key" })).unwrap(),
            json!({ "all": [a, b], "k": "k" })
        );
        assert_eq!(render(json!("$.group.items[-1].v")).unwrap(), json!("y"));
        assert_eq!(render(json!("$.group.items[*].id")).unwrap(), json!([1, 2]));
        assert_eq!(render(json!("$.group.items[*]")).unwrap(), json!([a, b]));
        assert_eq!(render(json!("$.group.items[*]..v")).unwrap(), json!(["x", "y"]));
        assert_eq!(render(json!("$.group['items'][*].id")).unwrap(), json!([1, 2]), "built, same answer");
        assert_eq!(
            render(json!({ "x": "$.group.items[*].nope" })).unwrap_err(),
            RenderError::Data("input.x: `$.group.items[*].nope` matched nothing".into())
        );
        assert_eq!(render(json!("$.group.items[?(@.id > 1)].v")).unwrap(), json!("y"));
        assert_eq!(
            render(json!({ "x": "$.group.items[5]" })).unwrap_err(),
            RenderError::Data("input.x: `$.group.items[5]` matched nothing".into())
        );
        assert_eq!(
            render(json!("$.group.nope")).unwrap_err(),
            RenderError::Data("input: `$.group.nope` matched nothing".into())
        );
    }

    #[test]
    fn a_render_stops_at_its_limit_and_the_text_is_compact_json() {
        let context = context();
        let item = json!({ "text": "x".repeat(1000) });
        let t = Template::compile(&context, &json!(["$.item", "$.item"]), &["item", "index"], "input").unwrap();
        let bindings = [("item", Bound::Value(&item)), ("index", Bound::Value(&json!(0)))];
        assert_eq!(t.render(&context, &bindings, 1500), Err(RenderError::TooLarge { limit: 1500 }));
        let text = t.render(&context, &bindings, 4000).unwrap();
        assert_eq!(text.as_str(), format!("[{item},{item}]"));
        let t = Template::compile(&context, &json!({ "q\"uote": "$.trigger.bucket" }), &["item"], "input").unwrap();
        assert_eq!(t.render(&context, &bindings, 100).unwrap().as_str(), r#"{"q\"uote":"b1"}"#);
    }

    #[test]
    fn simple_selection_walks_without_an_engine() {
        let doc = json!({ "k": { "a-b": [10, 20] } });
        assert_eq!(select_simple(&doc, "$.k['a-b'][1]"), Some(Some(&json!(20))));
        assert_eq!(select_simple(&doc, "$.k.x"), Some(None));
        assert_eq!(select_simple(&doc, "$"), Some(Some(&doc)));
        assert_eq!(select_simple(&doc, "$..a"), None);
    }
}
