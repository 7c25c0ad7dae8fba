//! The browser the dashboard tests drive: Debian's Chromium and its ChromeDriver,
//! installed with apt when missing (nothing installed by hand survives to CI).

use crate::run;
use anyhow::Context as _;
use std::process::Command;

fn has(program: &str) -> bool {
    Command::new(program).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

pub fn ensure() -> anyhow::Result<()> {
    if has("chromedriver") && has("chromium") {
        return Ok(());
    }
    eprintln!("xtask: installing Debian's chromium and chromium-driver (the dashboard tests drive them)");
    run(Command::new("apt-get").args(["update", "-qq"])).context("apt-get update")?;
    run(Command::new("apt-get").env("DEBIAN_FRONTEND", "noninteractive").args([
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "chromium",
        "chromium-driver",
    ]))
    .context("cannot install chromium and chromium-driver (needs apt and root)")
}
