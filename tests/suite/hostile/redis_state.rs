//! What the host trusts from Redis: garbage written into a run's state mid-run fails the
//! run naming the key and field (never a silent hang); connections that are refused,
//! answered by something that is not Redis, never answered, or refused for a wrong
//! password each say so within seconds, never printing the password; an overflowing
//! `--retain-hours` and a run id that cannot name keys are refused before the run. Real
//! `troupe` processes against the machine's redis-server (`TROUPE_TEST_REDIS`) and
//! servers the tests start.

use serde_json::{json, Value};
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use troupe::engine::Keys;
use troupe_tests::{root, test_redis_url, unique_prefix};

/// `troupe <args>` on the repository's manifest, with output captured and no Redis from
/// the environment.
fn troupe(args: &[&str]) -> Command {
    let mut cmd = Command::new(root().join("target/release/troupe"));
    cmd.args(args).env_remove("TROUPE_REDIS").stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn with_manifest(mut cmd: Command) -> Command {
    cmd.arg("--manifest").arg(root().join("troupe.toml")).arg("--cache-dir").arg(root().join("target/test-cache"));
    cmd
}

fn write(dir: &tempfile::TempDir, name: &str, value: &Value) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

fn redis() -> redis::Connection {
    redis::Client::open(test_redis_url().as_str()).unwrap().get_connection().unwrap()
}

/// Wait for `child` to exit, at most `limit` (then kill it and fail: a hang).
fn exit_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("{what} hung for {limit:?}:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn garbage_in_a_stage_counter_fails_the_run_naming_the_key_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let (url, prefix) = (test_redis_url(), unique_prefix("garbage"));
    let keys = Keys::new(&prefix);
    let pipeline = json!([{ "name": "waits", "mode": "scatter", "actor": "Wait",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": 1000 } }]);
    let (p, i) = (write(&dir, "p.json", &pipeline), write(&dir, "i.json", &json!({ "items": [1, 2, 3, 4, 5, 6] })));
    let run = "garbage-expected";
    let mut cmd = with_manifest(troupe(&["run"]));
    cmd.arg(&p).arg("--input").arg(&i);
    cmd.args(["--run-id", run, "--concurrency", "1", "--redis", &url, "--redis-prefix", &prefix]);
    let child = cmd.spawn().unwrap();

    // Once the stage is sealed, something other than troupe writes into its counters.
    let stage_key = keys.stage(run, "waits");
    let started = Instant::now();
    let mut conn = redis();
    while redis::cmd("HGET").arg(&stage_key).arg("expected").query::<Option<String>>(&mut conn).unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "the stage was never sealed");
        std::thread::sleep(Duration::from_millis(20));
    }
    redis::cmd("HSET").arg(&stage_key).arg("expected").arg("abc").exec(&mut conn).unwrap();
    let written = Instant::now();

    let out = exit_within(child, Duration::from_secs(30), "the run with garbage in Redis");
    println!("troupe run failed {} ms after the garbage was written", written.elapsed().as_millis());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!("run {run}: Redis holds garbage: field `expected` of `{stage_key}` is `abc`, not a count");
    assert!(stderr.contains(&expected), "{stderr}");

    // The failure is recorded: `troupe status` shows it, the run is no longer served.
    let status = troupe(&["status", run, "--json", "--redis", &url, "--redis-prefix", &prefix]).output().unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["state"], "failed", "{status}");
    assert!(status["status"]["reason"].as_str().unwrap().contains(&expected), "{status}");

    // The same Redis and prefix serve the next run.
    let one =
        write(&dir, "one.json", &json!([{ "name": "one", "mode": "single", "actor": "Pass", "input": { "n": 1 } }]));
    let mut next = with_manifest(troupe(&["run"]));
    next.arg(&one).args(["--json", "--concurrency", "1", "--redis", &url, "--redis-prefix", &prefix]);
    let out = exit_within(next.spawn().unwrap(), Duration::from_secs(60), "the next run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["one"], json!({ "n": 1 }));
}

/// `troupe status` against `url`: its stderr, after checking it failed within a few
/// seconds (the time is printed, not asserted).
fn status_error(url: &str, what: &str) -> String {
    let started = Instant::now();
    let out = exit_within(troupe(&["status", "--redis", url]).spawn().unwrap(), Duration::from_secs(20), what);
    println!("{what}: failed after {} ms", started.elapsed().as_millis());
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn a_closed_port_says_connection_refused() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let stderr = status_error(&format!("redis://127.0.0.1:{port}"), "a closed port");
    assert!(
        stderr.contains(&format!(
            "cannot connect to Redis at redis://127.0.0.1:{port}: connection refused (is redis-server running on 127.0.0.1:{port}?)"
        )),
        "{stderr}"
    );
}

#[test]
fn an_http_listener_is_not_redis() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 256];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let stderr = status_error(&format!("redis://127.0.0.1:{port}"), "an HTTP listener");
    assert!(
        stderr.contains(&format!(
            "what listens on 127.0.0.1:{port} is not Redis (it answered PING with `HTTP/1.1 400 Bad Request` (an HTTP server))"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Parse error"), "{stderr}");
}

#[test]
fn a_listener_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let stderr = status_error(&format!("redis://127.0.0.1:{port}"), "a silent listener");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port} accepted the connection but did not answer PING within 3 s")),
        "{stderr}"
    );
}

/// A redis-server of the test's own with a password.
struct Guarded {
    server: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Guarded {
    fn start(password: &str) -> Guarded {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let server = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--requirepass", password])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Guarded { server, port, _dir: dir }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn a_wrong_password_says_authentication_failed_and_never_shows_the_password() {
    let guarded = Guarded::start("right-password-4711");
    let port = guarded.port;
    let stderr = status_error(&format!("redis://:wrong-password-0815@127.0.0.1:{port}"), "a wrong password");
    assert!(
        stderr.contains(&format!("cannot use Redis at redis://:***@127.0.0.1:{port}: authentication failed")),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-password-0815"), "the password is shown: {stderr}");
    // An ACL user that does not exist, the same.
    let stderr = status_error(&format!("redis://nobody:wrong-password-0815@127.0.0.1:{port}"), "an unknown user");
    assert!(stderr.contains("redis://nobody:***@"), "{stderr}");
    assert!(stderr.contains("authentication failed"), "{stderr}");
    assert!(!stderr.contains("wrong-password-0815"), "the password is shown: {stderr}");
    // The right password works (the same server serves).
    let out =
        troupe(&["status", "--redis", &format!("redis://:right-password-4711@127.0.0.1:{port}")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_overflowing_retention_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (url, prefix) = (test_redis_url(), unique_prefix("retain"));
    let one = write(&dir, "one.json", &json!([{ "name": "one", "mode": "single", "actor": "Pass", "input": {} }]));
    for hours in ["18446744073709551615", "87601", "-1"] {
        let mut cmd = with_manifest(troupe(&["run"]));
        cmd.arg(&one).args(["--redis", &url, "--redis-prefix", &prefix]).arg(format!("--retain-hours={hours}"));
        let out = exit_within(cmd.spawn().unwrap(), Duration::from_secs(30), "troupe run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("for '--retain-hours <RETAIN_HOURS>'"), "{stderr}");
        if hours != "-1" {
            assert!(stderr.contains(&format!("{hours} is not in 0..=87600")), "{stderr}");
        }
    }
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query(&mut redis()).unwrap();
    assert!(keys.is_empty(), "nothing ran, nothing was written: {keys:?}");
}

#[test]
fn a_run_id_that_cannot_name_keys_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (url, prefix) = (test_redis_url(), unique_prefix("run-id"));
    let one = write(&dir, "one.json", &json!([{ "name": "one", "mode": "single", "actor": "Pass", "input": {} }]));
    let long = "r".repeat(129);
    let cases = [
        ("a}b", "run id `a}b` holds '}'"),
        ("tenant:1", "run id `tenant:1` holds ':'"),
        ("with space", "run id `with space` holds ' '"),
        ("", "a run id cannot be empty"),
        (long.as_str(), "a run id has at most 128 characters; this one has 129"),
    ];
    for (id, says) in cases {
        let mut cmd = with_manifest(troupe(&["run"]));
        cmd.arg(&one).args(["--redis", &url, "--redis-prefix", &prefix]).arg(format!("--run-id={id}"));
        let out = exit_within(cmd.spawn().unwrap(), Duration::from_secs(30), "troupe run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("for '--run-id <RUN_ID>'") && stderr.contains(says), "{id:?}: {stderr}");
    }
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query(&mut redis()).unwrap();
    assert!(keys.is_empty(), "nothing ran, nothing was written: {keys:?}");
}

/// A listener that speaks just enough of the Redis protocol to pass for a Redis 6: `+OK`
/// to everything, and an `INFO` that says version 6.2.14.
fn fake_redis_6() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                while let Ok(n) = stream.read(&mut request) {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&request[..n]).to_string();
                    // One reply per command: a plain PING, or each `*N` array.
                    let commands = text.lines().filter(|l| l.starts_with('*')).count().max(1);
                    for _ in 0..commands {
                        let reply = if text.to_ascii_uppercase().contains("INFO") {
                            let info = "# Server\r\nredis_version:6.2.14\r\n";
                            format!("${}\r\n{info}\r\n", info.len())
                        } else {
                            "+OK\r\n".to_string()
                        };
                        let _ = stream.write_all(reply.as_bytes());
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_redis_older_than_7_is_named_with_its_version() {
    let port = fake_redis_6();
    let stderr = status_error(&format!("redis://127.0.0.1:{port}"), "a Redis 6");
    assert!(
        stderr.contains(&format!(
            "cannot use Redis at redis://127.0.0.1:{port}: it is Redis 6.2.14; troupe needs Redis 7 or later (functions)"
        )),
        "{stderr}"
    );
}
