//! The parser never panics: proptest feeds `troupe_dsl::compile` arbitrary bytes, token
//! soups from the language's own vocabulary, and valid programs mutated by deleting,
//! inserting, replacing, duplicating and truncating. Every outcome must be a compiled
//! definition whose span table lies inside the source, or diagnostics that render.

use proptest::prelude::*;
use proptest::test_runner::Config;
use std::sync::OnceLock;
use troupe_tests::root;

/// Words and marks the language is made of, and some it is not.
const VOCABULARY: &[&str] = &[
    "workflow",
    "input",
    "call",
    "as",
    "scatter",
    "gather",
    "groupBy",
    "broadcast",
    "parallel",
    "branch",
    "config",
    "in",
    "retry",
    "rate-limited",
    "Pass",
    "x",
    "a-b",
    "trigger",
    "gather.group.items",
    "file.path",
    "X.output",
    "index",
    "true",
    "null",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    ",",
    ".",
    "=",
    "*",
    "-",
    "\"s\"",
    "'q'",
    "\"$.a\"",
    "\"\\u{41}\"",
    "\"\\q\"",
    "\"open",
    "0",
    "-1.5e3",
    "05",
    "1.",
    "# comment\n",
    "\n",
    " ",
    "\t",
    "é",
    ";",
    "/",
    "$",
    "\u{0}",
    "\r\n",
];

fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(read_seeds)
}

fn read_seeds() -> Vec<String> {
    let mut files = vec![
        root().join("examples/document-processing/pipeline.wdl"),
        root().join("examples/real-world/pipeline.wdl"),
        root().join("examples/rate-limited/pipeline.wdl"),
        root().join("tests/wdl/seed-document-processing.wdl"),
    ];
    for dir in ["tests/ui/wdl", "tests/ui/wdl-validate"] {
        let mut cases: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wdl"))
            .collect();
        cases.sort();
        files.extend(cases);
    }
    files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
}

/// Compile `text`; whatever comes out must be usable.
fn check(text: &str) {
    match troupe_dsl::compile(text, "fuzz.wdl") {
        Ok(compiled) => {
            let stages = compiled.pipeline["stages"].as_array().expect("stages is an array");
            assert_eq!(stages.len(), compiled.spans.stages.len());
            for (stage, spans) in stages.iter().zip(&compiled.spans.stages) {
                assert_eq!(stage["name"].as_str(), Some(spans.name.as_str()));
                assert!(stage["mode"].is_string());
                for field in ["name", "mode", "actor", "input", "executorConfig.x[0]"] {
                    let span = spans.locate(field);
                    assert!(span.start <= span.end && span.end <= text.len(), "{field}: {span:?}");
                }
            }
            // The same program compiles to the same definition.
            assert_eq!(troupe_dsl::compile(text, "fuzz.wdl").unwrap().pipeline, compiled.pipeline);
        }
        Err(diagnostics) => {
            assert!(!diagnostics.items.is_empty());
            for d in &diagnostics.items {
                assert!(d.span.start <= d.span.end && d.span.end <= text.len(), "{d:?}");
                assert!(!d.message.is_empty());
            }
            let plain = diagnostics.render(false);
            assert!(plain.contains("fuzz.wdl:"), "{plain}");
            if !text.contains('\u{1b}') {
                assert!(!plain.contains('\u{1b}'), "escape codes without colour");
            }
            diagnostics.render(true);
            assert_eq!(diagnostics.to_string().lines().count(), diagnostics.items.len());
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, word: usize },
    Replace { at: usize, len: usize, word: usize },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0..4096usize;
    let len = 1..24usize;
    let word = 0..VOCABULARY.len();
    prop_oneof![
        (at.clone(), len.clone()).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (at.clone(), word.clone()).prop_map(|(at, word)| Mutation::Insert { at, word }),
        (at.clone(), len.clone(), word).prop_map(|(at, len, word)| Mutation::Replace { at, len, word }),
        (at.clone(), len).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        at.prop_map(|at| Mutation::Truncate { at }),
    ]
}

/// Apply `m` to `text`, positions taken modulo its length and moved to char boundaries.
fn apply(text: &str, m: &Mutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    let span = |at: usize, len: usize| {
        let start = at % n;
        (start.min(chars.len()), (start + len).min(chars.len()))
    };
    let join = |parts: &[&[char]], middle: &str| -> String {
        let mut s: String = parts[0].iter().collect();
        s.push_str(middle);
        s.extend(parts[1].iter());
        s
    };
    match *m {
        Mutation::Delete { at, len } => {
            let (a, b) = span(at, len);
            join(&[&chars[..a], &chars[b..]], "")
        }
        Mutation::Insert { at, word } => {
            let (a, _) = span(at, 0);
            join(&[&chars[..a], &chars[a..]], VOCABULARY[word])
        }
        Mutation::Replace { at, len, word } => {
            let (a, b) = span(at, len);
            join(&[&chars[..a], &chars[b..]], VOCABULARY[word])
        }
        Mutation::Duplicate { at, len } => {
            let (a, b) = span(at, len);
            let copy: String = chars[a..b].iter().collect();
            join(&[&chars[..b], &chars[b..]], &copy)
        }
        Mutation::Truncate { at } => {
            let (a, _) = span(at, 0);
            chars[..a].iter().collect()
        }
    }
}

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup_never_panics(words in proptest::collection::vec(0..VOCABULARY.len(), 0..80)) {
        let text: Vec<&str> = words.iter().map(|&w| VOCABULARY[w]).collect();
        check(&text.join(" "));
        check(&text.concat());
    }

}

proptest! {
    #![proptest_config(config(50_000))]

    #[test]
    fn mutated_programs_never_panic(seed in any::<prop::sample::Index>(), mutations in proptest::collection::vec(mutation(), 1..6)) {
        let seeds = seeds();
        let mut text = seeds[seed.index(seeds.len())].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        check(&text);
    }
}

#[test]
fn every_seed_program_is_checked_as_is() {
    for text in seeds() {
        check(text);
    }
}
