//! `Transformer`: renders the consolidated groups as CSV. Input `{ "groups" }`.

use troupe_sdk::prelude::*;

struct Transformer;

impl Actor for Transformer {
    fn invoke(input: Value) -> Result<Value, String> {
        let groups = input.get("groups").and_then(Value::as_array).ok_or("input.groups must be an array")?;
        let mut csv = String::from("documentType,pages,words\n");
        for g in groups {
            let r = g.get("result").unwrap_or(&Value::Null);
            csv.push_str(&format!(
                "{},{},{}\n",
                g.get("key").and_then(Value::as_str).unwrap_or("other"),
                r.get("pages").and_then(Value::as_u64).unwrap_or(0),
                r.get("words").and_then(Value::as_u64).unwrap_or(0)
            ));
        }
        Ok(json!({ "format": "csv", "csv": csv }))
    }
}

export_actor!(Transformer);
