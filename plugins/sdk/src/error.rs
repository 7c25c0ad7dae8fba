//! The two error types plugins meet: [`HostError`], why a host call failed (WIT
//! `host-error`), and [`ExecutorError`], why an executor call failed (WIT
//! `executor-error`). The mapping between them follows the kind the host gives, never
//! the message text: only `unavailable` (transient) is worth retrying. (wit-bindgen
//! gives both types `Display` and `std::error::Error`; use `message()` for the text.)

use crate::bindings::types as wit;
use std::fmt;

pub use wit::{ExecutorError, HostError, Problem};

impl HostError {
    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            HostError::Invalid(m)
            | HostError::NotFound(m)
            | HostError::Unavailable(m)
            | HostError::LimitExceeded(m) => m,
        }
    }

    /// Whether the same call may succeed later (`unavailable`).
    pub fn is_transient(&self) -> bool {
        matches!(self, HostError::Unavailable(_))
    }
}

/// `unavailable` is retryable (the host may call again); `invalid`, `not-found` and
/// `limit-exceeded` stay wrong on a second try, so they fail the stage at once (an
/// unknown actor is not retried). The message is kept as the host wrote it.
impl From<HostError> for ExecutorError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Unavailable(m) => ExecutorError::Retryable(m),
            HostError::Invalid(m) | HostError::NotFound(m) | HostError::LimitExceeded(m) => ExecutorError::Fatal(m),
        }
    }
}

/// For actors, whose error is the task's error message.
impl From<HostError> for String {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Invalid(m)
            | HostError::NotFound(m)
            | HostError::Unavailable(m)
            | HostError::LimitExceeded(m) => m,
        }
    }
}

/// A problem found outside `validate` (a config read in `execute`) fails the stage with
/// its field: `executorConfig.batchSize: must be at least 1`.
impl From<Problem> for ExecutorError {
    fn from(p: Problem) -> Self {
        ExecutorError::Fatal(p.to_string())
    }
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem { field: field.into(), message: message.into() }
    }
}

/// `field: message`, or the message alone when the problem names no field.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl ExecutorError {
    /// The stage cannot run as defined: it fails.
    pub fn fatal(message: impl fmt::Display) -> Self {
        ExecutorError::Fatal(message.to_string())
    }

    /// A transient condition: the host may call again.
    pub fn retryable(message: impl fmt::Display) -> Self {
        ExecutorError::Retryable(message.to_string())
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            ExecutorError::Fatal(m) | ExecutorError::Retryable(m) => m,
        }
    }
}
