//! On-disk cache of compiled components, keyed by the component's sha256 and the
//! engine's compatibility hash (wasmtime version, target, settings). Compiling an 18 MB
//! Python component takes seconds; loading it back takes milliseconds.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Where a component came from on this load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled, and written to the cache.
    Compiled,
    /// Compiled; no cache was configured or it could not be written.
    Uncached,
}

#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompileCache { dir: dir.into() }
    }

    /// `$TROUPE_CACHE_DIR`, else `$XDG_CACHE_HOME/troupe`, else `~/.cache/troupe`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("TROUPE_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("troupe"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("troupe"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, engine: &Engine, component_sha256: &str) -> PathBuf {
        let mut hasher = EngineHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        self.dir.join(format!("{component_sha256}-{engine_key}.cwasm"))
    }

    /// Load the compiled form of `bytes` (a component with sha256 `sha256`), compiling
    /// and storing it on a miss. A corrupt or unwritable cache never fails a load: it
    /// falls back to compiling.
    pub fn load(&self, engine: &Engine, sha256: &str, bytes: &[u8]) -> anyhow::Result<(Component, CacheOutcome)> {
        let path = self.path_for(engine, sha256);
        if path.exists() {
            // SAFETY: the file was written by `Engine::precompile_component` for an
            // engine with the same compatibility hash (it is in the name), into a cache
            // directory that only troupe writes; wasmtime checks its header as well.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok((component, CacheOutcome::Hit));
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        let outcome = match write_atomically(&path, &compiled) {
            Ok(()) => CacheOutcome::Compiled,
            Err(_) => CacheOutcome::Uncached,
        };
        // SAFETY: `compiled` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, outcome))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Feeds `Hash` output into sha256 so the key is stable across processes (unlike
/// `DefaultHasher`, whose algorithm is unspecified).
struct EngineHasher(Sha256);

impl Hasher for EngineHasher {
    fn finish(&self) -> u64 {
        unreachable!("only `write` is used")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
