//! A broken run beside a healthy one: the set of active runs lists two runs whose keys
//! are not what the functions write (one's hash names `Tally` but its stream has no
//! consumer group; the other's hash is a string). A worker reads several runs' streams in
//! one call, so a worker that let one refused stream fail every read would serve no run
//! at all. The healthy run completes, each task counted once, and the worker goes on.

use super::implementations::Implementation;
use super::pipelines::{assert_each_counted_once, executions, items, tallies};
use super::world::World;

pub fn a_broken_run_does_not_stall_the_others(imp: Implementation) {
    let world = World::new(imp, "a broken run beside a healthy one");
    let keys = world.keys();
    let mut redis = world.redis();
    // Broken before any worker starts: workers meet them on their first look.
    let no_group = "broken-no-group";
    redis::cmd("HSET").arg(keys.run(no_group)).arg("actors").arg(r#"["Tally"]"#).exec(&mut redis).unwrap();
    redis::cmd("XADD").arg(world.stream(no_group, "Tally")).arg("*").arg("junk").arg("1").exec(&mut redis).unwrap();
    let wrong_type = "broken-wrong-type";
    redis::cmd("SET").arg(keys.run(wrong_type)).arg("not a hash").exec(&mut redis).unwrap();
    redis::cmd("SADD").arg(keys.active_runs()).arg(no_group).arg(wrong_type).exec(&mut redis).unwrap();

    let (run, n) = ("healthy", 6);
    let mut worker = world.start_worker(4, 60_000);
    let orchestrator = world.start_run(run, &tallies(imp, 0), &items(n));
    let context = world.finish(orchestrator, &mut [&mut worker]);
    assert_each_counted_once(&world, run, &context, n);
    assert_eq!(executions(&world, n), vec![1; n as usize], "{}", world.say("each task ran once"));
    assert!(worker.alive(), "{}", world.say("the worker goes on serving"));
    world.stop(worker);
}
