//! Redis restarted mid-run (with persistence: `appendonly yes`, shut down the way an
//! operator restarts it): the worker reconnects and goes on, and the run loses nothing.
//! On a Redis of the case's own, on a free port.

use super::implementations::Implementation;
use super::pipelines::{assert_each_counted_once, executions, items, tallies, STAGE};
use super::world::World;
use std::time::Duration;
use troupe_tests::OwnRedis;

pub fn a_redis_restart_mid_run_loses_nothing(imp: Implementation) {
    let mut own = OwnRedis::start();
    let world = World::on(imp, "Redis restarted", &own.url());
    let (run, n) = ("restarted", 12);
    let mut orchestrator = world.start_run(run, &tallies(imp, 200), &items(n));
    // A short visibility timeout: a read whose reply the restart cut off leaves a delivery
    // pending that no worker knows it holds; it is reclaimed within seconds.
    let mut worker = world.start_worker(2, 2000);
    world.wait_until("the run to be under way", Duration::from_secs(60), || world.results(run, STAGE).len() >= 3);
    let before = world.results(run, STAGE).len();
    assert!(orchestrator.alive() && before < n as usize, "{}", world.say("Redis goes down mid-run"));
    own.shut_down();
    std::thread::sleep(Duration::from_millis(500));
    own.boot();
    let context = world.finish(orchestrator, &mut [&mut worker]);
    assert_each_counted_once(&world, run, &context, n);
    let runs = executions(&world, n);
    assert!(runs.iter().all(|&e| e >= 1), "{}", world.say(format!("a task never ran: {runs:?}")));
    assert!(worker.alive(), "{}", world.say("the worker reconnected and goes on serving"));
    world.stop(worker);
}
