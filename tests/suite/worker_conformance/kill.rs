//! A worker killed with SIGKILL in the middle of its tasks: another worker takes them
//! over after the visibility timeout, runs them again, and each is counted once.

use super::implementations::Implementation;
use super::pipelines::{assert_each_counted_once, executions, items, tallies, STAGE};
use super::world::World;
use std::time::Duration;

pub fn a_worker_killed_mid_task_has_its_tasks_run_again_and_counted_once(imp: Implementation) {
    let world = World::new(imp, "killed mid-task");
    let (run, n) = ("killed", 8);
    let orchestrator = world.start_run(run, &tallies(imp, 600), &items(n));
    let mut doomed = world.start_worker(2, 1000);
    world.wait_until("the first worker to be mid-task", Duration::from_secs(60), || {
        !world.running(run, STAGE, n).is_empty()
    });
    world.kill(&mut doomed);
    // Started and never recorded, by a worker now dead: these must run again.
    let killed = world.running(run, STAGE, n);
    assert!(!killed.is_empty(), "{}", world.say("the worker was killed mid-task (the task ended first)"));

    let mut survivor = world.start_worker(4, 1000);
    let context = world.finish(orchestrator, &mut [&mut survivor]);
    assert_each_counted_once(&world, run, &context, n);
    let runs = executions(&world, n);
    assert!(runs.iter().all(|&e| e >= 1), "{}", world.say(format!("a task never ran: {runs:?}")));
    let results = world.results(run, STAGE);
    for id in killed {
        assert!(runs[id as usize] >= 2, "{}", world.say(format!("task {id}, killed mid-run, ran again: {runs:?}")));
        let recorded = results[&id]["ok"]["execution"].as_u64();
        assert!(
            recorded >= Some(2),
            "{}",
            world.say(format!("task {id}'s result is the rerun's (the killed run reported nothing): {}", results[&id]))
        );
    }
    let stopped = world.stop(survivor);
    assert!(stopped.ran >= 1, "{}", world.say(format!("the survivor ran the reclaimed tasks: {stopped:?}")));
}
