//! What an outgoing HTTP request from an actor component costs, against a local server.
//! Run with `cargo xtask bench -- --bench http_call`.
//!
//! The same POST (a small JSON body, a small JSON reply, a new connection each time, as
//! troupe's sender makes) three ways, each timed per request, median and p99:
//! - native Rust: hyper's HTTP/1.1 client on tokio, the baseline;
//! - the `fetch` fixture actor (Rust, `troupe_sdk::http`) making one request per call:
//!   what a task that makes one request pays, instantiate and grant checks included;
//! - the same actor making 20 requests in one call, per request: the request's own cost
//!   inside a running instance.
//!
//! A call with no request is timed too, so the difference shows what the request adds.
//! Figures are printed, never asserted: the machine is shared and noisy.

use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::manifest::HttpGrant;
use troupe::plugin::{ActorPlugin, EngineOptions, Loader, PluginSpec};
use troupe::{RecordingHost, StageHost};
use troupe_tests::fixture;

const BODY: &[u8] = br#"{"event":"documents.processed","pagesByType":{"invoice":2,"contract":2,"receipt":1}}"#;
const SAMPLES: usize = 2_000;
/// Requests per call in the batched measurement: the default `http-requests` limit.
const PER_CALL: usize = 20;

/// A local HTTP/1.1 server: reads one request per connection, answers 200 with a small
/// JSON body and closes.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

fn answer(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let reply = br#"{"ok":true}"#;
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        reply.len()
    );
    let _ = stream.write_all(reply);
}

fn median_p99(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// The baseline: the same POST from native Rust, a new connection each time.
fn native(port: u16) -> Vec<Duration> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let post = || async {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util_io(stream)).await.expect("handshake");
            tokio::spawn(connection);
            let request = http::Request::post("/hooks/bench")
                .header("host", format!("127.0.0.1:{port}"))
                .header("content-type", "application/json")
                .header("content-length", BODY.len())
                .body(Full::new(BODY))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap().to_bytes()
        };
        for _ in 0..200 {
            post().await;
        }
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            post().await;
            samples.push(started.elapsed());
        }
        samples
    })
}

/// tokio's stream as hyper's IO, through wasmtime-wasi-http's adapter (the one troupe's
/// sender uses), so both sides speak to hyper the same way.
fn hyper_util_io(stream: tokio::net::TcpStream) -> wasmtime_wasi_http::io::TokioIo<tokio::net::TcpStream> {
    wasmtime_wasi_http::io::TokioIo::new(stream)
}

fn fetch_actor(port: u16) -> ActorPlugin {
    let loader = Loader::new(&EngineOptions { max_memory_mib: 256 }, None).unwrap();
    let grant = HttpGrant::parse(&format!("http://127.0.0.1:{port}/hooks")).unwrap();
    loader.load_actor(&PluginSpec::file("Fetch", fixture("fetch")).with_http(vec![grant])).unwrap()
}

/// `calls` calls of the actor with `requests` requests each; the time of each call.
fn wasm(actor: &ActorPlugin, port: u16, requests: usize, calls: usize) -> Vec<Duration> {
    let host: Arc<dyn StageHost> = Arc::new(RecordingHost::new(json!({})));
    let body: Value = serde_json::from_slice(BODY).unwrap();
    let one = json!({ "method": "POST", "url": format!("http://127.0.0.1:{port}/hooks/bench"), "json": body });
    let input = json!({ "requests": vec![one; requests], "stopOnError": true }).into();
    let call = || {
        let out = actor.invoke(host.clone(), "bench", "http", &input).unwrap().unwrap().to_value();
        assert_eq!(out.as_array().map(Vec::len), Some(requests), "{out}");
    };
    for _ in 0..(calls / 10).max(20) {
        call();
    }
    (0..calls)
        .map(|_| {
            let started = Instant::now();
            call();
            started.elapsed()
        })
        .collect()
}

fn main() {
    let port = serve();
    let actor = fetch_actor(port);
    println!("== HTTP call from an actor vs native Rust (local server, new connection per request) ==");
    let (n50, n99) = median_p99(native(port));
    println!("native Rust (hyper, tokio):                      median {n50:>7.1} µs, p99 {n99:>7.1} µs per request");
    let (e50, e99) = median_p99(wasm(&actor, port, 0, SAMPLES));
    println!("wasm actor, a call with no request:              median {e50:>7.1} µs, p99 {e99:>7.1} µs per call");
    let (w50, w99) = median_p99(wasm(&actor, port, 1, SAMPLES));
    println!(
        "wasm actor, one request per call (whole call):   median {w50:>7.1} µs, p99 {w99:>7.1} µs per request \
         ({:.2}x native at the median)",
        w50 / n50
    );
    let batched: Vec<Duration> =
        wasm(&actor, port, PER_CALL, SAMPLES / PER_CALL * 2).into_iter().map(|d| d / PER_CALL as u32).collect();
    let (b50, b99) = median_p99(batched);
    println!(
        "wasm actor, {PER_CALL} requests per call, per request: median {b50:>7.1} µs, p99 {b99:>7.1} µs per request \
         ({:.2}x native at the median; p99 of per-call means)",
        b50 / n50
    );
}
