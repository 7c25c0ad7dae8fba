//! wit-bindgen output for the one world the enabled feature selects. The export macros
//! generated here are re-exported under private names for `export_executor!` and
//! `export_actor!`.

#[cfg(feature = "executor")]
wit_bindgen::generate!({
    world: "executor",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "__export_executor_world",
    default_bindings_module: "troupe_sdk::bindings",
});

#[cfg(feature = "actor")]
wit_bindgen::generate!({
    world: "actor-component",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "__export_actor_world",
    default_bindings_module: "troupe_sdk::bindings",
});

pub use troupe::executor::{log as raw_log, state as raw_state, types};
