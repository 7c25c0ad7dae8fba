//! `troupe:executor@0.2.1` (`wit/`): host errors, `queue.extend`, generations, skip;
//! 0.2.1 adds `queue.enqueue-each` and `queue.enqueue-groups`. A 0.2.0 guest links against
//! these bindings unchanged: wasmtime matches `@0.2.0` names to `@0.2.1` by semver.
//! The actor world reuses the executor world's shared interfaces (`types`, `state`,
//! `log`) so one implementation serves both.

use crate::plugin::store::HostState;
use wasmtime::component::{HasSelf, Linker};

pub(crate) mod executor_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "executor",
    });
}

pub(crate) mod actor_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "actor-component",
        with: {
            "troupe:executor/types": super::executor_world::troupe::executor::types,
            "troupe:executor/state": super::executor_world::troupe::executor::state,
            "troupe:executor/log": super::executor_world::troupe::executor::log,
        },
    });
}

pub(crate) use actor_world::ActorComponentPre;
pub(crate) use executor_world::troupe::executor::{context, log, queue, state, types};
pub(crate) use executor_world::ExecutorPre;

/// Define every 0.2 troupe import in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    executor_world::Executor::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}
