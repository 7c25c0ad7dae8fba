//! The language a component was written in, when its `producers` custom sections say so
//! (the plugins view of `troupe serve` and `troupe plugins --json` show it).
//!
//! Why heuristics: the `producers` section records the compilers of each core module,
//! not the author's language. A Python component (componentize-py) is CPython, written in
//! C and Rust; a JavaScript one (componentize-js) is StarlingMonkey, written in C++. So
//! the tools that made the component decide first (a module importing from
//! `libpython3.*.so` is componentize-py's), the modules' `language` field second, and
//! rustc's mark in `processed-by` last. Nothing found is `None`. The bytes are untrusted:
//! a malformed section is skipped.

use wasmparser::{KnownCustom, Parser, Payload};

/// What the `producers` sections of `component` (and of every module inside it) say.
pub fn detect(component: &[u8]) -> Option<String> {
    let mut languages: Vec<String> = Vec::new();
    let mut tools: Vec<String> = Vec::new();
    let mut links_python = false;
    for payload in Parser::new(0).parse_all(component) {
        let section = match payload {
            Ok(Payload::CustomSection(section)) => section,
            // componentize-py links CPython as a shared library: its modules import from it.
            Ok(Payload::ImportSection(imports)) => {
                links_python |= imports
                    .into_imports()
                    .flatten()
                    .any(|i| i.module.starts_with("libpython3") && i.module.ends_with(".so"));
                continue;
            }
            _ => continue,
        };
        let KnownCustom::Producers(reader) = section.as_known() else { continue };
        for field in reader.into_iter().flatten() {
            let into = match field.name {
                "language" => &mut languages,
                "processed-by" | "sdk" => &mut tools,
                _ => continue,
            };
            into.extend(field.values.into_iter().flatten().map(|v| v.name.to_string()));
        }
    }
    let made_by = |needle: &str| tools.iter().any(|t| t.to_ascii_lowercase().contains(needle));
    if links_python || made_by("componentize-py") {
        return Some("Python".into());
    }
    if made_by("componentize-js") || made_by("componentizejs") || made_by("starlingmonkey") || made_by("jco") {
        return Some("JavaScript".into());
    }
    // The first module's language (a component's adapter modules come after its main one);
    // rustc does not always write one (`-Zbuild-std` builds), but it says it compiled.
    match languages.into_iter().next() {
        Some(language) => Some(crate::text::one_line(&language, 40)),
        None if made_by("rustc") || made_by("wit-bindgen-rust") => Some("Rust".into()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::detect;

    /// A core module whose `producers` section holds `fields` ([(field, [values])]).
    fn module(fields: &[(&str, &[&str])]) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
        let mut body = Vec::new();
        string(&mut body, "producers");
        body.push(fields.len() as u8);
        for (name, values) in fields {
            string(&mut body, name);
            body.push(values.len() as u8);
            for v in *values {
                string(&mut body, v);
                string(&mut body, "1.0");
            }
        }
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(0);
        wasm.push(body.len() as u8);
        wasm.extend(body);
        wasm
    }

    #[test]
    fn the_tools_decide_before_the_modules_language() {
        assert_eq!(detect(&module(&[("language", &["Rust"])])).as_deref(), Some("Rust"));
        let py = module(&[("language", &["C11"]), ("processed-by", &["componentize-py", "wit-component"])]);
        assert_eq!(detect(&py).as_deref(), Some("Python"));
        let js = module(&[("language", &["C++"]), ("processed-by", &["ComponentizeJS"])]);
        assert_eq!(detect(&js).as_deref(), Some("JavaScript"));
        assert_eq!(detect(&module(&[("processed-by", &["wit-component"])])), None);
        assert_eq!(detect(&module(&[("processed-by", &["rustc", "wit-component"])])).as_deref(), Some("Rust"));
        assert_eq!(detect(b"not wasm at all"), None);
    }
}
