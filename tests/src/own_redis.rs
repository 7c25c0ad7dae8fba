//! A redis-server of a test's own, for the tests that stop and restart Redis (the
//! machine's shared one must keep serving every other test).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server on a free port of its own, persisting to an append-only file (or,
/// [`OwnRedis::volatile`], persisting nothing: it restarts empty). Killed when dropped.
pub struct OwnRedis {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
    persist: bool,
}

impl OwnRedis {
    /// A server with `appendonly yes`: a restart loses nothing.
    pub fn start() -> OwnRedis {
        OwnRedis::with_persistence(true)
    }

    /// A server without persistence: it comes back empty (no data, no function library).
    pub fn volatile() -> OwnRedis {
        OwnRedis::with_persistence(false)
    }

    fn with_persistence(persist: bool) -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = OwnRedis { dir: tempfile::tempdir().unwrap(), port, server: None, persist };
        redis.boot();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Start the server (again, after [`OwnRedis::shut_down`]) and wait until it answers.
    pub fn boot(&mut self) {
        let server = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", if self.persist { "yes" } else { "no" }])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        self.server = Some(server);
        let url = self.url();
        let started = Instant::now();
        while redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_err()
        {
            assert!(started.elapsed() < Duration::from_secs(20), "redis-server on {url} did not answer in 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the server the way an operator restarts one (SHUTDOWN writes the AOF out).
    pub fn shut_down(&mut self) {
        let mut conn = redis::Client::open(self.url().as_str()).unwrap().get_connection().unwrap();
        let _ = redis::cmd("SHUTDOWN").query::<()>(&mut conn);
        if let Some(mut server) = self.server.take() {
            server.wait().unwrap();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(server) = &mut self.server {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}
