//! `troupe test` golden files: each directory `ui/test/<case>/` holds `stage.json` and,
//! when the case needs them, `context.json`, `outcomes.json` and `args` (extra arguments,
//! one per line); `<case>.out` next to it is the exact exit status, stdout and stderr.
//! Good cases show the timeline (exit 0 or 1); bad inputs the error naming the file,
//! field and path (exit 2).

use std::path::{Path, PathBuf};
use std::process::Command;
use troupe_tests::{assert_golden, root};

fn troupe_test(case: &Path) -> String {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    let mut cmd = Command::new(troupe);
    cmd.arg("test").arg(case.join("stage.json"));
    for (flag, file) in [("--context", "context.json"), ("--outcomes", "outcomes.json")] {
        if case.join(file).is_file() {
            cmd.arg(flag).arg(case.join(file));
        }
    }
    if let Ok(extra) = std::fs::read_to_string(case.join("args")) {
        cmd.args(extra.lines().filter(|l| !l.is_empty()));
    }
    let out = cmd.args(["--manifest", "../troupe.toml", "--cache-dir", "../target/test-cache"]).output().unwrap();
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().map_or_else(|| "by signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn troupe_test_prints_what_happened_or_names_the_bad_input() {
    let dir = PathBuf::from("ui/test");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 10, "expected the full set of `troupe test` cases, found {}", cases.len());
    let mut statuses = std::collections::BTreeSet::new();
    for case in cases {
        let output = troupe_test(&case);
        statuses.insert(output.lines().next().unwrap_or_default().to_string());
        assert_golden(&case.with_extension("out"), &output);
    }
    let want: std::collections::BTreeSet<String> = ["exit 0", "exit 1", "exit 2"].map(String::from).into();
    assert_eq!(statuses, want, "the cases cover success, a failed stage and bad input");
}
