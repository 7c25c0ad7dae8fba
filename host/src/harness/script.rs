//! The outcome script: how each task attempt ends, and how long it takes on the virtual
//! clock, plus how many workers run attempts at once. Read from JSON (`troupe test
//! --outcomes`) or built in Rust.
//!
//! ```json
//! { "workers": 2,
//!   "default": { "echo": true, "ms": 10 },
//!   "tasks": { "1": [{ "err": "503", "ms": 120 }, { "ok": { "id": 1 }, "ms": 50 }],
//!              "3": { "err": "down" } } }
//! ```
//!
//! Why hand-read rather than derived: a bad script gets an error naming the file and the
//! exact path of the bad field (`tasks.1[0].ms`), which is what a plugin author needs.

use crate::api::{Outcome, Task};
use serde_json::Value;
use std::collections::BTreeMap;

/// How many workers a script has by default: `troupe run`'s default `--concurrency`.
pub const DEFAULT_WORKERS: u32 = 16;
/// The most workers a script may ask for (each is only a counter, but a typo of 10^9
/// should be refused, not simulated).
pub const MAX_WORKERS: u32 = 100_000;

/// What one attempt's actor call returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Succeed with this value.
    Ok(Value),
    /// Fail with this message.
    Err(String),
    /// Succeed with the task's input.
    Echo,
}

/// One scripted attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    pub reply: Reply,
    /// Virtual milliseconds from the attempt's start to its end.
    pub ms: u64,
}

impl Scripted {
    /// An attempt that returns its input at once.
    pub fn echo() -> Scripted {
        Scripted { reply: Reply::Echo, ms: 0 }
    }

    /// The outcome this attempt gives `task`. An error message is escaped and cut as an
    /// actor's is where it crosses into the host, so it reads as it would in a run.
    pub fn outcome(&self, task: &Task) -> Outcome {
        match &self.reply {
            Reply::Ok(value) => Outcome::Succeeded(value.into()),
            Reply::Err(message) => Outcome::Failed(crate::text::one_line(message, crate::text::LINE_BUDGET)),
            Reply::Echo => Outcome::Succeeded(task.input.clone()),
        }
    }
}

/// A task's scripted attempts.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempts {
    /// Every attempt alike.
    Every(Scripted),
    /// Attempt 1, 2, ... in order; attempts past the list take the script's default.
    InOrder(Vec<Scripted>),
}

/// Outcomes per task and attempt, and the workers that run them.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// How many attempts run at once (the `--concurrency` of a run).
    pub workers: u32,
    /// Any attempt the script does not name.
    pub default: Scripted,
    /// By task index.
    pub tasks: BTreeMap<u64, Attempts>,
}

impl Default for Script {
    fn default() -> Self {
        Script { workers: DEFAULT_WORKERS, default: Scripted::echo(), tasks: BTreeMap::new() }
    }
}

/// A script that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: `{path}`: {message}")]
pub struct ScriptError {
    pub file: String,
    /// The field's path in the script (`tasks.1[0].ms`; `$` for the whole script).
    pub path: String,
    pub message: String,
}

impl Script {
    /// The scripted attempt `attempt` (1 for the first) of task `index`.
    pub fn attempt(&self, index: u64, attempt: u32) -> &Scripted {
        match self.tasks.get(&index) {
            Some(Attempts::Every(scripted)) => scripted,
            Some(Attempts::InOrder(list)) => list.get(attempt as usize - 1).unwrap_or(&self.default),
            None => &self.default,
        }
    }

    /// Read a script; `file` names it in errors.
    pub fn from_json(value: &Value, file: &str) -> Result<Script, ScriptError> {
        let fail =
            |path: &str, message: String| ScriptError { file: file.to_string(), path: path.to_string(), message };
        let Value::Object(fields) = value else {
            return Err(fail(
                "$",
                format!("must be an object with `workers`, `default` and `tasks`, found {}", kind(value)),
            ));
        };
        let mut script = Script::default();
        for (name, field) in fields {
            match name.as_str() {
                "workers" => {
                    script.workers = match field.as_u64() {
                        Some(n) if (1..=u64::from(MAX_WORKERS)).contains(&n) => n as u32,
                        _ => {
                            return Err(fail(
                                "workers",
                                format!("must be a whole number from 1 to {MAX_WORKERS}, found {}", shown(field)),
                            ))
                        }
                    }
                }
                "default" => script.default = attempt(field, "default").map_err(|(p, m)| fail(&p, m))?,
                "tasks" => script.tasks = tasks(field).map_err(|(p, m)| fail(&p, m))?,
                other => {
                    return Err(fail(other, "unknown field; a script has `workers`, `default` and `tasks`".to_string()))
                }
            }
        }
        Ok(script)
    }
}

type FieldError = (String, String);

fn tasks(value: &Value) -> Result<BTreeMap<u64, Attempts>, FieldError> {
    let Value::Object(by_index) = value else {
        return Err(("tasks".into(), format!("must be an object from task index to attempts, found {}", kind(value))));
    };
    let mut out = BTreeMap::new();
    for (key, attempts) in by_index {
        let path = format!("tasks.{key}");
        let index = match key.parse::<u64>() {
            Ok(i) if key == &i.to_string() => i,
            _ => return Err((path, "a task index must be a whole number written plainly, such as \"0\"".into())),
        };
        let attempts = match attempts {
            Value::Array(list) if list.is_empty() => {
                return Err((path, "an empty list scripts nothing; leave the task out to use `default`".into()))
            }
            Value::Array(list) => Attempts::InOrder(
                list.iter().enumerate().map(|(i, a)| attempt(a, &format!("{path}[{i}]"))).collect::<Result<_, _>>()?,
            ),
            single => Attempts::Every(attempt(single, &path)?),
        };
        out.insert(index, attempts);
    }
    Ok(out)
}

fn attempt(value: &Value, path: &str) -> Result<Scripted, FieldError> {
    let err = |field: &str, message: String| {
        let at = if field.is_empty() { path.to_string() } else { format!("{path}.{field}") };
        Err((at, message))
    };
    let Value::Object(fields) = value else {
        return err("", format!("must be an attempt such as {{\"ok\": 1, \"ms\": 20}}, found {}", kind(value)));
    };
    let replies: Vec<&str> = ["ok", "err", "echo"].into_iter().filter(|k| fields.contains_key(*k)).collect();
    if replies.len() != 1 {
        return err(
            "",
            format!(
                "needs exactly one of `ok` (a result), `err` (an error message) or `echo` (true), found {}",
                if replies.is_empty() { "none".to_string() } else { replies.join(" and ") }
            ),
        );
    }
    let reply = match replies[0] {
        "ok" => match crate::payload::Payload::parse(fields["ok"].to_string()) {
            Ok(_) => Reply::Ok(fields["ok"].clone()),
            Err(e) => return err("ok", format!("is not a result a task could return: {e}")),
        },
        "err" => match &fields["err"] {
            Value::String(message) => Reply::Err(message.clone()),
            other => return err("err", format!("must be a string (the error message), found {}", kind(other))),
        },
        _ => match &fields["echo"] {
            Value::Bool(true) => Reply::Echo,
            other => {
                return err("echo", format!("must be true (succeed with the task's input), found {}", shown(other)))
            }
        },
    };
    let ms = match fields.get("ms") {
        None => 0,
        Some(v) => match v.as_u64() {
            Some(ms) => ms,
            None => {
                return err("ms", format!("must be a whole number of milliseconds (0 or more), found {}", shown(v)))
            }
        },
    };
    if let Some(unknown) = fields.keys().find(|k| !["ok", "err", "echo", "ms"].contains(&k.as_str())) {
        return err(unknown.as_str(), "unknown field; an attempt has `ok`, `err` or `echo`, and `ms`".to_string());
    }
    Ok(Scripted { reply, ms })
}

/// A JSON value's kind, for "found ..." in errors.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short, safe rendering of a scalar (or the kind of a compound value) for errors.
fn shown(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => kind(value).to_string(),
        scalar => crate::text::one_line(&scalar.to_string(), 80),
    }
}
