//! A task delivered twice: both deliveries run, the result is finished twice and counted
//! once.

use super::implementations::Implementation;
use super::pipelines::{assert_each_counted_once, executions, items, tallies, STAGE};
use super::world::World;
use std::time::Duration;

pub fn a_task_delivered_twice_is_counted_once(imp: Implementation) {
    let world = World::new(imp, "delivered twice");
    let (run, n) = ("twice", 3);
    // 300 ms tasks: the second delivery starts before the first ends and the run with it
    // (a worker may drop the tasks of a run that ended).
    let orchestrator = world.start_run(run, &tallies(imp, 300), &items(n));
    let stream = world.stream(run, "Tally");
    world.wait_until("the stage's tasks on the stream", Duration::from_secs(30), || world.stream_length(&stream) == n);
    // The same task again, in the shape the functions add it: a second delivery of task 1.
    let (_, fields) = world.entry(&stream, STAGE, 1);
    world.add_entry(&stream, &fields);

    let mut worker = world.start_worker(4, 60_000);
    let context = world.finish(orchestrator, &mut [&mut worker]);
    world.wait_until("both deliveries of task 1 to run", Duration::from_secs(20), || {
        world.executions(&serde_json::json!(1)) == 2
    });
    world.wait_until("every delivery to be acknowledged", Duration::from_secs(20), || world.pending(&stream) == 0);

    assert_each_counted_once(&world, run, &context, n);
    assert_eq!(executions(&world, n), [1, 2, 1], "{}", world.say("executions: task 1 ran once per delivery"));
    let stopped = world.stop(worker);
    assert_eq!(stopped.ran, n + 1, "{}", world.say("the worker ran every delivery, the duplicate too"));
}
