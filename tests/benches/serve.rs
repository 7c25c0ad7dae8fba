//! What a `troupe serve` host costs per run. Run with `cargo xtask bench -- --bench serve`.
//!
//! Starts the release binary on port 0 (default manifest) and prints, on the embedded
//! engine and on Redis (the machine's, `TROUPE_TEST_REDIS`, under a fresh key prefix):
//! - submit-to-finish latency of a one-stage run (`single` over `Pass`), one at a time,
//!   p50 and p99 over 500 runs, timed from the POST to the `run-ended` event;
//! - sustained runs/s for 1,000 such runs submitted by 16 concurrent clients, each run
//!   followed to its end;
//! - on the embedded engine, the server's RSS after 10,000 runs, with the default retention (60 minutes: every
//!   run kept) and with `--retain-minutes 0` (ended runs forgotten within a second).
//!
//! Figures are printed, never asserted: the machine is shared and noisy.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use troupe_tests::root;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(root().join("target/release/troupe"))
            .current_dir(root())
            .args(["serve", "--listen", "127.0.0.1:0", "--cache-dir", "target/test-cache"])
            .args(extra)
            .env_remove("TROUPE_REDIS")
            .env_remove("TROUPE_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let base = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "troupe serve ended before listening");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = stderr.read_to_string(&mut sink);
        });
        Server { child, base }
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request() -> String {
    json!({ "pipeline": [{ "name": "one", "mode": "single", "actor": "Pass", "input": "$.trigger" }],
            "input": { "order": 42 } })
    .to_string()
}

/// Submit one run and wait for its `run-ended` event; the time it took.
fn one_run(agent: &ureq::Agent, base: &str, body: &str) -> Duration {
    let started = Instant::now();
    let mut response =
        agent.post(&format!("{base}/v1/runs")).header("content-type", "application/json").send(body).unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let run: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let id = run["id"].as_str().unwrap();
    let events = match agent.get(&format!("{base}/v1/runs/{id}/events")).call() {
        Ok(events) => events,
        // Ended and already forgotten (`--retain-minutes 0`).
        Err(ureq::Error::StatusCode(404)) => return started.elapsed(),
        Err(e) => panic!("{e}"),
    };
    let reader = BufReader::new(events.into_body().into_reader());
    for line in reader.lines() {
        let line = line.unwrap();
        if line == "event: run-ended" || (line.starts_with("data: ") && line.contains(r#""status":"succeeded""#)) {
            break;
        }
    }
    started.elapsed()
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e3
}

fn many(server: &Server, runs: usize, clients: usize) -> Duration {
    let body = request();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..clients {
            let (base, body) = (&server.base, &body);
            scope.spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                for _ in (c..runs).step_by(clients) {
                    one_run(&agent, base, body);
                }
            });
        }
    });
    started.elapsed()
}

fn main() {
    let url = troupe_tests::test_redis_url();
    let prefix = troupe_tests::unique_prefix("bench-serve");
    let engines: [(&str, Vec<&str>); 2] =
        [("embedded engine", vec![]), ("Redis engine", vec!["--redis", &url, "--redis-prefix", &prefix])];
    for (engine, extra) in engines {
        println!("== troupe serve: per-run cost ({engine}, one `single` stage over `Pass`) ==");
        let server = Server::start(&extra);
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let body = request();
        for _ in 0..50 {
            one_run(&agent, &server.base, &body);
        }
        let mut latencies: Vec<Duration> = (0..500).map(|_| one_run(&agent, &server.base, &body)).collect();
        println!(
            "submit-to-finish, one run at a time: p50 {:.2} ms, p99 {:.2} ms (500 runs)",
            percentile(&mut latencies, 0.5),
            percentile(&mut latencies, 0.99)
        );
        let took = many(&server, 1_000, 16);
        println!(
            "1,000 runs from 16 concurrent clients: {:.2} s, {:.0} runs/s",
            took.as_secs_f64(),
            1_000.0 / took.as_secs_f64()
        );
    }

    println!("== troupe serve: memory (embedded engine) ==");
    for (label, extra) in
        [("kept (--retain-minutes 60)", &[][..]), ("forgotten (--retain-minutes 0)", &["--retain-minutes", "0"][..])]
    {
        let server = Server::start(extra);
        let before = server.rss_mib();
        many(&server, 10_000, 16);
        std::thread::sleep(Duration::from_secs(2));
        println!("RSS after 10,000 runs, ended runs {label}: {:.0} MiB (at start: {before:.0} MiB)", server.rss_mib());
    }
}
