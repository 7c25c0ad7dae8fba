//! One run served at once by all three implementations: its first stage's `Tally` tasks
//! by a Python and a Node worker together (`Tally` is an external actor), its second
//! stage's `Pass` tasks by `troupe worker` (a wasm actor), all three workers started before
//! the run. A Python worker and a Node worker are SIGKILLed while each holds a running
//! task; a second Python and a second Node worker take those tasks over after the
//! visibility timeout. Every task of both stages is counted once, each killed task ran
//! again and its recorded result is the rerun's, and nothing is left pending.

use super::implementations::Implementation::{self, Node, Python, TroupeWorker};
use super::pipelines::{assert_each_counted_once, executions, items, STAGE};
use super::world::{Counters, World};
use serde_json::{json, Value};
use std::time::Duration;

/// The second stage, served by `troupe worker`.
const ECHO: &str = "echo";

const ACTORS: &str = r#"
[actors.Tally]
external = true

[actors.Boom]
external = true

[actors.Pass]
component = "pass.wasm"
"#;

/// `Tally` over the trigger's items (each task about `ms`), then `Pass` over its results.
fn pipeline(ms: u64) -> Value {
    json!({ "name": "mixed", "stages": [
        { "name": STAGE, "mode": "scatter", "actor": "Tally",
          "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": { "id": "$.item.id", "ms": ms } },
        { "name": ECHO, "mode": "scatter", "actor": "Pass",
          "scatter": { "input": format!("$.{STAGE}"), "as": "item" },
          "input": { "id": "$.item.id", "execution": "$.item.execution" } } ] })
}

pub fn one_run_served_by_all_three_survives_a_killed_python_and_node_worker() {
    for imp in [Python, Node] {
        if let Some(why) = imp.missing() {
            println!("worker conformance: mixed run skipped: {why}");
            return;
        }
    }
    let world = World::mixed(TroupeWorker, "mixed run, two workers killed", ACTORS);
    let (run, n) = ("mixed", 24);
    // Every worker before the run, so both Tally workers compete for its tasks from the start.
    let mut troupe = world.start_worker_of(TroupeWorker, 4, 1000);
    let mut doomed_python = world.start_worker_of(Python, 2, 1000);
    let mut doomed_node = world.start_worker_of(Node, 2, 1000);
    let orchestrator = world.start_run(run, &pipeline(500), &items(n));

    // Kill each doomed worker while it holds a task that has started and has no result.
    let stream = world.stream(run, "Tally");
    let running_held = |pid: u32| -> Vec<u64> {
        let running = world.running(run, STAGE, n);
        world.held_by(&stream, STAGE, pid).into_iter().filter(|t| running.contains(t)).collect()
    };
    let mut killed: Vec<(Implementation, Vec<u64>)> = Vec::new();
    for (imp, doomed) in [(Python, &mut doomed_python), (Node, &mut doomed_node)] {
        let pid = doomed.id();
        world.wait_until(&format!("the {} to be mid-task", imp.name()), Duration::from_secs(60), || {
            !running_held(pid).is_empty()
        });
        world.kill(doomed);
        // Still held by the dead consumer: the reclaim has not happened (timeout 1 s, and
        // no live worker of its kind is left to reclaim until the survivors start).
        killed.push((imp, running_held(pid)));
    }
    for (imp, tasks) in &killed {
        assert!(!tasks.is_empty(), "{}", world.say(format!("the {} was killed mid-task", imp.name())));
    }

    let mut python = world.start_worker_of(Python, 2, 1000);
    let mut node = world.start_worker_of(Node, 2, 1000);
    let context = world.finish(orchestrator, &mut [&mut troupe, &mut python, &mut node]);

    assert_each_counted_once(&world, run, &context, n);
    let runs = executions(&world, n);
    assert!(runs.iter().all(|&e| e >= 1), "{}", world.say(format!("a task never ran: {runs:?}")));
    let results = world.results(run, STAGE);
    for (imp, tasks) in &killed {
        for &id in tasks {
            let who = imp.name();
            assert!(
                runs[id as usize] >= 2,
                "{}",
                world.say(format!("task {id}, killed on the {who}, ran again: {runs:?}"))
            );
            let recorded = results[&id]["ok"]["execution"].as_u64();
            assert!(
                recorded >= Some(2),
                "{}",
                world.say(format!("task {id}'s result is the rerun's, not the killed {who}'s: {}", results[&id]))
            );
        }
    }

    // The second stage, served by `troupe worker` alone: Pass echoed each result once.
    assert_eq!(context[ECHO], context[STAGE], "{}", world.say("Pass echoed the first stage's outputs"));
    let echoed = world.results(run, ECHO);
    assert_eq!(
        echoed.keys().copied().collect::<Vec<_>>(),
        (0..n).collect::<Vec<_>>(),
        "{}",
        world.say("echo's indices")
    );
    assert_eq!(
        world.counters(run, ECHO),
        Counters { succeeded: n, failed: 0, in_flight: 0 },
        "{}",
        world.say("echo's counters")
    );
    for actor in ["Tally", "Pass"] {
        let stream = world.stream(run, actor);
        assert_eq!(world.pending(&stream), 0, "{}", world.say(format!("deliveries of {actor} left pending")));
    }

    // Every survivor drains cleanly and says what it ran: troupe worker all of echo, the two
    // Tally survivors at least the killed tasks between them.
    let served = world.stop_as(TroupeWorker, troupe);
    assert_eq!(served.ran, n, "{}", world.say(format!("troupe worker ran every Pass task once: {served:?}")));
    let reran = world.stop_as(Python, python).ran + world.stop_as(Node, node).ran;
    let killed_count = killed.iter().map(|(_, t)| t.len() as u64).sum::<u64>();
    assert!(
        reran >= killed_count,
        "{}",
        world.say(format!("the surviving Python and Node workers ran the {killed_count} killed tasks: ran {reran}"))
    );
}
