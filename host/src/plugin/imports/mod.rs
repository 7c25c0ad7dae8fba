//! The troupe imports, implemented once over the host's types: each file serves one WIT
//! interface as methods of [`HostState`](super::store::HostState) that take plain values
//! and fail with a typed [`HostError`]. `v0_1.rs` and `v0_2.rs` implement each
//! version's generated `Host` traits on top of them: 0.2 guests receive the
//! `host-error`, 0.1 guests its message, the string they always received.
//!
//! Why the kind is decided where the error is made, never from its text: a message is
//! for people and changes; a guest decides from the kind whether to retry.

mod bulk;
mod context;
mod ledger;
mod log;
mod queue;
mod state;
mod v0_1;
mod v0_2;

pub(crate) use ledger::Ledger;
pub(crate) use queue::{NewTaskText, TaskText};

use crate::api::HostError;

/// An error of the same kind as `e` with another message.
pub(crate) fn same_kind(e: &HostError, message: String) -> HostError {
    match e {
        HostError::Invalid(_) => HostError::Invalid(message),
        HostError::NotFound(_) => HostError::NotFound(message),
        HostError::Unavailable(_) => HostError::Unavailable(message),
        HostError::LimitExceeded(_) => HostError::LimitExceeded(message),
    }
}

/// A call's [`HostState`](super::store::HostState) over a [`RecordingHost`] that knows the
/// actor `Pass`, for the imports' unit tests.
#[cfg(test)]
pub(crate) fn test_state(
    export: super::store::Export,
    limits: crate::manifest::Limits,
) -> (std::sync::Arc<crate::recording::RecordingHost>, super::store::HostState) {
    test_state_with(serde_json::json!({ "trigger": { "items": [1, 2] } }), export, limits)
}

/// [`test_state`] over `context`.
#[cfg(test)]
pub(crate) fn test_state_with(
    context: serde_json::Value,
    export: super::store::Export,
    limits: crate::manifest::Limits,
) -> (std::sync::Arc<crate::recording::RecordingHost>, super::store::HostState) {
    use crate::stage_host::{Role, Scope};
    let host = std::sync::Arc::new(crate::recording::RecordingHost::with_actors(context, ["Pass".to_string()]));
    let scope = Scope { role: Role::Executor, name: "m".into(), run_id: "r".into(), stage: "s".into() };
    (host.clone(), super::store::HostState::new(host, scope, export, &limits, false, &std::sync::Arc::from([])))
}
