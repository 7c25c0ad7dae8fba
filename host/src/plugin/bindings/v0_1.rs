//! `troupe:executor@0.1.0`, frozen in `wit/v0.1/`: what every 0.1 guest was built against.
//! The actor world reuses the executor world's shared interfaces (`types`, `state`,
//! `log`) so one implementation serves both.

use crate::plugin::store::HostState;
use wasmtime::component::{HasSelf, Linker};

pub(crate) mod executor_world {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "executor",
    });
}

pub(crate) mod actor_world {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
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

/// Define every 0.1 troupe import in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    executor_world::Executor::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}
