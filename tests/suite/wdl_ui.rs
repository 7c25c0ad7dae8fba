//! Golden files for bad programs: each `ui/wdl/<case>.wdl` sits next to `<case>.stderr`,
//! the exact diagnostic `troupe compile` prints for it (no colour: not a terminal). Every
//! case must fail to compile, and the one-line form (`file:line:col: message`) must point
//! where the drawing does.

use std::path::Path;
use std::process::Command;
use troupe_tests::{assert_golden, root};

fn cases() -> Vec<String> {
    let dir = root().join("tests/ui/wdl");
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wdl"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    cases.sort();
    cases
}

fn diagnostics(case: &str) -> troupe_dsl::Diagnostics {
    let shown = format!("ui/wdl/{case}.wdl");
    let text = std::fs::read_to_string(root().join("tests").join(&shown)).unwrap();
    match troupe_dsl::compile(&text, &shown) {
        Ok(compiled) => panic!("{shown} compiled:\n{:#}", compiled.pipeline),
        Err(d) => d,
    }
}

#[test]
fn every_bad_program_gets_its_exact_diagnostic() {
    let cases = cases();
    assert!(cases.len() >= 20, "expected the full set of bad programs, found {}", cases.len());
    for case in cases {
        let d = diagnostics(&case);
        assert!(!d.items.is_empty(), "{case}: an error without diagnostics");
        assert_golden(&root().join(format!("tests/ui/wdl/{case}.stderr")), &d.render(false));
        assert!(d.render(true).contains("\u{1b}["), "{case}: a terminal gets colour");
    }
}

#[test]
fn the_one_line_form_names_the_line_and_column_the_drawing_shows() {
    for case in cases() {
        let d = diagnostics(&case);
        let drawn = d.render(false);
        for (line, item) in d.to_string().lines().zip(&d.items) {
            let (l, c) = item.span.line_col(&d.text);
            assert!(line.starts_with(&format!("ui/wdl/{case}.wdl:{l}:{c}: ")), "{case}: {line}");
            assert!(line.ends_with(&item.message), "{case}: {line}");
            assert!(drawn.contains(&format!("ui/wdl/{case}.wdl:")), "{case}: the drawing names no position");
        }
    }
}

#[test]
fn troupe_compile_prints_the_same_diagnostics_and_fails() {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    for case in ["unterminated-string", "duplicate-stage-names", "many-problems"] {
        let out = Command::new(&troupe)
            .current_dir(root().join("tests"))
            .args(["compile", &format!("ui/wdl/{case}.wdl")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{case}: the invalid-pipeline status");
        assert!(out.stdout.is_empty(), "{case}: {}", String::from_utf8_lossy(&out.stdout));
        let expected = std::fs::read_to_string(Path::new(&root()).join(format!("tests/ui/wdl/{case}.stderr"))).unwrap();
        assert_eq!(String::from_utf8(out.stderr).unwrap(), expected, "{case}");
    }
}
