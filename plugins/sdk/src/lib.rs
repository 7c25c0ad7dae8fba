//! The troupe guest SDK: write a stage executor or an actor as a Rust trait, export it
//! with one macro, build it for `wasm32-unknown-unknown` and drop the `.wasm` into the
//! plugins directory. Plugin code never touches the raw WIT bindings. It binds
//! `troupe:executor@0.2.1` (the copy in this crate's `wit/`).
//!
//! ```ignore
//! use troupe_sdk::prelude::*;
//!
//! struct Single;
//! impl Executor for Single {
//!     const NAME: &'static str = "single";
//!     type Config = IgnoredAny;
//!     fn execute(stage: &Stage, _config: &Self::Config) -> Result<Execution, ExecutorError> {
//!         let input = stage.resolve_input(None)?;
//!         queue::enqueue(stage.task(0, stage.actor()?, input), &EnqueueOptions::default())?;
//!         Ok(Execution::new(1, OutputShape::Single))
//!     }
//! }
//! export_executor!(Single);
//! ```
//!
//! One crate may hold both kinds; a plugin crate exports one of them (one
//! `export_executor!` or `export_actor!`), and its component carries that world alone.
//! The guide is `docs/writing-an-executor.md`.
//!
//! # Layout
//! - `bindings`: the wit-bindgen output, a module per world (hidden; used by the macros).
//! - `error`: [`HostError`] (why a host call failed), [`ExecutorError`], [`Problem`] and
//!   the conversions between them.
//! - `stage`: [`Stage`] and the seed's `BaseStageExecutor` helpers (`config`,
//!   `resolve_input`, `task`), [`ScatterList`] and [`ScatterTemplate`].
//! - `executor`: the [`Executor`] trait, its result types and `export_executor!`.
//! - `context`, `queue`: host calls an executor makes while it runs (`queue::extend`
//!   grows a stage from `after-task`).
//! - `template`: input templates compiled once, rendered per item in the guest.
//! - `state`, `log`: host calls executors and actors share.
//! - `view`: cards for the live-state view, written to state under `view:` keys.
//! - `actor`: the [`Actor`] trait and `export_actor!`.
//! - `panic`: routes a guest panic's message to the host log before the trap.
//! - `http` (feature `http`): outgoing JSON requests and webhooks from an actor, as far
//!   as its manifest entry's `allow-http` grants.

#[doc(hidden)]
pub mod bindings;

mod actor;
pub mod context;
mod error;
mod executor;
#[cfg(feature = "http")]
pub mod http;
pub mod log;
#[doc(hidden)]
pub mod panic;
pub mod queue;
mod stage;
pub mod state;
pub mod template;
pub mod view;

#[doc(hidden)]
pub use actor::__private as __actor_private;
pub use actor::Actor;
pub use error::HostError;
#[doc(hidden)]
pub use executor::__private;
pub use executor::{
    Admission, EarlyStart, Execution, Executor, ExecutorError, Outcome, OutputShape, Plan, Problem, TaskRef, Verdict,
};
pub use queue::{Each, EnqueueOptions, Groups, NewTask, PathField, RateLimit, Task};
/// `type Config = IgnoredAny;` for an executor that reads no config of its own (it
/// deserializes from anything).
pub use serde::de::IgnoredAny;
pub use serde_json::{json, Map, Value};
pub use stage::{ScatterList, ScatterTemplate, Stage};
pub use template::Template;
pub use view::View;

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    pub use crate::{context, log, queue, state, view, View};
    pub use crate::{export_actor, Actor};
    pub use crate::{
        export_executor, Admission, EarlyStart, EnqueueOptions, Execution, Executor, ExecutorError, HostError, NewTask,
        Outcome, OutputShape, Plan, Problem, RateLimit, ScatterList, ScatterTemplate, Stage, Task, TaskRef, Verdict,
    };
    pub use crate::{json, IgnoredAny, Map, Value};
}
