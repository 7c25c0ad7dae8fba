//! `troupe run`: run a pipeline on the embedded engine, or on Redis with `--redis`, with
//! live progress.

use super::progress::Progress;
use super::redis_args::RedisArgs;
use super::ManifestArgs;
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use troupe::engine::{EmbeddedEngine, Engine};
use troupe::orchestrator::{new_run_id, Orchestrator, RunError, RunReport};
use troupe::pipeline::Pipeline;
use troupe::plugin::Plugins;

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline definition (.json, .yaml or .yml), or a program (.wdl).
    pipeline: PathBuf,
    /// The run's input, `$.trigger` (a JSON file; default `{}`).
    #[arg(long)]
    input: Option<PathBuf>,
    /// How many actor invocations this process runs at once. With --redis, 0 runs none
    /// here: `troupe worker` processes serve the run.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The run's id (default: a new unique one). With --redis, `troupe status` and
    /// `troupe resume` take it.
    #[arg(long)]
    run_id: Option<String>,
    /// Print the final context as one JSON document on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    redis: RedisArgs,
}

/// Which run to drive: a new one, or one to carry on.
pub enum Job {
    Start { pipeline: Pipeline, trigger: serde_json::Value, run_id: String },
    Resume { run_id: String },
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
    let job = Job::Start { pipeline, trigger, run_id: args.run_id.clone().unwrap_or_else(new_run_id) };
    let outcome = if args.redis.redis.is_some() {
        let engine = Arc::new(args.redis.connect(&manifest, None, args.concurrency)?);
        drive(engine, plugins, args.concurrency, job)?
    } else {
        let actors = manifest.actors.keys().map(|a| a.to_string());
        let engine = Arc::new(EmbeddedEngine::new(actors, super::log_level()));
        drive(engine, plugins, args.concurrency.max(1), job)?
    };
    report(outcome, args.json)
}

/// Drive `job` on `engine` with `concurrency` local workers.
pub fn drive<E: Engine>(
    engine: Arc<E>,
    plugins: Arc<Plugins>,
    concurrency: usize,
    job: Job,
) -> anyhow::Result<Result<RunReport, RunError>> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        let _workers = (concurrency > 0).then(|| troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency));
        let orchestrator = Orchestrator::new(engine, plugins);
        match job {
            Job::Start { pipeline, trigger, run_id } => {
                orchestrator.run_as(&run_id, &pipeline, trigger, &Progress::new()).await
            }
            Job::Resume { run_id } => orchestrator.resume(&run_id, &Progress::new()).await,
        }
    });
    runtime.shutdown_background();
    Ok(outcome)
}

/// Print how the run ended; exit 0 (succeeded), 1 (failed) or 2 (invalid).
pub fn report(outcome: Result<RunReport, RunError>, json: bool) -> anyhow::Result<ExitCode> {
    match outcome {
        Ok(report) => {
            if json {
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
            Ok(super::invalid())
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
