//! `troupe test`: the plugin harness from the command line. Runs one stage through its
//! executor on the harness's virtual clock, with task outcomes from a script, and prints
//! a per-attempt timeline and the stage's result (or `--json`).
//!
//! Exit status: 0 the stage succeeded, 1 it failed (as `troupe run` would fail it, with
//! the same error), 2 an input is invalid (a file that cannot be read or parsed, a bad
//! script, a stage the executor's `validate` refuses, an unknown mode).

use super::ManifestArgs;
use clap::Args;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use troupe::harness::{Harness, HarnessError, Script};

#[derive(Args)]
pub struct TestArgs {
    /// The stage definition (a JSON file); its `mode` picks the executor.
    stage: PathBuf,
    /// The run's context (`{"trigger": ..., "<stage>": ...}`), a JSON file (default `{}`).
    #[arg(long)]
    context: Option<PathBuf>,
    /// The outcome script, a JSON file: `workers`, `default`, `tasks` (default: every
    /// attempt returns its input at once, on 16 workers). See docs/writing-an-executor.md.
    #[arg(long)]
    outcomes: Option<PathBuf>,
    /// Test this executor component instead of the manifest's entry for the mode (its
    /// `has-actor` then knows every actor name).
    #[arg(long)]
    plugin: Option<PathBuf>,
    /// The run id the executor sees (and the failure text names).
    #[arg(long, default_value = troupe::harness::RUN_ID)]
    run_id: String,
    /// Print the report as one JSON document.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    manifest: ManifestArgs,
}

/// An input problem: printed, exit 2.
struct Invalid(String);

fn read_json(what: &str, path: &Path) -> Result<Value, Invalid> {
    let text = troupe::files::read_cli_text(path)
        .map_err(|e| Invalid(format!("cannot read the {what} file {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Invalid(format!("the {what} file {} is not JSON: {e}", path.display())))
}

pub fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    match test(&args) {
        Ok(code) => Ok(code),
        Err(Invalid(message)) => {
            eprintln!("error: {message}");
            Ok(super::invalid())
        }
    }
}

fn test(args: &TestArgs) -> Result<ExitCode, Invalid> {
    let definition = read_json("stage", &args.stage)?;
    let stage_file = args.stage.display();
    let mode = match definition.get("mode") {
        Some(Value::String(mode)) => mode.clone(),
        _ => {
            return Err(Invalid(format!("{stage_file}: `mode`: required, a string naming an executor of the manifest")))
        }
    };
    let context = match &args.context {
        Some(path) => read_json("context", path)?,
        None => Value::Object(Default::default()),
    };
    if !context.is_object() {
        let file = args.context.as_deref().unwrap_or(Path::new("")).display();
        return Err(Invalid(format!("{file}: `$`: the context must be an object such as {{\"trigger\": ...}}")));
    }
    let script = match &args.outcomes {
        Some(path) => {
            let value = read_json("outcomes", path)?;
            Script::from_json(&value, &path.display().to_string()).map_err(|e| Invalid(e.to_string()))?
        }
        None => Script::default(),
    };
    let harness = load(args, &mode)?.with_run_id(&args.run_id);
    let run = match harness.run_script(&definition, &context, &script) {
        Ok(run) => run,
        Err(HarnessError::Invalid(problems)) => {
            let list: String = problems
                .iter()
                .map(|p| format!("\n  {stage_file}: {}: {}", p.field, troupe::text::one_line(&p.message, 1024)))
                .collect();
            return Err(Invalid(format!(
                "the stage is invalid ({} problem{}):{list}",
                problems.len(),
                plural(problems.len())
            )));
        }
        Err(HarnessError::Stage(error)) => {
            // Failed before any task ran (`plan` or `execute`): the run's error, exit 1.
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
        Err(other) => {
            eprintln!("error: {other}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run.to_json()).unwrap_or_default());
    } else {
        print!("{}", run.timeline());
    }
    // A failed stage's error also goes to stderr, exactly as `troupe run` prints it.
    if let Some(error) = run.error() {
        eprintln!("error: {error}");
    }
    Ok(if run.succeeded() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The harness for `mode`: the given component, or the manifest's entry.
fn load(args: &TestArgs, mode: &str) -> Result<Harness, Invalid> {
    if let Some(file) = &args.plugin {
        return Harness::load(file, mode).map_err(|e| Invalid(e.to_string()));
    }
    let (plugins, manifest) = args.manifest.load_plugins().map_err(|e| Invalid(format!("{e:#}")))?;
    let actors: Vec<String> = manifest.actors.keys().map(|a| a.to_string()).collect();
    let harness = Harness::from_plugins(plugins.clone(), mode).ok_or_else(|| {
        let modes: Vec<&str> = plugins.executors().map(|(m, _)| m).collect();
        Invalid(format!(
            "{}: `mode`: unknown mode `{}`; {} has: {}",
            args.stage.display(),
            troupe::text::one_line(mode, 256),
            manifest.file.display(),
            modes.join(", ")
        ))
    })?;
    Ok(harness.with_actors(actors))
}
