//! `troupe compile`: a `.wdl` program to its JSON pipeline definition, on stdout. Also the
//! helpers `run` and `validate` use to show a DSL program's problems at its lines.

use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use troupe::pipeline::{self, Pipeline};
use troupe::plugin::Plugins;
use troupe::{Manifest, RecordingHost};

#[derive(Args)]
pub struct CompileArgs {
    /// The program (WDL-style, see docs/wdl.md), whatever its extension.
    program: PathBuf,
}

/// Print the definition and exit 0, or the diagnostics on stderr and exit 2 (the
/// invalid-pipeline status); a file that cannot be read is exit 1.
pub fn run(args: CompileArgs) -> anyhow::Result<ExitCode> {
    let shown = args.program.display().to_string();
    let text = troupe::files::read_cli_text(&args.program).map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    match troupe_dsl::compile(&text, &shown) {
        Ok(compiled) => {
            println!("{}", serde_json::to_string_pretty(&compiled.pipeline)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            eprint!("{}", diagnostics.render(std::io::stderr().is_terminal()));
            Ok(super::invalid())
        }
    }
}

/// For `troupe run`: the pipeline in `file`; a `.wdl` program is also validated here, so
/// its problems are drawn at its lines on stderr. A file that is not a pipeline (bad
/// syntax, a program that does not compile) is `Err(2)`, the invalid-pipeline exit.
pub fn load_for_run(
    file: &Path,
    plugins: &Arc<Plugins>,
    manifest: &Manifest,
) -> anyhow::Result<Result<Pipeline, ExitCode>> {
    let color = std::io::stderr().is_terminal();
    let (pipeline, source) = match pipeline::load_with_source(file) {
        Ok(loaded) => loaded,
        Err(e) if e.is_invalid() => {
            eprint!("{}", e.render(color));
            return Ok(Err(super::invalid()));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(source) = source {
        let problems = problems(&pipeline, plugins, manifest);
        if !problems.is_empty() {
            eprint!("{}", source.render_problems(&problems, color));
            return Ok(Err(super::invalid()));
        }
    }
    Ok(Ok(pipeline))
}

/// Every validation problem of `pipeline` against the manifest's plugins.
pub fn problems(pipeline: &Pipeline, plugins: &Arc<Plugins>, manifest: &Manifest) -> Vec<pipeline::StageProblem> {
    let host =
        Arc::new(RecordingHost::with_actors(serde_json::json!({}), manifest.actors.keys().map(|a| a.to_string())));
    pipeline::validate(pipeline, plugins, host)
}
