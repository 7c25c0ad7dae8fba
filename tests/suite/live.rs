//! The live-state API (`GET /v1/runs/{id}/live`, `GET /v1/live`) on both engines: a
//! running stage's slots, held and timed tasks and its rate bucket as the engine holds
//! them (then retuned through the API), a circuit breaker's card opening with its timer,
//! and cards a hostile plugin wrote (garbage, markup, oversized) shown safely or refused
//! with a reason. The dashboard's browser test (`dashboard::`) shows the same in Chromium.

use crate::serve::Server;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use troupe_tests::root;

/// Poll `path` until `ready` holds for its body; the last body.
fn until(server: &Server, path: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = server.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        if ready(&body) {
            return body;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{what} never happened: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn submit(server: &Server, body: Value) -> String {
    let (status, run) = server.post("/v1/runs", &body);
    assert_eq!(status, 201, "{run}");
    run["id"].as_str().unwrap().to_string()
}

/// A paced stage's slots and bucket; the bucket retuned; a breaker that opens.
fn slots_buckets_and_breakers(server: &Server) {
    let paced = submit(
        server,
        json!({ "pipeline": { "name": "paced", "stages": [{ "name": "fetch", "mode": "rate-limited",
        "actor": "Wait", "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": 300 },
        "executorConfig": { "rateLimit": 2, "burst": 2, "maxParallel": 3 } }] },
        "input": { "items": vec![1; 40] } }),
    );
    let path = format!("/v1/runs/{paced}/live");
    let live = until(server, &path, "the paced stage's bucket", |l| !l["stages"][0]["rate"].is_null());
    assert_eq!((live["runId"].as_str(), live["status"].as_str()), (Some(paced.as_str()), Some("running")), "{live}");
    let stage = &live["stages"][0];
    assert_eq!((stage["name"].as_str(), stage["mode"].as_str()), (Some("fetch"), Some("rate-limited")), "{live}");
    assert_eq!(stage["maxParallel"], json!(3), "{live}");
    assert_eq!(stage["retuned"], json!(false), "{live}");
    let rate = &stage["rate"];
    assert_eq!(
        (rate["bucket"].as_str(), rate["perSecond"].as_f64(), rate["burst"].as_u64()),
        (Some("Wait"), Some(2.0), Some(2)),
        "{live}"
    );
    assert!((0.0..=2.0).contains(&rate["tokens"].as_f64().unwrap()), "{live}");
    // Every released task is counted once: in flight (delayed or running) within the slots.
    let live =
        until(server, &path, "tasks held for a slot", |l| l["stages"][0]["counts"]["waiting"].as_u64() > Some(0));
    let stage = &live["stages"][0];
    assert!(stage["counts"]["inFlight"].as_u64().unwrap() <= 3, "{live}");
    assert!(stage["timed"].as_u64().unwrap() <= stage["counts"]["inFlight"].as_u64().unwrap(), "{live}");

    // Retuned through the API, the stage has a bucket of its own.
    let (status, body) = server.patch(
        &format!("/v1/runs/{paced}/stages/fetch"),
        &json!({ "maxParallel": 5, "rate": { "perSecond": 4, "burst": 3 } }),
    );
    assert_eq!(status, 200, "{body}");
    let live = until(server, &path, "the retuned bucket", |l| l["stages"][0]["rate"]["retuned"] == true);
    let stage = &live["stages"][0];
    assert_eq!((stage["maxParallel"].as_u64(), stage["retuned"].as_bool()), (Some(5), Some(true)), "{live}");
    assert_eq!(stage["rate"]["bucket"], "(retuned)", "{live}");
    assert_eq!((stage["rate"]["perSecond"].as_f64(), stage["rate"]["burst"].as_u64()), (Some(4.0), Some(3)), "{live}");
    let (status, _) = server.post(&format!("/v1/runs/{paced}/cancel"), &json!({}));
    assert_eq!(status, 202);
    assert_eq!(server.wait(&paced)["status"], "cancelled");
    let ended = until(server, &path, "the ended run's view", |l| l["status"] == "cancelled");
    assert_eq!(ended["stages"], json!([]), "an ended run has no running stage: {ended}");

    // A breaker over an actor that always fails: closed, then open after 3 failures.
    let broken = submit(
        server,
        json!({ "pipeline": { "name": "guarded", "stages": [{ "name": "call", "mode": "circuit-breaker",
        "actor": "Fail", "scatter": { "input": "$.trigger.items", "as": "item" },
        "input": { "message": "upstream said 503" }, "executorConfig": { "threshold": 3, "timeout": 60000 } }] },
        "input": { "items": vec![1; 6] } }),
    );
    assert_eq!(server.wait(&broken)["status"], "failed");
    let live = until(server, &format!("/v1/runs/{broken}/live"), "the breaker's card", |l| {
        l["cards"].as_array().is_some_and(|c| !c.is_empty())
    });
    let card = &live["cards"][0];
    assert_eq!(card["plugin"], "mode:circuit-breaker", "{live}");
    assert_eq!(card["name"], "breaker:Fail", "{live}");
    assert_eq!((card["kind"].as_str(), card["state"].as_str()), (Some("breaker"), Some("open")), "{live}");
    assert_eq!(card["fields"][0], json!(["failures", 3]), "{live}");
    assert_eq!(card["fields"][1], json!(["threshold", 3]), "{live}");
    assert_eq!(card["until"]["label"], "next trial in", "{live}");
    let left = card["until"]["inMs"].as_u64().unwrap();
    assert!(left > 0 && left <= 60_000, "{live}");
    // The same card in the all-runs view, which lists every current plugin's.
    let all = until(server, "/v1/live", "the card in /v1/live", |l| {
        l["cards"].as_array().is_some_and(|c| c.iter().any(|c| c["name"] == "breaker:Fail"))
    });
    assert_eq!(all["running"].as_u64(), all["runs"].as_array().map(|r| r.len() as u64), "{all}");
}

#[test]
fn live_state_on_the_embedded_engine() {
    slots_buckets_and_breakers(&Server::start(&[]));
}

#[test]
fn live_state_on_redis() {
    let prefix = troupe_tests::unique_prefix("live");
    let url = troupe_tests::test_redis_url();
    slots_buckets_and_breakers(&Server::start(&["--redis", &url, "--redis-prefix", &prefix]));
}

/// The default manifest with the misbehaving fixture added (a temporary copy that
/// finds the repository's plugins).
pub(crate) fn manifest_with_misbehave(dir: &std::path::Path) -> std::path::PathBuf {
    let manifest = std::fs::read_to_string(root().join("troupe.toml")).unwrap();
    let plugins = root().join("target/plugins");
    let manifest = manifest.replacen(
        "plugins-dir = \"target/plugins\"",
        &format!("plugins-dir = {}", toml_string(&plugins.to_string_lossy())),
        1,
    );
    assert!(manifest.contains(&*plugins.to_string_lossy()), "troupe.toml's plugins-dir moved");
    let path = dir.join("troupe.toml");
    std::fs::write(&path, format!("{manifest}\n[executors.misbehave]\ncomponent = \"fixtures/misbehave.wasm\"\n"))
        .unwrap();
    path
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn a_plugins_garbage_cards_are_refused_with_a_reason_and_its_markup_stays_text() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest_with_misbehave(dir.path());
    let server = Server::start(&["--manifest", manifest.to_str().unwrap()]);
    let id = submit(
        &server,
        json!({ "pipeline": { "name": "cards", "stages": [{ "name": "c", "mode": "misbehave",
        "executorConfig": { "behave": "cards" } }] } }),
    );
    assert_eq!(server.wait(&id)["status"], "succeeded");
    let (_, live) = server.get(&format!("/v1/runs/{id}/live"));
    let cards: Vec<&Value> = live["cards"].as_array().unwrap().iter().collect();
    let by_name = |name: &str| -> &Value {
        cards.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no card {name}: {live}"))
    };
    assert_eq!(cards.len(), 6, "{live}");
    for (name, why) in [
        ("garbage", "the card is not JSON"),
        ("list", "the card is not a JSON object"),
        ("no-kind", "`kind` is missing"),
        ("huge", "over the 16384 shown"),
    ] {
        let card = by_name(name);
        assert_eq!(card["kind"], "invalid", "{card}");
        assert!(card["error"].as_str().unwrap().contains(why), "{card}");
    }
    let markup = by_name("markup");
    assert_eq!(markup["kind"], "breaker");
    assert_eq!(markup["state"], "<b>open</b>", "kept as the plugin wrote it; the page sets it as text");
    let long = by_name("long");
    assert_eq!(long["kind"], "fields", "a kind the server does not know shows its fields: {long}");
    let title = long["title"].as_str().unwrap();
    assert!(
        title.starts_with("line\\nxxx") && title.ends_with("bytes more)") && title.len() < 160,
        "one line, cut: {title}"
    );
    assert_eq!(long["fields"].as_array().unwrap().len(), 24, "{long}");
    assert_eq!(long["state"], "idle", "its `until` key does not exist: the state after it: {long}");
    assert!(long["until"].is_null(), "{long}");
}
