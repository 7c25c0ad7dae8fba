//! Outgoing HTTP from actor components, by grant (`allow-http`): the `fetch` fixture
//! (`plugins/fixtures/fetch`, through `troupe_sdk::http`) run by `troupe run` against a
//! local receiver on 127.0.0.1 that records what arrives. A granted URL is reached with
//! the body sent; an ungranted one, a name resolving to an internal address, requests
//! past `http-requests` and a response past `http-response-bytes` are refused with the
//! host's message naming the actor and the URL, and nothing of them arrives. And an
//! executor's `actors = [...]`: the mode enqueues for those actors only. And a Python
//! actor (`plugins/python/fetch-json`, the `http-actor` world) under the same checks.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use troupe_tests::root;

/// A request the receiver got: method, path and body.
#[derive(Debug, Clone, PartialEq)]
struct Arrived {
    method: String,
    path: String,
    body: String,
}

/// An HTTP/1.1 receiver on 127.0.0.1: answers `/hooks/big` with 200,000 bytes, anything
/// else with `{"received": <path>}`; records every request.
struct Receiver {
    port: u16,
    arrived: Arc<Mutex<Vec<Arrived>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let arrived = Arc::new(Mutex::new(Vec::new()));
        let log = arrived.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Receiver { port, arrived }
    }

    fn arrived(&self) -> Vec<Arrived> {
        self.arrived.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Arrived>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or("").to_string(), words.next().unwrap_or("").to_string());
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    log.lock().unwrap().push(Arrived { method, path: path.clone(), body: String::from_utf8_lossy(&body).into() });
    let reply = if path == "/hooks/big" { "x".repeat(200_000) } else { json!({ "received": path }).to_string() };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    );
}

/// A manifest granting `Fetch` the receiver's `/hooks` (and whatever `more` lists).
fn manifest(dir: &Path, port: u16, more: &[String]) -> PathBuf {
    let mut grants = vec![format!("\"http://127.0.0.1:{port}/hooks\"")];
    grants.extend(more.iter().map(|g| format!("\"{g}\"")));
    let text = format!(
        r#"version = 1
plugins-dir = "{}"

[executors.single]
component = "single.wasm"

[actors.Fetch]
component = "fixtures/fetch.wasm"
allow-http = [{}]
limits = {{ http-requests = 3, http-response-bytes = 100000 }}
"#,
        root().join("target/plugins").display(),
        grants.join(", ")
    );
    let path = dir.join("troupe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `troupe run --json` of `pipeline` with `input`, on the embedded engine.
fn run(manifest: &Path, pipeline: &Value, input: &Value) -> std::process::Output {
    let dir = manifest.parent().unwrap();
    let (p, i) = (dir.join("pipeline.json"), dir.join("input.json"));
    std::fs::write(&p, pipeline.to_string()).unwrap();
    std::fs::write(&i, input.to_string()).unwrap();
    Command::new(root().join("target/release/troupe"))
        .arg("run")
        .arg(&p)
        .arg("--input")
        .arg(&i)
        .arg("--json")
        .arg("--manifest")
        .arg(manifest)
        .arg("--cache-dir")
        .arg(root().join("target/test-cache"))
        .env_remove("TROUPE_REDIS")
        .output()
        .unwrap()
}

/// Run `Fetch` once with `requests`; its outcomes, or the run's error output.
fn fetch(manifest: &Path, requests: Value, stop_on_error: bool) -> Result<Value, String> {
    let pipeline = json!({ "name": "fetching", "stages": [
        { "name": "fetch", "mode": "single", "actor": "Fetch", "input": "$.trigger" } ] });
    fetch_output(&run(manifest, &pipeline, &json!({ "requests": requests, "stopOnError": stop_on_error })))
}

/// The `fetch` stage's output of a run that succeeded, or its error output.
fn fetch_output(out: &std::process::Output) -> Result<Value, String> {
    if out.status.success() {
        let context: Value = serde_json::from_slice(&out.stdout).unwrap();
        Ok(context["fetch"].clone())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into())
    }
}

#[test]
fn a_granted_url_is_reached_with_the_body_sent() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path(), receiver.port, &[]);
    let url = format!("http://127.0.0.1:{}/hooks/notify?run=1", receiver.port);
    let outcomes = fetch(&manifest, json!([{ "method": "POST", "url": url, "json": { "text": "done ✓" } }]), false);
    assert_eq!(outcomes, Ok(json!([{ "status": 200, "body": r#"{"received":"/hooks/notify?run=1"}"# }])));
    assert_eq!(
        receiver.arrived(),
        [Arrived { method: "POST".into(), path: "/hooks/notify?run=1".into(), body: r#"{"text":"done ✓"}"#.into() }]
    );
}

#[test]
fn an_ungranted_url_is_refused_naming_the_actor_and_the_url() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path(), receiver.port, &[]);
    let port = receiver.port;
    let refused = [
        format!("http://127.0.0.1:{port}/admin"),
        format!("http://127.0.0.1:{port}/hookshot"),
        format!("http://127.0.0.1:{port}/hooks/../admin"),
        format!("https://127.0.0.1:{port}/hooks"),
        format!("http://127.0.0.2:{port}/hooks"),
    ];
    let requests: Vec<Value> = refused.iter().map(|u| json!({ "url": u })).collect();
    let outcomes = fetch(&manifest, json!(requests), false).unwrap();
    let grant = format!("http://127.0.0.1:{port}/hooks");
    for (url, outcome) in refused.iter().zip(outcomes.as_array().unwrap()) {
        let error = outcome["error"].as_str().unwrap_or_else(|| panic!("{url} was not refused: {outcome}"));
        assert!(error.starts_with("actor `Fetch` may not reach http"), "{url}: {error}");
        if !url.contains("..") {
            assert_eq!(error, format!("actor `Fetch` may not reach {url}: not in its allow-http grant ({grant})"));
        }
    }
    assert_eq!(receiver.arrived(), [], "nothing refused arrived");

    // A task whose actor gives up on the refusal fails with the host's message.
    let err = fetch(&manifest, json!([{ "url": refused[0] }]), true).unwrap_err();
    assert!(err.contains(&format!("actor `Fetch` may not reach {}: not in its allow-http grant", refused[0])), "{err}");
}

#[test]
fn a_name_that_resolves_to_an_internal_address_is_refused() {
    // This machine's own name resolves to one of its addresses, loopback or private:
    // granted by name, it must not reach them.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let resolved: Vec<std::net::IpAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 80))
        .map(|a| a.map(|a| a.ip()).collect())
        .unwrap_or_default();
    if resolved.is_empty() || resolved.iter().any(|ip| troupe::manifest::is_public(*ip)) {
        println!("skipped: `{host}` resolves to {resolved:?}, not only internal addresses");
        return;
    }
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let grant = format!("http://{host}:{}/hooks", receiver.port);
    let manifest = manifest(dir.path(), receiver.port, std::slice::from_ref(&grant));
    let url = format!("http://{host}:{}/hooks/x", receiver.port);
    let outcomes = fetch(&manifest, json!([{ "url": url }]), false).unwrap();
    let error = outcomes[0]["error"].as_str().unwrap_or_else(|| panic!("not refused: {outcomes}"));
    assert!(
        error.starts_with(&format!("actor `Fetch` may not reach {url}: {host} resolves to "))
            && error.contains("not a public address"),
        "{error}"
    );
    assert_eq!(receiver.arrived(), [], "nothing arrived");
}

#[test]
fn requests_and_response_bytes_stop_at_the_calls_limits() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path(), receiver.port, &[]);
    let url = |p: &str| format!("http://127.0.0.1:{}/hooks/{p}", receiver.port);
    let requests: Vec<Value> = ["1", "2", "3", "4"].iter().map(|p| json!({ "url": url(p) })).collect();
    let outcomes = fetch(&manifest, json!(requests), false).unwrap();
    for i in 0..3 {
        assert_eq!(outcomes[i]["status"], json!(200), "{outcomes}");
    }
    assert_eq!(
        outcomes[3]["error"],
        json!(format!(
            "actor `Fetch` may not reach {}: it made 3 requests in this call, its limit http-requests",
            url("4")
        ))
    );
    assert_eq!(receiver.arrived().len(), 3, "the fourth never left");

    let outcomes = fetch(&manifest, json!([{ "url": url("big") }]), false).unwrap();
    let error = outcomes[0]["error"].as_str().unwrap_or_else(|| panic!("not refused: {outcomes}"));
    assert!(error.contains("limit") && error.contains("100000 bytes"), "{error}");
}

#[test]
fn an_executor_enqueues_only_for_the_actors_its_entry_lists() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("troupe.toml");
    let text = format!(
        r#"version = 1
plugins-dir = "{}"

[executors.scatter]
component = "scatter.wasm"
actors = ["Pass"]

[actors.Pass]
component = "pass.wasm"

[actors.Fail]
component = "fail.wasm"
"#,
        root().join("target/plugins").display()
    );
    std::fs::write(&manifest, text).unwrap();
    let scatter = |actor: &str| {
        let pipeline = json!({ "name": "scattering", "stages": [
            { "name": "each", "mode": "scatter", "actor": actor,
              "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "n": "$.item" } } ] });
        run(&manifest, &pipeline, &json!({ "items": [1, 2] }))
    };
    let ok = scatter("Pass");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let context: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(context["each"], json!([{ "n": 1 }, { "n": 2 }]));

    let refused = scatter("Fail");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "queue.enqueue-each: mode `scatter` may not enqueue for actor `Fail`: its manifest entry allows actors = [Pass]"
        ),
        "{stderr}"
    );

    let listed = Command::new(root().join("target/release/troupe"))
        .args(["plugins", "--manifest"])
        .arg(&manifest)
        .arg("--cache-dir")
        .arg(root().join("target/test-cache"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(stdout.contains("mode scatter may enqueue for (actors): Pass"), "{stdout}");
}

/// `FetchJson` (plugins/python/fetch-json, componentize-py against the `http-actor`
/// world) once with `input`, granted the receiver's `/hooks`: its output or the run's
/// error output.
fn fetch_json(receiver: &Receiver, input: Value) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"version = 1
plugins-dir = "{}"

[executors.single]
component = "single.wasm"

[actors.FetchJson]
component = "fetch-json.wasm"
allow-http = ["http://127.0.0.1:{}/hooks"]
limits = {{ memory-mib = 256, timeout-ms = 30000 }}
"#,
        root().join("target/plugins").display(),
        receiver.port
    );
    let manifest = dir.path().join("troupe.toml");
    std::fs::write(&manifest, text).unwrap();
    let pipeline = json!({ "name": "fetching", "stages": [
        { "name": "fetch", "mode": "single", "actor": "FetchJson", "input": "$.trigger" } ] });
    fetch_output(&run(&manifest, &pipeline, &input))
}

#[test]
fn a_python_actor_reaches_a_granted_url_and_is_refused_another() {
    let receiver = Receiver::start();
    let port = receiver.port;
    let url = format!("http://127.0.0.1:{port}/hooks/py?run=7");
    let posted = fetch_json(&receiver, json!({ "url": url, "json": { "text": "done ✓", "n": [1, 2] } }));
    assert_eq!(posted, Ok(json!({ "status": 200, "body": { "received": "/hooks/py?run=7" } })));
    let got = fetch_json(&receiver, json!({ "url": format!("http://127.0.0.1:{port}/hooks/get") }));
    assert_eq!(got, Ok(json!({ "status": 200, "body": { "received": "/hooks/get" } })));
    let arrived = receiver.arrived();
    let seen: Vec<(&str, &str)> = arrived.iter().map(|a| (a.method.as_str(), a.path.as_str())).collect();
    assert_eq!(seen, [("POST", "/hooks/py?run=7"), ("GET", "/hooks/get")]);
    let sent: Value = serde_json::from_str(&arrived[0].body).unwrap();
    assert_eq!(sent, json!({ "text": "done ✓", "n": [1, 2] }));
    assert_eq!(arrived[1].body, "");

    let admin = format!("http://127.0.0.1:{port}/admin");
    let err = fetch_json(&receiver, json!({ "url": admin })).unwrap_err();
    let expected = format!(
        "GET {admin} failed: actor `FetchJson` may not reach {admin}: not in its allow-http grant \
         (http://127.0.0.1:{port}/hooks)"
    );
    assert!(err.contains(&expected), "the error lacks {expected:?}:\n{err}");

    // The reply is read within http-response-bytes' default (4 MiB): 200,000 bytes pass,
    // and a body that is not JSON fails the task saying so.
    let err = fetch_json(&receiver, json!({ "url": format!("http://127.0.0.1:{port}/hooks/big") })).unwrap_err();
    assert!(
        err.contains(&format!("GET http://127.0.0.1:{port}/hooks/big answered 200 with a body that is not JSON: xxx")),
        "{err}"
    );

    let err = fetch_json(&receiver, json!({ "json": {} })).unwrap_err();
    assert!(err.contains("input.url must be a string, not null"), "{err}");
    assert_eq!(receiver.arrived().len(), 3, "nothing refused arrived: {:#?}", receiver.arrived());
}
