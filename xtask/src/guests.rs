//! The Rust guests in `plugins/`: build each for the wasm target and componentize it
//! into `target/plugins/` (fixtures into `target/plugins/fixtures/`).
//!
//! Every guest is built by one cargo invocation: troupe-sdk binds both worlds, each in
//! its own module, and each guest's component type is the one its export macro puts into
//! the guest's own crate. Its one feature, `http`, is unified across the guests, which is
//! harmless: a component imports `wasi:http` only if its code calls it.

use crate::toolchain::{self, Route};
use crate::{cargo, run};
use anyhow::{bail, Context as _};
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Guest {
    package: String,
    /// The cdylib's file stem (`-` becomes `_`).
    lib: String,
    fixture: bool,
}

/// Every package of the guest workspace with a `cdylib` target.
fn guests(root: &Path) -> anyhow::Result<Vec<Guest>> {
    let out = cargo(root)
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path", "plugins/Cargo.toml"])
        .output()
        .context("cannot run cargo metadata on plugins/")?;
    if !out.status.success() {
        bail!("cargo metadata on plugins/ failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let mut guests = Vec::new();
    for pkg in meta["packages"].as_array().into_iter().flatten() {
        let cdylib = pkg["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["crate_types"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib")));
        let Some(cdylib) = cdylib else { continue };
        let manifest = pkg["manifest_path"].as_str().unwrap_or_default();
        guests.push(Guest {
            package: pkg["name"].as_str().unwrap_or_default().to_string(),
            lib: cdylib["name"].as_str().unwrap_or_default().replace('-', "_"),
            fixture: manifest.contains("/fixtures/"),
        });
    }
    guests.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(guests)
}

pub fn build_all(root: &Path, out: &Path) -> anyhow::Result<()> {
    let plugins = root.join("plugins");
    let route = toolchain::route()?;
    if let Route::BuildStd { .. } = route {
        eprintln!("xtask: building guests with Debian's rustc and -Zbuild-std (no rustup {} std)", toolchain::TARGET);
    }
    let guests = guests(root)?;
    eprintln!("xtask: building guests: {}", guests.iter().map(|g| g.package.as_str()).collect::<Vec<_>>().join(", "));
    let mut cmd = toolchain::guest_build(&route, &plugins);
    for g in &guests {
        cmd.args(["-p", &g.package]);
    }
    run(&mut cmd)?;
    for g in &guests {
        let built = plugins.join("target").join(toolchain::TARGET).join("release").join(format!("{}.wasm", g.lib));
        let dest = if g.fixture { out.join("fixtures") } else { out.to_path_buf() };
        componentize_into(&built, &dest.join(format!("{}.wasm", g.package)))?;
    }
    Ok(())
}

fn componentize_into(module: &Path, dest: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)?
        .validate(true)
        .encode()
        .with_context(|| format!("cannot componentize {}", module.display()))?;
    std::fs::create_dir_all(dest.parent().expect("dest has a folder"))?;
    if std::fs::read(dest).ok().as_deref() != Some(&component[..]) {
        std::fs::write(dest, &component).with_context(|| format!("cannot write {}", dest.display()))?;
    }
    Ok(())
}

pub fn lint(root: &Path) -> anyhow::Result<()> {
    let manifest: PathBuf = root.join("plugins/Cargo.toml");
    run(cargo(root).args(["fmt", "--all", "--manifest-path"]).arg(&manifest).args(["--", "--check"]))?;
    run(cargo(root)
        .args(["clippy", "--workspace", "--all-targets", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", root.join("plugins/target"))
        .args(["--", "-D", "warnings"]))
}
