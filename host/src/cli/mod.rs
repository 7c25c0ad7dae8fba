//! Command-line parsing (clap) and dispatch; one file per subcommand.

mod cancel;
mod compile;
mod dry_run;
mod hot_reload;
mod logging;
mod new;
mod plugins;
mod progress;
mod redis_args;
mod remote;
mod resume;
mod run;
mod serve;
mod status;
mod test;
mod validate;
mod worker;

use anyhow::anyhow;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use troupe::plugin::{CacheOutcome, CompileCache, LoadOptions, Plugins};
use troupe::{LogLevel, Manifest};

#[derive(Parser)]
#[command(name = "troupe", version, about = "Run pipelines whose orchestration patterns are WebAssembly plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every executor and actor the manifest names, loading each one.
    Plugins(plugins::PluginsArgs),
    /// Run a pipeline (on the embedded engine, or on Redis with --redis), with live
    /// progress per stage.
    Run(run::RunArgs),
    /// Serve the HTTP API that applications submit runs to, until SIGTERM.
    Serve(serve::ServeArgs),
    /// Serve actors to every run in a Redis until SIGTERM.
    Worker(worker::WorkerArgs),
    /// Show where a Redis run stands, stage by stage.
    Status(status::StatusArgs),
    /// Carry a Redis run on after its orchestrator died.
    Resume(resume::ResumeArgs),
    /// End a Redis run from any process: its orchestrator stops, tasks not yet started
    /// are not run, its keys expire after the retention.
    Cancel(cancel::CancelArgs),
    /// Check a pipeline: print every problem and exit 1, or print nothing and exit 0.
    Validate(validate::ValidateArgs),
    /// Compile a WDL-style program (.wdl) and print its JSON pipeline definition.
    Compile(compile::CompileArgs),
    /// Call one executor on a stage definition against an in-memory host, and print what
    /// it validated, planned, enqueued and returned. Nothing runs.
    DryRun(dry_run::DryRunArgs),
    /// Run one stage through its executor in the plugin harness: task outcomes from a
    /// script, on a virtual clock; print a per-attempt timeline and the stage's result.
    /// Exit 0 succeeded, 1 failed, 2 invalid input.
    Test(test::TestArgs),
    /// Scaffold a plugin crate (`troupe new executor NAME`, `troupe new actor NAME`) that
    /// builds with the commands in its README.
    New(new::NewArgs),
}

/// The exit status of every command given an invalid pipeline or program (syntax,
/// compile errors, validation problems): 0 is success, 1 any other failure.
pub fn invalid() -> ExitCode {
    ExitCode::from(2)
}

/// Options every command that loads plugins takes.
#[derive(Args, Clone)]
pub struct ManifestArgs {
    /// The manifest naming each mode's and actor's component.
    #[arg(long, default_value = "troupe.toml", env = "TROUPE_MANIFEST")]
    pub manifest: PathBuf,
    /// Where compiled components are cached (default: $TROUPE_CACHE_DIR, else
    /// $XDG_CACHE_HOME/troupe, else ~/.cache/troupe).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Compile every component afresh; read and write no cache.
    #[arg(long)]
    pub no_cache: bool,
}

impl ManifestArgs {
    pub fn load_options(&self) -> LoadOptions {
        let cache = if self.no_cache { None } else { self.cache_dir.clone().or_else(CompileCache::default_dir) };
        LoadOptions {
            cache: cache.map(CompileCache::new),
            builtins: troupe::actors::BUILTINS.iter().map(|b| b.to_string()).collect(),
        }
    }

    /// Load the manifest and every plugin it names.
    pub fn load_plugins(&self) -> anyhow::Result<(Arc<Plugins>, Manifest)> {
        let manifest = Manifest::load(&self.manifest)?;
        let plugins = Plugins::load(&manifest, &self.load_options()).map_err(|e| anyhow!("{e}"))?;
        cache_notes(&plugins);
        Ok((Arc::new(plugins), manifest))
    }
}

/// Say on stderr when a cached artifact was rejected or the cache refused, so a
/// tampered or unsafe cache never goes unnoticed (the load itself goes on).
fn cache_notes(plugins: &Plugins) {
    let components = plugins.executors().map(|(_, p)| p.info()).chain(plugins.actors().filter_map(|(_, a)| match a {
        troupe::plugin::Actor::Component(p) => Some(p.info()),
        troupe::plugin::Actor::Builtin(_) | troupe::plugin::Actor::External(_) => None,
    }));
    for info in components {
        if matches!(info.cache, CacheOutcome::Rejected(_) | CacheOutcome::Refused(_)) {
            eprintln!("troupe: compile cache of {} {}: {}", info.role, info.name, info.cache);
        }
    }
}

/// The least severe plugin log level printed: `$TROUPE_LOG` (trace, debug, info, warn,
/// error), default warn.
pub fn log_level() -> LogLevel {
    match std::env::var("TROUPE_LOG").unwrap_or_default().to_ascii_lowercase().as_str() {
        "trace" => LogLevel::Trace,
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "error" => LogLevel::Error,
        _ => LogLevel::Warn,
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plugins(args) => plugins::run(args),
        Command::DryRun(args) => dry_run::run(args),
        Command::Test(args) => test::run(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Status(args) => status::run(args),
        Command::Resume(args) => resume::run(args),
        Command::Cancel(args) => cancel::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Compile(args) => compile::run(args),
        Command::New(args) => new::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
