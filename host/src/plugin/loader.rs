//! Loading one plugin: read and pin-check the file, componentize a core module, compile
//! (through the on-disk cache), check the WIT version and world by the component's
//! import and export names, and pre-link it (`InstancePre`).

use super::actor::ActorPlugin;
use super::artifact::{self, Artifact};
use super::bindings::actor_world::ActorComponentPre;
use super::bindings::executor_world::ExecutorPre;
use super::cache::{CacheOutcome, CompileCache};
use super::call::PluginCore;
use super::engine::{EngineOptions, PluginEngine};
use super::error::{EntryRef, LoadError, LoadProblem, WIT_COMPATIBLE_PREFIX, WIT_PACKAGE};
use super::executor::ExecutorPlugin;
use super::PluginInfo;
use crate::manifest::{Limits, Sha256Pin};
use crate::stage_host::Role;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::Component;

/// Loads plugins onto one engine. Plugins loaded by one loader share its engine.
pub struct Loader {
    engine: Arc<PluginEngine>,
    cache: Option<CompileCache>,
}

/// One plugin to load.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The manifest it is listed in, for messages (empty when loaded directly).
    pub manifest: String,
    pub name: String,
    pub file: PathBuf,
    pub sha256: Option<Sha256Pin>,
    pub limits: Limits,
    /// The plugins directory `file` is relative to, for messages.
    pub plugins_dir: PathBuf,
}

impl PluginSpec {
    /// A plugin loaded directly from a file, with default limits.
    pub fn file(name: &str, file: impl Into<PathBuf>) -> Self {
        let file = file.into();
        let plugins_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        PluginSpec {
            manifest: String::new(),
            name: name.into(),
            file,
            sha256: None,
            limits: Limits::default(),
            plugins_dir,
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    fn entry(&self, role: Role) -> EntryRef {
        EntryRef { manifest: self.manifest.clone(), role, name: self.name.clone(), file: self.file.clone() }
    }
}

/// Which world an entry must implement.
#[derive(Clone, Copy)]
enum World {
    Executor,
    Actor,
}

impl World {
    fn name(self) -> &'static str {
        match self {
            World::Executor => "executor",
            World::Actor => "actor-component",
        }
    }
    fn export(self) -> &'static str {
        match self {
            World::Executor => "troupe:executor/stage-executor@",
            World::Actor => "troupe:executor/actor@",
        }
    }
    fn other(self) -> World {
        match self {
            World::Executor => World::Actor,
            World::Actor => World::Executor,
        }
    }
}

struct Compiled {
    component: Component,
    artifact: Artifact,
    cache: CacheOutcome,
    wit_version: String,
    uses_wasi: bool,
    load_ms: f64,
}

impl Loader {
    pub fn new(options: &EngineOptions, cache: Option<CompileCache>) -> anyhow::Result<Self> {
        Ok(Loader { engine: Arc::new(PluginEngine::new(options)?), cache })
    }

    pub fn load_executor(&self, spec: &PluginSpec, default_config: Value) -> Result<ExecutorPlugin, LoadError> {
        let entry = spec.entry(Role::Executor);
        let err = |problem| LoadError { entry: entry.clone(), problem };
        let compiled = self.compile(spec, World::Executor).map_err(err)?;
        let pre = self
            .engine
            .linker
            .instantiate_pre(&compiled.component)
            .and_then(ExecutorPre::new)
            .map_err(|e| err(wrong_world(World::Executor, e)))?;
        let info = info(spec, Role::Executor, &compiled);
        let core = self.core(entry, spec, compiled.uses_wasi);
        Ok(ExecutorPlugin { core, pre, default_config, info })
    }

    pub fn load_actor(&self, spec: &PluginSpec) -> Result<ActorPlugin, LoadError> {
        let entry = spec.entry(Role::Actor);
        let err = |problem| LoadError { entry: entry.clone(), problem };
        let compiled = self.compile(spec, World::Actor).map_err(err)?;
        let pre = self
            .engine
            .linker
            .instantiate_pre(&compiled.component)
            .and_then(ActorComponentPre::new)
            .map_err(|e| err(wrong_world(World::Actor, e)))?;
        let info = info(spec, Role::Actor, &compiled);
        let core = self.core(entry, spec, compiled.uses_wasi);
        Ok(ActorPlugin { core, pre, info })
    }

    fn core(&self, entry: EntryRef, spec: &PluginSpec, uses_wasi: bool) -> PluginCore {
        PluginCore { entry, limits: spec.limits, uses_wasi, engine: self.engine.clone() }
    }

    fn compile(&self, spec: &PluginSpec, world: World) -> Result<Compiled, LoadProblem> {
        let started = Instant::now();
        let artifact = artifact::read(&spec.file, spec.sha256.as_ref(), &spec.plugins_dir, spec.limits.component_mib)?;
        let engine = &self.engine.engine;
        let (component, cache) = match &self.cache {
            Some(cache) => cache.load(engine, &artifact.file_sha256, &artifact.component),
            None => Component::new(engine, &artifact.component)
                .map(|c| (c, CacheOutcome::Uncached))
                .map_err(anyhow::Error::from),
        }
        .map_err(LoadProblem::Compile)?;
        let (wit_version, uses_wasi) = check_interfaces(&component, engine, world)?;
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(Compiled { component, artifact, cache, wit_version, uses_wasi, load_ms })
    }
}

fn info(spec: &PluginSpec, role: Role, c: &Compiled) -> PluginInfo {
    PluginInfo {
        role: role.as_str(),
        name: spec.name.clone(),
        file: spec.file.clone(),
        wit_version: c.wit_version.clone(),
        sha256: c.artifact.file_sha256.clone(),
        size: c.artifact.file_size,
        source: c.artifact.source,
        cache: c.cache.clone(),
        load_ms: c.load_ms,
        uses_wasi: c.uses_wasi,
        limits: spec.limits,
    }
}

fn wrong_world(world: World, e: wasmtime::Error) -> LoadProblem {
    LoadProblem::WrongWorld { world: world.name(), reason: format!("{e:#}") }
}

/// Check the component's interface names: every `troupe:executor/...` name must be a
/// 0.1.x version, the world's export must be there, and nothing may be imported that the
/// sandbox does not grant. Returns the WIT version and whether it imports WASI.
fn check_interfaces(
    component: &Component,
    engine: &wasmtime::Engine,
    world: World,
) -> Result<(String, bool), LoadProblem> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();

    let prefix = format!("{WIT_PACKAGE}/");
    for name in imports.iter().chain(&exports).filter(|n| n.starts_with(&prefix)) {
        match name.split_once('@') {
            Some((_, version)) if version.starts_with(WIT_COMPATIBLE_PREFIX) => {}
            Some((_, version)) => {
                return Err(LoadProblem::UnsupportedVersion { found: format!("{WIT_PACKAGE}@{version}") })
            }
            None => {
                return Err(LoadProblem::UnsupportedVersion { found: format!("an unversioned {WIT_PACKAGE} ({name})") })
            }
        }
    }

    let Some(export) = exports.iter().find(|n| n.starts_with(world.export())) else {
        let reason = if exports.iter().any(|n| n.starts_with(world.other().export())) {
            match world {
                World::Executor => {
                    "it is an actor component (it exports troupe:executor/actor); list it under [actors]".to_string()
                }
                World::Actor => {
                    "it is a stage executor (it exports troupe:executor/stage-executor); list it under [executors]"
                        .to_string()
                }
            }
        } else {
            format!(
                "it exports [{}] but not {}{}; build it against wit/worlds.wit (troupe-sdk)",
                exports.join(", "),
                world.export(),
                super::error::WIT_VERSION
            )
        };
        return Err(LoadProblem::WrongWorld { world: world.name(), reason });
    };
    let version = export.split_once('@').map(|(_, v)| v.to_string()).unwrap_or_default();

    if let Some(foreign) = imports.iter().find(|n| !n.starts_with(&prefix) && !n.starts_with("wasi:")) {
        return Err(LoadProblem::WrongWorld {
            world: world.name(),
            reason: format!(
                "it imports `{foreign}`, which the sandbox does not grant (plugins get the {WIT_PACKAGE} interfaces and an empty WASI)"
            ),
        });
    }
    let uses_wasi = imports.iter().any(|n| n.starts_with("wasi:"));
    Ok((version, uses_wasi))
}
