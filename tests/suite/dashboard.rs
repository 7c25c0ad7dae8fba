//! The dashboard in a real browser: Debian's Chromium, headless, driven through
//! ChromeDriver (WebDriver) as a user would: submit the document example from the form
//! and watch every stage bar reach 100%, read a failed task's error on its run's page,
//! cancel a long run, raise a running stage's `maxParallel` from its row (the engine's
//! `maxInFlight` shows it), and the plugin list; the live-state view (a paced stage's
//! slots and bucket, a circuit breaker opening, a hostile plugin's cards kept as text) and
//! a keyboard-only walk through the runs page. Screenshots of the main views go to
//! `target/screenshots/` (the README shows some of them).

use crate::serve::Server;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use troupe_tests::root;

/// A chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; `cargo xtask test` installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, width: u32) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--window-size={width},900")] }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Wait until `check` says yes (the page updates from its event stream).
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(60), "{what} never happened in the browser");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What `script` returns, evaluated in the page at once (the page re-renders as events
/// arrive, so element handles held across awaits go stale; one script reads a consistent
/// view).
async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, Vec::new()).await.unwrap()
}

/// Click the element `css` selects, once it is there (found and clicked together).
async fn click(client: &Client, css: &str) {
    let started = Instant::now();
    loop {
        if let Ok(e) = client.find(Locator::Css(css)).await {
            if e.click().await.is_ok() {
                return;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "nothing to click at {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// Each stage row of the run page: its name and its bar's progress (percent).
async fn stage_bars(client: &Client) -> Vec<(String, String)> {
    let rows = js(
        client,
        "return [...document.querySelectorAll('tr[data-stage]')]\
        .map(r => [r.dataset.stage, r.querySelector('.bar').dataset.progress]);",
    )
    .await;
    serde_json::from_value(rows).unwrap()
}

async fn run_status(client: &Client) -> String {
    let status = js(client, "const s = document.querySelector('main h1 + p .status'); return s ? s.textContent : '';");
    status.await.as_str().unwrap_or_default().to_string()
}

/// The text of the first element `css` selects, or "" (none yet).
async fn text(client: &Client, css: &str) -> String {
    let script = format!("const e = document.querySelector({}); return e ? e.textContent : '';", json!(css));
    js(client, &script).await.as_str().unwrap_or_default().to_string()
}

#[test]
fn the_dashboard_submits_watches_cancels_and_retunes_runs_in_chromium() {
    let server = Server::start(&[]);
    let driver = Driver::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = browser(&driver, 1280).await;

        // Submit the document example from the form; the page follows the run.
        client.goto(&format!("{}/#/runs", server.base)).await.unwrap();
        let input = client.wait().for_element(Locator::Id("s-input")).await.unwrap();
        input.clear().await.unwrap();
        let example = std::fs::read_to_string(root().join("examples/document-processing/input.json")).unwrap();
        input.send_keys(&example).await.unwrap();
        click(&client, "#submit-run").await;
        until("the run page", || async { client.current_url().await.unwrap().as_str().contains("#/runs/run-") }).await;
        until("the run's success", || async { run_status(&client).await == "succeeded" }).await;
        let bars = stage_bars(&client).await;
        assert_eq!(bars.len(), 4, "{bars:?}");
        assert!(bars.iter().all(|(_, p)| p == "100"), "every stage bar at 100%: {bars:?}");
        // The timeline: each stage started, in order, and took its time.
        let spans = js(
            &client,
            "return [...document.querySelectorAll('li[data-timeline] .track')].map(t => t.getAttribute('aria-label'));",
        );
        let spans: Vec<String> = serde_json::from_value(spans.await).unwrap();
        assert_eq!(spans.len(), 4, "{spans:?}");
        assert!(spans.iter().all(|s| s.contains(": from ") && !s.contains("running")), "{spans:?}");
        assert_eq!(text(&client, "details.output summary").await, "process-files");
        screenshot(&client, "run.png").await;

        // A failed run: its task's error, as the actor gave it.
        let (_, failed) = server.post(
            "/v1/runs",
            &json!({ "pipeline": { "name": "failing", "stages": [
            { "name": "boom", "mode": "single", "actor": "Fail", "input": { "message": "upstream said 503" } }] } }),
        );
        let failed = failed["id"].as_str().unwrap().to_string();
        client.goto(&format!("{}/#/runs/{failed}", server.base)).await.unwrap();
        until("the failed status", || async { run_status(&client).await == "failed" }).await;
        until("the failed task's row", || async { !text(&client, "#failed td.error").await.is_empty() }).await;
        assert_eq!(text(&client, "#failed td.error").await, "upstream said 503");

        // Cancel a long run with its button.
        let (_, long) = server.post(
            "/v1/runs",
            &json!({ "pipeline": { "name": "long", "stages": [
            { "name": "wait", "mode": "single", "actor": "Wait", "input": { "ms": 60000 } }] } }),
        );
        let long = long["id"].as_str().unwrap().to_string();
        client.goto(&format!("{}/#/runs/{long}", server.base)).await.unwrap();
        click(&client, "#cancel").await;
        until("the cancelled status", || async { run_status(&client).await == "cancelled" }).await;

        // Raise a running stage's maxParallel from its row.
        let (_, slow) = server.post(
            "/v1/runs",
            &json!({ "pipeline": { "name": "slow", "stages": [{ "name": "wait",
            "mode": "scatter", "actor": "Wait", "scatter": { "input": "$.trigger.items", "as": "item" },
            "input": { "ms": 300 }, "executorConfig": { "maxParallel": 1 } }] }, "input": { "items": vec![1; 12] } }),
        );
        let slow = slow["id"].as_str().unwrap().to_string();
        client.goto(&format!("{}/#/runs/{slow}", server.base)).await.unwrap();
        // The row re-renders with the run's events: type and apply in one go.
        until("the retune form", || async { !text(&client, "form[data-retune=wait] button").await.is_empty() }).await;
        screenshot(&client, "run-retune.png").await;
        js(
            &client,
            "const f = document.querySelector('form[data-retune=wait]');\
            f.querySelector('input[name=maxParallel]').value = '6'; f.requestSubmit(); return true;",
        )
        .await;
        until("the slow run's end", || async { run_status(&client).await == "succeeded" }).await;
        let detail: Value = server.get(&format!("/v1/runs/{slow}")).1;
        let most = detail["stages"][0]["counts"]["maxInFlight"].as_u64().unwrap();
        assert!(most > 1 && most <= 6, "retuned from the page: {detail}");

        // The runs list, filtered, and the plugins.
        client.goto(&format!("{}/#/runs?status=succeeded", server.base)).await.unwrap();
        until("the filtered list", || async {
            client.find_all(Locator::Css("tr[data-run]")).await.map(|rows| rows.len() == 2).unwrap_or(false)
        })
        .await;
        screenshot(&client, "runs.png").await;
        client.goto(&format!("{}/#/plugins", server.base)).await.unwrap();
        until("the plugin list", || async { text(&client, "tr[data-plugin='mode:scatter']").await.contains("0.2.1") })
            .await;
        // Each plugin's language, from its component's `producers` sections.
        for (row, language) in [("mode:scatter", "Rust"), ("mode:chunk", "Python"), ("actor:Render", "JavaScript")] {
            let shown = text(&client, &format!("tr[data-plugin='{row}'] td:nth-child(4)")).await;
            assert_eq!(shown, language, "{row}");
        }
        screenshot(&client, "plugins.png").await;
        client.close().await.unwrap();

        // A phone's width: the run page still shows every stage's bar.
        let phone = browser(&driver, 390).await;
        phone.goto(&format!("{}/#/runs/{slow}", server.base)).await.unwrap();
        until("the phone's run page", || async { run_status(&phone).await == "succeeded" }).await;
        assert_eq!(stage_bars(&phone).await.len(), 1);
        screenshot(&phone, "run-phone.png").await;
        phone.close().await.unwrap();
    });
}

/// Press Tab `times` times (from the top of a freshly loaded page); what had the focus
/// after each press (its id, else its label or text).
async fn tab_walk(client: &Client, times: usize) -> Vec<String> {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut seen = Vec::new();
    for _ in 0..times {
        let tab = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: '\u{E004}' })
            .then(KeyAction::Up { value: '\u{E004}' });
        client.perform_actions(tab).await.unwrap();
        let focused = js(
            client,
            "const e = document.activeElement; if (!e || e === document.body) return '';\
            return e.id || e.getAttribute('aria-label') || e.textContent.trim().slice(0, 40);",
        )
        .await;
        seen.push(focused.as_str().unwrap_or_default().to_string());
    }
    seen
}

#[test]
fn the_live_state_view_shows_slots_a_rate_bucket_and_a_circuit_breaker_opening() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = crate::live::manifest_with_misbehave(dir.path());
    let server = Server::start(&["--manifest", manifest.to_str().unwrap()]);
    let driver = Driver::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = browser(&driver, 1280).await;

        // A paced run: 2 tasks a second, bursts of 2, at most 3 in flight.
        let (_, paced) = server.post(
            "/v1/runs",
            &json!({ "pipeline": { "name": "paced", "stages": [{ "name": "fetch", "mode": "rate-limited",
            "actor": "Wait", "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": 400 },
            "executorConfig": { "rateLimit": 2, "burst": 2, "maxParallel": 3 } }] },
            "input": { "items": vec![1; 40] } }),
        );
        let paced = paced["id"].as_str().unwrap().to_string();
        client.goto(&format!("{}/#/live", server.base)).await.unwrap();
        let row = format!("section[data-live-run='{paced}'] tr[data-live-stage=fetch]");
        until("the paced stage's live row", || async { text(&client, &row).await.contains("burst 2") }).await;
        let shown = text(&client, &row).await;
        assert!(shown.contains("bucket Wait") && shown.contains("2/s") && shown.contains("of 3 in use"), "{shown}");
        let script = format!("return document.querySelector(\"{row} [role=meter]\").getAttribute('aria-valuemax');");
        let slots = js(&client, &script).await;
        assert_eq!(slots, json!("3"), "the slots meter's maximum is the stage's maxParallel");
        // The API says the same, from the engine's own state.
        let live: Value = server.get(&format!("/v1/runs/{paced}/live")).1;
        let stage = &live["stages"][0];
        assert_eq!((stage["name"].as_str(), stage["maxParallel"].as_u64()), (Some("fetch"), Some(3)), "{live}");
        assert_eq!(stage["rate"]["perSecond"], json!(2.0), "{live}");
        assert_eq!(stage["rate"]["burst"], json!(2), "{live}");
        let tokens = stage["rate"]["tokens"].as_f64().unwrap();
        assert!((0.0..=2.0).contains(&tokens), "{live}");
        let counts = &stage["counts"];
        assert!(counts["inFlight"].as_u64().unwrap() <= 3, "never more than maxParallel in flight: {live}");
        assert!(counts["waiting"].as_u64().unwrap() > 0, "held for a slot: {live}");

        // A circuit breaker over an actor that always fails: after 3 failures it opens.
        let (_, broken) = server.post(
            "/v1/runs",
            &json!({ "pipeline": { "name": "guarded", "stages": [{ "name": "call", "mode": "circuit-breaker",
            "actor": "Fail", "scatter": { "input": "$.trigger.items", "as": "item" },
            "input": { "message": "upstream said 503" }, "executorConfig": { "threshold": 3, "timeout": 60000 } }] },
            "input": { "items": vec![1; 6] } }),
        );
        let broken = broken["id"].as_str().unwrap().to_string();
        let card = "article[data-card='mode:circuit-breaker/breaker:Fail']";
        until("the breaker's card", || async { text(&client, &format!("{card} .state")).await == "open" }).await;
        let shown = text(&client, card).await;
        assert!(shown.contains("next trial in") && shown.contains("failures3"), "{shown}");
        let all: Value = server.get("/v1/live").1;
        let breaker = all["cards"].as_array().unwrap().iter().find(|c| c["name"] == "breaker:Fail").cloned();
        let breaker = breaker.unwrap_or_else(|| panic!("no breaker card: {all}"));
        assert_eq!((breaker["kind"].as_str(), breaker["state"].as_str()), (Some("breaker"), Some("open")), "{breaker}");
        assert!(breaker["until"]["inMs"].as_u64().unwrap() <= 60_000, "{breaker}");
        let detail: Value = server.get(&format!("/v1/runs/{broken}")).1;
        let errors: Vec<&str> =
            detail["failedTasks"].as_array().unwrap().iter().filter_map(|t| t["error"].as_str()).collect();
        assert_eq!(errors.iter().filter(|e| **e == "circuit open").count(), 3, "failed fast once open: {errors:?}");
        screenshot(&client, "live.png").await;

        // A plugin's cards are plugin output: markup in them is shown as text, never run.
        let (_, cards) = server.post(
            "/v1/runs",
            &json!({ "pipeline": { "name": "cards", "stages": [{ "name": "c", "mode": "misbehave",
            "executorConfig": { "behave": "cards" } }] } }),
        );
        server.wait(cards["id"].as_str().unwrap());
        let markup = "article[data-card='mode:misbehave/markup']";
        until("the markup card", || async { !text(&client, markup).await.is_empty() }).await;
        assert_eq!(text(&client, &format!("{markup} .state")).await, "<b>open</b>");
        assert!(!text(&client, "article[data-card='mode:misbehave/garbage'] .error").await.is_empty());
        let ran = js(
            &client,
            "return [window.pwned ?? null, document.querySelectorAll('main img, main script, main b').length];",
        );
        assert_eq!(ran.await, json!([null, 0]), "no markup from a card became an element");

        // The run's own page shows its live stage while it runs.
        client.goto(&format!("{}/#/runs/{paced}", server.base)).await.unwrap();
        until("the run page's live state", || async {
            text(&client, "#live-state tr[data-live-stage=fetch]").await.contains("bucket Wait")
        })
        .await;

        // Keyboard only: Tab reaches every control of the runs page, in reading order
        // (loaded afresh, with nothing running to re-render it under the keyboard).
        server.post(&format!("/v1/runs/{paced}/cancel"), &json!({}));
        until("the paced run's end", || async { server.get(&format!("/v1/runs/{paced}")).1["status"] == "cancelled" })
            .await;
        client.goto("about:blank").await.unwrap();
        client.goto(&format!("{}/#/runs", server.base)).await.unwrap();
        until("the runs page", || async { !text(&client, "#submit-run").await.is_empty() }).await;
        let walk = tab_walk(&client, 40).await;
        let order = [
            "Skip to content",
            "Runs",
            "Live state",
            "Plugins",
            "f-status",
            "f-pipeline",
            "Filter",
            "s-pipeline",
            "s-input",
            "submit-run",
        ];
        let mut at = 0;
        for want in order {
            let found = walk[at..].iter().position(|f| f == want);
            let found = found.unwrap_or_else(|| panic!("Tab never reached `{want}` after {at} presses: {walk:?}"));
            at += found + 1;
        }
        client.close().await.unwrap();
    });
}
