//! The protocol's version check: a worker refuses a Redis without the function library of
//! its protocol version (`troupe_v5`), saying so, before touching anything. `troupe
//! worker` is not a case of refusal: like every troupe process it loads the library it
//! needs (`FUNCTION LOAD REPLACE`), so on it the case checks that it did.

use super::implementations::Implementation;
use super::world::World;
use std::time::Duration;
use troupe_tests::OwnRedis;

const LIBRARY: &str = "troupe_v5";

pub fn a_redis_without_the_protocol_library_is_refused(imp: Implementation) {
    let own = OwnRedis::volatile();
    let world = World::on(imp, "no protocol library", &own.url());
    let libraries = || -> usize {
        let listed: Vec<redis::Value> =
            redis::cmd("FUNCTION").arg("LIST").arg("LIBRARYNAME").arg(LIBRARY).query(&mut world.redis()).unwrap();
        listed.len()
    };
    assert_eq!(libraries(), 0, "{}", world.say("a fresh Redis has no troupe library"));
    let mut worker = world.start_worker(1, 1000);
    if imp.loads_the_library() {
        world.wait_until("the worker to load its library", Duration::from_secs(30), || libraries() == 1);
        assert!(worker.alive(), "{}", world.say("the worker serves"));
        world.stop(worker);
        return;
    }
    let out = world.ended(worker, &mut [], Duration::from_secs(30));
    assert!(
        !out.status.success(),
        "{}",
        world.say(format!("the worker must refuse ({}):\n{}", out.status, out.stderr))
    );
    assert!(out.stderr.contains(LIBRARY), "{}", world.say(format!("the refusal names `{LIBRARY}`:\n{}", out.stderr)));
    let keys: u64 = redis::cmd("DBSIZE").query(&mut world.redis()).unwrap();
    assert_eq!(keys, 0, "{}", world.say("the refusing worker wrote nothing"));
}
