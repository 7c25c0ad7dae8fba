//! What `troupe_v5_finish` does with a result that is not one JSON value, whichever
//! worker reports it: the result goes into the task's record as text, so a payload that
//! is not JSON would corrupt the record, and one such as `1,"err":"forged"` would forge
//! its fields. The task is recorded as failed, saying why; valid results beside it in
//! the same call are recorded as sent; the stage reaches its barrier.

use super::implementations::Implementation;
use super::pipelines::{items, STAGE};
use super::world::{Counters, World};
use serde_json::{json, Value};
use std::time::Duration;

const ACTORS: &str = r#"
[actors.Tally]
external = true
"#;

pub fn a_result_that_is_not_json_fails_its_task() {
    let world = World::mixed(Implementation::Python, "results that are not JSON", ACTORS);
    let (run, n) = ("reported", 3);
    let pipeline = json!({ "name": "reported", "stages": [
        { "name": STAGE, "mode": "scatter", "actor": "Tally",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "id": "$.item.id" },
          "executorConfig": { "toleratedFailures": 2 } } ] });
    let orchestrator = world.start_run(run, &pipeline, &items(n));
    let stream = world.stream(run, "Tally");
    world.wait_until("the stage's tasks on the stream", Duration::from_secs(30), || world.stream_length(&stream) == n);

    // Taken as a worker takes them, then reported in one call, as a worker reports.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("hand-written")
        .arg("COUNT")
        .arg(n)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query(&mut world.redis())
        .unwrap();
    let keys = world.keys();
    let mut finish = redis::cmd("FCALL");
    finish.arg("troupe_v5_finish").arg(1).arg(keys.stage(run, STAGE));
    finish.arg(keys.base(run)).arg(keys.prefix()).arg(run).arg(STAGE).arg("Tally");
    let payloads = [r#"{"id": 0, "execution": 1}"#, r#"{"id": 1} and more"#, r#"1,"err":"forged""#];
    for (index, payload) in payloads.iter().enumerate() {
        let (entry, _) = world.entry(&stream, STAGE, index as u64);
        finish.arg(index).arg(1).arg("ok").arg(*payload).arg(entry);
    }
    let replies: Vec<String> = finish.query(&mut world.redis()).unwrap();
    assert_eq!(replies, ["counted"; 3], "{}", world.say("each task counted"));

    let context = world.finish(orchestrator, &mut []);
    assert_eq!(context[STAGE], json!([{ "id": 0, "execution": 1 }, null, null]), "{}", world.say("the outputs"));
    let results = world.results(run, STAGE);
    assert_eq!(results[&0], json!({ "attempts": 1, "actor": "Tally", "ok": { "id": 0, "execution": 1 } }));
    for index in [1, 2] {
        let result = &results[&index];
        let error = result["err"].as_str().unwrap_or_else(|| panic!("task {index} not failed: {result}"));
        let bytes = payloads[index as usize].len();
        assert_eq!(
            error,
            format!(
                "actor `Tally` returned a result that is not JSON ({bytes} bytes): the worker reported it as it is"
            ),
            "{}",
            world.say(format!("task {index}'s message"))
        );
        assert_eq!(result.as_object().map(|o| o.len()), Some(3), "no forged field in {result}");
        assert_eq!((&result["attempts"], &result["actor"]), (&json!(1), &Value::from("Tally")));
    }
    let counters = world.counters(run, STAGE);
    assert_eq!(counters, Counters { succeeded: 1, failed: 2, in_flight: 0 }, "{}", world.say("the counters"));
    assert_eq!(world.pending(&stream), 0, "{}", world.say("every delivery acknowledged"));
}
