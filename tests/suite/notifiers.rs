//! The document example's wasm notifiers (`plugins/examples/*-notifier`, delivering
//! through `plugins/examples/webhook`) against a webhook receiver on 127.0.0.1, run by
//! `troupe run` as a user would:
//! - with the manifest beside the example (`notify.toml`, which grants the notifiers
//!   `http://127.0.0.1:8099`) and a `webhookUrl` there, each notifier POSTs its message,
//!   which is also its output; a receiver that answers 500 or hangs fails that notifier's
//!   task with the same messages the Python and Node workers give;
//! - a `webhookUrl` outside the grant, or any with the default manifest (no grant), is
//!   refused by the host: the task fails naming the actor and the URL, nothing arrives;
//! - the example's own input names no webhook: the default run stays offline.

use crate::document_workers::receiver::{self, Answer, Receiver, PATH};
use crate::document_workers::{input_with, read_json};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use troupe_tests::root;

const EXAMPLE: &str = "examples/document-processing";

/// The port `notify.toml` grants the notifiers, read from the file itself so the test
/// follows the manifest users get.
fn granted_port() -> u16 {
    let text = std::fs::read_to_string(root().join(EXAMPLE).join("notify.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    let mut ports = Vec::new();
    for actor in ["EmailNotifier", "SlackNotifier", "WebhookNotifier"] {
        let grants = manifest["actors"][actor]["allow-http"].as_array().expect("each notifier has a grant");
        assert_eq!(grants.len(), 1, "{actor}: {grants:?}");
        let grant = grants[0].as_str().unwrap();
        let port = grant.strip_prefix("http://127.0.0.1:").and_then(|p| p.parse().ok());
        ports.push(port.unwrap_or_else(|| panic!("{actor}'s grant is not http://127.0.0.1:PORT: {grant}")));
    }
    assert!(ports.windows(2).all(|w| w[0] == w[1]), "the notifiers are granted different ports: {ports:?}");
    ports[0]
}

/// `troupe run` of the example's pipeline with `manifest` and the input at `input`.
fn run(manifest: &str, input: &str) -> Output {
    Command::new(root().join("target/release/troupe"))
        .current_dir(root())
        .args(["run", &format!("{EXAMPLE}/pipeline.json"), "--input", input, "--json", "--manifest", manifest])
        .args(["--cache-dir", "target/test-cache"])
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_notifiers_post_their_messages_to_the_granted_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let port = granted_port();
    let manifest = format!("{EXAMPLE}/notify.toml");

    let receiver = Receiver::start_on(port, |_| Answer::Accept);
    let input = input_with(dir.path(), json!({ "webhookUrl": receiver.url }));
    let out = run(&manifest, &input);
    assert!(out.status.success(), "the run failed:\n{}", stderr(&out));
    let context: Value = serde_json::from_slice(&out.stdout).unwrap();
    let notified = &context["notify-all"];

    let requests = receiver.requests();
    receiver::assert_the_three_messages(&requests, notified, Some("troupe-document-example (wasm)"));
    for r in &requests {
        assert_eq!(r.header("content-length"), Some(r.body.len().to_string().as_str()), "{r:?}");
    }

    // The same outputs as the offline run: delivering changes nothing in the context.
    let offline = run("troupe.toml", &format!("{EXAMPLE}/input.json"));
    assert!(offline.status.success(), "the offline run failed:\n{}", stderr(&offline));
    let offline: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(offline["notify-all"], *notified);
    drop(receiver);

    // Email accepted, Slack refused with a 500, the webhook hangs past `timeoutMs`.
    let receiver = Receiver::start_on(port, |body| match body["channel"].as_str() {
        Some("slack") => Answer::Refuse,
        Some("webhook") => Answer::Hang(Duration::from_secs(4)),
        _ => Answer::Accept,
    });
    let input = input_with(dir.path(), json!({ "webhookUrl": receiver.url, "timeoutMs": 1000 }));
    let out = run(&manifest, &input);
    assert_eq!(out.status.code(), Some(1), "the run must fail at notify-all:\n{}", stderr(&out));
    let url = &receiver.url;
    for expected in [
        "stage notify-all failed: 2 of 3 tasks failed".to_string(),
        format!("task 1 (SlackNotifier): POST {url} answered 500 Internal Server Error: {{\"error\":\"the receiver refuses this one\"}}"),
        format!("task 2 (WebhookNotifier): POST {url} timed out after 1000 ms"),
    ] {
        assert!(stderr(&out).contains(&expected), "the error lacks {expected:?}:\n{}", stderr(&out));
    }
    assert!(!stderr(&out).contains("(EmailNotifier)"), "email was accepted:\n{}", stderr(&out));
    assert_eq!(receiver.requests().len(), 3, "{:#?}", receiver.requests());
}

#[test]
fn a_webhook_outside_the_grant_is_refused_and_nothing_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let port = granted_port();
    // A receiver on another port: reachable, but not granted.
    let receiver = Receiver::start(|_| Answer::Accept);
    assert_ne!(receiver.url, format!("http://127.0.0.1:{port}{PATH}"));
    let input = input_with(dir.path(), json!({ "webhookUrl": receiver.url }));
    let url = &receiver.url;

    let out = run(&format!("{EXAMPLE}/notify.toml"), &input);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for actor in ["EmailNotifier", "SlackNotifier", "WebhookNotifier"] {
        let expected = format!(
            "POST {url} failed: actor `{actor}` may not reach {url}: not in its allow-http grant (http://127.0.0.1:{port})"
        );
        assert!(stderr(&out).contains(&expected), "the error lacks {expected:?}:\n{}", stderr(&out));
    }

    // The default manifest grants the notifiers nothing.
    let out = run("troupe.toml", &input);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let expected = format!("actor `EmailNotifier` may not reach {url}: it has no allow-http grant");
    assert!(stderr(&out).contains(&expected), "the error lacks {expected:?}:\n{}", stderr(&out));

    assert!(receiver.requests().is_empty(), "a refused request arrived: {:#?}", receiver.requests());
}

#[test]
fn the_examples_own_inputs_name_no_webhook_but_the_granted_one() {
    // The default run stays offline: its input's `notify` names no URL.
    let input = read_json(&root().join(EXAMPLE).join("input.json"));
    assert_eq!(input["notify"], json!({}));
    // The input shown beside notify.toml points at the granted receiver.
    let shown = read_json(&root().join(EXAMPLE).join("notify-input.json"));
    let url = shown["notify"]["webhookUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("http://127.0.0.1:{}/", granted_port())), "{url}");
    let mut files_only = shown.clone();
    files_only["notify"] = json!({});
    assert_eq!(files_only, input, "notify-input.json is input.json plus a webhook");
    assert!(Path::new(&root().join(EXAMPLE).join("notify.toml")).is_file());
}
