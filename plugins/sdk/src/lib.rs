//! The troupe guest SDK: write a stage executor or an actor as a Rust trait, export it
//! with one macro, build it for `wasm32-unknown-unknown` and drop the `.wasm` into the
//! plugins directory. Plugin code never touches the raw WIT bindings.
//!
//! ```ignore
//! use troupe_sdk::prelude::*;
//!
//! struct Single;
//! impl Executor for Single {
//!     const NAME: &'static str = "single";
//!     fn execute(stage: &Stage) -> Result<Execution, ExecutorError> {
//!         let input = stage.resolve_input(None)?;
//!         queue::enqueue(stage.task(0, stage.actor()?, input), &EnqueueOptions::default())?;
//!         Ok(Execution::new(1, OutputShape::Single))
//!     }
//! }
//! export_executor!(Single);
//! ```
//!
//! Enable exactly one feature per plugin crate: `executor` or `actor` (a component
//! carries the type of exactly the world it implements).
//!
//! # Layout
//! - `bindings`: the wit-bindgen output for the enabled world (hidden; used by the macros).
//! - `stage`: [`Stage`] and the seed's `BaseStageExecutor` helpers (`config`,
//!   `resolve_input`, `task`).
//! - `executor`: the [`Executor`] trait, its result types and `export_executor!`.
//! - `context`, `queue`: host calls an executor makes while it runs.
//! - `template`: input templates compiled once, rendered per item in the guest.
//! - `state`, `log`: host calls executors and actors share.
//! - `actor`: the [`Actor`] trait and `export_actor!`.
//! - `panic`: routes a guest panic's message to the host log before the trap.

#[cfg(all(feature = "executor", feature = "actor"))]
compile_error!("troupe-sdk: enable either the `executor` or the `actor` feature, not both");
#[cfg(not(any(feature = "executor", feature = "actor")))]
compile_error!("troupe-sdk: enable the `executor` or the `actor` feature");

#[doc(hidden)]
pub mod bindings;

#[cfg(feature = "actor")]
mod actor;
#[cfg(feature = "executor")]
pub mod context;
#[cfg(feature = "executor")]
mod executor;
pub mod log;
#[doc(hidden)]
pub mod panic;
#[cfg(feature = "executor")]
pub mod queue;
#[cfg(feature = "executor")]
mod stage;
pub mod state;
#[cfg(feature = "executor")]
pub mod template;

#[cfg(feature = "actor")]
#[doc(hidden)]
pub use actor::__private as __actor_private;
#[cfg(feature = "actor")]
pub use actor::Actor;
#[cfg(feature = "executor")]
#[doc(hidden)]
pub use executor::__private;
#[cfg(feature = "executor")]
pub use executor::{
    Admission, EarlyStart, Execution, Executor, ExecutorError, Outcome, OutputShape, Plan, Problem, TaskRef, Verdict,
};
#[cfg(feature = "executor")]
pub use queue::{EnqueueOptions, RateLimit, Task};
pub use serde_json::{json, Map, Value};
#[cfg(feature = "executor")]
pub use stage::Stage;
#[cfg(feature = "executor")]
pub use template::Template;

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    #[cfg(feature = "executor")]
    pub use crate::{context, queue};
    #[cfg(feature = "actor")]
    pub use crate::{export_actor, Actor};
    #[cfg(feature = "executor")]
    pub use crate::{
        export_executor, Admission, EarlyStart, EnqueueOptions, Execution, Executor, ExecutorError, Outcome,
        OutputShape, Plan, Problem, RateLimit, Stage, Task, TaskRef, Verdict,
    };
    pub use crate::{json, log, state, Map, Value};
}
