//! `troupe run`: run a pipeline on the embedded engine, with live progress.

use super::progress::Progress;
use super::ManifestArgs;
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use troupe::engine::EmbeddedEngine;
use troupe::orchestrator::{Orchestrator, RunError};
use troupe::pipeline::Pipeline;

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline definition (.json, .yaml or .yml), or a program (.wdl).
    pipeline: PathBuf,
    /// The run's input, `$.trigger` (a JSON file; default `{}`).
    #[arg(long)]
    input: Option<PathBuf>,
    /// How many actor invocations run at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Print the final context as one JSON document on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    manifest: ManifestArgs,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (plugins, manifest) = args.manifest.load_plugins()?;
    // A `.wdl` program's problems are shown at its lines before anything runs.
    let pipeline: Pipeline = match super::compile::load_for_run(&args.pipeline, &plugins, &manifest)? {
        Ok(pipeline) => pipeline,
        Err(invalid) => return Ok(invalid),
    };
    let trigger = match &args.input {
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?
        }
        None => serde_json::json!({}),
    };
    let actors = manifest.actors.keys().map(|a| a.to_string());
    let engine = Arc::new(EmbeddedEngine::new(actors, super::log_level()));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        let _workers = troupe::worker::spawn(engine.clone(), plugins.clone(), args.concurrency);
        let orchestrator = Orchestrator::new(engine, plugins);
        orchestrator.run(&pipeline, trigger, &Progress::new()).await
    });
    runtime.shutdown_background();
    match outcome {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report.context)?);
            } else {
                println!("run {} finished", report.run_id);
                for s in &report.stages {
                    let c = &s.counts;
                    println!(
                        "  {:<24} {:<16} {:>7} tasks  {:>5} failed  {:>5} stragglers  {:>7} ms",
                        s.name,
                        s.mode,
                        c.expected.unwrap_or(0),
                        c.failed,
                        c.stragglers,
                        s.duration_ms
                    );
                }
                if let Some(last) = report.stages.last() {
                    println!(
                        "output of {}:\n{}",
                        last.name,
                        serde_json::to_string_pretty(&report.context[&last.name])?
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ RunError::Invalid(_)) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
