//! wit-bindgen output, one module per WIT world, so executors and actors build together
//! in one workspace (no mutually exclusive features).
//!
//! Why a component still has only its own world's type: the export macros generated
//! here (`pub_export_macro`) emit the full world (imports and exports) as a
//! component-type section into the plugin crate that invokes them, so an executor's
//! module describes the `executor` world and an actor's the `actor-component` world. The
//! sections this library carries besides (each world with its exports removed) are
//! imports only; `wit-component` merges them and gives the component only the imports
//! its module calls. So an actor component imports `state`, `log` and `types` at most,
//! never `context` or `queue` (an actor that called them would be refused at load:
//! they are not in its world). `tests/suite/sdk.rs` checks every built guest.
//!
//! The WIT is the copy in `plugins/sdk/wit/` (kept identical to the repository's `wit/`
//! by `tests/suite/sdk.rs`), so the crate builds wherever it is used from: a git
//! dependency, a path dependency, a vendored copy.

/// The `executor` world: `context`, `queue`, `state` and `log` imports, the
/// `stage-executor` export.
pub mod executor_world {
    wit_bindgen::generate!({
        world: "executor",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_executor_world",
        default_bindings_module: "troupe_sdk::bindings::executor_world",
    });
}

/// The `actor-component` world: `state` and `log` imports (shared with the executor
/// world's bindings through `with`), the `actor` export.
pub mod actor_world {
    wit_bindgen::generate!({
        world: "actor-component",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_actor_world",
        default_bindings_module: "troupe_sdk::bindings::actor_world",
        with: {
            "troupe:executor/types@0.2.1": crate::bindings::executor_world::troupe::executor::types,
            "troupe:executor/state@0.2.1": crate::bindings::executor_world::troupe::executor::state,
            "troupe:executor/log@0.2.1": crate::bindings::executor_world::troupe::executor::log,
        },
    });
}

pub use executor_world::troupe::executor::{context as raw_context, log as raw_log, queue as raw_queue};
pub use executor_world::troupe::executor::{state as raw_state, types};
