//! `DataExtractor`: pulls money amounts (`$1,234.50`) and ISO dates out of the pages'
//! titles and paths. Input `{ "pages": [page, ...] }`.

use troupe_sdk::prelude::*;

struct DataExtractor;

fn amounts(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with('$') && w[1..].chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_digit()).to_string())
        .collect()
}

fn dates(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter(|w| w.len() == 10 && w.as_bytes()[4] == b'-' && w.as_bytes()[7] == b'-')
        .map(str::to_string)
        .collect()
}

impl Actor for DataExtractor {
    fn invoke(input: Value) -> Result<Value, String> {
        let pages = input.get("pages").and_then(Value::as_array).ok_or("input.pages must be an array")?;
        let found: Vec<Value> = pages
            .iter()
            .filter(|p| !p.is_null())
            .map(|p| {
                let title = p.get("title").and_then(Value::as_str).unwrap_or("");
                json!({ "path": p.get("path"), "amounts": amounts(title), "dates": dates(title) })
            })
            .collect();
        Ok(json!({ "extracted": found }))
    }
}

export_actor!(DataExtractor);
