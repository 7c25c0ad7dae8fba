//! A Redis Cluster of a test's own: three masters (no replicas) on free ports, made a
//! cluster by `redis-cli --cluster create`, each persisting nothing. Killed when dropped.
//!
//! Why real servers: what a cluster refuses (a command or script touching two slots, a
//! key on another node) is decided by redis-server; a stand-in would only repeat what
//! troupe believes about it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a cluster may take to form before the test gives up.
const FORMING: Duration = Duration::from_secs(30);

pub struct OwnCluster {
    _dirs: Vec<tempfile::TempDir>,
    ports: Vec<u16>,
    servers: Vec<Child>,
}

impl OwnCluster {
    /// Three masters sharing the 16,384 slots, answering `cluster_state:ok` on each.
    pub fn start() -> OwnCluster {
        let mut cluster = OwnCluster { _dirs: Vec::new(), ports: Vec::new(), servers: Vec::new() };
        for _ in 0..3 {
            let port = free_port();
            let dir = tempfile::tempdir().unwrap();
            let server = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", "5000"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server is installed (.ci/run installs it)");
            cluster.servers.push(server);
            cluster.ports.push(port);
            cluster._dirs.push(dir);
        }
        for url in cluster.urls() {
            wait_until(&format!("{url} answers PING"), || query::<String>(&url, &["PING"]).is_ok());
        }
        let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli is installed with redis-server");
        assert!(created.status.success(), "redis-cli --cluster create failed: {created:?}");
        for url in cluster.urls() {
            wait_until(&format!("{url} reports cluster_state:ok"), || {
                query::<String>(&url, &["CLUSTER", "INFO"]).is_ok_and(|info| info.contains("cluster_state:ok"))
            });
        }
        cluster
    }

    /// Each master's URL.
    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect()
    }

    /// The slot redis-server puts `key` in (`CLUSTER KEYSLOT`, so hash tags are read by
    /// the server, not by the test).
    pub fn slot(&self, key: &str) -> u16 {
        query(&self.urls()[0], &["CLUSTER", "KEYSLOT", key]).expect("CLUSTER KEYSLOT")
    }

    /// The URL of the master that serves `slot`.
    pub fn master_of(&self, slot: u16) -> String {
        self.urls()
            .into_iter()
            .find(|url| {
                // A master's own line of `CLUSTER NODES` ("myself") ends with its slot ranges.
                let nodes: String = query(url, &["CLUSTER", "NODES"]).expect("CLUSTER NODES");
                let mine = nodes.lines().find(|l| l.contains("myself")).unwrap_or_default().to_string();
                mine.split_whitespace().skip(8).any(|range| match range.split_once('-') {
                    Some((a, b)) => {
                        a.parse::<u16>().is_ok_and(|a| a <= slot) && b.parse::<u16>().is_ok_and(|b| slot <= b)
                    }
                    None => range.parse::<u16>() == Ok(slot),
                })
            })
            .expect("every slot has a master once the cluster is ok")
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

fn free_port() -> u16 {
    // The cluster bus listens on port + 10000: keep both below 65536.
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < FORMING, "{what}: not within {} s", FORMING.as_secs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One command on a plain connection to `url`.
pub fn query<T: redis::FromRedisValue>(url: &str, args: &[&str]) -> redis::RedisResult<T> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut conn)
}
