//! Choosing how to build `wasm32-unknown-unknown` guests on this machine.
//!
//! Where rustup has the target's standard library, plain `cargo build --target` does it.
//! Where it cannot be downloaded (these build machines), Debian's `rustc-web`,
//! `cargo-web` and `rust-web-src` bring a compiler plus the standard library's source,
//! and the guests are built with `-Zbuild-std`, linked by rustup's own `rust-lld`
//! (see ../shared/notes/wasm-toolchain.md). Missing packages are installed here, so a
//! fresh machine needs no manual step.

use crate::run;
use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-unknown-unknown";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SOURCE: &str = "/usr/lib/rustlib/src/rust/library";
const DEBIAN_PACKAGES: [&str; 3] = ["rustc-web", "cargo-web", "rust-web-src"];

pub enum Route {
    /// rustup has the target: build as usual.
    Rustup,
    /// Debian's compiler with `-Zbuild-std`, linked by this rust-lld.
    BuildStd { lld: PathBuf },
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn route() -> anyhow::Result<Route> {
    let sysroot = PathBuf::from(output(Command::new("rustc").args(["--print", "sysroot"]))?);
    if sysroot.join("lib/rustlib").join(TARGET).join("lib").is_dir() {
        return Ok(Route::Rustup);
    }
    let host = output(Command::new("rustc").arg("-vV"))?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("`rustc -vV` printed no host triple")?;
    let lld = sysroot.join("lib/rustlib").join(host).join("bin/rust-lld");
    if !lld.is_file() {
        bail!(
            "neither the {TARGET} target nor rust-lld ({}) is installed; run `rustup target add {TARGET}`",
            lld.display()
        );
    }
    ensure_debian_packages()?;
    Ok(Route::BuildStd { lld })
}

fn ensure_debian_packages() -> anyhow::Result<()> {
    let present =
        Path::new(DEBIAN_RUSTC).is_file() && Path::new(DEBIAN_CARGO).is_file() && Path::new(DEBIAN_STD_SOURCE).is_dir();
    if present {
        return Ok(());
    }
    eprintln!(
        "xtask: rustup has no {TARGET} standard library; installing Debian's {} to build it from source",
        DEBIAN_PACKAGES.join(", ")
    );
    apt_install(&DEBIAN_PACKAGES).context(
        "cannot install the wasm toolchain; install rustc-web, cargo-web and rust-web-src, or run `rustup target add wasm32-unknown-unknown`",
    )
}

/// `apt-get install` Debian packages (with sudo unless root).
pub fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let root = output(Command::new("id").arg("-u")).map(|u| u == "0").unwrap_or(false);
    let sudo: &[&str] = if root { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut all: Vec<&str> = sudo.to_vec();
        all.push("apt-get");
        all.extend_from_slice(args);
        let mut cmd = Command::new(all[0]);
        cmd.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd)
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    apt(&install)
}

/// A `cargo build` of the guest workspace at `plugins` for the wasm target.
pub fn guest_build(route: &Route, plugins: &Path) -> Command {
    let mut cmd = match route {
        Route::Rustup => {
            let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            c.args(["build", "--release", "--target", TARGET]);
            c
        }
        Route::BuildStd { lld } => {
            let mut c = Command::new(DEBIAN_CARGO);
            c.args(["build", "--release", "-Zbuild-std=std,panic_abort", "--target", TARGET])
                .env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTDOC", "/usr/bin/rustdoc")
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", lld)
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("CARGO");
            c
        }
    };
    cmd.current_dir(plugins).env_remove("CARGO_TARGET_DIR").env("CARGO_TARGET_DIR", plugins.join("target"));
    cmd
}
