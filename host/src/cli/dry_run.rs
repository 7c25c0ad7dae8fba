//! `troupe dry-run`: the plugin harness from the command line. Calls `validate`, `plan`
//! and `execute` of one mode on a stage definition, against an in-memory host holding the
//! given context, and prints a JSON report of what the executor did.

use super::ManifestArgs;
use anyhow::{bail, Context as _};
use clap::Args;
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use troupe::RecordingHost;

#[derive(Args)]
pub struct DryRunArgs {
    /// The stage definition: a JSON file, or inline JSON.
    stage: String,
    /// The run's context (`{"trigger": ..., "<stage>": ...}`): a JSON file, or inline JSON.
    #[arg(long, default_value = "{}")]
    context: String,
    /// The run id the executor sees.
    #[arg(long, default_value = "dry-run")]
    run_id: String,
    #[command(flatten)]
    manifest: ManifestArgs,
}

fn json_arg(what: &str, arg: &str) -> anyhow::Result<Value> {
    // An argument that names an existing path is a file (and must be a regular one);
    // anything else is inline JSON.
    let text = if Path::new(arg).exists() {
        troupe::files::read_cli_text(Path::new(arg)).with_context(|| format!("cannot read {what} file {arg}"))?
    } else {
        arg.to_string()
    };
    serde_json::from_str(&text).with_context(|| format!("{what} is not JSON (give a file or inline JSON)"))
}

pub fn run(args: DryRunArgs) -> anyhow::Result<ExitCode> {
    let definition = json_arg("the stage", &args.stage)?;
    let context = json_arg("the context", &args.context)?;
    let Some(mode) = definition.get("mode").and_then(Value::as_str) else {
        bail!("the stage has no `mode` (a string naming an executor of the manifest)");
    };
    let (plugins, manifest) = args.manifest.load_plugins()?;
    let Some(executor) = plugins.executor(mode) else {
        let modes: Vec<&str> = plugins.executors().map(|(m, _)| m).collect();
        bail!("unknown mode `{mode}`; {} has: {}", manifest.file.display(), modes.join(", "));
    };

    let recorder = Arc::new(RecordingHost::with_actors(context, manifest.actors.keys().map(|a| a.to_string())));
    let stage = executor.stage(&args.run_id, &definition);
    let reported_name = executor.reported_name(recorder.clone())?;
    let problems = executor.validate(recorder.clone(), &stage)?;
    let mut report = json!({ "mode": mode, "executor": reported_name, "stage": stage.name, "problems": problems });
    if problems.is_empty() {
        let plan = executor.plan(recorder.clone(), &stage)?;
        let execution = executor.execute(recorder.clone(), &stage)?;
        let enqueued: Vec<Value> =
            recorder.enqueued().into_iter().map(|e| json!({ "task": e.task, "options": e.options })).collect();
        report["plan"] = serde_json::to_value(plan)?;
        report["execution"] = serde_json::to_value(execution)?;
        report["enqueued"] = Value::Array(enqueued);
    }
    let logs: Vec<Value> =
        recorder.logs().into_iter().map(|l| json!({ "level": l.level, "message": l.message })).collect();
    report["logs"] = Value::Array(logs);
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
