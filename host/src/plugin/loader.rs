//! Loading one plugin: read and pin-check the file, componentize a core module, compile
//! (through the on-disk cache, keyed by content: the same for every WIT version), find
//! the WIT version it targets and check its world by the component's import and export
//! names, and pre-link it (`InstancePre`) with that version's linker.

use super::actor::{ActorPlugin, ActorPre};
use super::artifact::{self, Artifact};
use super::bindings::{v0_1, v0_2};
use super::cache::{CacheOutcome, CompileCache};
use super::call::PluginCore;
use super::engine::{EngineOptions, PluginEngine};
use super::error::{EntryRef, LoadError, LoadProblem, WIT_PACKAGE};
use super::executor::{ExecutorPlugin, ExecutorPre};
use super::version::{self, WitVersion};
use super::PluginInfo;
use crate::manifest::{HttpGrant, Limits, Sha256Pin};
use crate::stage_host::Role;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, InstancePre};

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
    /// Outgoing HTTP it is granted (`allow-http`; actors only).
    pub allow_http: Arc<[HttpGrant]>,
    /// The only actors it may enqueue for (`actors = [...]`; executors only); None: any.
    pub may_enqueue: Option<Arc<[String]>>,
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
            allow_http: Arc::from([]),
            may_enqueue: None,
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Let it enqueue for these actors only (`actors = [...]`).
    pub fn with_actors(mut self, actors: Option<Vec<String>>) -> Self {
        self.may_enqueue = actors.map(Into::into);
        self
    }

    /// Grant it outgoing HTTP (`allow-http`).
    pub fn with_http(mut self, grants: impl Into<Arc<[HttpGrant]>>) -> Self {
        self.allow_http = grants.into();
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
    /// The version it targets, and the version its export names (`0.2.0`).
    version: WitVersion,
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
        let pre = self.pre(&compiled).and_then(|pre| match compiled.version {
            WitVersion::V0_1 => v0_1::ExecutorPre::new(pre).map(ExecutorPre::V0_1),
            WitVersion::V0_2 => v0_2::ExecutorPre::new(pre).map(ExecutorPre::V0_2),
        });
        let pre = pre.map_err(|e| err(wrong_world(World::Executor, e)))?;
        let info = info(spec, Role::Executor, &compiled);
        let core = self.core(entry, spec, compiled.uses_wasi);
        Ok(ExecutorPlugin { core, pre, default_config, info })
    }

    pub fn load_actor(&self, spec: &PluginSpec) -> Result<ActorPlugin, LoadError> {
        let entry = spec.entry(Role::Actor);
        let err = |problem| LoadError { entry: entry.clone(), problem };
        let compiled = self.compile(spec, World::Actor).map_err(err)?;
        let pre = self.pre(&compiled).and_then(|pre| match compiled.version {
            WitVersion::V0_1 => v0_1::ActorComponentPre::new(pre).map(ActorPre::V0_1),
            WitVersion::V0_2 => v0_2::ActorComponentPre::new(pre).map(ActorPre::V0_2),
        });
        let pre = pre.map_err(|e| err(wrong_world(World::Actor, e)))?;
        let info = info(spec, Role::Actor, &compiled);
        let core = self.core(entry, spec, compiled.uses_wasi);
        Ok(ActorPlugin { core, pre, info })
    }

    /// Link the component's imports with its version's linker.
    fn pre(&self, compiled: &Compiled) -> wasmtime::Result<InstancePre<super::store::HostState>> {
        self.engine.linker(compiled.version).instantiate_pre(&compiled.component)
    }

    fn core(&self, entry: EntryRef, spec: &PluginSpec, uses_wasi: bool) -> PluginCore {
        PluginCore {
            entry,
            limits: spec.limits,
            http: spec.allow_http.clone(),
            may_enqueue: spec.may_enqueue.clone(),
            uses_wasi,
            engine: self.engine.clone(),
        }
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
        let (version, wit_version, uses_wasi) = check_interfaces(&component, engine, world)?;
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(Compiled { component, artifact, cache, version, wit_version, uses_wasi, load_ms })
    }
}

fn info(spec: &PluginSpec, role: Role, c: &Compiled) -> PluginInfo {
    PluginInfo {
        role: role.as_str(),
        name: spec.name.clone(),
        file: spec.file.clone(),
        wit_version: c.wit_version.clone(),
        language: super::language::detect(&c.artifact.component),
        sha256: c.artifact.file_sha256.clone(),
        size: c.artifact.file_size,
        source: c.artifact.source,
        cache: c.cache.clone(),
        load_ms: c.load_ms,
        uses_wasi: c.uses_wasi,
        limits: spec.limits,
        allow_http: spec.allow_http.iter().map(ToString::to_string).collect(),
        actors: spec.may_enqueue.as_ref().map(|a| a.to_vec()),
    }
}

fn wrong_world(world: World, e: wasmtime::Error) -> LoadProblem {
    LoadProblem::WrongWorld { world: world.name(), reason: format!("{e:#}") }
}

/// Check the component's interface names: every `troupe:executor/...` name must be of
/// one version this host speaks (see [`version::detect`]), the world's export must be
/// there, and nothing may be imported that the sandbox does not grant. Returns the
/// version, the version its export names, and whether it imports WASI.
fn check_interfaces(
    component: &Component,
    engine: &wasmtime::Engine,
    world: World,
) -> Result<(WitVersion, String, bool), LoadProblem> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let prefix = format!("{WIT_PACKAGE}/");
    let detected = version::detect(imports.iter().chain(&exports).map(String::as_str))?;

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
    let wit_version = export.split_once('@').map(|(_, v)| v.to_string()).unwrap_or_default();
    // The export is a troupe:executor name, so a version was detected.
    let Some(version) = detected else {
        return Err(LoadProblem::UnsupportedVersion { found: format!("an unversioned {WIT_PACKAGE} ({export})") });
    };

    if let Some(foreign) = imports.iter().find(|n| !n.starts_with(&prefix) && !n.starts_with("wasi:")) {
        return Err(LoadProblem::WrongWorld {
            world: world.name(),
            reason: format!(
                "it imports `{foreign}`, which the sandbox does not grant (plugins get the {WIT_PACKAGE} interfaces and an empty WASI)"
            ),
        });
    }
    let uses_wasi = imports.iter().any(|n| n.starts_with("wasi:"));
    Ok((version, wit_version, uses_wasi))
}
