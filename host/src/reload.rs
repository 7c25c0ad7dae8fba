//! Hot reload: a long-lived host (`troupe serve`, `troupe worker`) watches its manifest
//! and plugins folder, loads a changed set off the serving path, and swaps it into its
//! [`Pinned`] catalog when every entry loads and checks (pin, WIT version, world,
//! grants). Runs pinned to the old set finish on it; a set that fails to load is
//! refused whole and the old one keeps serving, with the error kept for the plugin list.
//!
//! Why polling (mtime, size and inode, every interval) rather than inotify: it sees a
//! file replaced by rename, a folder on any file system, and a manifest outside the
//! plugins folder, with no extra crate; one `stat` per file a second costs nothing. A
//! change is acted on once it has held still for one interval, so a component being
//! copied in is not loaded half-written.

use crate::manifest::{ActorSource, Manifest};
use crate::plugin::{Actor, Catalog, LoadOptions, Pinned, Plugins};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Reloads and refusals kept for the plugin list.
const HISTORY: usize = 50;

/// What a reload changed in one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// `mode` or `actor`.
    pub role: String,
    pub name: String,
    /// The version before (a component's sha256, `builtin:NAME` or `external`); absent
    /// when the entry is new.
    pub from: Option<String>,
    /// The version after; absent when the entry was removed.
    pub to: Option<String>,
}

/// One attempt to load a changed manifest or plugins folder.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reload {
    /// RFC 3339, UTC.
    pub at: String,
    /// Whether the new set now serves new runs.
    pub applied: bool,
    /// The entries that changed (empty when only settings did); for a refused set, what
    /// would have changed is unknown and this is empty.
    pub changes: Vec<Change>,
    /// Why the set was refused (every entry that failed, one a line).
    pub error: Option<String>,
}

/// What a watcher's look at the files found.
#[derive(Debug, Clone)]
pub enum Outcome {
    Unchanged,
    Reloaded(Reload),
    Refused(Reload),
}

/// The version of every entry of a set: a component's sha256, `builtin:NAME` or
/// `external`, by (role, name).
pub fn versions(plugins: &Plugins) -> BTreeMap<(String, String), String> {
    let mut versions = BTreeMap::new();
    for (name, p) in plugins.executors() {
        versions.insert(("mode".to_string(), name.to_string()), p.info().sha256.clone());
    }
    for (name, a) in plugins.actors() {
        let version = match a {
            Actor::Component(p) => p.info().sha256.clone(),
            Actor::Builtin(b) => format!("builtin:{b}"),
            Actor::External(_) => "external".to_string(),
        };
        versions.insert(("actor".to_string(), name.to_string()), version);
    }
    versions
}

fn changes(old: &Plugins, new: &Plugins) -> Vec<Change> {
    let (old, new) = (versions(old), versions(new));
    let mut keys: Vec<&(String, String)> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| Change { role: k.0.clone(), name: k.1.clone(), from: old.get(k).cloned(), to: new.get(k).cloned() })
        .collect()
}

/// What the engine must accept before a new set serves: on the embedded engine, actors
/// the new manifest adds (an error refuses the set).
pub type Accept = Box<dyn Fn(&Manifest) -> anyhow::Result<()> + Send + Sync>;

/// One file's identity as the watcher compares it.
type Stamp = Option<(SystemTime, u64, u64)>;

struct Watched {
    /// What the files looked like when last loaded (or refused).
    applied: Vec<(PathBuf, Stamp)>,
    /// A change seen once; loaded when it holds still until the next look.
    pending: Option<Vec<(PathBuf, Stamp)>>,
    /// The component files the last manifest read named.
    components: Vec<PathBuf>,
    loaded_at: SystemTime,
    history: VecDeque<Reload>,
}

/// Watches one manifest and its plugins folder for a [`Pinned`] catalog.
pub struct Reloader {
    manifest: PathBuf,
    options: LoadOptions,
    catalog: Arc<Pinned>,
    accept: Accept,
    watched: Mutex<Watched>,
}

impl Reloader {
    /// A reloader for the set `catalog` serves now, loaded from `manifest`.
    pub fn new(manifest: &Manifest, options: LoadOptions, catalog: Arc<Pinned>, accept: Accept) -> Reloader {
        let components = component_files(manifest);
        let applied = stamps(&manifest.file, &manifest.plugins_dir, &components);
        Reloader {
            manifest: manifest.file.clone(),
            options,
            catalog,
            accept,
            watched: Mutex::new(Watched {
                applied,
                pending: None,
                components,
                loaded_at: SystemTime::now(),
                history: VecDeque::new(),
            }),
        }
    }

    fn watched(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the set serving new runs was loaded.
    pub fn loaded_at(&self) -> SystemTime {
        self.watched().loaded_at
    }

    /// The latest reloads and refusals, oldest first.
    pub fn history(&self) -> Vec<Reload> {
        self.watched().history.iter().cloned().collect()
    }

    /// The newest refusal, if it came after the last reload that applied (the files on
    /// disk are not what serves).
    pub fn error(&self) -> Option<Reload> {
        self.watched().history.back().filter(|r| !r.applied).cloned()
    }

    /// Look at the files once; load and swap a change that has held still since the
    /// last look. Blocking (a load compiles what changed): call it off the serving path.
    pub fn check(&self) -> Outcome {
        let components = self.watched().components.clone();
        let now = stamps(&self.manifest, &self.plugins_dir_hint(), &components);
        {
            let mut watched = self.watched();
            if now == watched.applied {
                watched.pending = None;
                return Outcome::Unchanged;
            }
            if watched.pending.as_ref() != Some(&now) {
                watched.pending = Some(now);
                return Outcome::Unchanged;
            }
        }
        let outcome = self.load();
        let mut watched = self.watched();
        // Stamp what was loaded (or refused), including files the new manifest names:
        // a refused set is tried again only when something changes again.
        if let Ok(manifest) = Manifest::load(&self.manifest) {
            watched.components = component_files(&manifest);
        }
        watched.applied = stamps(&self.manifest, &self.plugins_dir_hint(), &watched.components);
        watched.pending = None;
        let record = match &outcome {
            Outcome::Reloaded(r) | Outcome::Refused(r) => r.clone(),
            Outcome::Unchanged => return outcome,
        };
        crate::telemetry::metrics::reload(record.applied);
        if record.applied {
            watched.loaded_at = SystemTime::now();
        }
        watched.history.push_back(record);
        while watched.history.len() > HISTORY {
            watched.history.pop_front();
        }
        outcome
    }

    /// The plugins folder the manifest names now (its own folder while it does not
    /// parse).
    fn plugins_dir_hint(&self) -> PathBuf {
        match Manifest::load(&self.manifest) {
            Ok(m) => m.plugins_dir,
            Err(_) => self.manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
        }
    }

    fn load(&self) -> Outcome {
        let at = crate::serve::service::timestamp(SystemTime::now());
        let refused = |error: String| {
            Outcome::Refused(Reload {
                at: at.clone(),
                applied: false,
                changes: Vec::new(),
                error: Some(crate::text::truncate(&error, 16 * 1024)),
            })
        };
        let manifest = match Manifest::load(&self.manifest) {
            Ok(m) => m,
            Err(e) => return refused(e.to_string()),
        };
        let plugins = match Plugins::load(&manifest, &self.options) {
            Ok(p) => p,
            Err(e) => return refused(e.to_string()),
        };
        if let Err(e) = (self.accept)(&manifest) {
            return refused(format!("{e:#}"));
        }
        let changes = changes(&self.catalog.current(), &plugins);
        self.catalog.replace(Arc::new(plugins));
        Outcome::Reloaded(Reload { at, applied: true, changes, error: None })
    }
}

/// Every component file a manifest names.
fn component_files(manifest: &Manifest) -> Vec<PathBuf> {
    let executors = manifest.executors.values().map(|e| e.component.clone());
    let actors = manifest.actors.values().filter_map(|a| match &a.source {
        ActorSource::Component { path, .. } => Some(path.clone()),
        _ => None,
    });
    executors.chain(actors).collect()
}

/// The manifest, every entry of the plugins folder and every component the manifest
/// names, each with its modification time, size and inode (none when it is missing).
fn stamps(manifest: &Path, plugins_dir: &Path, components: &[PathBuf]) -> Vec<(PathBuf, Stamp)> {
    use std::os::unix::fs::MetadataExt;
    let stamp = |path: &Path| -> Stamp {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len(), meta.ino()))
    };
    let mut paths = vec![manifest.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(plugins_dir) {
        paths.extend(entries.flatten().map(|e| e.path()));
    }
    paths.extend(components.iter().cloned());
    paths.sort();
    paths.dedup();
    paths.into_iter().map(|p| (p.clone(), stamp(&p))).collect()
}

/// A watcher thread; dropping it stops the thread at its next look.
pub struct Watch {
    stop: Arc<AtomicBool>,
}

impl Watch {
    /// A guard for a thread of the caller's, which polls [`Watch::flag`].
    pub fn new() -> Watch {
        Watch { stop: Arc::new(AtomicBool::new(false)) }
    }

    /// Set when the guard is dropped.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

impl Default for Watch {
    fn default() -> Self {
        Watch::new()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Look every `every` on a thread of its own, handing each reload or refusal to `on`.
pub fn watch(reloader: Arc<Reloader>, every: Duration, on: impl Fn(&Outcome) + Send + 'static) -> Watch {
    let watch = Watch::new();
    let stopped = watch.flag();
    std::thread::Builder::new()
        .name("troupe-reload".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(every);
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let outcome = reloader.check();
                if !matches!(outcome, Outcome::Unchanged) {
                    on(&outcome);
                }
            }
        })
        .expect("cannot start the reload thread");
    watch
}

/// One line for the log about a reload or a refusal.
pub fn describe(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Unchanged => None,
        Outcome::Reloaded(r) if r.changes.is_empty() => {
            Some("plugins reloaded: settings changed, no component did; new runs use them".into())
        }
        Outcome::Reloaded(r) => {
            let parts: Vec<String> = r
                .changes
                .iter()
                .map(|c| {
                    let short =
                        |v: &Option<String>| v.as_deref().map_or("-".to_string(), |v| v.chars().take(12).collect());
                    format!("{} {} {} -> {}", c.role, c.name, short(&c.from), short(&c.to))
                })
                .collect();
            Some(format!("plugins reloaded: {}; new runs use them, running runs keep theirs", parts.join(", ")))
        }
        Outcome::Refused(r) => Some(format!(
            "plugins not reloaded, the running set keeps serving: {}",
            r.error.as_deref().unwrap_or("unknown error")
        )),
    }
}
