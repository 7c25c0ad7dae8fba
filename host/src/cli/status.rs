//! `troupe status [RUN_ID]`: where a Redis run stands, stage by stage, read from Redis
//! alone (no orchestrator needs to be alive). A running run whose orchestrator's lease
//! lapsed is shown as `orphaned`, with the command that carries it on.

use super::redis_args::RedisArgs;
use clap::Args;
use serde_json::json;
use std::process::ExitCode;
use troupe::engine::{RedisEngine, RunStatus, RunStore};

#[derive(Args)]
pub struct StatusArgs {
    /// The run (default: list the latest runs).
    run_id: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    redis: RedisArgs,
}

/// Where a run stands for people: its status, except that a running run no orchestrator
/// holds is `orphaned` (its orchestrator died or was stopped; nothing drives it).
struct Standing {
    /// `running`, `orphaned`, `succeeded`, `failed`, `cancelled`.
    state: &'static str,
    /// The status in words (a failure's reason included), made safe for a terminal.
    words: String,
    /// The command that carries an orphaned run on.
    resume: Option<String>,
}

fn standing(engine: &dyn RunStore, run_id: &str, status: &RunStatus, prefix: &str) -> anyhow::Result<Standing> {
    let orphaned = *status == RunStatus::Running && engine.lease_holder(run_id)?.is_none();
    let state = match status {
        RunStatus::Running if orphaned => "orphaned",
        RunStatus::Running => "running",
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed(_) => "failed",
        RunStatus::Cancelled => "cancelled",
    };
    let resume = orphaned.then(|| {
        let prefix = if prefix == "troupe" { String::new() } else { format!(" --redis-prefix {prefix}") };
        format!("troupe resume {run_id}{prefix}")
    });
    let words = match &resume {
        Some(command) => format!(
            "orphaned (no orchestrator holds it: its lease lapsed); carry it on with `{command}`, or end it with `troupe cancel {run_id}`"
        ),
        None => troupe::text::block(&status.word(), troupe::text::BLOCK_BUDGET),
    };
    Ok(Standing { state, words, resume })
}

pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let url =
        args.redis.redis.as_deref().ok_or_else(|| anyhow::anyhow!("status needs --redis URL (or TROUPE_REDIS)"))?;
    let engine = RedisEngine::connect(&args.redis.options(url, None, 1), Vec::new(), super::log_level())?;
    let Some(run_id) = args.run_id else {
        for run in engine.recent_runs(20)? {
            // A run past its retention has no keys left: say so instead of erroring.
            let status = match engine.run_exists(&run)? {
                true => match engine.run_status(&run) {
                    Ok(status) => standing(&engine, &run, &status, &args.redis.redis_prefix)?.words,
                    Err(e) => format!("{e:#}"),
                },
                false => "expired (ended longer ago than --retain-hours)".to_string(),
            };
            println!("{run}  {status}");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let record = engine.run_record(&run_id)?;
    let pipeline = record.pipeline()?;
    let standing = standing(&engine, &run_id, &record.status, &args.redis.redis_prefix)?;
    let mut stages = Vec::new();
    for (i, def) in pipeline.stages.iter().enumerate() {
        let name = def["name"].as_str().unwrap_or_default().to_string();
        let mode = def["mode"].as_str().unwrap_or_default().to_string();
        let counts = if i <= record.stage { engine.counts(&run_id, &name).ok() } else { None };
        stages.push((name, mode, counts));
    }
    // What a running run waits for in silence: tasks no worker reads.
    let unread = match record.status {
        RunStatus::Running => engine.unread(&run_id).unwrap_or_default(),
        _ => Vec::new(),
    };
    // Who reads its tasks, while it runs and after (the streams outlive the run until
    // its retention ends): a run's results can then be traced to the processes.
    let served_by = engine.served_by(&run_id).unwrap_or_default();
    let current = pipeline.stages.get(record.stage).and_then(|s| s["name"].as_str()).unwrap_or_default().to_string();
    if args.json {
        let stages: Vec<_> =
            stages.iter().map(|(name, mode, counts)| json!({ "name": name, "mode": mode, "counts": counts })).collect();
        let mut out = json!({ "run": run_id, "state": standing.state, "status": record.status, "stage": record.stage, "stages": stages });
        if let Some(command) = standing.resume {
            out["resume"] = json!(command);
        }
        out["unread"] = json!(unread);
        out["served_by"] = json!(served_by);
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("run {run_id}: {} (pipeline {})", standing.words, pipeline.name);
    println!(
        "  {:<24} {:<16} {:>9} {:>9} {:>7} {:>7} {:>9} {:>8} {:>10}",
        "stage", "mode", "expected", "succeeded", "failed", "skipped", "in-flight", "waiting", "stragglers"
    );
    for (name, mode, counts) in stages {
        match counts {
            Some(c) => println!(
                "  {:<24} {:<16} {:>9} {:>9} {:>7} {:>7} {:>9} {:>8} {:>10}",
                name,
                mode,
                c.expected.map_or("?".to_string(), |e| e.to_string()),
                c.succeeded,
                c.failed,
                c.skipped,
                c.in_flight,
                c.waiting,
                c.stragglers
            ),
            None => println!("  {name:<24} {mode:<16} {:>9}", "not started"),
        }
    }
    for served in &served_by {
        println!("  {:<24} served by {}", served.actor, served.workers.join(", "));
    }
    for u in &unread {
        println!("{}", super::progress::unread_line(&current, u));
    }
    Ok(ExitCode::SUCCESS)
}
