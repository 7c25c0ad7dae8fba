//! [`Plugins`]: every executor and actor a manifest names, loaded onto one engine.
//! Loading reports every bad entry at once, not just the first.

use super::cache::CompileCache;
use super::engine::EngineOptions;
use super::error::LoadError;
use super::loader::{Loader, PluginSpec};
use super::{ActorPlugin, ExecutorPlugin};
use crate::manifest::{ActorSource, Limits, Manifest};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// How to load a manifest's plugins.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache: Option<CompileCache>,
    /// Names of the native actors the embedding program registers (`builtin = "..."`).
    pub builtins: Vec<String>,
}

/// An actor entry: a component or a native actor the host registers.
pub enum Actor {
    Component(Box<ActorPlugin>),
    Builtin(String),
    /// Served by a worker of the user's own over Redis (`external = true`): known, so
    /// pipelines validate, never run here. The description is the manifest's, if any.
    External(Option<String>),
}

pub struct Plugins {
    executors: BTreeMap<String, ExecutorPlugin>,
    actors: BTreeMap<String, Actor>,
}

/// Every entry that failed to load.
#[derive(Debug, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl Plugins {
    pub fn load(manifest: &Manifest, options: &LoadOptions) -> Result<Plugins, LoadErrors> {
        let engine_options = EngineOptions { max_memory_mib: manifest.max_memory_mib() };
        let loader = Loader::new(&engine_options, options.cache.clone())
            .map_err(|e| LoadErrors(vec![engine_error(manifest, e)]))?;
        let shown = manifest.file.display().to_string();
        let spec = |name: &str, file: &Path, sha256, limits: Limits| PluginSpec {
            manifest: shown.clone(),
            name: name.to_string(),
            file: file.to_path_buf(),
            sha256,
            limits,
            plugins_dir: manifest.plugins_dir.clone(),
            allow_http: Arc::from([]),
            may_enqueue: None,
        };

        let mut errors = Vec::new();
        let mut executors = BTreeMap::new();
        for (mode, e) in &manifest.executors {
            let spec = spec(mode.as_str(), &e.component, e.sha256.clone(), e.limits).with_actors(e.actors.clone());
            match loader.load_executor(&spec, e.config.clone()) {
                Ok(p) => {
                    executors.insert(mode.to_string(), p);
                }
                Err(err) => errors.push(err),
            }
        }
        let mut actors = BTreeMap::new();
        for (name, a) in &manifest.actors {
            let actor = match &a.source {
                ActorSource::Component { path, sha256 } => {
                    let spec = spec(name.as_str(), path, sha256.clone(), a.limits).with_http(a.allow_http.clone());
                    match loader.load_actor(&spec) {
                        Ok(p) => Actor::Component(Box::new(p)),
                        Err(err) => {
                            errors.push(err);
                            continue;
                        }
                    }
                }
                ActorSource::External => Actor::External(a.description.clone()),
                ActorSource::Builtin(b) if options.builtins.iter().any(|known| known == b) => Actor::Builtin(b.clone()),
                ActorSource::Builtin(b) => {
                    let known =
                        if options.builtins.is_empty() { "none".to_string() } else { options.builtins.join(", ") };
                    errors.push(LoadError {
                        entry: super::EntryRef {
                            manifest: shown.clone(),
                            role: crate::stage_host::Role::Actor,
                            name: name.to_string(),
                            file: format!("builtin = \"{b}\"").into(),
                        },
                        problem: super::LoadProblem::UnknownBuiltin { name: b.clone(), registered: known },
                    });
                    continue;
                }
            };
            actors.insert(name.to_string(), actor);
        }
        if errors.is_empty() {
            Ok(Plugins { executors, actors })
        } else {
            Err(LoadErrors(errors))
        }
    }

    pub fn executor(&self, mode: &str) -> Option<&ExecutorPlugin> {
        self.executors.get(mode)
    }

    pub fn executors(&self) -> impl Iterator<Item = (&str, &ExecutorPlugin)> {
        self.executors.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn actor(&self, name: &str) -> Option<&Actor> {
        self.actors.get(name)
    }

    pub fn actors(&self) -> impl Iterator<Item = (&str, &Actor)> {
        self.actors.iter().map(|(k, v)| (k.as_str(), v))
    }
}

fn engine_error(manifest: &Manifest, e: anyhow::Error) -> LoadError {
    LoadError {
        entry: super::EntryRef {
            manifest: manifest.file.display().to_string(),
            role: crate::stage_host::Role::Executor,
            name: "*".into(),
            file: manifest.plugins_dir.clone(),
        },
        problem: super::LoadProblem::Compile(e),
    }
}
