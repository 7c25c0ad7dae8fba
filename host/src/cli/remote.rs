//! `troupe run --server URL`: submit the run to a `troupe serve` host instead of running it
//! here, follow its events with the same progress display, and end as `troupe run` does
//! (the summary or `--json` context, exit 0, 1, 2 or 130). Ctrl-C stops following only:
//! the run goes on on the server (`POST /v1/runs/ID/cancel` ends it).

use super::progress::Progress;
use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use troupe::engine::StageCounts;
use troupe::orchestrator::Observer;
use troupe::pipeline::Pipeline;

pub struct Remote {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Remote {
    pub fn new(server: &str, token: Option<String>) -> anyhow::Result<Remote> {
        let base = server.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            bail!("--server takes the server's http:// URL (e.g. http://127.0.0.1:8080), not `{server}`");
        }
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Ok(Remote { base, token, agent })
    }

    fn authorized<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => request.header("authorization", &format!("Bearer {t}")),
            None => request,
        }
    }

    fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut response =
            self.authorized(self.agent.get(&url)).call().with_context(|| format!("cannot reach {url}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().with_context(|| format!("cannot read the reply of {url}"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    /// Submit, follow, report; the exit status `troupe run` would give.
    pub fn run(&self, pipeline: &Pipeline, input: Value, json_out: bool) -> anyhow::Result<ExitCode> {
        let url = format!("{}/v1/runs", self.base);
        let body = json!({ "pipeline": pipeline.to_value(), "input": input });
        let mut response = self
            .authorized(self.agent.post(&url))
            .header("content-type", "application/json")
            .send(body.to_string())
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status().as_u16();
        let reply: Value = serde_json::from_str(&response.body_mut().read_to_string()?)
            .with_context(|| format!("{url} answered {status} with something that is not JSON"))?;
        if status == 422 {
            eprintln!("error: {}", text(&reply["detail"]));
            for e in reply["errors"].as_array().into_iter().flatten() {
                eprintln!("  stage {}: {}", text(&e["stage"]), text(&e["message"]));
            }
            return Ok(super::invalid());
        }
        if status != 201 && status != 200 {
            bail!("the server refused the run ({status}): {}", text(&reply["detail"]));
        }
        let run_id = text(&reply["id"]);
        let progress = Progress::new();
        progress.run_started(&run_id);
        self.follow(&run_id, &progress)?;
        let (status, run) = self.get(&format!("/v1/runs/{run_id}"))?;
        if status != 200 {
            bail!("cannot read run {run_id} back ({status}): {}", text(&run["detail"]));
        }
        self.report(&run, json_out)
    }

    /// Feed the run's events to `progress` until `run-ended`.
    fn follow(&self, run_id: &str, progress: &Progress) -> anyhow::Result<()> {
        let url = format!("{}/v1/runs/{run_id}/events", self.base);
        let response = self.authorized(self.agent.get(&url)).call().with_context(|| format!("cannot reach {url}"))?;
        let reader = BufReader::new(response.into_body().into_reader());
        let mut name = String::new();
        for line in reader.lines() {
            let line = line.with_context(|| format!("the event stream of run {run_id} broke"))?;
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
                continue;
            }
            let Some(data) = line.strip_prefix("data: ") else { continue };
            let Ok(event) = serde_json::from_str::<Value>(data) else { continue };
            let stage = text(&event["stage"]);
            match name.as_str() {
                "stage-started" => {
                    let index = event["index"].as_u64().unwrap_or(0) as usize;
                    progress.stage_started(index, &stage, &text(&event["mode"]));
                }
                "stage-progress" => progress.stage_progress(&stage, &counts(&event["counts"])),
                "stage-ended" => progress.stage_finished(&stage, &counts(&event["counts"]), event["succeeded"] == true),
                "snapshot" => {
                    // What happened before this client listened (a short run may have
                    // ended already): drawn from the snapshot, then events go on.
                    draw_snapshot(&event, progress);
                    if event["status"] != "running" {
                        return Ok(());
                    }
                }
                "run-ended" => return Ok(()),
                _ => {}
            }
        }
        Ok(())
    }

    fn report(&self, run: &Value, json_out: bool) -> anyhow::Result<ExitCode> {
        let run_id = text(&run["id"]);
        match run["status"].as_str() {
            Some("succeeded") => {
                if json_out {
                    let mut context = serde_json::Map::new();
                    context.insert("trigger".into(), run["input"].clone());
                    if let Some(outputs) = run["outputs"].as_object() {
                        context.extend(outputs.clone());
                    }
                    println!("{}", Value::Object(context));
                } else {
                    println!("run {run_id} finished (on {})", self.base);
                    for s in run["stages"].as_array().into_iter().flatten() {
                        let c = &s["counts"];
                        println!(
                            "  {:<24} {:<16} {:>7} tasks  {:>5} failed  {:>5} skipped  {:>5} stragglers  {:>7} ms",
                            text(&s["name"]),
                            text(&s["mode"]),
                            c["expected"].as_u64().unwrap_or(0),
                            c["failed"].as_u64().unwrap_or(0),
                            c["skipped"].as_u64().unwrap_or(0),
                            c["stragglers"].as_u64().unwrap_or(0),
                            s["durationMs"].as_u64().unwrap_or(0)
                        );
                    }
                    if let Some(last) = run["stages"].as_array().and_then(|s| s.last()) {
                        let name = text(&last["name"]);
                        println!("output of {name}:\n{}", serde_json::to_string_pretty(&run["outputs"][&name])?);
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Some("cancelled") => {
                eprintln!("run {run_id} was cancelled: {}", text(&run["error"]));
                Ok(ExitCode::from(130))
            }
            _ => {
                eprintln!("error: {}", text(&run["error"]));
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// A string field, or its JSON text, made safe for the terminal by lines.
fn text(value: &Value) -> String {
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    raw.lines().map(|l| troupe::text::one_line(l, 4096)).collect::<Vec<_>>().join("\n")
}

fn counts(c: &Value) -> StageCounts {
    let n = |f: &str| c[f].as_u64().unwrap_or(0);
    StageCounts {
        expected: c["expected"].as_u64(),
        enqueued: n("succeeded") + n("failed") + n("skipped") + n("inFlight") + n("waiting"),
        succeeded: n("succeeded"),
        failed: n("failed"),
        skipped: n("skipped"),
        in_flight: n("inFlight"),
        waiting: n("waiting"),
        max_in_flight: n("maxInFlight"),
        stragglers: n("stragglers"),
    }
}

/// Every stage a run's snapshot shows started, as the progress display would have drawn
/// it from the events.
fn draw_snapshot(run: &Value, progress: &Progress) {
    for (index, stage) in run["stages"].as_array().into_iter().flatten().enumerate() {
        let (name, status) = (text(&stage["name"]), stage["status"].as_str().unwrap_or_default());
        if status == "pending" {
            continue;
        }
        progress.stage_started(index, &name, &text(&stage["mode"]));
        match status {
            "running" => progress.stage_progress(&name, &counts(&stage["counts"])),
            _ => progress.stage_finished(&name, &counts(&stage["counts"]), status == "succeeded"),
        }
    }
}
