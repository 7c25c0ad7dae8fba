//! The stage rules: engine-independent code that decides what happens to a stage and its
//! tasks, used alike by the orchestrator, the hook host and the plugin harness. What must
//! be atomic in a store (maxParallel slots, token buckets, first result wins) is each
//! engine's, pinned by the engine conformance suite (`tests/`).
//!
//! - `bounds`: bounds on the numbers a plugin hands the host (enqueue options, defer and
//!   retry delays, attempt caps).
//! - `hooks`: the hook protocol (`before-task` admission, `after-task` review).

pub mod bounds;
pub mod hooks;
