//! `EmailNotifier`: formats the email that reports the consolidated documents.
//! Input `{ "result": [{ "key", "result": { "pages", "words" } }, ...], "notify"? }`; the
//! message is also POSTed to `notify.webhookUrl` when the input names one (see
//! `example_webhook`: the manifest must grant that URL).

use troupe_sdk::prelude::*;

struct EmailNotifier;

impl Actor for EmailNotifier {
    fn invoke(input: Value) -> Result<Value, String> {
        let groups =
            input.get("result").and_then(Value::as_array).ok_or("input.result must be the consolidated groups")?;
        let pages: u64 = groups.iter().filter_map(|g| g.pointer("/result/pages").and_then(Value::as_u64)).sum();
        let mut body = format!("{pages} pages processed in {} document types:\n", groups.len());
        for g in groups {
            let kind = g.get("key").and_then(Value::as_str).unwrap_or("other");
            let n = g.pointer("/result/pages").and_then(Value::as_u64).unwrap_or(0);
            body.push_str(&format!("  - {kind}: {n} page{}\n", if n == 1 { "" } else { "s" }));
        }
        let message =
            json!({ "channel": "email", "subject": format!("Documents processed: {pages} pages"), "body": body });
        example_webhook::deliver(&input, &message)?;
        Ok(message)
    }
}

export_actor!(EmailNotifier);
