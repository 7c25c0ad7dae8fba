//! `Consolidator`: one document type's pages into one record.
//! Input `{ "group": { "key", "items": [page, ...] } }`.

use troupe_sdk::prelude::*;

struct Consolidator;

impl Actor for Consolidator {
    fn invoke(input: Value) -> Result<Value, String> {
        let group = input.get("group").ok_or("input.group is required")?;
        let items = group.get("items").and_then(Value::as_array).ok_or("input.group.items must be an array")?;
        let words: u64 = items.iter().filter_map(|p| p.get("words").and_then(Value::as_u64)).sum();
        let paths: Vec<&Value> = items.iter().filter_map(|p| p.get("path")).collect();
        let titles: Vec<&Value> = items.iter().filter_map(|p| p.get("title")).collect();
        Ok(
            json!({ "documentType": group.get("key"), "pages": items.len(), "words": words, "paths": paths, "titles": titles }),
        )
    }
}

export_actor!(Consolidator);
