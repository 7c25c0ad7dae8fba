//! A task longer than the visibility timeout is kept by its worker's heartbeats: a second
//! worker, looking for idle deliveries all along, never takes it over while the first
//! lives (nor one the first holds in its buffer: `troupe_v5_keep`).

use super::implementations::Implementation;
use super::pipelines::{assert_each_counted_once, executions, items, tallies, STAGE};
use super::world::World;
use std::time::{Duration, Instant};

pub fn a_task_longer_than_the_visibility_timeout_runs_once_while_its_worker_lives(imp: Implementation) {
    let world = World::new(imp, "kept by heartbeats");
    let (run, n, visibility) = ("long", 3, 500);
    let orchestrator = world.start_run(run, &tallies(imp, 1500), &items(n));
    let mut first = world.start_worker(1, visibility);
    world.wait_until("the first worker to start a task", Duration::from_secs(60), || {
        !world.running(run, STAGE, n).is_empty()
    });
    let seen = Instant::now();
    let id = world.running(run, STAGE, n)[0];
    let mut second = world.start_worker(1, visibility);
    world.wait_until("the first task to be recorded", Duration::from_secs(60), || {
        world.results(run, STAGE).contains_key(&id)
    });
    // The case means something only if the task outlived the timeout several times over.
    let lasted = seen.elapsed();
    assert!(
        lasted > Duration::from_millis(2 * visibility),
        "{}",
        world.say(format!("task {id} ran {lasted:?}, not over twice the {visibility} ms visibility timeout"))
    );
    let context = world.finish(orchestrator, &mut [&mut first, &mut second]);
    assert_each_counted_once(&world, run, &context, n);
    assert_eq!(executions(&world, n), vec![1; n as usize], "{}", world.say("no task was taken over and run twice"));
    let (first, second) = (world.stop(first), world.stop(second));
    assert_eq!(first.ran + second.ran, n, "{}", world.say(format!("the two workers ran {first:?} and {second:?}")));
    println!("[{}] task {id} ran at least {} ms", imp.name(), lasted.as_millis());
}
