//! A foreign entry: an entry on a run's `Tally` stream that names another run (or another
//! actor) than the stream's. troupe's functions always write an entry's `run` and `actor`
//! from the stream they add it to, so such an entry is not one of the stream's tasks:
//! run under the stream's run it could record a forged result for a real task (its
//! `index`), run under its own `run` it would write into another run. It is acknowledged
//! and never run; the run's own tasks are each counted once.

use super::implementations::Implementation;
use super::pipelines::{assert_each_counted_once, executions, items, tallies, STAGE};
use super::world::World;
use serde_json::json;
use std::time::Duration;

pub fn an_entry_naming_another_run_or_actor_is_never_run(imp: Implementation) {
    let world = World::new(imp, "foreign entries");
    let (run, n) = ("home", 3);
    let orchestrator = world.start_run(run, &tallies(imp, 0), &items(n));
    let stream = world.stream(run, "Tally");
    world.wait_until("the stage's tasks on the stream", Duration::from_secs(30), || world.stream_length(&stream) == n);
    // Task 1's entry twice more, before any worker reads the stream, with a forged input
    // (id 99) and a `run`, then an `actor`, that are not the stream's.
    let (_, fields) = world.entry(&stream, STAGE, 1);
    for (field, value) in [("run", "elsewhere"), ("actor", "Boom")] {
        let forged: Vec<(String, String)> = fields
            .iter()
            .map(|(f, v)| match f.as_str() {
                "input" => (f.clone(), json!({ "id": 99 }).to_string()),
                f if f == field => (f.to_string(), value.to_string()),
                _ => (f.clone(), v.clone()),
            })
            .collect();
        world.add_entry(&stream, &forged);
    }

    let mut worker = world.start_worker(4, 60_000);
    let context = world.finish(orchestrator, &mut [&mut worker]);
    world.wait_until("every delivery to be acknowledged", Duration::from_secs(20), || world.pending(&stream) == 0);

    assert_each_counted_once(&world, run, &context, n);
    assert_eq!(executions(&world, n), [1, 1, 1], "{}", world.say("each task of the run ran once"));
    assert_eq!(world.executions(&json!(99)), 0, "{}", world.say("a foreign entry never reached the actor"));
    let elsewhere: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:{{elsewhere}}*", world.prefix)).query(&mut world.redis()).unwrap();
    assert!(elsewhere.is_empty(), "{}", world.say(format!("nothing written for the other run: {elsewhere:?}")));
    assert!(worker.alive(), "{}", world.say("the worker goes on serving"));
    world.stop(worker);
}
