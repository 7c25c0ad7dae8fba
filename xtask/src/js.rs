//! The JavaScript guests in `plugins/js/` (fixtures in `plugins/js/fixtures/`), built into
//! components by componentize-js. Each folder holds an `index.js` (an ES module) that
//! implements the `executor` world, or the world named by a `// troupe-world: <world>`
//! first line, against the current WIT in `wit/` (`troupe:executor@0.2.1`).
//!
//! The toolchain is npm's `@bytecodealliance/componentize-js`, pinned, installed into
//! `target/js-toolchain/` (a package.json written here, so nothing global is touched),
//! and driven through its programmatic API by a small node script written beside it:
//! the `jco componentize` CLI (jco 1.35.0) fails on these machines with "failed to get
//! path metadata" for any `--wit` path (`../shared/notes/wasm-toolchain.md`).

use crate::run;
use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The one package the build needs; its own dependencies (jco, wizer, weval) are pinned
/// by it. Changing this reinstalls the toolchain.
const COMPONENTIZE_JS: (&str, &str) = ("@bytecodealliance/componentize-js", "0.23.0");

/// Where the toolchain lives, below the repository root.
const TOOLCHAIN_DIR: &str = "target/js-toolchain";

/// The node script that builds one guest: `node componentize.mjs SOURCE WIT WORLD OUT`.
/// Every WASI feature the engine can wire in is disabled, which makes a pure component
/// importing only its world: troupe gives guests an empty WASI (no stdio, clocks,
/// randomness or network), so a component that needed them could not do its work, and
/// one that imports nothing else is the tightest sandbox. Without stdio, an uncaught
/// exception traps instead of printing, so guests catch and return errors themselves.
const SCRIPT: &str = r#"// Written by cargo xtask (xtask/src/js.rs): builds one JavaScript guest into a component.
//   node componentize.mjs SOURCE.js WIT_DIR WORLD OUT.wasm
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const [sourcePath, witPath, worldName, out] = process.argv.slice(2);
try {
  const { component } = await componentize({
    sourcePath,
    witPath,
    worldName,
    disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
  });
  await writeFile(out, component);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
}
"#;

struct JsGuest {
    name: String,
    dir: PathBuf,
    world: String,
    fixture: bool,
}

fn guests(root: &Path) -> anyhow::Result<Vec<JsGuest>> {
    let mut found = Vec::new();
    for (base, fixture) in [(root.join("plugins/js"), false), (root.join("plugins/js/fixtures"), true)] {
        let Ok(entries) = std::fs::read_dir(&base) else { continue };
        for entry in entries {
            let dir = entry?.path();
            let source = dir.join("index.js");
            if !source.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&source).with_context(|| format!("cannot read {}", source.display()))?;
            let world = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("// troupe-world: ").map(|w| w.trim().to_string()))
                .unwrap_or_else(|| "executor".into());
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            found.push(JsGuest { name, dir, world, fixture });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The newest modification time among `paths` and, for folders, the files directly in
/// them (guests are flat folders; `wit/` is read without its frozen `v0.1/`).
pub(crate) fn newest(paths: impl IntoIterator<Item = PathBuf>) -> SystemTime {
    paths
        .into_iter()
        .flat_map(|p| match std::fs::read_dir(&p) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect(),
            Err(_) => vec![p],
        })
        .filter_map(|p| p.metadata().and_then(|m| m.modified()).ok())
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Install the pinned toolchain into `target/js-toolchain/` unless it is there at the
/// pinned version, and write the build script. Returns the script's path.
fn ensure_toolchain(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join(TOOLCHAIN_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (package, version) = COMPONENTIZE_JS;
    let manifest = serde_json::json!({
        "name": "troupe-js-toolchain",
        "private": true,
        "description": "Written by cargo xtask (xtask/src/js.rs): the tools that build plugins/js/*.",
        "dependencies": { package: version },
    });
    let manifest = serde_json::to_string_pretty(&manifest)? + "\n";
    let installed = dir.join("node_modules").join(package).join("package.json");
    let installed_version = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string));
    if installed_version.as_deref() != Some(version) {
        let npm_ok = Command::new("npm").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
        if !npm_ok {
            bail!("the JavaScript guests (plugins/js/) need Node.js 18 or later with npm on PATH");
        }
        std::fs::write(dir.join("package.json"), &manifest)?;
        eprintln!("xtask: installing {package}@{version} from npm into {TOOLCHAIN_DIR}");
        run(Command::new("npm").current_dir(&dir).args(["install", "--no-audit", "--no-fund"]))
            .with_context(|| format!("cannot install {package}@{version} with npm"))?;
    }
    let script = dir.join("componentize.mjs");
    if std::fs::read_to_string(&script).ok().as_deref() != Some(SCRIPT) {
        std::fs::write(&script, SCRIPT)?;
    }
    Ok(script)
}

pub fn build_all(root: &Path, out: &Path) -> anyhow::Result<()> {
    let guests = guests(root)?;
    if guests.is_empty() {
        return Ok(());
    }
    let wit = root.join("wit");
    let mut script = None;
    for g in guests {
        let dest = if g.fixture { out.join("fixtures") } else { out.to_path_buf() }.join(format!("{}.wasm", g.name));
        if dest.is_file() && newest([dest.clone()]) > newest([g.dir.clone(), wit.clone()]) {
            continue;
        }
        let script = match &script {
            Some(script) => script,
            None => script.insert(ensure_toolchain(root)?),
        };
        eprintln!("xtask: building JavaScript guest {} (componentize-js, world {})", g.name, g.world);
        std::fs::create_dir_all(dest.parent().unwrap())?;
        let output = Command::new("node")
            .current_dir(root.join(TOOLCHAIN_DIR))
            .arg(script)
            .arg(g.dir.join("index.js"))
            .arg(&wit)
            .arg(&g.world)
            .arg(&dest)
            .output()
            .context("cannot start node (the JavaScript guests need Node.js 18 or later)")?;
        if !output.status.success() {
            let _ = std::fs::remove_file(&dest);
            bail!(
                "JavaScript guest `{}` ({}, world `{}`) did not build: {}",
                g.name,
                g.dir.join("index.js").display(),
                g.world,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    Ok(())
}
