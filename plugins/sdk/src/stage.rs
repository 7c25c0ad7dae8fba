//! [`Stage`]: the stage an executor is called about, with the seed's `BaseStageExecutor`
//! helpers (`getConfig<T>` is [`Stage::config`], `resolveInput` is
//! [`Stage::resolve_input`], `createMessage` is [`Stage::task`]).

use crate::bindings::types as wit;
use crate::executor::{ExecutorError, Problem};
use crate::queue::{NewTask, Task};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A stage definition with its run, parsed once.
#[derive(Debug, Clone)]
pub struct Stage {
    pub run_id: String,
    pub name: String,
    /// The definition as the pipeline gives it.
    pub definition: Value,
    /// The manifest's default `config` with the stage's `executorConfig` laid over it.
    pub config: Value,
    parse_error: Option<String>,
}

impl Stage {
    pub(crate) fn from_wit(s: wit::Stage) -> Self {
        let mut parse_error = None;
        let mut parse = |what: &str, text: &str| match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                parse_error.get_or_insert(format!("the host sent a {what} that is not JSON: {e}"));
                Value::Null
            }
        };
        let definition = parse("stage definition", &s.definition);
        let config = if s.config.is_empty() { Value::Object(Default::default()) } else { parse("config", &s.config) };
        Stage { run_id: s.run_id, name: s.name, definition, config, parse_error }
    }

    /// A stage made in plugin code, for unit tests of executor logic that does not call
    /// the host.
    pub fn new(run_id: impl Into<String>, name: impl Into<String>, definition: Value, config: Value) -> Self {
        Stage { run_id: run_id.into(), name: name.into(), definition, config, parse_error: None }
    }

    pub(crate) fn parse_error(&self) -> Option<Problem> {
        self.parse_error.as_ref().map(|m| Problem::new("", m.clone()))
    }

    pub(crate) fn ensure_parsed(&self) -> Result<(), ExecutorError> {
        match &self.parse_error {
            Some(m) => Err(ExecutorError::fatal(m)),
            None => Ok(()),
        }
    }

    /// The stage's configuration as `T` (the seed's `getConfig<T>`). A field of the wrong
    /// type is an error naming it, as `executorConfig.<field>`.
    ///
    /// The keys the host itself reads (`toleratedFailures`, `toleratedFailurePercent`)
    /// are removed first, so a config struct may deny unknown fields.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        Self::deserialize_config(&self.own_config()).map_err(|(problem, _)| problem)
    }

    /// For `validate`: every field of the configuration that does not deserialize as
    /// `T`, one problem each, and `T` read from the rest (the bad fields at their
    /// defaults) for checks of values, or `None` when that is impossible (a required
    /// field is bad). serde stops at the first error; a user fixing a config should see
    /// every bad field at once, not one per attempt.
    pub fn config_checked<T: DeserializeOwned>(&self) -> (Option<T>, Vec<Problem>) {
        let mut config = self.own_config();
        let mut problems = Vec::new();
        let mut removed: Vec<String> = Vec::new();
        loop {
            match Self::deserialize_config::<T>(&config) {
                Ok(c) => return (Some(c), problems),
                Err((problem, key)) => {
                    // A bad field taken out and then missing is the same problem again.
                    if removed.iter().any(|r| problem.message.contains(&format!("missing field `{r}`"))) {
                        return (None, problems);
                    }
                    problems.push(problem);
                    let taken = match (&mut config, key) {
                        (Value::Object(map), Some(key)) => map.remove(&key).map(|_| key),
                        _ => None,
                    };
                    match taken {
                        Some(key) => removed.push(key),
                        None => return (None, problems),
                    }
                }
            }
        }
    }

    /// The configuration without the keys the host reads itself.
    fn own_config(&self) -> Value {
        let mut config = self.config.clone();
        if let Value::Object(map) = &mut config {
            for key in HOST_CONFIG_KEYS {
                map.remove(*key);
            }
        }
        config
    }

    /// `config` as `T`, or the first problem and the top-level key it lies under (when
    /// there is one: taking that key out lets the rest be checked).
    fn deserialize_config<T: DeserializeOwned>(config: &Value) -> Result<T, (Problem, Option<String>)> {
        serde_path_to_error::deserialize(config).map_err(|e| {
            let path = e.path().to_string();
            let top = match e.path().iter().next() {
                Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
                _ => None,
            };
            let message = e.into_inner().to_string();
            if path == "." {
                // "unknown field `maxParalel`": the key to take out is the one named.
                let problem = config_problem(&message);
                let unknown = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next());
                (problem, unknown.map(str::to_string))
            } else {
                (Problem::new(format!("executorConfig.{path}"), message), top)
            }
        })
    }

    /// Compile the stage's `input` template for rendering with `bindings` names.
    pub fn template(&self, bindings: &[&str]) -> Result<crate::Template, ExecutorError> {
        crate::Template::compile(&self.input_template(), bindings, "input")
    }

    /// A problem when the definition's `field` is not a valid JSONPath string (`$...`).
    pub fn check_path(&self, field: &str) -> Option<Problem> {
        match self.field(field) {
            None => Some(Problem::new(field, "is required: a JSONPath such as `$.trigger.items`")),
            Some(Value::String(p)) if p.starts_with('$') => {
                crate::context::select(&Value::Null, p).err().map(|e| Problem::new(field, e.message()))
            }
            Some(other) => {
                Some(Problem::new(field, format!("must be a JSONPath string starting with `$`, found {}", kind(other))))
            }
        }
    }

    /// The problems of a scatter-shaped stage (`actor`, `scatter.input`, `scatter.as`), as
    /// the seed's scatter and rate-limited executors share them.
    pub fn check_scatter(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        match self.required_str("actor") {
            Ok(actor) => problems.extend(Stage::check_actor("actor", actor)),
            Err(p) => problems.push(p),
        }
        problems.extend(self.check_path("scatter.input"));
        match self.required_str("scatter.as") {
            Ok("index") => problems
                .push(Problem::new("scatter.as", "`index` is bound to each item's position; choose another name")),
            Ok(name) if !name.chars().all(|c| c.is_alphanumeric() || c == '_') => problems.push(Problem::new(
                "scatter.as",
                format!("`{name}` must be letters, digits and '_' so `$.{name}` can read it"),
            )),
            Ok(_) => {}
            Err(p) => problems.push(p),
        }
        problems
    }

    /// The items of a scatter-shaped stage (the array at `scatter.input`) with the
    /// stage's `input` template compiled for them: what [`Stage::scatter_tasks`] uses, and
    /// what a pattern that enqueues some items now and others from a hook reads again
    /// there (the context does not change while the stage runs).
    pub fn scatter_list(&self) -> Result<ScatterList, ExecutorError> {
        let template = self.scatter_template()?;
        let path = self.required_str("scatter.input")?;
        let mut found = crate::context::query(path, None)?;
        let items = match found.len() {
            0 => return Err(ExecutorError::fatal(format!("scatter.input: `{path}` matched nothing"))),
            1 => match found.pop() {
                Some(Value::Array(items)) => items,
                Some(other) => {
                    return Err(ExecutorError::fatal(format!(
                        "scatter.input: `{path}` is {}, not an array (stage {})",
                        kind(&other),
                        self.name
                    )))
                }
                None => Vec::new(),
            },
            _ => found,
        };
        Ok(ScatterList { template, items })
    }

    /// A scatter-shaped stage's tasks as the host makes them ([`crate::queue::enqueue_each`]):
    /// one per item of `scatter.input`, with the stage's `input` template rendered on the
    /// host, the item at `$.<scatter.as>` and its position at `$.index`. Neither the items
    /// nor the rendered tasks pass through this guest: use it unless the pattern must
    /// read the items itself ([`Stage::scatter_list`]).
    pub fn scatter_each(&self, batch_size: Option<u32>) -> Result<crate::queue::Each, ExecutorError> {
        Ok(crate::queue::Each {
            source: crate::queue::PathField::new(self.required_str("scatter.input")?, "scatter.input"),
            item_name: self.required_str("scatter.as")?.to_string(),
            actor: self.actor()?.to_string(),
            input: self.input_template(),
            batch_size,
        })
    }

    /// How a scatter-shaped stage turns an item into a task (its actor, and its `input`
    /// template with the item at `$.<scatter.as>` and a position at `$.index`), without
    /// reading `scatter.input`: for items that come from somewhere else (a crawler's
    /// results).
    pub fn scatter_template(&self) -> Result<ScatterTemplate, ExecutorError> {
        let name = self.required_str("scatter.as")?;
        let template = self.template(&[name, "index"])?;
        Ok(ScatterTemplate { actor: self.actor()?.to_string(), name: name.to_string(), template })
    }

    /// The tasks of a scatter-shaped stage: one per item of the array at `scatter.input`,
    /// with `input` rendered with the item at `$.<scatter.as>` and its position at `$.index`.
    pub fn scatter_tasks(&self) -> Result<Vec<Task>, ExecutorError> {
        let list = self.scatter_list()?;
        (0..list.len()).map(|i| list.task(i)).collect()
    }

    /// The problems of a stage that runs its actor once, or once per item when it has
    /// `scatter` (the shape of the seed's retry and circuit-breaker stages).
    pub fn check_one_or_scatter(&self) -> Vec<Problem> {
        if self.field("scatter").is_some() {
            return self.check_scatter();
        }
        match self.required_str("actor") {
            Ok(actor) => Stage::check_actor("actor", actor).into_iter().collect(),
            Err(p) => vec![p],
        }
    }

    /// The tasks of such a stage and its output shape: one task whose result is the
    /// output, or one per item with the results in item order.
    pub fn one_or_scatter_tasks(&self) -> Result<(Vec<Task>, crate::OutputShape), ExecutorError> {
        if self.field("scatter").is_some() {
            Ok((self.scatter_tasks()?, crate::OutputShape::List))
        } else {
            Ok((vec![self.task(0, self.actor()?, self.resolve_input(None)?)], crate::OutputShape::Single))
        }
    }

    /// Enqueue such a stage's tasks and say its output shape: with `scatter`, one task per
    /// item made by the host ([`crate::queue::enqueue_each`]; the items never pass through
    /// this guest), else one task with the resolved input. Returns (count, shape).
    pub fn enqueue_one_or_scatter(
        &self,
        options: &crate::queue::EnqueueOptions,
    ) -> Result<(u64, crate::OutputShape), ExecutorError> {
        if self.field("scatter").is_some() {
            Ok((crate::queue::enqueue_each(&self.scatter_each(None)?, options)?, crate::OutputShape::List))
        } else {
            crate::queue::enqueue(self.task(0, self.actor()?, self.resolve_input(None)?), options)?;
            Ok((1, crate::OutputShape::Single))
        }
    }

    /// A problem when `field` (a string naming an actor) is not in the manifest.
    pub fn check_actor(field: &str, actor: &str) -> Option<Problem> {
        (!crate::queue::has_actor(actor)).then(|| {
            Problem::new(
                field,
                format!(
                    "unknown actor `{actor}`: the manifest has no [actors.{actor}] (add it with \
                 `component = \"<file>.wasm\"`, or `external = true` when a worker of your own serves it)"
                ),
            )
        })
    }

    /// A field of the definition, by dotted path (`scatter.input`).
    pub fn field(&self, path: &str) -> Option<&Value> {
        path.split('.').try_fold(&self.definition, |v, key| v.get(key))
    }

    /// A required string field of the definition, or a problem naming it.
    pub fn required_str(&self, path: &str) -> Result<&str, Problem> {
        match self.field(path) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(Value::String(_)) => Err(Problem::new(path, "must not be empty")),
            Some(other) => Err(Problem::new(path, format!("must be a string, found {}", kind(other)))),
            None => Err(Problem::new(path, "is required")),
        }
    }

    /// The stage's `actor`, or a fatal error naming the missing field.
    pub fn actor(&self) -> Result<&str, ExecutorError> {
        Ok(self.required_str("actor")?)
    }

    /// The stage's `input` template (`{}` when absent).
    pub fn input_template(&self) -> Value {
        self.definition.get("input").cloned().unwrap_or_else(|| Value::Object(Default::default()))
    }

    /// Resolve the stage's `input` template against the context, with `bindings` (for
    /// example `{"file": item, "index": 3}`) laid over it (the seed's `resolveInput`).
    pub fn resolve_input(&self, bindings: Option<&Value>) -> Result<Value, ExecutorError> {
        Ok(crate::context::resolve_input(&self.input_template(), bindings)?)
    }

    /// A task of this stage (the seed's `createMessage`). Its id is derived by the host
    /// from (run, stage, index).
    pub fn task(&self, index: u64, actor: &str, input: Value) -> Task {
        Task { index, actor: actor.to_string(), input, key: None }
    }
}

/// How a scatter-shaped stage renders an item into a task ([`Stage::scatter_template`]).
#[derive(Debug, Clone)]
pub struct ScatterTemplate {
    actor: String,
    name: String,
    template: crate::Template,
}

impl ScatterTemplate {
    /// The stage's actor.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The input for `item` at position `index`: the stage's `input` template with the
    /// item at `$.<scatter.as>` and `index` at `$.index`.
    pub fn input(&self, item: &Value, index: usize) -> Result<Value, ExecutorError> {
        let mut bindings = Map::new();
        bindings.insert(self.name.clone(), item.clone());
        bindings.insert("index".to_string(), serde_json::json!(index));
        self.template.render(&bindings)
    }

    /// A task of the stage's actor for `item`, for [`crate::queue::extend`] (the host
    /// numbers it; `index` is only what `$.index` reads).
    pub fn new_task(&self, item: &Value, index: usize) -> Result<NewTask, ExecutorError> {
        Ok(NewTask::new(self.actor.clone(), self.input(item, index)?))
    }
}

/// The items of a scatter-shaped stage and how to render them ([`Stage::scatter_list`]).
#[derive(Debug, Clone)]
pub struct ScatterList {
    template: ScatterTemplate,
    items: Vec<Value>,
}

impl ScatterList {
    /// How many items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items, as `scatter.input` matched them.
    pub fn items(&self) -> &[Value] {
        &self.items
    }

    /// How items become tasks.
    pub fn template(&self) -> &ScatterTemplate {
        &self.template
    }

    fn item(&self, index: usize) -> Result<&Value, ExecutorError> {
        self.items
            .get(index)
            .ok_or_else(|| ExecutorError::fatal(format!("scatter.input has {} items, not {}", self.len(), index + 1)))
    }

    /// The task for item `index`, with task index `index` (for `execute`).
    pub fn task(&self, index: usize) -> Result<Task, ExecutorError> {
        let input = self.template.input(self.item(index)?, index)?;
        Ok(Task { index: index as u64, actor: self.template.actor.clone(), input, key: None })
    }

    /// Enqueue a task per item, `batch_size` per host call ([`crate::queue::enqueue_all`]),
    /// rendering each batch's inputs only when it is sent: a guest's memory then holds
    /// the items and one batch, not every task at once (a 100,000-item scatter kept all
    /// its rendered tasks and stopped at the default 128 MiB). Returns how many.
    pub fn enqueue(&self, batch_size: usize, options: &crate::queue::EnqueueOptions) -> Result<u64, ExecutorError> {
        let batch_size = batch_size.max(1);
        let mut count = 0;
        for start in (0..self.len()).step_by(batch_size) {
            let end = (start + batch_size).min(self.len());
            let tasks = (start..end).map(|i| self.task(i)).collect::<Result<Vec<_>, _>>()?;
            count += crate::queue::enqueue_all(tasks, batch_size, options)?;
        }
        Ok(count)
    }

    /// The task for item `index`, for [`crate::queue::extend`]: the host numbers it
    /// after the stage's tasks so far.
    pub fn new_task(&self, index: usize) -> Result<NewTask, ExecutorError> {
        self.template.new_task(self.item(index)?, index)
    }
}

/// `executorConfig` keys the host reads for every stage (failure tolerance).
pub const HOST_CONFIG_KEYS: &[&str] = &["toleratedFailures", "toleratedFailurePercent"];

fn config_problem(serde_message: &str) -> Problem {
    // serde names the offending field in backticks: "unknown field `maxParalel`" or
    // "invalid type: string \"x\", expected u32" (no field), so name it when it can.
    let field = serde_message
        .split('`')
        .nth(1)
        .filter(|_| serde_message.contains("field"))
        .map(|f| format!("executorConfig.{f}"))
        .unwrap_or_else(|| "executorConfig".to_string());
    Problem::new(field, serde_message)
}

/// The JSON kind of a value, for messages.
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
