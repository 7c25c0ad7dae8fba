//! The Redis the tests need: the one answering on 127.0.0.1:6379, else Debian's
//! `redis-server` (installed when missing), started here without persistence. The
//! distributed tests also start their own `redis-server`, so it must be on the PATH.
//! `TROUPE_TEST_REDIS` set means the user chose a Redis: nothing is started.

use crate::toolchain::apt_install;
use anyhow::{bail, Context as _};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

const ADDR: &str = "127.0.0.1:6379";

fn answers() -> bool {
    let addr: SocketAddr = ADDR.parse().expect("a valid address");
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

fn on_path(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

pub fn ensure() -> anyhow::Result<()> {
    if !on_path("redis-server") {
        eprintln!("xtask: no redis-server on the PATH; installing Debian's redis-server");
        apt_install(&["redis-server"])
            .context("cannot install redis-server; install Redis 7 or later, or set TROUPE_TEST_REDIS")?;
    }
    if std::env::var_os("TROUPE_TEST_REDIS").is_some() || answers() {
        return Ok(());
    }
    eprintln!("xtask: nothing answers on {ADDR}; starting redis-server there (no persistence)");
    let status = Command::new("redis-server")
        .args(["--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"])
        .status()
        .context("cannot start redis-server")?;
    if !status.success() {
        bail!("redis-server failed to start ({status})");
    }
    let started = Instant::now();
    while !answers() {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("redis-server started but nothing answers on {ADDR} after 10 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
