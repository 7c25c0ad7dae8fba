//! `troupe serve`: the HTTP API over an engine (embedded, or Redis with `--redis`), until
//! SIGTERM or Ctrl-C; then it stops accepting, lets running runs finish for up to
//! `--drain-seconds` and, on the embedded engine, cancels what is left, recording why;
//! on Redis it leaves them there, for another host to resume.

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
use troupe::manifest::Manifest;
use troupe::plugin::Pinned;
use troupe::reload::Accept;
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
    reload: super::hot_reload::ReloadArgs,
    #[command(flatten)]
    log: super::logging::LogArgs,
    #[command(flatten)]
    redis: RedisArgs,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let _telemetry = args.log.init("info")?;
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
    let common = Common { catalog: Arc::new(Pinned::new(plugins)), manifest, pipelines, options, retention, drain };
    if args.redis.redis.is_some() {
        let engine = Arc::new(args.redis.connect(&common.manifest, None, args.concurrency)?);
        let taking = engine.clone();
        let stop_taking: StopTaking = Box::new(move || {
            if let Err(e) = taking.stop_taking() {
                eprintln!("troupe serve: cannot give back the tasks taken but not started: {e:#}");
            }
        });
        let accept = super::hot_reload::fixed_actors(&common.manifest);
        let parts = EngineParts { accept, forget: None, stop_taking: Some(stop_taking) };
        runtime.block_on(host(engine, common, parts, &args))
    } else {
        let manifest = &common.manifest;
        let actors = manifest.actors.keys().map(|a| a.to_string());
        let engine =
            Arc::new(EmbeddedEngine::new(actors, super::log_level()).with_external(manifest.external_actors()));
        let kept = engine.clone();
        let forget: serve::service::Forget = Box::new(move |id| {
            kept.forget_run(id);
        });
        // A reloaded manifest's new actors become known to the engine.
        let known = engine.clone();
        let accept: Accept = Box::new(move |m: &Manifest| {
            known.add_actors(m.actors.keys().map(|a| a.to_string()), m.external_actors());
            Ok(())
        });
        let parts = EngineParts { accept, forget: Some(forget), stop_taking: None };
        runtime.block_on(host(engine, common, parts, &args))
    }
}

/// On Redis: stop taking tasks and give back those taken but not started.
type StopTaking = Box<dyn FnOnce() + Send>;

/// What the server is made of, whatever its engine.
struct Common {
    catalog: Arc<Pinned>,
    manifest: Manifest,
    pipelines: std::collections::BTreeMap<String, troupe::pipeline::Pipeline>,
    options: ServeOptions,
    retention: Duration,
    drain: Duration,
}

/// What differs by engine.
struct EngineParts {
    /// What a reloaded manifest must pass on this engine.
    accept: Accept,
    /// The embedded engine forgets a run when the server does.
    forget: Option<serve::service::Forget>,
    stop_taking: Option<StopTaking>,
}

async fn host<E: Engine>(
    engine: Arc<E>,
    common: Common,
    parts: EngineParts,
    args: &ServeArgs,
) -> anyhow::Result<ExitCode> {
    let Common { catalog, manifest, pipelines, options, retention, drain } = common;
    let EngineParts { accept, forget, stop_taking } = parts;
    let embedded = forget.is_some();
    let concurrency = if embedded { args.concurrency.max(1) } else { args.concurrency };
    let workers = (concurrency > 0).then(|| troupe::worker::spawn(engine.clone(), catalog.clone(), concurrency));
    // The service hears of reloads from the watcher, which needs the service's reloader:
    // the watcher's callback reaches the service through this slot, filled just after.
    let slot: Arc<std::sync::OnceLock<Arc<dyn Runs>>> = Arc::default();
    let announce = slot.clone();
    let reload = super::hot_reload::start(&args.reload, &args.manifest, &manifest, catalog.clone(), accept, move |o| {
        if let Some(service) = announce.get() {
            service.reloaded(o);
        }
    });
    let reloader = reload.as_ref().map(|(r, _)| r.clone());
    let service: Arc<dyn Runs> = Service::new(engine, catalog, reloader, pipelines, retention, forget);
    let _ = slot.set(service.clone());
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
        if !left.is_empty() && !embedded {
            // On Redis a run outlives its server: its state is all in Redis, and another
            // orchestrator carries it on once this one's lease lapses.
            eprintln!(
                "troupe serve: leaving {} run(s) in Redis to be resumed (`troupe resume RUN`): {}",
                left.len(),
                left.join(", ")
            );
        } else if !left.is_empty() {
            eprintln!("troupe serve: cancelling {} run(s) still running: {}", left.len(), left.join(", "));
            service.interrupt_all("interrupted: the server shut down before the run ended");
            let started = Instant::now();
            while !service.running().is_empty() && started.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // On Redis this process's workers hand back what they took but did not start and
    // finish what they run (its outcome recorded), as `troupe worker` does on SIGTERM:
    // nothing waits for a visibility timeout before another worker runs it.
    if let Some(stop_taking) = stop_taking {
        stop_taking();
        if let Some(workers) = workers {
            tokio::task::spawn_blocking(move || workers.shutdown()).await.ok();
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
