//! `troupe cancel RUN_ID`: end a Redis run from any process. Its orchestrator, if alive,
//! stops at once; its tasks not yet started are never run (workers drop them); its keys
//! expire after the retention; `troupe status` says `cancelled`.
//!
//! A run on the embedded engine lives inside its `troupe run` process and nowhere else,
//! so there is nothing to reach from here: Ctrl-C on that process cancels it.

use super::redis_args::RedisArgs;
use clap::Args;
use std::process::ExitCode;
use troupe::engine::{RedisEngine, RunStore};

#[derive(Args)]
pub struct CancelArgs {
    /// The run to end (as `troupe run` printed it, or `troupe status` lists it).
    run_id: String,
    #[command(flatten)]
    redis: RedisArgs,
}

pub fn run(args: CancelArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = args.redis.redis.as_deref() else {
        eprintln!(
            "error: troupe cancel needs --redis URL (or TROUPE_REDIS): it ends runs kept in Redis.\n\
             A run on the embedded engine (troupe run without --redis) lives only inside its troupe run \
             process: press Ctrl-C there (or send it SIGINT: kill -INT <pid>) to cancel it."
        );
        return Ok(ExitCode::from(2));
    };
    let engine = RedisEngine::connect(&args.redis.options(url, None, 1), Vec::new(), super::log_level())?;
    engine.cancel_run(&args.run_id)?;
    let kept = match args.redis.retain_hours {
        0 => "its state stays in Redis (--retain-hours 0)".to_string(),
        h => format!("its state stays in Redis for {h} h (--retain-hours)"),
    };
    println!("run {} cancelled: its orchestrator stops, tasks not yet started will not run, and {kept}", args.run_id);
    Ok(ExitCode::SUCCESS)
}
