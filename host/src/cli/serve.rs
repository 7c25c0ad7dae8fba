//! `troupe serve`: the HTTP API over an engine (embedded, or Redis with `--redis`), until
//! SIGTERM or Ctrl-C; then it stops accepting, lets running runs finish for up to
//! `--drain-seconds` and, on the embedded engine, cancels what is left, recording why.

use super::redis_args::RedisArgs;
use super::ManifestArgs;
use anyhow::Context as _;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::engine::{EmbeddedEngine, Engine};
use troupe::plugin::Plugins;
use troupe::serve::{self, Runs, ServeOptions, Service};

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen. Beyond loopback a token is required.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A folder of named pipelines (.json, .yaml, .yml, .wdl; named by file stem).
    #[arg(long)]
    pipelines: Option<PathBuf>,
    /// The bearer token every request but the health check must carry.
    #[arg(long, env = "TROUPE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// How many actor invocations this process runs at once (0 with --redis: workers
    /// elsewhere serve every run).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 16)]
    max_body_mib: usize,
    /// How long an ended run stays listed (and, on the embedded engine, kept), in minutes.
    #[arg(long, default_value_t = 60)]
    retain_minutes: u64,
    /// On SIGTERM, how long running runs may take to finish before they are cancelled.
    #[arg(long, default_value_t = 30)]
    drain_seconds: u64,
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    redis: RedisArgs,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let options = ServeOptions { token: args.token.clone(), max_body_bytes: args.max_body_mib << 20 };
    serve::check(args.listen, &options)?;
    let pipelines = match &args.pipelines {
        Some(dir) => serve::pipelines::load(dir)?,
        None => Default::default(),
    };
    let (plugins, manifest) = args.manifest.load_plugins()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let retention = Duration::from_secs(args.retain_minutes * 60);
    let drain = Duration::from_secs(args.drain_seconds);
    if args.redis.redis.is_some() {
        let engine = Arc::new(args.redis.connect(&manifest, None, args.concurrency)?);
        runtime.block_on(host(engine, plugins, pipelines, &args, options, retention, drain, None))
    } else {
        let actors = manifest.actors.keys().map(|a| a.to_string());
        let engine =
            Arc::new(EmbeddedEngine::new(actors, super::log_level()).with_external(manifest.external_actors()));
        let kept = engine.clone();
        let forget: serve::service::Forget = Box::new(move |id| {
            kept.forget_run(id);
        });
        runtime.block_on(host(engine, plugins, pipelines, &args, options, retention, drain, Some(forget)))
    }
}

#[allow(clippy::too_many_arguments)]
async fn host<E: Engine>(
    engine: Arc<E>,
    plugins: Arc<Plugins>,
    pipelines: std::collections::BTreeMap<String, troupe::pipeline::Pipeline>,
    args: &ServeArgs,
    options: ServeOptions,
    retention: Duration,
    drain: Duration,
    forget: Option<serve::service::Forget>,
) -> anyhow::Result<ExitCode> {
    let concurrency = if forget.is_some() { args.concurrency.max(1) } else { args.concurrency };
    let _workers = (concurrency > 0).then(|| troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency));
    let service: Arc<dyn Runs> = Service::new(engine, plugins, pipelines, retention, forget);
    let _retention =
        serve::spawn_retention(service.clone(), (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60)));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener.local_addr()?;
    // One line a script can wait for (the port, when --listen asked for port 0).
    eprintln!("troupe serve: listening on http://{bound} (API under /v1, described at /v1/openapi.json)");
    serve::serve(listener, serve::router(service.clone(), &options), stop_signal()).await?;

    let running = service.running();
    if !running.is_empty() {
        eprintln!("troupe serve: stopping; waiting up to {drain:?} for {} running run(s)", running.len());
        let started = Instant::now();
        while !service.running().is_empty() && started.elapsed() < drain {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let left = service.running();
        if !left.is_empty() {
            eprintln!("troupe serve: cancelling {} run(s) still running: {}", left.len(), left.join(", "));
            service.interrupt_all("interrupted: the server shut down before the run ended");
            let started = Instant::now();
            while !service.running().is_empty() && started.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    eprintln!("troupe serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or Ctrl-C.
async fn stop_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
