//! The language reference means what it says: every ```wdl example of `docs/wdl.md` that
//! is followed by a ```json block compiles to that JSON (a whole workflow to the whole
//! definition, a stage to that stage), and every other example compiles.

use serde_json::Value;
use troupe_tests::root;

/// The fenced blocks of `text`, as (language, body).
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(lang)) => current = Some((lang.trim().to_string(), String::new())),
            (Some(_), Some(_)) => out.push(current.take().expect("inside a block")),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// A stage fragment inside a workflow that defines the stages the reference's examples
/// read (unless the fragment defines them itself); the fragment's stage is the last.
fn wrap(fragment: &str) -> String {
    let mut program = String::from("workflow doc {\n");
    for earlier in ["process-files", "consolidate"] {
        if !fragment.contains(&format!("as {earlier}")) {
            program.push_str(&format!("  call Pass as {earlier}\n"));
        }
    }
    program.push_str(fragment);
    program.push_str("}\n");
    program
}

#[test]
fn every_example_of_the_reference_compiles_to_the_json_it_shows() {
    let text = std::fs::read_to_string(root().join("docs/wdl.md")).unwrap();
    let blocks = blocks(&text);
    let mut compared = 0;
    for (i, (lang, body)) in blocks.iter().enumerate() {
        if lang != "wdl" || body.trim_start().starts_with("input:") {
            continue; // an input value alone is shown with its JSON in the prose
        }
        let whole = body.trim_start().starts_with("workflow");
        let program = if whole { body.clone() } else { wrap(body) };
        let compiled = troupe_dsl::compile(&program, "docs/wdl.md")
            .unwrap_or_else(|d| panic!("example {i} does not compile:\n{program}\n{}", d.render(false)));
        let Some((_, json)) = blocks.get(i + 1).filter(|(l, _)| l == "json") else { continue };
        let expected: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("example {i}'s JSON: {e}"));
        let actual = if whole {
            compiled.pipeline
        } else {
            compiled.pipeline["stages"].as_array().unwrap().last().unwrap().clone()
        };
        assert_eq!(actual, expected, "example {i}:\n{body}");
        compared += 1;
    }
    assert!(compared >= 8, "only {compared} examples were compared with their JSON");
}

#[test]
fn the_readmes_program_is_the_document_example() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let (_, program) = blocks(&readme).into_iter().find(|(lang, _)| lang == "wdl").expect("README shows a program");
    let compiled = troupe_dsl::compile(&program, "README.md").unwrap_or_else(|d| panic!("{}", d.render(false)));
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/document-processing/pipeline.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(compiled.pipeline, json);
}
