//! The dashboard in a real browser: Debian's Chromium, headless, driven through
//! ChromeDriver (WebDriver) as a user would: submit the document example from the form
//! and watch every stage bar reach 100%, read a failed task's error on its run's page,
//! cancel a long run, raise a running stage's `maxParallel` from its row (the engine's
//! `maxInFlight` shows it), and the plugin list. Screenshots of the main views go to
//! `target/screenshots/` (the README shows two of them).

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
        until("the plugin list", || async { text(&client, "tr[data-plugin='mode:scatter']").await.contains("0.2.0") })
            .await;
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
