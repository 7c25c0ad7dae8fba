//! Cards for the live-state view of `troupe serve`'s dashboard and API
//! (`GET /v1/runs/{id}/live`, `GET /v1/live`): how a plugin shows what its state means
//! (a breaker open until when, a quota used), without the host knowing the pattern.
//!
//! A convention on state keys, not a WIT change: a plugin writes a JSON card under a key
//! starting with `view:` in its own state, and the host shows every such key of the
//! plugins a run uses. Why a convention: plugins built against older packages keep
//! working, a plugin in any language can write one (it is a string in `state::set`), and
//! the card is read where the state already lives (every host of a Redis deployment
//! sees the same). The card format is in `docs/writing-an-executor.md`, "Showing state".
//!
//! ```ignore
//! View::breaker("payments breaker")
//!     .state("open")
//!     .field("failures", 5)
//!     .until("payments/open", "next trial in", Some("half-open"))
//!     .show("breaker:payments")?;
//! ```

use crate::bindings::raw_state as raw;
use crate::error::HostError;
use serde_json::{json, Value};

/// The key prefix the host looks for.
pub const PREFIX: &str = "view:";

/// One card: built, then written with [`View::show`].
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    kind: &'static str,
    title: String,
    state: Option<String>,
    /// In the order added (the SDK's JSON maps are sorted, so they are written by hand).
    fields: Vec<(String, Value)>,
    until: Option<Value>,
}

impl View {
    /// A circuit breaker's card: its `state` is `closed`, `open` or `half-open`.
    pub fn breaker(title: &str) -> View {
        View::new("breaker", title)
    }

    /// A card of named values.
    pub fn fields(title: &str) -> View {
        View::new("fields", title)
    }

    fn new(kind: &'static str, title: &str) -> View {
        View { kind, title: title.to_string(), state: None, fields: Vec::new(), until: None }
    }

    /// A one-word state, shown prominently.
    pub fn state(mut self, state: &str) -> View {
        self.state = Some(state.to_string());
        self
    }

    /// A named value (a string, number or boolean), shown in the order added.
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> View {
        let value = value.into();
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value,
            None => self.fields.push((name.to_string(), value)),
        }
        self
    }

    /// The state holds while this plugin's state `key` lives: the host shows `label`
    /// with the time left (plugins have no clock; the host knows the key's expiry), and
    /// once the key has expired it shows `then` as the state, if given.
    pub fn until(mut self, key: &str, label: &str, then: Option<&str>) -> View {
        let mut until = json!({ "key": key, "label": label });
        if let Some(then) = then {
            until["then"] = json!(then);
        }
        self.until = Some(until);
        self
    }

    /// The card as the host reads it.
    pub fn to_json(&self) -> String {
        let mut card = json!({ "kind": self.kind, "title": self.title });
        if let Some(state) = &self.state {
            card["state"] = json!(state);
        }
        if let Some(until) = &self.until {
            card["until"] = until.clone();
        }
        let fields: Vec<String> =
            self.fields.iter().map(|(name, value)| format!("{}:{value}", Value::from(name.as_str()))).collect();
        let head = card.to_string();
        format!("{},\"fields\":{{{}}}}}", &head[..head.len() - 1], fields.join(","))
    }

    /// Write the card under `view:<name>`, replacing the last one (it lives as long as
    /// the plugin's `state-ttl-hours` allows, counted against its state quota).
    pub fn show(&self, name: &str) -> Result<(), HostError> {
        raw::set(&format!("{PREFIX}{name}"), &self.to_json(), None)
    }

    /// Write the card only when none is shown under `name` yet; whether this call did.
    pub fn show_if_absent(&self, name: &str) -> Result<bool, HostError> {
        raw::set_if_absent(&format!("{PREFIX}{name}"), &self.to_json(), None)
    }
}

/// Remove the card shown under `name`.
pub fn hide(name: &str) -> Result<(), HostError> {
    raw::delete(&format!("{PREFIX}{name}"))
}

#[cfg(test)]
mod tests {
    use super::View;

    #[test]
    fn a_card_keeps_its_fields_in_order() {
        let card = View::breaker("b").state("open").field("z", 1).field("a", "x").field("z", 2);
        let text = card.to_json();
        assert!(text.ends_with(r#""fields":{"z":2,"a":"x"}}"#), "{text}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["kind"], "breaker");
        assert_eq!(parsed["state"], "open");
        let empty: serde_json::Value = serde_json::from_str(&View::fields("f").to_json()).unwrap();
        assert_eq!(empty["fields"], serde_json::json!({}));
    }
}
