//! `troupe validate`: every problem in a pipeline, or nothing.

use super::ManifestArgs;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use troupe::pipeline::{self, Pipeline};
use troupe::RecordingHost;

#[derive(Args)]
pub struct ValidateArgs {
    /// The pipeline definition (.json, .yaml or .yml).
    pipeline: PathBuf,
    #[command(flatten)]
    manifest: ManifestArgs,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let (plugins, manifest) = args.manifest.load_plugins()?;
    let pipeline = match Pipeline::load(&args.pipeline) {
        Ok(p) => p,
        Err(e) => {
            println!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let host =
        Arc::new(RecordingHost::with_actors(serde_json::json!({}), manifest.actors.keys().map(|a| a.to_string())));
    let problems = pipeline::validate(&pipeline, &plugins, host);
    for p in &problems {
        println!("{}: {p}", args.pipeline.display());
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
