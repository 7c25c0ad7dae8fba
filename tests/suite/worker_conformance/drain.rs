//! SIGTERM drains a worker: the tasks it is running finish and are recorded before it
//! exits, the ones it took and had not started are handed back at once, and another
//! worker runs those. Both workers' visibility timeout is a minute, longer than the case:
//! nothing can be finished by reclaiming, only by the hand-back.

use super::implementations::Implementation;
use super::pipelines::{assert_each_counted_once, executions, items, tallies, STAGE};
use super::world::World;
use std::time::Duration;

pub fn sigterm_finishes_running_tasks_and_hands_back_the_others(imp: Implementation) {
    let world = World::new(imp, "drained by SIGTERM");
    let (run, n) = ("drained", 10);
    let orchestrator = world.start_run(run, &tallies(imp, 500), &items(n));
    let stream = world.stream(run, "Tally");
    let first = world.start_worker(2, 60_000);
    world.wait_until("the first worker to run two tasks", Duration::from_secs(60), || {
        world.running(run, STAGE, n).len() == 2
    });
    // Let it fill its buffer (it takes ahead of what it runs), then stop it.
    std::thread::sleep(Duration::from_millis(100));
    let running = world.running(run, STAGE, n);
    let first = world.stop(first);

    let recorded = world.results(run, STAGE);
    for id in &running {
        assert!(recorded.contains_key(id), "{}", world.say(format!("task {id}, running at SIGTERM, was recorded")));
    }
    let started: Vec<u64> = (0..n).filter(|&id| world.executions(&serde_json::json!(id)) > 0).collect();
    let keys: Vec<u64> = recorded.keys().copied().collect();
    assert_eq!(started, keys, "{}", world.say("every task the worker started is recorded, and only those"));
    assert_eq!(first.ran, keys.len() as u64, "{}", world.say(format!("the stopped worker's count: {first:?}")));
    assert!(first.handed_back >= 1, "{}", world.say(format!("it handed back what it took ahead: {first:?}")));
    assert!(keys.len() < n as usize, "{}", world.say("the worker stopped mid-run"));
    assert_eq!(world.pending(&stream), 0, "{}", world.say("the stopped worker left no delivery pending"));

    let mut second = world.start_worker(4, 60_000);
    let context = world.finish(orchestrator, &mut [&mut second]);
    assert_each_counted_once(&world, run, &context, n);
    assert_eq!(executions(&world, n), vec![1; n as usize], "{}", world.say("no task ran twice, none was lost"));
    let second = world.stop(second);
    assert_eq!(first.ran + second.ran, n, "{}", world.say(format!("the two workers ran {first:?} and {second:?}")));
}
