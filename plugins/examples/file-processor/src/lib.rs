//! `FileProcessor`: classifies one page by the words in its text.
//! Input `{ "path", "text" }`; output `{ "path", "documentType", "title", "words" }`.

use troupe_sdk::prelude::*;

/// Document types and the phrases that mark them, most specific first.
const TYPES: &[(&str, &[&str])] = &[
    ("invoice", &["invoice", "amount due", "bill to"]),
    ("receipt", &["receipt", "total paid", "thank you for your purchase"]),
    ("contract", &["agreement", "hereinafter", "the parties"]),
    ("report", &["summary", "findings", "quarter"]),
];

struct FileProcessor;

impl Actor for FileProcessor {
    fn invoke(input: Value) -> Result<Value, String> {
        let path = input.get("path").and_then(Value::as_str).ok_or("input.path is required")?;
        let text = input.get("text").and_then(Value::as_str).ok_or("input.text is required")?;
        let lower = text.to_lowercase();
        let document_type = TYPES
            .iter()
            .map(|(kind, marks)| (kind, marks.iter().filter(|m| lower.contains(*m)).count()))
            .filter(|(_, hits)| *hits > 0)
            .max_by_key(|(_, hits)| *hits)
            .map(|(kind, _)| *kind)
            .unwrap_or("other");
        let title = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string();
        Ok(
            json!({ "path": path, "documentType": document_type, "title": title, "words": text.split_whitespace().count() }),
        )
    }
}

export_actor!(FileProcessor);
