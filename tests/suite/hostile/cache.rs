//! The compile cache is not code we trust (item 2): an artifact copied under another
//! plugin's name, machine code with flipped bytes, a cache written with another key, a
//! cache directory others may write. Each is refused with a message saying why, the
//! component is recompiled from its pinned `.wasm`, and the right code runs.

use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use troupe::plugin::{CacheOutcome, CompileCache, EngineOptions, ExecutorPlugin, Loader, PluginSpec};
use troupe_tests::{fixture, recorder, root};

/// A private cache directory and key file for one test.
struct Cache {
    dir: tempfile::TempDir,
}

impl Cache {
    fn new() -> Cache {
        Cache { dir: tempfile::tempdir().unwrap() }
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn key_file(&self, name: &str) -> PathBuf {
        self.dir.path().join("state").join(name)
    }

    fn cache(&self, key: &str) -> CompileCache {
        CompileCache::new(self.cache_dir()).with_key_file(self.key_file(key))
    }

    /// Load `file` as executor `mode` through this cache (a fresh engine, as a new
    /// process would have).
    fn load(&self, key: &str, mode: &str, file: &Path) -> ExecutorPlugin {
        let loader = Loader::new(&EngineOptions { max_memory_mib: 128 }, Some(self.cache(key))).unwrap();
        loader
            .load_executor(&PluginSpec::file(mode, file), Value::Object(Default::default()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn artifacts(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.cache_dir()) else { return Vec::new() };
        let mut found: Vec<PathBuf> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "cwasm")).collect();
        found.sort();
        found
    }

    /// Load `file` into an empty-for-it cache and return the artifact it wrote.
    fn artifact_of(&self, key: &str, mode: &str, file: &Path) -> PathBuf {
        let before = self.artifacts();
        assert_eq!(self.load(key, mode, file).info().cache, CacheOutcome::Compiled);
        let after = self.artifacts();
        after.into_iter().find(|p| !before.contains(p)).expect("a new artifact")
    }
}

fn name_of(plugin: &ExecutorPlugin) -> String {
    plugin.reported_name(recorder(json!({})).1).unwrap()
}

fn rejected(outcome: &CacheOutcome) -> &str {
    match outcome {
        CacheOutcome::Rejected(why) => why,
        other => panic!("expected the cached artifact to be rejected, got {other:?}"),
    }
}

#[test]
fn an_artifact_copied_under_another_plugins_name_is_refused_and_the_right_code_runs() {
    let cache = Cache::new();
    let misbehave = cache.artifact_of("k", "misbehave", &fixture("misbehave"));
    let boundary = cache.artifact_of("k", "boundary", &fixture("boundary"));
    std::fs::copy(&misbehave, &boundary).unwrap();

    let loaded = cache.load("k", "boundary", &fixture("boundary"));
    let why = rejected(&loaded.info().cache);
    assert!(why.contains("its authentication tag does not match"), "{why}");
    assert!(why.contains(&boundary.display().to_string()), "{why}");
    assert_eq!(name_of(&loaded), "boundary", "boundary's own code runs, not misbehave's");
    // Recompiled and rewritten: the next load is a hit again.
    let again = cache.load("k", "boundary", &fixture("boundary"));
    assert_eq!(again.info().cache, CacheOutcome::Hit);
    assert_eq!(name_of(&again), "boundary");
}

#[test]
fn flipped_bytes_in_cached_machine_code_are_refused_not_run() {
    let cache = Cache::new();
    let artifact = cache.artifact_of("k", "misbehave", &fixture("misbehave"));
    let mut bytes = std::fs::read(&artifact).unwrap();
    // Flip every byte of the middle half: code and tables alike (before, SIGSEGV/SIGTRAP).
    let (from, to) = (bytes.len() / 4, 3 * bytes.len() / 4);
    for b in &mut bytes[from..to] {
        *b ^= 0xff;
    }
    std::fs::write(&artifact, &bytes).unwrap();

    let loaded = cache.load("k", "misbehave", &fixture("misbehave"));
    let why = rejected(&loaded.info().cache);
    assert!(why.contains("its authentication tag does not match"), "{why}");
    let (_, host) = recorder(json!({}));
    let stage = loaded.stage("r", &json!({ "name": "s", "mode": "misbehave" }));
    assert!(loaded.execute(host, &stage).unwrap().is_ok(), "the recompiled plugin runs");

    std::fs::write(&artifact, b"short").unwrap();
    let why = rejected(&cache.load("k", "misbehave", &fixture("misbehave")).info().cache).to_string();
    assert!(why.contains("too short to hold an authentication tag"), "{why}");
}

#[test]
fn a_cache_written_with_another_key_is_refused() {
    let cache = Cache::new();
    cache.artifact_of("first", "misbehave", &fixture("misbehave"));
    let loaded = cache.load("second", "misbehave", &fixture("misbehave"));
    let why = rejected(&loaded.info().cache);
    assert!(why.contains("written with another key"), "{why}");
    assert_eq!(name_of(&loaded), "misbehave");
    let key = std::fs::metadata(cache.key_file("second")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600, "the key is created owner-only");
}

#[test]
fn a_world_writable_cache_directory_is_not_used() {
    let cache = Cache::new();
    std::fs::create_dir_all(cache.cache_dir()).unwrap();
    std::fs::set_permissions(cache.cache_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let loaded = cache.load("k", "misbehave", &fixture("misbehave"));
    match &loaded.info().cache {
        CacheOutcome::Refused(why) => {
            assert!(why.contains("is writable by others (mode 777); `chmod go-w` it"), "{why}")
        }
        other => panic!("expected the cache to be refused, got {other:?}"),
    }
    assert!(cache.artifacts().is_empty(), "nothing was written to it");
    assert_eq!(name_of(&loaded), "misbehave");
}

/// `troupe plugins` shows what happened: the rejection and the recompile.
#[test]
fn troupe_plugins_shows_a_rejected_artifact() {
    let cache = Cache::new();
    let manifest = cache.dir.path().join("troupe.toml");
    std::fs::write(
        &manifest,
        format!(
            "version = 1\nplugins-dir = \"{}\"\n\n[executors.boundary]\ncomponent = \"fixtures/boundary.wasm\"\n",
            root().join("target/plugins").display()
        ),
    )
    .unwrap();
    let plugins = |_: ()| {
        let out = Command::new(root().join("target/release/troupe"))
            .args(["plugins", "--manifest"])
            .arg(&manifest)
            .arg("--cache-dir")
            .arg(cache.cache_dir())
            .env("TROUPE_CACHE_KEY", cache.key_file("cli"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = plugins(());
    assert!(first.contains(" compiled "), "{first}");
    let artifact = cache.artifacts().pop().unwrap();
    let mut bytes = std::fs::read(&artifact).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&artifact, bytes).unwrap();
    let second = plugins(());
    println!("{second}");
    assert!(second.contains(" rejected "), "{second}");
    assert!(
        second.contains(&format!(
            "cache of mode boundary: rejected: {}: its authentication tag does not match",
            artifact.display()
        )),
        "{second}"
    );
    assert!(second.contains("; recompiled"), "{second}");
    assert!(plugins(()).contains(" hit "), "the recompiled artifact is used next time");
}
