//! Hot reload for the long-lived commands (`troupe serve`, `troupe worker`): the
//! `--watch-ms` option, and starting the watcher with what the engine must accept.

use super::ManifestArgs;
use clap::Args;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use troupe::engine::{Engine, RunStatus};
use troupe::manifest::Manifest;
use troupe::plugin::Pinned;
use troupe::reload::{self, Accept, Outcome, Reloader, Watch};

#[derive(Args, Clone)]
pub struct ReloadArgs {
    /// How often to look for a changed manifest or component, in milliseconds: a change
    /// that loads and checks serves runs started after it, running runs keep their
    /// plugins. 0 turns hot reload off.
    #[arg(long, default_value_t = 1000)]
    pub watch_ms: u64,
}

/// Start watching `manifest` (loaded into `catalog`) unless `--watch-ms 0`; each reload
/// or refusal is logged and handed to `on`.
pub fn start(
    args: &ReloadArgs,
    manifest_args: &ManifestArgs,
    manifest: &Manifest,
    catalog: Arc<Pinned>,
    accept: Accept,
    on: impl Fn(&Outcome) + Send + 'static,
) -> Option<(Arc<Reloader>, Watch)> {
    if args.watch_ms == 0 {
        return None;
    }
    let reloader = Arc::new(Reloader::new(manifest, manifest_args.load_options(), catalog, accept));
    let watch = reload::watch(reloader.clone(), Duration::from_millis(args.watch_ms), move |outcome| {
        if let Some(line) = reload::describe(outcome) {
            eprintln!("troupe: {line}");
        }
        on(outcome);
    });
    Some((reloader, watch))
}

/// On Redis the engine reads a fixed set of actor streams: a manifest that adds an actor
/// is refused (restart to add one); changing or removing entries is fine.
pub fn fixed_actors(manifest: &Manifest) -> Accept {
    let known: HashSet<String> = manifest.actors.keys().map(|a| a.to_string()).collect();
    Box::new(move |new: &Manifest| {
        let mut added: Vec<String> = new.actors.keys().map(|a| a.to_string()).filter(|a| !known.contains(a)).collect();
        added.sort();
        if added.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "{} adds actor(s) {}: on Redis this process reads a fixed set of actor streams; restart it to serve a new actor",
                new.file.display(),
                added.join(", ")
            )
        }
    })
}

/// Unpin runs that have ended, every `every`, while the returned guard lives (a worker
/// pins a run on its first task and never sees it end).
pub fn sweep_ended<E: Engine>(engine: Arc<E>, catalog: Arc<Pinned>, every: Duration) -> Watch {
    let stop = Watch::new();
    let stopped = stop.flag();
    std::thread::Builder::new()
        .name("troupe-unpin".into())
        .spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(every);
                for run_id in catalog.pinned_runs() {
                    let over = match engine.run_exists(&run_id) {
                        Ok(false) => true,
                        Ok(true) => !matches!(engine.run_status(&run_id), Ok(RunStatus::Running) | Err(_)),
                        Err(_) => false,
                    };
                    if over {
                        catalog.unpin(&run_id);
                    }
                }
            }
        })
        .expect("cannot start the unpin thread");
    stop
}
