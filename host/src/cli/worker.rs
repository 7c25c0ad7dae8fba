//! `troupe worker`: serve the manifest's actors to every run in a Redis, until SIGTERM or
//! Ctrl-C; then give back the tasks taken but not started and finish the ones running.

use super::redis_args::RedisArgs;
use super::ManifestArgs;
use anyhow::{bail, Context as _};
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use troupe::engine::RunStore as _;
use troupe::plugin::Pinned;

#[derive(Args)]
pub struct WorkerArgs {
    /// Serve only these actors (comma-separated; default: every actor of the manifest).
    #[arg(long, value_delimiter = ',')]
    actors: Option<Vec<String>>,
    /// How many actor invocations run at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    reload: super::hot_reload::ReloadArgs,
    #[command(flatten)]
    log: super::logging::LogArgs,
    /// Serve Prometheus metrics at http://ADDR/metrics (no token: listen on loopback or
    /// a private network).
    #[arg(long)]
    metrics_listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    redis: RedisArgs,
}

pub fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let _telemetry = args.log.init("info")?;
    // Listening before anything else: a SIGTERM while the plugins load or Redis connects
    // (a deploy scaling down a worker that just started) is kept and honoured as soon as
    // the worker serves, rather than killing the process uncleanly.
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let mut term = {
        let _inside = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?
    };
    let (plugins, manifest) = args.manifest.load_plugins()?;
    if let Some(actors) = &args.actors {
        for actor in actors {
            if plugins.actor(actor).is_none() {
                bail!(
                    "--actors names `{actor}`, which {} has no [actors.{actor}] for",
                    args.manifest.manifest.display()
                );
            }
        }
    }
    let engine = Arc::new(args.redis.connect(&manifest, args.actors.clone(), args.concurrency)?);
    // Each run is pinned to the plugins current at its first task here, so a reload
    // (hot reload) never changes a run's actors midway on this worker.
    let catalog = Arc::new(Pinned::pinning_on_sight(plugins));
    let workers = troupe::worker::spawn(engine.clone(), catalog.clone(), args.concurrency);
    // A troupe worker is also a hook host: it holds the manifest's executors, so the
    // stages' hooks run here too (never inside the actor workers).
    let hooks = troupe::gatekeeper::spawn(engine.clone(), catalog.clone());
    let accept = super::hot_reload::fixed_actors(&manifest);
    let _reload = super::hot_reload::start(&args.reload, &args.manifest, &manifest, catalog.clone(), accept, |_| {});
    let _unpin = super::hot_reload::sweep_ended(engine.clone(), catalog, std::time::Duration::from_secs(10));
    eprintln!(
        "troupe worker {}: serving {} with {} at once, and the stages' hooks",
        engine.consumer(),
        args.actors.as_ref().map_or("every actor".to_string(), |a| a.join(", ")),
        args.concurrency
    );
    if let Some(addr) = args.metrics_listen {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        let queues = engine.clone();
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let queues = queues.clone();
                async move {
                    let stats = tokio::task::spawn_blocking(move || queues.queue_stats().unwrap_or_default())
                        .await
                        .unwrap_or_default();
                    troupe::telemetry::metrics::encode(&stats)
                }
            }),
        );
        eprintln!("troupe worker {}: metrics at http://{}/metrics", engine.consumer(), listener.local_addr()?);
        runtime.spawn(async move { axum::serve(listener, router).await });
    }
    runtime.block_on(async {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        anyhow::Ok(())
    })?;
    let handed_back = engine.stop_taking()?;
    let ran = workers.shutdown();
    hooks.shutdown();
    eprintln!("troupe worker {}: stopped; ran {ran} tasks; gave back {handed_back} not started", engine.consumer());
    Ok(ExitCode::SUCCESS)
}
