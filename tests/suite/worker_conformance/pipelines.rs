//! The runs the cases drive, and the outcome most of them end with: every task counted
//! once.

use super::implementations::Implementation;
use super::world::{Counters, World};
use serde_json::{json, Value};

/// The stage every `Tally` case runs.
pub const STAGE: &str = "count";

/// A scatter of `Tally` over `$.trigger.items`, each task about `ms` long.
pub fn tallies(imp: Implementation, ms: u64) -> Value {
    let mut input = json!({ "id": "$.item.id" });
    if ms > 0 {
        input.as_object_mut().unwrap().extend(imp.tally_duration(ms).as_object().unwrap().clone());
    }
    json!({ "name": "tallies", "stages": [
        { "name": STAGE, "mode": "scatter", "actor": "Tally",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": input } ] })
}

/// A trigger of `n` items with ids `0..n`.
pub fn items(n: u64) -> Value {
    json!({ "items": (0..n).map(|id| json!({ "id": id })).collect::<Vec<_>>() })
}

/// Every task `0..n` of the `Tally` stage counted once: the run's context lists each id
/// once in order; `P:{R}:res:count` holds one successful first-attempt result per index,
/// the one the context shows; the counters say `n` succeeded, none failed, none in flight.
pub fn assert_each_counted_once(world: &World, run: &str, context: &Value, n: u64) {
    let outputs = context[STAGE].as_array().unwrap_or_else(|| panic!("{}", world.say(format!("no list: {context}"))));
    let ids: Vec<Value> = outputs.iter().map(|o| o["id"].clone()).collect();
    assert_eq!(ids, (0..n).map(|i| json!(i)).collect::<Vec<_>>(), "{}", world.say("the context's ids"));
    let results = world.results(run, STAGE);
    assert_eq!(
        results.keys().copied().collect::<Vec<_>>(),
        (0..n).collect::<Vec<_>>(),
        "{}",
        world.say("indices recorded")
    );
    for (index, result) in &results {
        let expected = json!({ "attempts": 1, "actor": "Tally", "ok": outputs[*index as usize] });
        assert_eq!(result, &expected, "{}", world.say(format!("the result of task {index}")));
    }
    let counters = world.counters(run, STAGE);
    assert_eq!(counters, Counters { succeeded: n, failed: 0, in_flight: 0 }, "{}", world.say("the stage's counters"));
}

/// The executions `Tally` counted for ids `0..n`.
pub fn executions(world: &World, n: u64) -> Vec<u64> {
    (0..n).map(|id| world.executions(&json!(id))).collect()
}
