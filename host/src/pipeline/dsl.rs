//! Pipelines written in troupe's WDL-style language (`.wdl` files), compiled by
//! `troupe-dsl` to the JSON definition. The source and its span table are kept so that
//! validation problems, found in the JSON, are shown at the DSL's lines and columns.

use super::{Pipeline, PipelineError, StageProblem};
use std::path::Path;
use troupe_dsl::{Diagnostic, SourceMap};

/// Whether `file` is a DSL program (by its extension, `.wdl`).
pub fn is_dsl(file: &Path) -> bool {
    file.extension().is_some_and(|e| e == "wdl")
}

/// A compiled DSL program's source, to show problems in.
#[derive(Debug, Clone)]
pub struct DslSource {
    pub file: String,
    pub text: String,
    pub spans: SourceMap,
}

impl DslSource {
    /// Compile the program in `file`.
    pub fn load(file: &Path) -> Result<(Pipeline, DslSource), PipelineError> {
        let shown = file.display().to_string();
        let text =
            crate::files::read_cli_text(file).map_err(|cause| PipelineError::Read { file: shown.clone(), cause })?;
        Self::compile(&text, &shown)
    }

    /// Compile `text`, named `file` in messages.
    pub fn compile(text: &str, file: &str) -> Result<(Pipeline, DslSource), PipelineError> {
        let compiled = troupe_dsl::compile(text, file).map_err(|d| PipelineError::Dsl(Box::new(d)))?;
        let pipeline = Pipeline::from_value(compiled.pipeline, file)
            .map_err(|message| PipelineError::Syntax { file: file.to_string(), message })?;
        Ok((pipeline, DslSource { file: file.to_string(), text: text.to_string(), spans: compiled.spans }))
    }

    /// `problems` drawn under the DSL lines they come from; `color` for a terminal.
    pub fn render_problems(&self, problems: &[StageProblem], color: bool) -> String {
        let diagnostics: Vec<Diagnostic> = problems
            .iter()
            .map(|p| {
                let span = self.spans.locate(&p.stage, &p.field);
                let label = match (p.stage.is_empty(), p.field.is_empty()) {
                    (true, _) => "this workflow".to_string(),
                    (false, true) => format!("stage `{}`", p.stage),
                    (false, false) => format!("`{}` of stage `{}`", p.field, p.stage),
                };
                Diagnostic::new(span, p.message.clone(), label)
            })
            .collect();
        troupe_dsl::render(&self.file, &self.text, &diagnostics, color)
    }
}

/// Read a pipeline file: `.wdl` is compiled and comes with its source; JSON and YAML
/// come alone.
pub fn load_with_source(file: &Path) -> Result<(Pipeline, Option<DslSource>), PipelineError> {
    if is_dsl(file) {
        DslSource::load(file).map(|(pipeline, source)| (pipeline, Some(source)))
    } else {
        Pipeline::load(file).map(|pipeline| (pipeline, None))
    }
}

impl PipelineError {
    /// The error for people: a DSL error drawn under its source lines (in colour when
    /// `color`), any other as its one-line message.
    pub fn render(&self, color: bool) -> String {
        match self {
            PipelineError::Dsl(diagnostics) => diagnostics.render(color),
            // A syntax error quotes the file; keep it on one line and bounded.
            other => format!("{}\n", crate::text::one_line(&other.to_string(), crate::text::LINE_BUDGET)),
        }
    }
}
