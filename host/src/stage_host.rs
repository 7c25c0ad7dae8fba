//! [`StageHost`]: what a plugin's imports are served by. The embedded and Redis engines
//! implement it; [`crate::RecordingHost`] implements it in memory for tests, the plugin
//! harness and `troupe dry-run`.
//!
//! The trait is deliberately small (a context, a queue, a key-value store, a log): the
//! JSONPath work (`query`, `select`, `resolve-input`) is done once, generically, over
//! [`StageHost::context`].

use crate::api::{EnqueueOptions, HostError, LogLevel, Task};
use serde_json::Value;
use std::sync::Arc;

/// Who is calling: set by the host for every plugin call, so state can be namespaced and
/// log lines tagged without the plugin's help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `executor` or `actor`.
    pub role: Role,
    /// The mode name (executors) or actor name (actors) from the manifest.
    pub name: String,
    /// The run and stage being served; empty for calls outside a run (`validate`).
    pub run_id: String,
    pub stage: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Executor,
    Actor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Executor => "mode",
            Role::Actor => "actor",
        }
    }
}

impl Scope {
    /// The namespace a plugin's state keys live under: one per mode or per actor.
    pub fn state_namespace(&self) -> String {
        namespace(self.role, &self.name)
    }
}

/// The state namespace of the mode or actor `name`: `mode:<name>`, `actor:<name>`.
pub fn namespace(role: Role, name: &str) -> String {
    format!("{}:{}", role.as_str(), name)
}

/// How much state one plugin (its namespace) may hold, from its manifest `limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateQuota {
    /// `state-keys`: most live keys.
    pub keys: u64,
    /// `state-bytes`: most bytes of keys plus values.
    pub bytes: u64,
    /// `state-ttl-hours` in ms: the expiry of a key written without one, and the
    /// longest expiry any key gets, so no state outlives it.
    pub max_ttl_ms: u64,
}

/// How an engine's quota refusal message starts (the refusal itself is
/// `HostError::LimitExceeded`: the kind, never this text, is what callers read).
pub const QUOTA_ERROR: &str = "state quota exceeded: ";

impl StateQuota {
    pub fn from_limits(limits: &crate::manifest::Limits) -> Self {
        StateQuota {
            keys: limits.state_keys,
            bytes: limits.state_bytes,
            max_ttl_ms: limits.state_ttl_hours.saturating_mul(3_600_000),
        }
    }

    /// The expiry a write gets: the plugin's, at most the quota's; the quota's without one.
    pub fn ttl_ms(&self, asked: Option<u64>) -> u64 {
        asked.unwrap_or(self.max_ttl_ms).clamp(1, self.max_ttl_ms)
    }
}

/// Serves a plugin's imports. Errors are messages the plugin receives as WIT `result`
/// errors; they are not traps.
pub trait StageHost: Send + Sync {
    /// The run's context: `{"trigger": ..., "<stage>": <output>, ...}`.
    fn context(&self, scope: &Scope) -> Result<Arc<Value>, HostError>;

    /// Enqueue tasks for the scope's stage. Idempotent by (run, stage, index).
    fn enqueue(&self, scope: &Scope, tasks: Vec<Task>, options: &EnqueueOptions) -> Result<(), HostError>;

    /// Whether the manifest names this actor.
    fn has_actor(&self, name: &str) -> bool;

    fn state_get(&self, namespace: &str, key: &str) -> Result<Option<String>, HostError>;
    /// Writes are held to the namespace's [`StateQuota`]: past it they fail with an error
    /// that names the limit (and write nothing).
    fn state_set(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<(), HostError>;
    fn state_set_if_absent(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<bool, HostError>;
    fn state_increment(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<i64, HostError>;
    fn state_delete(&self, namespace: &str, key: &str) -> Result<(), HostError>;

    fn log(&self, scope: &Scope, level: LogLevel, message: &str);
}
