//! An actor that fails: its task fails with the actor's message, counted as a failure;
//! the worker goes on.

use super::implementations::Implementation;
use super::world::{Counters, World};
use serde_json::json;
use std::time::Duration;

pub fn a_failing_actor_fails_its_task_with_its_message(imp: Implementation) {
    let world = World::new(imp, "failing actor");
    let (run, stage, n) = ("failing", "boom", 3u64);
    let pipeline = json!({ "name": "booms", "stages": [
        { "name": stage, "mode": "scatter", "actor": "Boom",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "message": "$.item.message" } } ] });
    // Quotes, a non-ASCII letter: the message must arrive as the actor wrote it.
    let message = |i: u64| format!("boom {i}: \"upstream\" said née");
    let trigger = json!({ "items": (0..n).map(|i| json!({ "message": message(i) })).collect::<Vec<_>>() });
    let orchestrator = world.start_run(run, &pipeline, &trigger);
    let mut worker = world.start_worker(4, 60_000);
    let out = world.ended(orchestrator, &mut [&mut worker], Duration::from_secs(90));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        world.say(format!("a stage whose tasks all fail fails its run:\n{}", out.stderr))
    );
    assert!(out.stderr.contains("3 of 3 tasks failed"), "{}", world.say(&out.stderr));

    let results = world.results(run, stage);
    assert_eq!(results.len() as u64, n, "{}", world.say(format!("{results:?}")));
    for (i, result) in &results {
        assert_eq!((&result["attempts"], &result["actor"]), (&json!(1), &json!("Boom")), "{}", world.say(result));
        let error =
            result["err"].as_str().unwrap_or_else(|| panic!("{}", world.say(format!("not a failure: {result}"))));
        // The message first; an implementation may add more after it (a traceback).
        assert!(error.starts_with(&message(*i)), "{}", world.say(format!("task {i} failed with {error:?}")));
    }
    let counters = world.counters(run, stage);
    assert_eq!(counters, Counters { succeeded: 0, failed: n, in_flight: 0 }, "{}", world.say("the stage's counters"));
    assert!(worker.alive(), "{}", world.say("the worker goes on serving"));
    let stopped = world.stop(worker);
    assert_eq!(stopped.ran, n, "{}", world.say(format!("failed tasks ran too: {stopped:?}")));
}
