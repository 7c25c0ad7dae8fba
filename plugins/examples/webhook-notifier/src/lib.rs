//! `WebhookNotifier`: formats the JSON event a webhook receives, pages by document type,
//! and POSTs it to `notify.webhookUrl` when the input names one (`example_webhook`).

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
        let message =
            json!({ "channel": "webhook", "payload": { "event": "documents.processed", "pagesByType": counts } });
        example_webhook::deliver(&input, &message)?;
        Ok(message)
    }
}

export_actor!(WebhookNotifier);
