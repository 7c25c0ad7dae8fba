//! troupe's WDL-style pipeline language. [`compile`] turns a program into the pipeline
//! definition its JSON form would hold (`{"name": ..., "stages": [...]}`) and a
//! [`SourceMap`] from each stage field back to the source, so problems found later in the
//! JSON (unknown mode, unknown actor, an executor's `validate`) can be shown at DSL lines
//! and columns. The language is described in `docs/wdl.md`.
//!
//! ```
//! let program = "workflow hello { call Pass { input: data = trigger } }";
//! let compiled = troupe_dsl::compile(program, "hello.wdl").unwrap();
//! assert_eq!(compiled.pipeline["stages"][0]["input"]["data"], "$.trigger");
//! ```
//!
//! # Layout
//! - `lexer.rs`: source text to tokens (winnow); `#` comments, quoted strings, JSON numbers,
//!   names with inner hyphens; it goes on after an error, to report every lexical error.
//! - `parser.rs`: tokens to the syntax tree (winnow over a `TokenSlice`); its grammar is in
//!   its header. `parser/error.rs`: the parser's winnow error and "expected X, found Y".
//! - `ast.rs`: the syntax tree, every node with its span.
//! - `lower/`: syntax tree to JSON. `mod.rs` names stages and checks names; `stages.rs`
//!   builds each kind of stage; `scope.rs` resolves names to JSONPath; `value.rs` builds
//!   input templates and literal config values.
//! - `source_map.rs`: (stage, field) to span.
//! - `diagnostic.rs`: [`Diagnostic`], the [`Diagnostics`] error, [`render`] (ariadne; text
//!   escaped and cut, long source lines drawn as a window around the span).
//! - `span.rs`: byte spans and their line and column.

mod ast;
mod diagnostic;
mod lexer;
mod lower;
mod parser;
mod source_map;
mod span;

pub use diagnostic::{render, Diagnostic, Diagnostics};
pub use source_map::{SourceMap, StageSpans};
pub use span::Span;

use serde_json::Value;

/// A compiled program.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// `{"name": ..., "stages": [...]}`, as the equivalent JSON pipeline file holds it.
    pub pipeline: Value,
    /// Where each stage and field came from.
    pub spans: SourceMap,
}

/// Compile `source` (named `file_name` in diagnostics). On failure, every problem found:
/// the lexical errors (at most ten), or the syntax errors (one per broken stage, at most ten), or else
/// every problem of names, stages and values.
pub fn compile(source: &str, file_name: &str) -> Result<Compiled, Diagnostics> {
    let fail = |items: Vec<Diagnostic>| Diagnostics { file: file_name.to_string(), text: source.to_string(), items };
    let tokens = lexer::lex(source).map_err(fail)?;
    let workflow = parser::parse(source, &tokens).map_err(fail)?;
    let (pipeline, spans) = lower::lower(&workflow, source).map_err(fail)?;
    Ok(Compiled { pipeline, spans })
}
