//! `troupe validate`: every problem in a pipeline, or nothing. Exit 0 (valid), 2 (invalid:
//! a syntax error or any problem), 1 (the file or the manifest cannot be read).

use super::ManifestArgs;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use troupe::pipeline;

#[derive(Args)]
pub struct ValidateArgs {
    /// The pipeline definition (.json, .yaml or .yml), or a program (.wdl).
    pipeline: PathBuf,
    #[command(flatten)]
    manifest: ManifestArgs,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let (plugins, manifest) = args.manifest.load_plugins()?;
    let color = std::io::stdout().is_terminal();
    let (pipeline, source) = match pipeline::load_with_source(&args.pipeline) {
        Ok(loaded) => loaded,
        Err(e) if e.is_invalid() => {
            print!("{}", e.render(color));
            return Ok(super::invalid());
        }
        Err(e) => return Err(e.into()),
    };
    let problems = super::compile::problems(&pipeline, &plugins, &manifest);
    match &source {
        // A program's problems are drawn under its lines.
        Some(source) => print!("{}", source.render_problems(&problems, color)),
        None => {
            for p in &problems {
                println!("{}: {p}", args.pipeline.display());
            }
        }
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { super::invalid() })
}
