//! `WebhookNotifier`: formats the JSON payload a webhook would receive: counts by type.

use troupe_sdk::prelude::*;

struct WebhookNotifier;

impl Actor for WebhookNotifier {
    fn invoke(input: Value) -> Result<Value, String> {
        let groups =
            input.get("result").and_then(Value::as_array).ok_or("input.result must be the consolidated groups")?;
        let mut counts = Map::new();
        for g in groups {
            let kind = g.get("key").and_then(Value::as_str).unwrap_or("other").to_string();
            counts.insert(kind, g.pointer("/result/pages").cloned().unwrap_or(json!(0)));
        }
        Ok(json!({ "channel": "webhook", "payload": { "event": "documents.processed", "pagesByType": counts } }))
    }
}

export_actor!(WebhookNotifier);
