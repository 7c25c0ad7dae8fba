//! Delivering a notifier's message to the webhook the run's input names: the wasm twin of
//! the workers' `webhook.py` and `webhook.ts` (examples/document-processing/workers/),
//! with the same rules and the same messages.
//!
//! The notifiers receive `notify` next to `result` (the pipeline passes
//! `$.trigger.notify`): `{"webhookUrl": "https://...", "timeoutMs": 10000}`, both
//! optional. With no `webhookUrl` nothing leaves the component. With one, the message is
//! POSTed as JSON, and anything but a 2xx reply within the timeout fails the task with a
//! message naming the URL and what went wrong. The manifest decides whether the request
//! may leave at all (`allow-http`); without a grant the host refuses it and the task
//! fails with the host's reason. The manifest's `http-timeout-ms` and the call's
//! `timeout-ms` bound the request too, whichever is shorter.

use std::time::Duration;
use troupe_sdk::http::Client;
use troupe_sdk::prelude::*;

/// How long a delivery may take when the input does not say.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// The longest `timeoutMs` accepted: a task must not hold its worker slot for long.
pub const MAX_TIMEOUT_MS: u64 = 300_000;
/// How much of an error reply's body the failure message quotes.
const QUOTED_CHARS: usize = 200;

/// Where and how long to deliver, as the run's input asks.
#[derive(Debug, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub timeout_ms: u64,
}

/// At most 100 characters of `value` as JSON, for messages about bad input.
fn show(value: &Value) -> String {
    value.to_string().chars().take(100).collect()
}

/// The URL and timeout `input.notify` asks for, or `None` when it names no URL. A `notify`
/// that is there but unusable is an error: a typo must not pass as "no webhook".
pub fn webhook_of(input: &Value) -> Result<Option<Webhook>, String> {
    let notify = match input.get("notify") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(notify)) => notify,
        Some(other) => {
            return Err(format!(
                "input.notify must be an object like {{\"webhookUrl\": \"https://...\"}}, not {}",
                show(other)
            ))
        }
    };
    let url = match notify.get("webhookUrl") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(url)) => url,
        Some(other) => return Err(format!("input.notify.webhookUrl must be a string, not {}", show(other))),
    };
    check_url(url)?;
    let timeout_ms = match notify.get("timeoutMs") {
        None => DEFAULT_TIMEOUT_MS,
        Some(t) => t.as_u64().filter(|t| (1..=MAX_TIMEOUT_MS).contains(t)).ok_or_else(|| {
            format!(
                "input.notify.timeoutMs must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}, not {}",
                show(t)
            )
        })?,
    };
    Ok(Some(Webhook { url: url.clone(), timeout_ms }))
}

/// An absolute `http://` or `https://` URL with a host and no credentials.
fn check_url(url: &str) -> Result<(), String> {
    let not_a_url = || {
        let shown: String = url.chars().take(200).collect();
        format!("input.notify.webhookUrl must be an http:// or https:// URL, not {}", Value::String(shown))
    };
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(not_a_url)?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err(
            "input.notify.webhookUrl must not carry credentials (user:password@); put a token in the path".into()
        );
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() || url.chars().any(char::is_control) {
        return Err(not_a_url());
    }
    Ok(())
}

/// POST `message` to the webhook `input` names, if any. Err (naming the URL and the
/// reply's status or the error) unless it answers 2xx within the timeout; troupe names
/// the actor and the task next to the message. Redirects are not followed: they would
/// re-send the body somewhere the run's input never named.
pub fn deliver(input: &Value, message: &Value) -> Result<(), String> {
    let Some(Webhook { url, timeout_ms }) = webhook_of(input)? else {
        return Ok(());
    };
    let client = Client::default()
        .timeout(Duration::from_millis(timeout_ms))
        .header("user-agent", "troupe-document-example (wasm)");
    let reply = client.post_json(&url, message).map_err(|e| {
        if e.is_timeout() {
            format!("POST {url} timed out after {timeout_ms} ms")
        } else {
            format!("POST {url} failed: {e}")
        }
    })?;
    if reply.ok() {
        return Ok(());
    }
    let quoted: String =
        reply.text().split_whitespace().collect::<Vec<_>>().join(" ").chars().take(QUOTED_CHARS).collect();
    let status = match reason(reply.status) {
        Some(reason) => format!("POST {url} answered {} {reason}", reply.status),
        None => format!("POST {url} answered {}", reply.status),
    };
    Err(if quoted.is_empty() { status } else { format!("{status}: {quoted}") })
}

/// The standard reason phrase of a status a webhook is likely to answer (`wasi:http`
/// hands the guest the code only, not the server's own phrase).
fn reason(status: u16) -> Option<&'static str> {
    Some(match status {
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}
