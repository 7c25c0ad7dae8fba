//! `SlackNotifier`: formats a one-line Slack message about the consolidated documents,
//! and POSTs it to `notify.webhookUrl` when the input names one (`example_webhook`).

use troupe_sdk::prelude::*;

struct SlackNotifier;

impl Actor for SlackNotifier {
    fn invoke(input: Value) -> Result<Value, String> {
        let groups =
            input.get("result").and_then(Value::as_array).ok_or("input.result must be the consolidated groups")?;
        let parts: Vec<String> = groups
            .iter()
            .map(|g| {
                let kind = g.get("key").and_then(Value::as_str).unwrap_or("other");
                format!("{} {kind}", g.pointer("/result/pages").and_then(Value::as_u64).unwrap_or(0))
            })
            .collect();
        let message = json!({ "channel": "slack", "text": format!(":page_facing_up: Processed {}", parts.join(", ")) });
        example_webhook::deliver(&input, &message)?;
        Ok(message)
    }
}

export_actor!(SlackNotifier);
