//! `troupe run`: run a pipeline on the embedded engine, or on Redis with `--redis`, with
//! live progress.
//!
//! Ctrl-C (SIGINT): on the embedded engine it cancels the run through the engine (the
//! orchestrator stops, tasks not started are dropped) and exits 130; on Redis it stops
//! this process only and leaves the run in Redis for `troupe resume` or `troupe cancel`,
//! also exiting 130. A run cancelled any other way (`troupe cancel`) exits 130 too.

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
    #[arg(long, value_parser = run_id)]
    run_id: Option<String>,
    /// Print the final context as one JSON document on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    /// Submit the run to a `troupe serve` host at this URL and follow it there, instead of
    /// running it here (the pipeline file is read and sent as a definition).
    #[arg(long, env = "TROUPE_SERVER", conflicts_with_all = ["redis", "run_id"])]
    server: Option<String>,
    /// The server's bearer token, with --server.
    #[arg(long, env = "TROUPE_TOKEN", hide_env_values = true, requires = "server")]
    token: Option<String>,
    #[command(flatten)]
    log: super::logging::LogArgs,
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

impl Job {
    fn run_id(&self) -> &str {
        match self {
            Job::Start { run_id, .. } | Job::Resume { run_id } => run_id,
        }
    }
}

/// What Ctrl-C does to the run being driven.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnInterrupt {
    /// Cancel it (the embedded engine: the run lives in this process only).
    Cancel,
    /// Leave it in the engine for another orchestrator (Redis).
    Leave,
}

/// How driving a run ended.
pub enum Driven {
    Ran(Result<RunReport, RunError>),
    /// Ctrl-C stopped this process before the run ended (or before it started).
    Interrupted {
        run_id: String,
        left_running: bool,
    },
}

/// Exit status of a run cancelled or interrupted (as a shell reports a Ctrl-C).
const INTERRUPTED: u8 = 130;

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let _telemetry = args.log.init("off")?;
    // The input first: a wrong `--input` is said at once, not after every plugin of the
    // manifest was loaded (compiled, on a cold cache: minutes for a Python component).
    let trigger = match &args.input {
        Some(file) => {
            let text = troupe::files::read_cli_text(file).with_context(|| format!("cannot read {}", file.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?
        }
        None => serde_json::json!({}),
    };
    if let Some(server) = &args.server {
        // The server validates against its own manifest; a program is compiled here.
        let pipeline = match troupe::pipeline::Pipeline::load(&args.pipeline) {
            Ok(p) => p,
            Err(e) if e.is_invalid() => {
                eprint!("{}", e.render(std::io::IsTerminal::is_terminal(&std::io::stderr())));
                return Ok(super::invalid());
            }
            Err(e) => return Err(e.into()),
        };
        return super::remote::Remote::new(server, args.token.clone())?.run(&pipeline, trigger, args.json);
    }
    let (plugins, manifest) = args.manifest.load_plugins()?;
    // A `.wdl` program's problems are shown at its lines before anything runs.
    let pipeline: Pipeline = match super::compile::load_for_run(&args.pipeline, &plugins, &manifest)? {
        Ok(pipeline) => pipeline,
        Err(invalid) => return Ok(invalid),
    };
    let job = Job::Start { pipeline, trigger, run_id: args.run_id.clone().unwrap_or_else(new_run_id) };
    let outcome = if args.redis.redis.is_some() {
        let engine = Arc::new(args.redis.connect(&manifest, None, args.concurrency)?);
        drive(engine, plugins, args.concurrency, job, OnInterrupt::Leave)?
    } else {
        let actors = manifest.actors.keys().map(|a| a.to_string());
        let engine =
            Arc::new(EmbeddedEngine::new(actors, super::log_level()).with_external(manifest.external_actors()));
        drive(engine, plugins, args.concurrency.max(1), job, OnInterrupt::Cancel)?
    };
    report(outcome, args.json)
}

/// Drive `job` on `engine` with `concurrency` local workers.
pub fn drive<E: Engine>(
    engine: Arc<E>,
    plugins: Arc<Plugins>,
    concurrency: usize,
    job: Job,
    on_interrupt: OnInterrupt,
) -> anyhow::Result<Driven> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let run_id = job.run_id().to_string();
    let outcome = runtime.block_on(async {
        let _workers = (concurrency > 0).then(|| troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency));
        let orchestrator = Orchestrator::new(engine.clone(), plugins);
        let driving = async {
            match job {
                Job::Start { pipeline, trigger, run_id } => {
                    orchestrator.run_as(&run_id, &pipeline, trigger, &Progress::new()).await
                }
                Job::Resume { run_id } => orchestrator.resume(&run_id, &Progress::new()).await,
            }
        };
        tokio::pin!(driving);
        tokio::select! {
            outcome = &mut driving => Driven::Ran(outcome),
            // A runtime that cannot listen for signals disables this branch (never a cancel).
            Ok(()) = tokio::signal::ctrl_c() => match on_interrupt {
                // The orchestrator sees the cancel at its next look and stops.
                OnInterrupt::Cancel if engine.cancel_run(&run_id).is_ok() => Driven::Ran(driving.await),
                OnInterrupt::Cancel => Driven::Interrupted { run_id: run_id.clone(), left_running: false },
                OnInterrupt::Leave => Driven::Interrupted { run_id: run_id.clone(), left_running: true },
            },
        }
    });
    runtime.shutdown_background();
    Ok(outcome)
}

/// Print how the run ended; exit 0 (succeeded), 1 (failed), 2 (invalid) or 130
/// (cancelled, or interrupted by Ctrl-C).
pub fn report(driven: Driven, json: bool) -> anyhow::Result<ExitCode> {
    let outcome = match driven {
        Driven::Ran(outcome) => outcome,
        Driven::Interrupted { run_id, left_running: true } => {
            eprintln!(
                "interrupted: this process stopped driving run {run_id}, which stays in Redis with no orchestrator \
                 (`troupe status` shows it orphaned once its lease lapses): `troupe resume {run_id}` carries it on, \
                 `troupe cancel {run_id}` ends it"
            );
            return Ok(ExitCode::from(INTERRUPTED));
        }
        Driven::Interrupted { run_id, left_running: false } => {
            eprintln!("interrupted before run {run_id} started: nothing ran");
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    match outcome {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report.context)?);
            } else {
                println!("run {} finished", report.run_id);
                for s in &report.stages {
                    let c = &s.counts;
                    println!(
                        "  {:<24} {:<16} {:>7} tasks  {:>5} failed  {:>5} skipped  {:>5} stragglers  {:>7} ms",
                        s.name,
                        s.mode,
                        c.expected.unwrap_or(0),
                        c.failed,
                        c.skipped,
                        c.stragglers,
                        s.duration_ms
                    );
                }
                for served in &report.served_by {
                    println!("  {:<24} served by {}", served.actor, served.workers.join(", "));
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
        Err(e @ RunError::Cancelled { .. }) => {
            eprintln!("{e}: its orchestrator stopped and tasks not yet started were dropped");
            Ok(ExitCode::from(INTERRUPTED))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `--run-id`, refused at once when it cannot name a run.
fn run_id(text: &str) -> Result<String, String> {
    match troupe::orchestrator::run_id_problem(text) {
        Some(why) => Err(why),
        None => Ok(text.to_string()),
    }
}
