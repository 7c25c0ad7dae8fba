//! What crosses Redis, as text: task records, stream entries, recorded results. The
//! formats are public (docs/redis-protocol.md): workers in other languages read stream
//! entries and write results with `FCALL troupe_v5_finish`.

use crate::api::{EnqueueOptions, Extension, Outcome, Task};
use crate::engine::{
    HookKind, HookWork, Receipt, RunRecord, RunStatus, StageCounts, StateError, StreamReceipt, TaskEnvelope, TaskResult,
};
use crate::payload::Payload;
use anyhow::{anyhow, Context as _};
use redis::streams::StreamId;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A stage hash's counters (`key` is the hash, `waiting` the length of its held list),
/// read strictly: an absent counter is 0, anything but a non-negative integer is
/// garbage, named with its key and field. The one place these counters are parsed.
pub fn stage_counts(
    run_id: &str,
    key: &str,
    fields: &HashMap<String, String>,
    waiting: u64,
) -> Result<StageCounts, StateError> {
    let count = |name: &str| -> Result<Option<u64>, StateError> {
        fields
            .get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| StateError::garbage(run_id, key, name, v, "a count (an integer >= 0)"))
            })
            .transpose()
    };
    Ok(StageCounts {
        expected: count("expected")?,
        enqueued: count("enqueued")?.unwrap_or(0),
        succeeded: count("succeeded")?.unwrap_or(0),
        failed: count("failed")?.unwrap_or(0),
        skipped: count("skipped")?.unwrap_or(0),
        in_flight: count("in_flight")?.unwrap_or(0),
        waiting,
        max_in_flight: count("max_in_flight")?.unwrap_or(0),
        stragglers: count("stragglers")?.unwrap_or(0),
    })
}

/// A JSON field of a record troupe wrote (`info`, `execution`, `pipeline`, `status`), read
/// strictly: what does not parse as `T` is garbage, named with its key and field.
pub fn json_field<T: serde::de::DeserializeOwned>(
    run_id: &str,
    key: &str,
    field: &str,
    text: &str,
    expected: &'static str,
) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|_| StateError::garbage(run_id, key, field, text, expected))
}

/// The run hash (`key`) as a [`RunRecord`]; an empty hash means the run's state is gone.
pub fn run_record(run_id: &str, key: &str, fields: &HashMap<String, String>) -> Result<RunRecord, StateError> {
    if fields.is_empty() {
        return Err(StateError::Gone { run_id: run_id.to_string(), key: key.to_string() });
    }
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("(absent)");
    let pipeline: Value = json_field(run_id, key, "pipeline", get("pipeline"), "a pipeline definition (JSON)")?;
    if !pipeline.get("stages").is_some_and(Value::is_array) {
        return Err(StateError::garbage(run_id, key, "pipeline", get("pipeline"), "a pipeline with stages"));
    }
    Ok(RunRecord {
        pipeline,
        status: run_status(run_id, key, fields.get("status").map(String::as_str))?,
        stage: get("stage")
            .parse()
            .map_err(|_| StateError::garbage(run_id, key, "stage", get("stage"), "a stage index"))?,
    })
}

/// The run hash's `status` field; absent means the run's state is gone.
pub fn run_status(run_id: &str, key: &str, status: Option<&str>) -> Result<RunStatus, StateError> {
    let text = status.ok_or_else(|| StateError::Gone { run_id: run_id.to_string(), key: key.to_string() })?;
    json_field(run_id, key, "status", text, "a run status")
}

/// A hash keyed by task index (`tasks`, `res`), read strictly: a field that is not an
/// index is garbage, named with its key.
pub fn by_index(run_id: &str, key: &str, fields: HashMap<String, String>) -> Result<HashMap<u64, String>, StateError> {
    fields
        .into_iter()
        .map(|(field, value)| match field.parse() {
            Ok(index) => Ok((index, value)),
            Err(_) => Err(StateError::garbage(run_id, key, &field, &value, "a field named by a task index")),
        })
        .collect()
}

/// A list of task indices (`strag`), read strictly.
pub fn indices(run_id: &str, key: &str, entries: Vec<String>) -> Result<Vec<u64>, StateError> {
    entries
        .into_iter()
        .map(|e| e.parse().map_err(|_| StateError::garbage(run_id, key, "(entry)", &e, "a task index")))
        .collect()
}

/// The attempt log (`key`, entries `index:ms`), as (index, ms since `opened`).
pub fn history(run_id: &str, key: &str, log: &[String], opened: u64) -> Result<Vec<(u64, u64)>, StateError> {
    log.iter()
        .map(|e| {
            let parsed = e.split_once(':').and_then(|(i, at)| Some((i.parse().ok()?, at.parse::<u64>().ok()?)));
            let (index, at) = parsed.ok_or_else(|| StateError::garbage(run_id, key, "(entry)", e, "`index:ms`"))?;
            Ok((index, at.saturating_sub(opened)))
        })
        .collect()
}

/// A run's context from its hash of top-level keys, in a stable order: `trigger`, then the
/// stages in pipeline order (`pipeline` is the run's pipeline JSON), then anything else.
pub fn context(mut fields: HashMap<String, String>, pipeline: Option<&str>) -> anyhow::Result<Value> {
    let stages: Vec<String> = pipeline
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|p| p.get("stages").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let mut order: Vec<String> = std::iter::once("trigger".to_string()).chain(stages).collect();
    let known: HashSet<&String> = order.iter().collect();
    let mut rest: Vec<String> = fields.keys().filter(|k| !known.contains(k)).cloned().collect();
    rest.sort();
    order.extend(rest);
    let mut context = Map::new();
    for key in order {
        if let Some(text) = fields.remove(&key) {
            let value = serde_json::from_str(&text).with_context(|| format!("`{key}`"))?;
            context.insert(key, value);
        }
    }
    Ok(Value::Object(context))
}

/// A task record as the run's task hash keeps it: `a` actor, `k` key (JSON text), `d`
/// delay ms, `r` rate limit `[bucket, per second, burst]`, `g` generation (when not 0).
/// The input is not in it: it goes on the stream, and into the stage's input hash only for
/// tasks that must wait.
pub fn task_record(task: &Task, options: &EnqueueOptions, namespace: &str, generation: u32) -> String {
    let mut record = json!({ "a": task.actor });
    if generation > 0 {
        record["g"] = json!(generation);
    }
    if let Some(key) = &task.key {
        record["k"] = Value::String(key.to_string());
    }
    if options.delay_ms > 0 {
        record["d"] = json!(options.delay_ms);
    }
    if let Some(rate) = &options.rate_limit {
        record["r"] = json!([format!("{namespace}:{}", rate.bucket), rate.per_second, rate.burst]);
    }
    record.to_string()
}

/// An extension as `troupe_v5_record` takes it: `g` generation, `cap`, `mp` max-parallel
/// (`""`: unchanged), `skip` reason (`""`: run them), `tasks` as `[record, actor, input,
/// key or "", timed "1" or ""]` (the task record built here; the index comes from Redis).
pub fn extension(extension: &Extension, namespace: &str, generation: u32) -> String {
    let options = &extension.options;
    let timed = if options.delay_ms > 0 || options.rate_limit.is_some() { "1" } else { "" };
    let tasks: Vec<Value> = extension
        .tasks
        .iter()
        .map(|t| {
            let task = Task { index: 0, actor: t.actor.clone(), input: Payload::from(Value::Null), key: t.key.clone() };
            json!([
                task_record(&task, options, namespace, generation),
                t.actor,
                t.input.as_str(),
                t.key.as_ref().map(Value::to_string).unwrap_or_default(),
                timed
            ])
        })
        .collect();
    json!({
        "g": generation,
        "cap": extension.cap,
        "mp": options.max_parallel.map(|m| m.to_string()).unwrap_or_default(),
        "skip": options.skip.clone().unwrap_or_default(),
        "tasks": tasks,
    })
    .to_string()
}

/// The actor and key a task record names.
pub fn record_actor_key(record: &str) -> anyhow::Result<(String, Option<Value>)> {
    let value: Value = serde_json::from_str(record).context("a task record is not JSON")?;
    let actor = value["a"].as_str().ok_or_else(|| anyhow!("a task record has no actor"))?.to_string();
    let key = match value.get("k").and_then(Value::as_str) {
        Some(text) => Some(serde_json::from_str(text).context("a task key is not JSON")?),
        None => None,
    };
    Ok((actor, key))
}

fn field(entry: &StreamId, name: &str) -> anyhow::Result<String> {
    entry.get::<String>(name).ok_or_else(|| anyhow!("stream entry {} has no `{name}`", entry.id))
}

/// A stream entry of `stream` as a task a worker runs.
pub fn envelope(entry: &StreamId, stream: &str, taken_ms: u64) -> anyhow::Result<TaskEnvelope> {
    let input = field(entry, "input")?;
    let key = match entry.get::<String>("key") {
        Some(text) => Some(serde_json::from_str(&text).context("`key` is not JSON")?),
        None => None,
    };
    Ok(TaskEnvelope {
        run_id: Arc::from(field(entry, "run")?.as_str()),
        stage: Arc::from(field(entry, "stage")?.as_str()),
        index: field(entry, "index")?.parse().context("`index` is not a number")?,
        actor: field(entry, "actor")?,
        input: Payload::parse(input).context("`input` is not JSON")?,
        key,
        attempt: field(entry, "attempt")?.parse().context("`attempt` is not a number")?,
        generation: match entry.get::<String>("generation") {
            Some(text) => text.parse().context("`generation` is not a number")?,
            None => 0,
        },
        receipt: Receipt(Some(StreamReceipt { stream: stream.to_string(), entry: entry.id.clone(), taken_ms })),
    })
}

/// An entry of a run's hooks stream as hook work: the task's fields, and `hook` =
/// `admit`, or `review` with the attempt's `kind` and `payload` as a worker reported them.
pub fn hook_work(entry: &StreamId, stream: &str, taken_ms: u64) -> anyhow::Result<HookWork> {
    let task = envelope(entry, stream, taken_ms)?;
    let kind = match field(entry, "hook")?.as_str() {
        "admit" => HookKind::Admit,
        "review" => {
            let payload = field(entry, "payload")?;
            HookKind::Review(match field(entry, "kind")?.as_str() {
                "ok" => Outcome::Succeeded(Payload::parse(payload).context("`payload` is not JSON")?),
                "err" => Outcome::Failed(payload),
                other => return Err(anyhow!("`kind` is `{}`, not ok or err", crate::text::one_line(other, 40))),
            })
        }
        other => return Err(anyhow!("`hook` is `{}`, not admit or review", crate::text::one_line(other, 40))),
    };
    Ok(HookWork { task, kind })
}

/// Hook work's entry fields, in order, to add it again (a hand-back).
pub fn hook_fields(work: &HookWork) -> Vec<String> {
    let mut fields = entry_fields(&work.task);
    match &work.kind {
        HookKind::Admit => fields.extend(["hook".into(), "admit".into()]),
        HookKind::Review(outcome) => {
            let (kind, payload) = outcome_args(outcome);
            fields.extend(["hook".into(), "review".into(), "kind".into(), kind.into(), "payload".into(), payload]);
        }
    }
    fields
}

/// The entry's fields, in order, to add it again (a hand-back).
pub fn entry_fields(task: &TaskEnvelope) -> Vec<String> {
    let mut fields = vec![
        "run".into(),
        task.run_id.to_string(),
        "stage".into(),
        task.stage.to_string(),
        "index".into(),
        task.index.to_string(),
        "attempt".into(),
        task.attempt.to_string(),
        "actor".into(),
        task.actor.clone(),
        "input".into(),
        task.input.as_str().to_string(),
    ];
    if let Some(key) = &task.key {
        fields.extend(["key".into(), key.to_string()]);
    }
    if task.generation > 0 {
        fields.extend(["generation".into(), task.generation.to_string()]);
    }
    fields
}

/// `troupe_v5_finish`'s kind and payload for an outcome.
pub fn outcome_args(outcome: &Outcome) -> (&'static str, String) {
    match outcome {
        Outcome::Succeeded(value) => ("ok", value.as_str().to_string()),
        Outcome::Failed(message) => ("err", message.clone()),
        Outcome::Skipped(reason) => ("skip", reason.clone()),
    }
}

/// A result record as `troupe_v5_finish` writes it: `ok` kept as its text (the stage's
/// output is where it is read), the other fields read leniently, as before.
#[derive(serde::Deserialize)]
struct Record {
    #[serde(default)]
    attempts: Value,
    #[serde(default)]
    actor: Value,
    #[serde(default, deserialize_with = "present")]
    ok: Option<Payload>,
    #[serde(default)]
    err: Option<Value>,
    #[serde(default)]
    skip: Value,
}

/// `ok` when the field is there, `null` included (a plain `Option` reads `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Payload>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

/// A recorded result (`{"attempts":n,"actor":"A","ok":<json>}` or `{..,"err":"..."}`);
/// `actor` names it when the record does not. A record troupe cannot read fails that task
/// (a worker in another language wrote it), with the record shown safely.
pub fn result(index: u64, record: &str, actor: String, key: Option<Value>) -> TaskResult {
    let parsed: Result<Record, _> = serde_json::from_str(record);
    let (outcome, attempts, actor) = match parsed {
        Ok(v) => {
            let attempts = v.attempts.as_u64().unwrap_or(1) as u32;
            let actor = v.actor.as_str().map_or(actor, str::to_string);
            let outcome = match (v.ok, v.err) {
                (Some(value), _) => Outcome::Succeeded(value),
                (None, Some(Value::String(message))) => Outcome::Failed(message),
                (None, None) if v.skip.is_string() => Outcome::Skipped(v.skip.as_str().unwrap_or_default().to_string()),
                _ => Outcome::Failed(format!(
                    "a worker recorded a result troupe cannot read: {}",
                    crate::text::one_line(record, crate::text::LINE_BUDGET)
                )),
            };
            (outcome, attempts, actor)
        }
        Err(_) => (
            Outcome::Failed(format!(
                "a worker recorded a result that is not JSON: {}",
                crate::text::one_line(record, crate::text::LINE_BUDGET)
            )),
            1,
            actor,
        ),
    };
    TaskResult { index, actor, key, outcome, attempts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RateLimit;

    #[test]
    fn records_keep_input_as_text_and_results_read_back() {
        let task = Task { index: 3, actor: "Pass".into(), input: json!({"n": 1.5}).into(), key: Some(json!("k")) };
        let options = EnqueueOptions {
            rate_limit: Some(RateLimit { bucket: "api".into(), per_second: 2.0, burst: 1 }),
            ..Default::default()
        };
        let record = task_record(&task, &options, "mode:rate-limited", 0);
        assert_eq!(record, r#"{"a":"Pass","k":"\"k\"","r":["mode:rate-limited:api",2.0,1]}"#);
        assert_eq!(record_actor_key(&record).unwrap(), ("Pass".to_string(), Some(json!("k"))));
        let r = result(3, r#"{"attempts":2,"ok":{"n":1.5}}"#, "Pass".into(), None);
        assert_eq!((r.outcome, r.attempts), (Outcome::Succeeded(json!({"n": 1.5}).into()), 2));
        let r = result(3, r#"{"attempts":1,"ok":null}"#, "Pass".into(), None);
        assert_eq!(r.outcome, Outcome::Succeeded(json!(null).into()));
        let r = result(3, r#"{"attempts":"x","ok":[1, 2 ]}"#, "Pass".into(), None);
        assert_eq!((r.outcome, r.attempts), (Outcome::Succeeded(json!([1, 2]).into()), 1));
        let r = result(3, r#"{"attempts":1}"#, "Pass".into(), None);
        assert!(matches!(r.outcome, Outcome::Failed(m) if m.contains("cannot read")));
        let r = result(3, r#"{"attempts":1,"err":"boom"}"#, "Pass".into(), None);
        assert_eq!(r.outcome, Outcome::Failed("boom".into()));
    }

    #[test]
    fn garbage_counters_name_their_key_and_field() {
        let fields: HashMap<String, String> =
            [("expected", "abc"), ("succeeded", "3")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let e = stage_counts("r", "t:{r}:st:s", &fields, 0).unwrap_err().to_string();
        assert_eq!(
            e,
            "run r: Redis holds garbage: field `expected` of `t:{r}:st:s` is `abc`, not a count (an integer >= 0)"
        );
        let fields: HashMap<String, String> = [("failed".to_string(), "-1".to_string())].into_iter().collect();
        assert!(stage_counts("r", "k", &fields, 0).unwrap_err().to_string().contains("`failed` of `k` is `-1`"));
        let fields: HashMap<String, String> = [("succeeded".to_string(), "2".to_string())].into_iter().collect();
        assert_eq!(stage_counts("r", "k", &fields, 1).unwrap().succeeded, 2);
    }
}
