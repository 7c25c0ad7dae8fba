//! What an operator watches: Prometheus metrics counting tasks, stages and plugin calls,
//! log lines as JSON objects carrying their spans, and spans exported over OTLP to a
//! stand-in collector.

use super::server::{document_input, Server};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

#[test]
fn metrics_count_tasks_stages_and_plugin_calls_and_logs_are_json_lines() {
    let server = Server::start(&["--log-format", "json"]);
    let (status, run) = server.post("/v1/runs", &json!({ "pipeline": "documents", "input": document_input() }));
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait(&id)["status"], "succeeded");
    let (_, failing) = server.post(
        "/v1/runs",
        &json!({ "pipeline": { "name": "failing", "stages": [
        { "name": "boom", "mode": "single", "actor": "Fail", "input": { "message": "no" } }] } }),
    );
    server.wait(failing["id"].as_str().unwrap());

    let response = server.agent.get(&server.url("/metrics")).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.into_body().read_to_string().unwrap();
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value(r#"troupe_tasks_total{mode="scatter",actor="FileProcessor",outcome="succeeded"}"#), 7.0);
    assert_eq!(value(r#"troupe_tasks_total{mode="broadcast",actor="SlackNotifier",outcome="succeeded"}"#), 1.0);
    assert_eq!(value(r#"troupe_tasks_total{mode="single",actor="Fail",outcome="failed"}"#), 1.0);
    assert_eq!(value(r#"troupe_stage_duration_seconds_count{mode="gather",outcome="succeeded"}"#), 1.0);
    assert!(
        value(r#"troupe_plugin_call_duration_seconds_count{role="mode",name="scatter",function="execute"}"#) >= 1.0
    );
    assert_eq!(
        value(r#"troupe_plugin_call_duration_seconds_count{role="actor",name="FileProcessor",function="invoke"}"#),
        7.0
    );
    assert_eq!(value(r#"troupe_queue_depth{actor="FileProcessor"}"#), 0.0);
    assert_eq!(value(r#"troupe_queue_oldest_seconds{actor="FileProcessor"}"#), 0.0);

    // Every log line is one JSON object; the stages and the run say how they ended, in
    // their spans.
    let started = Instant::now();
    let lines = loop {
        let lines: Vec<Value> = server.logs().iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if lines.iter().any(|l| l["fields"]["message"] == "run failed") {
            break lines;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no `run failed` line: {:?}", server.logs());
        std::thread::sleep(Duration::from_millis(50));
    };
    let stage = lines
        .iter()
        .find(|l| l["fields"]["message"] == "stage ended" && l["span"]["stage"] == "consolidate")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(stage["span"]["run_id"], id.as_str());
    assert_eq!(stage["span"]["mode"], "gather");
    assert_eq!(stage["fields"]["succeeded"], 5);
    assert_eq!(stage["level"], "INFO");
    let run = lines.iter().find(|l| l["fields"]["message"] == "run succeeded").unwrap();
    assert_eq!(run["span"]["pipeline"], "document-processing");
    let failed = lines.iter().find(|l| l["fields"]["message"] == "task failed").unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(failed["fields"]["error"], "no");
    assert_eq!((&failed["fields"]["actor"], &failed["fields"]["stage"]), (&json!("Fail"), &json!("boom")), "{failed}");
}

/// A one-route HTTP sink standing in for an OpenTelemetry collector: every request's
/// path, content type and body.
fn collector() -> (String, std::sync::mpsc::Receiver<(String, String, Vec<u8>)>) {
    use std::io::Write as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            loop {
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    break;
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_string();
                let (mut length, mut kind) = (0, String::new());
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap_or_default();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap(),
                        "content-type" => kind = value.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                std::io::Read::read_exact(&mut reader, &mut body).unwrap();
                reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
                if sender.send((path, kind, body)).is_err() {
                    return;
                }
            }
        }
    });
    (format!("http://{address}/v1/traces"), received)
}

#[test]
fn spans_are_exported_over_otlp_to_a_collector() {
    let (endpoint, received) = collector();
    let server = Server::start(&["--otlp-endpoint", &endpoint]);
    let (status, run) = server.post("/v1/runs", &json!({ "pipeline": "documents", "input": document_input() }));
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait(&id)["status"], "succeeded");
    // The batch goes out within the SDK's 5 s schedule.
    let mut seen = Vec::new();
    let has = |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    while !(has(&seen, "consolidate") && has(&seen, &id)) {
        let (path, kind, body) = received.recv_timeout(Duration::from_secs(60)).expect("spans reach the collector");
        assert_eq!(path, "/v1/traces");
        assert_eq!(kind, "application/x-protobuf");
        seen.extend(body);
    }
    for name in ["run", "stage", "gather", "document-processing", "troupe"] {
        assert!(has(&seen, name), "the exported spans carry `{name}`");
    }
}
