//! `Validator`: checks every page was classified and had text. Input `{ "pages" }`.

use troupe_sdk::prelude::*;

struct Validator;

impl Actor for Validator {
    fn invoke(input: Value) -> Result<Value, String> {
        let pages = input.get("pages").and_then(Value::as_array).ok_or("input.pages must be an array")?;
        let mut issues = Vec::new();
        for (i, p) in pages.iter().enumerate() {
            if p.is_null() {
                issues.push(format!("page {i} has no result"));
            } else if p.get("documentType").and_then(Value::as_str) == Some("other") {
                issues
                    .push(format!("{} could not be classified", p.get("path").and_then(Value::as_str).unwrap_or("?")));
            } else if p.get("words").and_then(Value::as_u64) == Some(0) {
                issues.push(format!("{} is empty", p.get("path").and_then(Value::as_str).unwrap_or("?")));
            }
        }
        Ok(json!({ "valid": issues.is_empty(), "checked": pages.len(), "issues": issues }))
    }
}

export_actor!(Validator);
