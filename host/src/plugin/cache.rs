//! On-disk cache of compiled components, keyed by the component's sha256 and the
//! engine's compatibility hash (wasmtime version, target, settings). Compiling an 18 MB
//! Python component takes seconds; loading it back takes milliseconds.
//!
//! Why it is authenticated: a cached artifact is machine code the host maps and runs,
//! outside the sandbox's checks. A file copied under another plugin's name used to run
//! as that plugin (past its sha256 pin), and flipped bytes killed the host with SIGSEGV.
//! So each artifact is stored behind an HMAC-SHA256 over the component's sha256, the
//! engine's compatibility hash and the artifact's bytes, under a key kept outside the
//! cache directory (owner-only, see [`key`]). The tag is checked on the bytes in memory
//! BEFORE wasmtime deserialises them, so no byte of an unauthenticated file is ever
//! interpreted; a failed check is reported and the component recompiled. And a cache
//! directory that someone else owns or may write to is not used at all.

use super::cache_key;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Bytes of the tag at the start of each cached file.
const TAG_BYTES: usize = 32;

/// Separates this use of the key from any other.
const DOMAIN: &[u8] = b"troupe compiled-component cache v1\0";

/// Largest cached artifact read back (a compiled Python component is ~60 MB).
const MAX_ARTIFACT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Where a component came from on this load.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    /// Loaded from the cache, its tag checked.
    Hit,
    /// Compiled, and written to the cache.
    Compiled,
    /// Compiled; no cache was configured or it could not be written.
    Uncached,
    /// The cached artifact failed its check (the reason); recompiled and rewritten.
    Rejected(String),
    /// The cache was not used (the reason: its directory or key is not safe);
    /// compiled in memory.
    Refused(String),
}

impl CacheOutcome {
    /// One word for a table column.
    pub fn word(&self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Compiled => "compiled",
            CacheOutcome::Uncached => "uncached",
            CacheOutcome::Rejected(_) => "rejected",
            CacheOutcome::Refused(_) => "refused",
        }
    }
}

impl fmt::Display for CacheOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheOutcome::Rejected(why) => write!(f, "rejected: {why}; recompiled"),
            CacheOutcome::Refused(why) => write!(f, "refused: {why}; compiled in memory"),
            other => f.write_str(other.word()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    key_file: Option<PathBuf>,
}

impl CompileCache {
    /// A cache in `dir`, authenticated with the key at [`cache_key::default_file`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompileCache { dir: dir.into(), key_file: cache_key::default_file() }
    }

    /// The same cache with its key in `key_file` (created if missing).
    pub fn with_key_file(mut self, key_file: impl Into<PathBuf>) -> Self {
        self.key_file = Some(key_file.into());
        self
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

    fn engine_key(engine: &Engine) -> String {
        let mut hasher = EngineHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hex::encode(&hasher.0.finalize()[..8])
    }

    /// Load the compiled form of `bytes` (a component with sha256 `sha256`), compiling
    /// and storing it on a miss. A bad artifact or an unusable cache never fails a load:
    /// it falls back to compiling, and the outcome says why.
    pub fn load(&self, engine: &Engine, sha256: &str, bytes: &[u8]) -> anyhow::Result<(Component, CacheOutcome)> {
        let key = match self.check_dir().and_then(|()| self.key()) {
            Ok(key) => key,
            Err(why) => return Ok((Component::new(engine, bytes)?, CacheOutcome::Refused(why))),
        };
        let engine_key = Self::engine_key(engine);
        let path = self.dir.join(format!("{sha256}-{engine_key}.cwasm"));
        let rejected = match crate::files::read(&path, MAX_ARTIFACT_BYTES, "2 GiB for a cached artifact") {
            Err(crate::files::FileError::Missing) => None,
            Err(e) => Some(format!("{}: {e}", path.display())),
            Ok(stored) => match open(&key, sha256, &engine_key, &stored) {
                Err(why) => Some(format!("{}: {why}", path.display())),
                // SAFETY: the tag proves these bytes are what this host's
                // `precompile_component` produced for this component and engine (only
                // the holder of the key can make a valid tag); wasmtime checks the
                // header as well.
                Ok(artifact) => match unsafe { Component::deserialize(engine, artifact) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(e) => Some(format!("{}: wasmtime cannot load it: {e}", path.display())),
                },
            },
        };
        let compiled = engine.precompile_component(bytes)?;
        let written = write_atomically(&path, &seal(&key, sha256, &engine_key, &compiled));
        // SAFETY: `compiled` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        let outcome = match (rejected, written) {
            (Some(why), _) => CacheOutcome::Rejected(why),
            (None, Ok(())) => CacheOutcome::Compiled,
            (None, Err(_)) => CacheOutcome::Uncached,
        };
        Ok((component, outcome))
    }

    fn key(&self) -> Result<[u8; 32], String> {
        let file = self
            .key_file
            .as_deref()
            .ok_or("no place for the cache key (set TROUPE_CACHE_KEY, XDG_STATE_HOME or HOME, or pass --no-cache)")?;
        cache_key::load_or_create(file)
    }

    /// The directory must be ours and writable by no one else: anyone who can write
    /// there can plant or swap files (the tags stop those being run, but a cache
    /// that others may rewrite at will is not one to use). Created owner-only if missing.
    fn check_dir(&self) -> Result<(), String> {
        let shown = self.dir.display();
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| format!("cannot create the cache directory {shown}: {e}"))?;
        }
        let meta = std::fs::metadata(&self.dir).map_err(|e| format!("cannot read the cache directory {shown}: {e}"))?;
        if !meta.is_dir() {
            return Err(format!("the cache directory {shown} is not a directory"));
        }
        let me = cache_key::effective_uid();
        if meta.uid() != me {
            return Err(format!(
                "the cache directory {shown} is owned by uid {}, not by this user (uid {me})",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!(
                "the cache directory {shown} is writable by others (mode {:o}); `chmod go-w` it",
                meta.mode() & 0o7777
            ));
        }
        Ok(())
    }
}

fn tag(key: &[u8; 32], sha256: &str, engine_key: &str, artifact: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in [DOMAIN, sha256.as_bytes(), b"\0", engine_key.as_bytes(), b"\0", artifact] {
        mac.update(part);
    }
    mac
}

/// The bytes to store: the tag, then the artifact.
fn seal(key: &[u8; 32], sha256: &str, engine_key: &str, artifact: &[u8]) -> Vec<u8> {
    let mut stored = tag(key, sha256, engine_key, artifact).finalize().into_bytes().to_vec();
    stored.extend_from_slice(artifact);
    stored
}

/// The artifact inside `stored`, if its tag is right (compared in constant time).
fn open<'a>(key: &[u8; 32], sha256: &str, engine_key: &str, stored: &'a [u8]) -> Result<&'a [u8], String> {
    if stored.len() < TAG_BYTES {
        return Err(format!("it is {} bytes, too short to hold an authentication tag", stored.len()));
    }
    let (stored_tag, artifact) = stored.split_at(TAG_BYTES);
    tag(key, sha256, engine_key, artifact).verify_slice(stored_tag).map_err(|_| {
        "its authentication tag does not match: it was not written by this host for this component \
         (changed since, copied from another plugin, or written with another key)"
            .to_string()
    })?;
    Ok(artifact)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache paths have a parent");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_binds_the_key_the_component_and_the_bytes() {
        let key = [7u8; 32];
        let stored = seal(&key, "aa", "e1", b"machine code");
        assert_eq!(open(&key, "aa", "e1", &stored).unwrap(), b"machine code");
        assert!(open(&[8u8; 32], "aa", "e1", &stored).is_err(), "another key");
        assert!(open(&key, "bb", "e1", &stored).is_err(), "another component's name");
        assert!(open(&key, "aa", "e2", &stored).is_err(), "another engine");
        let mut flipped = stored.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(open(&key, "aa", "e1", &flipped).is_err(), "a flipped byte");
        assert!(open(&key, "aa", "e1", &stored[..10]).is_err(), "truncated");
    }
}
