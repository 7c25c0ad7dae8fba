//! The live-state view: what each running stage's slots and rate bucket hold now, and
//! the cards plugins write to show their own state (`GET /v1/runs/{id}/live`,
//! `GET /v1/live`, the dashboard's "Live state").
//!
//! Cards are a state-key convention, not a WIT change: a plugin writes JSON under a key
//! starting with `view:` in its own state (`troupe_sdk::view`; the format is in
//! `docs/writing-an-executor.md`, "Showing state"). Why: older plugins keep working, any
//! language can write one, and the cards live where the state already is, so every host
//! sharing a Redis shows the same. A card is plugin output, so it is untrusted: it is
//! size-capped, every string is cut to one line, and one that does not parse is shown as
//! an `invalid` card saying why rather than dropped (its author needs to know).

use super::events::Counts;
use super::service::RunState;
use crate::engine::live::{StageLive, StateEntry};
use crate::engine::RunStore;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The key prefix cards are written under.
pub const PREFIX: &str = "view:";
/// Most running runs `GET /v1/live` reads (newest first).
pub const MAX_RUNS: usize = 50;
/// Most cards shown per plugin.
pub const MAX_CARDS: usize = 50;
/// Most fields shown per card.
const MAX_FIELDS: usize = 24;
/// A card's JSON text longer than this is refused.
const MAX_CARD_BYTES: usize = 16 * 1024;

/// `GET /v1/runs/{id}/live`: a run's running stages now, and its modes' cards.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunLive {
    pub run_id: String,
    pub pipeline: String,
    pub status: RunState,
    /// Its running stages (none once it ended).
    pub stages: Vec<StageLiveView>,
    /// The cards of every mode its pipeline uses (running or not: a breaker's state
    /// outlives the stage), by plugin then key.
    pub cards: Vec<Card>,
}

/// `GET /v1/live`: every running run's stages, and the cards of every plugin the server
/// serves new runs with.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveAll {
    /// How many runs are running.
    pub running: usize,
    /// The newest of them, at most 50 (each costs reads of the engine).
    pub runs: Vec<RunLive>,
    pub cards: Vec<Card>,
}

/// One running stage: its slots, its waiting tasks and its rate bucket.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageLiveView {
    pub name: String,
    pub mode: String,
    pub counts: Counts,
    /// Slots: at most this many tasks in flight (`counts.inFlight` in use); absent when
    /// the stage has no limit.
    pub max_parallel: Option<u32>,
    /// `maxParallel` was set through the API.
    pub retuned: bool,
    /// Released tasks waiting for their time (a delay, a retry's backoff, a rate token).
    pub timed: u64,
    /// `timed` is a lower bound (the Redis engine counts at most 10,000).
    pub timed_capped: bool,
    pub rate: Option<RateView>,
    /// Why the engine could not say more than the counters (the stage just ended).
    pub error: Option<String>,
}

/// A token bucket now.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateView {
    /// Its name within the executor's state; `(retuned)` for a rate set through the API.
    pub bucket: String,
    pub per_second: f64,
    pub burst: u32,
    /// Tokens in the bucket now (fractional while it refills).
    pub tokens: f64,
    pub retuned: bool,
}

/// How a card is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CardKind {
    /// A circuit breaker: `state` is `closed`, `open` or `half-open`.
    Breaker,
    /// Named values (also how a kind this server does not know is shown).
    Fields,
    /// The key does not hold a card: `error` says why.
    Invalid,
}

/// A plugin's card, as the plugin wrote it under `view:<name>`, checked.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    /// `mode:<name>` or `actor:<name>`: whose state it is in.
    pub plugin: String,
    /// The key without `view:`.
    pub name: String,
    pub title: String,
    pub kind: CardKind,
    pub state: Option<String>,
    /// `[name, value]` pairs in the plugin's order; values are strings, numbers,
    /// booleans or null (anything else is shown as its JSON text).
    #[schema(value_type = Vec<Vec<Object>>)]
    pub fields: Vec<(String, Value)>,
    /// The state lasts while a key of the plugin lives: how long it has left.
    pub until: Option<Until>,
    /// Why an `invalid` card is not one.
    pub error: Option<String>,
}

/// A state that lasts while one of the plugin's keys lives.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Until {
    /// What ends then, as the plugin says it (`next trial in`).
    pub label: String,
    pub in_ms: u64,
}

/// Every card in `namespace`'s state; a store error becomes one invalid card (the rest
/// of the view still shows).
pub fn cards<S: RunStore + ?Sized>(store: &S, namespace: &str) -> Vec<Card> {
    match store.plugin_state(namespace, PREFIX, MAX_CARDS) {
        Ok(entries) => entries
            .iter()
            .map(|e| {
                card(namespace, e, |key| {
                    let found = store.plugin_state(namespace, key, 8).ok()?;
                    found.into_iter().find(|f| f.key == key).map(|f| f.expires_in_ms)
                })
            })
            .collect(),
        Err(e) => vec![Card {
            plugin: namespace.to_string(),
            name: String::new(),
            title: namespace.to_string(),
            kind: CardKind::Invalid,
            state: None,
            fields: Vec::new(),
            until: None,
            error: Some(crate::text::one_line(&format!("its state cannot be read: {e:#}"), 400)),
        }],
    }
}

/// A card from a state entry; `expiry` gives the ms left of one of the plugin's keys.
pub fn card(plugin: &str, entry: &StateEntry, expiry: impl Fn(&str) -> Option<u64>) -> Card {
    let name = entry.key.strip_prefix(PREFIX).unwrap_or(&entry.key);
    let mut card = Card {
        plugin: plugin.to_string(),
        name: crate::text::one_line(name, 200),
        title: crate::text::one_line(name, 120),
        kind: CardKind::Invalid,
        state: None,
        fields: Vec::new(),
        until: None,
        error: None,
    };
    match parse(entry, &mut card, expiry) {
        Ok(()) => card,
        Err(why) => {
            card.kind = CardKind::Invalid;
            card.error = Some(why);
            card
        }
    }
}

fn parse(entry: &StateEntry, card: &mut Card, expiry: impl Fn(&str) -> Option<u64>) -> Result<(), String> {
    if entry.value.len() > MAX_CARD_BYTES {
        return Err(format!("the card is {} bytes, over the {MAX_CARD_BYTES} shown", entry.value.len()));
    }
    let value: Value = serde_json::from_str(&entry.value)
        .map_err(|e| format!("the card is not JSON ({e}): `{}`", crate::text::one_line(&entry.value, 80)))?;
    let Value::Object(map) = value else { return Err("the card is not a JSON object".into()) };
    let text = |field: &str, max: usize| -> Result<Option<String>, String> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(crate::text::one_line(s, max))),
            Some(_) => Err(format!("`{field}` is not a string")),
        }
    };
    card.kind = match text("kind", 40)?.as_deref() {
        Some("breaker") => CardKind::Breaker,
        Some(_) => CardKind::Fields,
        None => return Err("`kind` is missing (`breaker` or `fields`)".into()),
    };
    if let Some(title) = text("title", 120)? {
        card.title = title;
    }
    card.state = text("state", 40)?;
    match map.get("fields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (name, value) in fields.iter().take(MAX_FIELDS) {
                let value = match value {
                    Value::String(s) => Value::String(crate::text::one_line(s, 200)),
                    Value::Number(_) | Value::Bool(_) | Value::Null => value.clone(),
                    other => Value::String(crate::text::one_line(&other.to_string(), 200)),
                };
                card.fields.push((crate::text::one_line(name, 60), value));
            }
        }
        Some(_) => return Err("`fields` is not an object".into()),
    }
    match map.get("until") {
        None | Some(Value::Null) => {}
        Some(Value::Object(until)) => {
            let key = until.get("key").and_then(Value::as_str).ok_or("`until.key` is not a string")?;
            let label = until.get("label").and_then(Value::as_str).unwrap_or("ends in");
            match expiry(key) {
                Some(in_ms) => card.until = Some(Until { label: crate::text::one_line(label, 60), in_ms }),
                None => {
                    if let Some(then) = until.get("then").and_then(Value::as_str) {
                        card.state = Some(crate::text::one_line(then, 40));
                    }
                }
            }
        }
        Some(_) => return Err("`until` is not an object".into()),
    }
    Ok(())
}

/// A running stage's view from its counters and the engine's live read.
pub fn stage_view(name: &str, mode: &str, counts: Counts, live: anyhow::Result<StageLive>) -> StageLiveView {
    let mut view = StageLiveView {
        name: name.to_string(),
        mode: mode.to_string(),
        counts,
        max_parallel: None,
        retuned: false,
        timed: 0,
        timed_capped: false,
        rate: None,
        error: None,
    };
    match live {
        Ok(live) => {
            view.max_parallel = live.max_parallel;
            view.retuned = live.retuned;
            view.timed = live.timed;
            view.timed_capped = live.timed_capped;
            view.rate = live.rate.map(|r| RateView {
                bucket: r.bucket,
                per_second: r.per_second,
                burst: r.burst,
                tokens: (r.tokens * 100.0).round() / 100.0,
                retuned: r.retuned,
            });
        }
        Err(e) => view.error = Some(crate::text::one_line(&format!("{e:#}"), 400)),
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(value: &str) -> StateEntry {
        StateEntry { key: "view:breaker:pay".into(), value: value.into(), expires_in_ms: 1000 }
    }

    #[test]
    fn a_breaker_card_is_read_with_its_timer() {
        let e = entry(
            r#"{"kind":"breaker","title":"pay","state":"open","fields":{"failures":5,"note":{"a":1}},
               "until":{"key":"pay/open","label":"next trial in","then":"half-open"}}"#,
        );
        let c = card("mode:circuit-breaker", &e, |k| (k == "pay/open").then_some(4200));
        assert_eq!(c.kind, CardKind::Breaker);
        assert_eq!(c.name, "breaker:pay");
        assert_eq!(c.state.as_deref(), Some("open"));
        assert_eq!(c.fields[0], ("failures".to_string(), Value::from(5)));
        assert_eq!(c.fields[1], ("note".to_string(), Value::from(r#"{"a":1}"#)), "nested values are shown as text");
        assert_eq!(c.until.as_ref().map(|u| (u.label.as_str(), u.in_ms)), Some(("next trial in", 4200)));
        // Once the key has expired, the state is what the card says follows.
        let c = card("mode:circuit-breaker", &e, |_| None);
        assert_eq!(c.state.as_deref(), Some("half-open"));
        assert!(c.until.is_none());
    }

    #[test]
    fn anything_else_is_an_invalid_card_that_says_why() {
        for (value, why) in [
            ("not json", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"state":"open"}"#, "`kind` is missing"),
            (r#"{"kind":3}"#, "`kind` is not a string"),
            (r#"{"kind":"fields","fields":[1]}"#, "`fields` is not an object"),
            (r#"{"kind":"fields","until":{"label":"x"}}"#, "`until.key`"),
        ] {
            let c = card("mode:x", &entry(value), |_| None);
            assert_eq!(c.kind, CardKind::Invalid, "{value}");
            assert!(c.error.as_deref().is_some_and(|e| e.contains(why)), "{value}: {:?}", c.error);
        }
        let huge = format!(r#"{{"kind":"fields","title":"{}"}}"#, "x".repeat(MAX_CARD_BYTES));
        assert_eq!(card("mode:x", &entry(&huge), |_| None).kind, CardKind::Invalid);
        let unknown = card("mode:x", &entry(r#"{"kind":"gauge","title":"a\nb"}"#), |_| None);
        assert_eq!(unknown.kind, CardKind::Fields, "a kind this server does not know shows its fields");
        assert!(!unknown.title.contains('\n'));
    }
}
