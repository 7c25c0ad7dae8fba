//! The stage rules: engine-independent code that decides what happens to a stage and its
//! tasks, used alike by the orchestrator, the hook host and the plugin harness. What must
//! be atomic in a store (maxParallel slots, token buckets, first result wins) is each
//! engine's, pinned by the engine conformance suite (`tests/`).
//!
//! - `bounds`: bounds on the numbers a plugin hands the host (enqueue options, defer and
//!   retry delays, attempt caps).
//! - `hooks`: the hook protocol (`before-task` admission, `after-task` review).
//! - `rate`: the token bucket (GCRA) as a pure function over milliseconds (the embedded
//!   engine and the harness; Redis's Lua copy must agree).
//! - `barrier`: a finished stage judged against its tolerated failures; the retry rule
//!   for `execute`'s retryable errors.
//! - `failure`: [`StageFailure`], how a failed stage is described.
//! - `output`: a stage's output from its execution and results.

pub mod barrier;
pub mod bounds;
pub mod failure;
pub mod hooks;
pub mod output;
pub mod rate;

pub use failure::StageFailure;
