//! A poison message: a task's stream entry whose `input` is not JSON. The task fails with
//! a message saying so, without reaching the actor; the stage counts it like any failure
//! and the run goes on. The entry is a real task of the stage (its entry replaced before
//! any worker read it, every field as the functions wrote it but `input`), so the stage's
//! expected count already accounts for it.

use super::implementations::Implementation;
use super::pipelines::{items, STAGE};
use super::world::{Counters, World};
use serde_json::json;
use std::time::Duration;

pub fn a_task_whose_input_is_not_json_fails_and_the_run_goes_on(imp: Implementation) {
    let world = World::new(imp, "poison input");
    let (run, n) = ("poisoned", 3);
    let pipeline = json!({ "name": "poison", "stages": [
        { "name": STAGE, "mode": "scatter", "actor": "Tally",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "id": "$.item.id" },
          "executorConfig": { "toleratedFailures": 1 } },
        { "name": "after", "mode": "single", "actor": "Tally", "input": { "id": "after" } } ] });
    let orchestrator = world.start_run(run, &pipeline, &items(n));
    let stream = world.stream(run, "Tally");
    world.wait_until("the stage's tasks on the stream", Duration::from_secs(30), || world.stream_length(&stream) == n);
    let (id, fields) = world.entry(&stream, STAGE, 1);
    let poison: Vec<(String, String)> =
        fields.into_iter().map(|(f, v)| if f == "input" { (f, r#"{"id": 1, "#.to_string()) } else { (f, v) }).collect();
    world.delete_entry(&stream, &id);
    world.add_entry(&stream, &poison);

    let mut worker = world.start_worker(4, 60_000);
    let context = world.finish(orchestrator, &mut [&mut worker]);
    assert_eq!(context[STAGE][1], json!(null), "{}", world.say(format!("the failed task's output: {context}")));
    for i in [0, 2] {
        assert_eq!(context[STAGE][i]["id"], json!(i), "{}", world.say(format!("{context}")));
    }
    assert_eq!(context["after"], json!({ "id": "after", "execution": 1 }), "{}", world.say("the run went on"));

    let result = &world.results(run, STAGE)[&1];
    assert_eq!((&result["attempts"], &result["actor"]), (&json!(1), &json!("Tally")), "{}", world.say(result));
    let error = result["err"].as_str().unwrap_or_else(|| panic!("{}", world.say(format!("not a failure: {result}"))));
    let says = error.to_lowercase();
    assert!(says.contains("input") && says.contains("not json"), "{}", world.say(format!("the message: {error:?}")));
    let counters = world.counters(run, STAGE);
    assert_eq!(counters, Counters { succeeded: 2, failed: 1, in_flight: 0 }, "{}", world.say("the stage's counters"));
    assert_eq!(world.executions(&json!(1)), 0, "{}", world.say("the poison never reached the actor"));
    world.wait_until("every delivery to be acknowledged", Duration::from_secs(10), || world.pending(&stream) == 0);
    assert!(worker.alive(), "{}", world.say("the worker goes on serving"));
    world.stop(worker);
}
