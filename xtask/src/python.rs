//! The Python guests in `plugins/python/` (fixtures in `plugins/python/fixtures/`), built
//! into components by componentize-py. Each folder holds an `app.py` implementing the
//! `executor` world, or the world named by a `# troupe-world: <world>` line, against the
//! current WIT in `wit/` (`troupe:executor@0.2.1`; the frozen 0.1.0 in `wit/v0.1/` is
//! not read: componentize-py takes a package's `.wit` files and its `deps/` only).
//!
//! One more world exists for Python guests only: `http-actor`, troupe's `actor-component`
//! plus `wasi:http/outgoing-handler`, for actors that make HTTP requests (which the host
//! lets out only as far as the manifest's `allow-http` grants). Its package is assembled
//! under `target/python-wit/` from `wit/` and the `wasi:*` WIT that the host's own
//! wasmtime-wasi-http crate ships, so the guest imports exactly the `wasi:http` version
//! the host links, and nothing is vendored here.

use crate::js::newest;
use crate::run;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
/// The world that adds `wasi:http/outgoing-handler` to an actor (see the module doc).
const HTTP_WORLD: &str = "http-actor";
/// The Redis client the Python test worker (tests/python/worker.py) uses.
const REDIS_PY: &str = "redis==8.1.0";

struct PyGuest {
    name: String,
    dir: PathBuf,
    world: String,
    fixture: bool,
}

fn guests(root: &Path) -> anyhow::Result<Vec<PyGuest>> {
    let mut found = Vec::new();
    for (base, fixture) in [(root.join("plugins/python"), false), (root.join("plugins/python/fixtures"), true)] {
        let Ok(entries) = std::fs::read_dir(&base) else { continue };
        for entry in entries {
            let dir = entry?.path();
            let app = dir.join("app.py");
            if !app.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&app)?;
            let world = text
                .lines()
                .find_map(|l| l.strip_prefix("# troupe-world: ").map(|w| w.trim().to_string()))
                .unwrap_or_else(|| "executor".into());
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            found.push(PyGuest { name, dir, world, fixture });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn ensure_componentize_py() -> anyhow::Result<()> {
    let ok = Command::new("componentize-py").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        eprintln!("xtask: installing {COMPONENTIZE_PY} from PyPI");
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", COMPONENTIZE_PY]))
            .context("cannot install componentize-py (needs python3 with pip)")?;
    }
    Ok(())
}

/// redis-py, for the test that serves an actor from Python over troupe's Redis protocol.
pub fn ensure_redis_py() -> anyhow::Result<()> {
    let ok = Command::new("python3").args(["-c", "import redis"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        eprintln!("xtask: installing {REDIS_PY} from PyPI");
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", REDIS_PY]))
            .context("cannot install redis-py (needs python3 with pip)")?;
    }
    Ok(())
}

pub fn build_all(root: &Path, out: &Path) -> anyhow::Result<()> {
    let guests = guests(root)?;
    if guests.is_empty() {
        return Ok(());
    }
    let wit = root.join("wit");
    let mut checked = false;
    let mut http_wit: Option<PathBuf> = None;
    for g in guests {
        let dest = if g.fixture { out.join("fixtures") } else { out.to_path_buf() }.join(format!("{}.wasm", g.name));
        let inputs = newest([g.dir.clone(), wit.clone()]);
        if dest.is_file() && newest([dest.clone()]) > inputs {
            continue;
        }
        if !checked {
            ensure_componentize_py()?;
            checked = true;
        }
        let package = if g.world == HTTP_WORLD {
            match &http_wit {
                Some(dir) => dir.clone(),
                None => http_wit.insert(http_package(root)?).clone(),
            }
        } else {
            wit.clone()
        };
        eprintln!("xtask: building Python guest {} (componentize-py)", g.name);
        std::fs::create_dir_all(dest.parent().unwrap())?;
        run(Command::new("componentize-py")
            .current_dir(&g.dir)
            .arg("-d")
            .arg(&package)
            .args(["-w", &g.world, "componentize", "app", "-o"])
            .arg(&dest))?;
    }
    Ok(())
}

/// `target/python-wit/`: the `http-actor` world's package, with `wit/` and the host's
/// `wasi:*` packages as its `deps/`.
fn http_package(root: &Path) -> anyhow::Result<PathBuf> {
    let wasi = wasi_wit_of_host(root)?;
    let dir = root.join("target/python-wit");
    let _ = std::fs::remove_dir_all(&dir);
    let troupe = dir.join("deps/troupe-executor");
    std::fs::create_dir_all(&troupe)?;
    for entry in std::fs::read_dir(root.join("wit"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wit") {
            std::fs::copy(&path, troupe.join(path.file_name().unwrap()))?;
        }
    }
    let mut http_version = None;
    for entry in std::fs::read_dir(&wasi)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wit") {
            let text = std::fs::read_to_string(&path)?;
            if let Some(v) = text.lines().find_map(|l| l.trim().strip_prefix("package wasi:http@")) {
                http_version = Some(v.trim_end_matches(';').trim().to_string());
            }
            std::fs::write(dir.join("deps").join(path.file_name().unwrap()), text)?;
        }
    }
    let version = http_version.with_context(|| format!("no `package wasi:http@...` in {}", wasi.display()))?;
    let world = format!(
        "// Generated by `cargo xtask build` (xtask/src/python.rs): do not edit.\n\
         package troupe:python-guests;\n\n\
         world {HTTP_WORLD} {{\n    include troupe:executor/actor-component@0.2.1;\n    \
         import wasi:http/outgoing-handler@{version};\n}}\n"
    );
    std::fs::write(dir.join("world.wit"), world)?;
    Ok(dir)
}

/// The `wit/deps/` folder of the wasmtime-wasi-http crate the host builds with (per the
/// host workspace's Cargo.lock).
fn wasi_wit_of_host(root: &Path) -> anyhow::Result<PathBuf> {
    let out = crate::cargo(root)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .output()
        .context("cannot run cargo metadata on the host workspace")?;
    anyhow::ensure!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "wasmtime-wasi-http")
        .and_then(|p| p["manifest_path"].as_str())
        .context("the host workspace does not depend on wasmtime-wasi-http")?;
    let deps = Path::new(manifest).parent().unwrap().join("wit/deps");
    anyhow::ensure!(deps.is_dir(), "{} is missing", deps.display());
    Ok(deps)
}
