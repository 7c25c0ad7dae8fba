//! Pipeline definitions in the seed's shape, from JSON or YAML:
//!
//! ```json
//! { "name": "documents",
//!   "stages": [ { "name": "process-files", "mode": "scatter", "actor": "FileProcessor",
//!                 "scatter": { "input": "$.trigger.files", "as": "file" },
//!                 "input": { "filepath": "$.file.path" },
//!                 "executorConfig": { "maxParallel": 10 } } ] }
//! ```
//!
//! A bare array of stages is accepted too. Stages stay JSON values: executors read what
//! they need, and `validate` checks the fields every stage shares. `.wdl` files are
//! programs in the WDL-style language (`docs/wdl.md`), compiled to the same JSON (`dsl`).

mod dsl;
mod reads;
mod strict;
mod validate;

pub use dsl::{is_dsl, load_with_source, DslSource};
pub use validate::{check, validate, StageProblem};

use serde_json::Value;
use std::path::Path;

/// The fields a stage may have. Pattern-specific settings go in `executorConfig`.
pub const STAGE_FIELDS: &[&str] = &["name", "mode", "actor", "input", "scatter", "gather", "executorConfig"];

/// A pipeline: a name and its stages, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub name: String,
    pub stages: Vec<Value>,
}

/// A pipeline that passed [`validate`]: every stage is an object with a unique name and
/// a mode the manifest loads. What the orchestrator runs, so it never re-checks a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPipeline {
    pub name: String,
    pub stages: Vec<ValidStage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidStage {
    pub name: String,
    pub mode: String,
    /// The stage as written: executors read what they need from it.
    pub definition: Value,
}

/// Why a pipeline file could not be read (its stages are checked by [`validate`]).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// `cause`, not `source`: the message already says it, and a source would make
    /// `{:#}` say it twice.
    #[error("{file}: cannot read: {cause}")]
    Read { file: String, cause: std::io::Error },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    /// A `.wdl` program that does not compile; [`PipelineError::render`] draws it.
    #[error("{0}")]
    Dsl(Box<troupe_dsl::Diagnostics>),
}

impl PipelineError {
    /// Whether the file was read and its content is not a pipeline (exit status 2, the
    /// invalid-pipeline one), rather than not readable at all.
    pub fn is_invalid(&self) -> bool {
        !matches!(self, PipelineError::Read { .. })
    }
}

impl Pipeline {
    /// Read a `.json`, `.yaml` or `.yml` file, or compile a `.wdl` one.
    pub fn load(file: &Path) -> Result<Pipeline, PipelineError> {
        if is_dsl(file) {
            return DslSource::load(file).map(|(pipeline, _)| pipeline);
        }
        let shown = file.display().to_string();
        let text =
            crate::files::read_cli_text(file).map_err(|cause| PipelineError::Read { file: shown.clone(), cause })?;
        let yaml = file.extension().is_some_and(|e| e == "yaml" || e == "yml");
        let parsed = if yaml { strict::yaml(&text) } else { strict::json(&text) };
        let value = parsed.map_err(|message| PipelineError::Syntax { file: shown.clone(), message })?;
        let default_name = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        Self::from_value(value, &default_name).map_err(|message| PipelineError::Syntax { file: shown, message })
    }

    /// The JSON form `from_value` reads back.
    pub fn to_value(&self) -> Value {
        serde_json::json!({ "name": self.name, "stages": self.stages })
    }

    /// A pipeline from its JSON value: `{ "name"?, "stages": [...] }` or `[...]`.
    pub fn from_value(value: Value, default_name: &str) -> Result<Pipeline, String> {
        match value {
            Value::Array(stages) => Ok(Pipeline { name: default_name.to_string(), stages }),
            Value::Object(mut map) => {
                let name = match map.remove("name") {
                    Some(Value::String(n)) => n,
                    None => default_name.to_string(),
                    Some(_) => return Err("`name` must be a string".into()),
                };
                let stages = match map.remove("stages") {
                    Some(Value::Array(stages)) => stages,
                    Some(_) => return Err("`stages` must be an array of stage objects".into()),
                    None => return Err("missing `stages`: a pipeline is `{ \"stages\": [ ... ] }`".into()),
                };
                if let Some(extra) = map.keys().next() {
                    return Err(format!(
                        "unknown field `{extra}` at the top level; a pipeline has `name` and `stages`"
                    ));
                }
                Ok(Pipeline { name, stages })
            }
            _ => Err("a pipeline is an object `{ \"stages\": [ ... ] }` or an array of stages".into()),
        }
    }

    /// The name of stage `i` (or `#i` when it has none), for messages.
    pub fn stage_label(&self, i: usize) -> String {
        match self.stages[i].get("name").and_then(Value::as_str) {
            Some(name) => name.to_string(),
            None => format!("#{}", i + 1),
        }
    }
}
