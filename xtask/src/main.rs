//! `cargo xtask <command>`: the project's one entry point for building, testing and
//! demonstrating troupe from a fresh clone.
//!
//! - `build`: the host (release) and every guest (Rust, Python, JavaScript), as components
//!   in `target/plugins/`.
//! - `test`: `build`, then every test of the host workspace (starting Redis if none answers,
//!   installing Chromium and ChromeDriver for the dashboard tests if missing), then the
//!   behavioural suites again on Redis.
//! - `lint`: rustfmt and clippy over both workspaces (what CI checks).
//! - `demo`: `build`, then the main job.
//! - `bench`: `build`, then the benchmarks, which print their figures.

mod browser;
mod guests;
mod js;
mod python;
mod redis;
mod testing;
mod toolchain;

use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    match args.first().map(String::as_str) {
        Some("build") => build(&root),
        Some("test") => {
            build(&root)?;
            testing::test(&root, &args[1..])
        }
        Some("lint") => lint(&root),
        Some("demo") => {
            build(&root)?;
            demo(&root)
        }
        Some("bench") => {
            build(&root)?;
            let mut cmd = cargo(&root);
            // `cargo xtask bench -- --bench redis` and `cargo xtask bench --bench redis`
            // both mean cargo's `--bench redis`.
            let rest = match args.get(1).map(String::as_str) {
                Some("--") => &args[2..],
                _ => &args[1..],
            };
            cmd.args(["bench", "-p", "troupe-tests"]).args(rest);
            run(&mut cmd)
        }
        _ => bail!("usage: cargo xtask <build | test [cargo test args] [-- libtest args] | lint | demo | bench>"),
    }
}

/// The repository root (xtask lives one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the repository").to_path_buf()
}

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn build(root: &Path) -> anyhow::Result<()> {
    let out = root.join("target").join("plugins");
    guests::build_all(root, &out)?;
    python::build_all(root, &out)?;
    js::build_all(root, &out)?;
    eprintln!("xtask: building the host (release)");
    run(cargo(root).args(["build", "--release", "-p", "troupe"]))
}

fn lint(root: &Path) -> anyhow::Result<()> {
    run(cargo(root).args(["fmt", "--all", "--", "--check"]))?;
    run(cargo(root).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    guests::lint(root)
}

fn demo(root: &Path) -> anyhow::Result<()> {
    let troupe = root.join("target/release/troupe");
    eprintln!("\n== troupe plugins: every entry of troupe.toml, loaded and checked ==");
    run(Command::new(&troupe).current_dir(root).arg("plugins"))?;
    eprintln!("\n== troupe run: examples/document-processing (scatter, gather, broadcast, fork-join) ==");
    run(Command::new(&troupe).current_dir(root).args([
        "run",
        "examples/document-processing/pipeline.json",
        "--input",
        "examples/document-processing/input.json",
    ]))
}
