//! `troupe resume RUN_ID`: carry a Redis run on after its orchestrator died.

use super::redis_args::RedisArgs;
use super::run::{drive, report, Job, OnInterrupt};
use super::ManifestArgs;
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct ResumeArgs {
    /// The run to carry on (as `troupe run` printed it).
    run_id: String,
    /// How many actor invocations this process runs at once (0: leave them to
    /// `troupe worker` processes).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Print the final context as one JSON document on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    redis: RedisArgs,
}

pub fn run(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let (plugins, manifest) = args.manifest.load_plugins()?;
    let engine = Arc::new(args.redis.connect(&manifest, None, args.concurrency)?);
    let outcome = drive(engine, plugins, args.concurrency, Job::Resume { run_id: args.run_id }, OnInterrupt::Leave)?;
    report(outcome, args.json)
}
