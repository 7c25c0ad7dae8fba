//! Native actors the host ships, named in a manifest with `builtin = "<name>"`. Only
//! what cannot be a wasm component lives here: `wait` sleeps on the async runtime, so a
//! thousand waiting tasks hold no threads (a wasm actor would block one each).

use crate::api::Outcome;
use crate::payload::Payload;
use std::time::Duration;

/// The names `builtin = "..."` accepts.
pub const BUILTINS: &[&str] = &["wait"];

/// Run a native actor.
pub async fn invoke(name: &str, input: &Payload) -> Outcome {
    match name {
        "wait" => wait(input).await,
        other => Outcome::Failed(format!("no native actor named `{other}`")),
    }
}

/// `Wait`: returns its input after `input.ms` milliseconds (0 when absent).
async fn wait(input: &Payload) -> Outcome {
    let ms = match input.to_value().get("ms") {
        None => 0,
        Some(v) => match v.as_u64() {
            Some(ms) => ms,
            None => return Outcome::Failed(format!("Wait: `ms` must be a whole number of milliseconds, found {v}")),
        },
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Outcome::Succeeded(input.clone())
}
