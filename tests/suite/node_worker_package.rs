//! The Node worker package (`workers/node`, `troupe-worker`): copied with its tests into a
//! fresh directory under `target/` (as a fresh clone would hold it), installed there with
//! `npm install ./workers/node` as a user does at the repository root, then its own
//! node:test suite runs against a real `troupe run --redis` (target/release/troupe) on the
//! test Redis: results counted once, an actor's exception as a failed task, SIGTERM
//! handing back unstarted tasks, a SIGKILLed worker's tasks reclaimed, long tasks kept by
//! heartbeats, a delivery reclaimed from the worker's own buffer run once, a cancelled
//! run, poison entries, a Redis restart mid-run, a Redis without the protocol's library,
//! the conformance server, and the declarations under `tsc --strict`.

use std::path::Path;
use std::process::Command;
use troupe_tests::{root, test_redis_url};

/// What the type check installs beside the package (never saved into its package.json).
const TYPESCRIPT: [&str; 2] = ["typescript@5.9.3", "@types/node@20.19.43"];

/// The package as the repository has it: its files, not an earlier install's.
const PACKAGE_FILES: [&str; 5] = ["package.json", "README.md", "tsconfig.json", "src", "test"];

/// Run `program args` in `dir`; panic with its output unless it succeeded.
fn run(what: &str, dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("TROUPE_TEST_REDIS", test_redis_url())
        .env("TROUPE_ROOT", root())
        .output()
        .unwrap_or_else(|e| panic!("cannot {what} ({program}): {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "cannot {what} ({}):\n{text}", out.status);
    text
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().expect("a file has a directory")).unwrap();
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    }
}

#[test]
fn the_node_worker_package_installs_and_passes_its_tests() {
    let clone = root().join("target/node-worker");
    if clone.exists() {
        std::fs::remove_dir_all(&clone).unwrap();
    }
    let package = clone.join("workers/node");
    for file in PACKAGE_FILES {
        copy(&root().join("workers/node").join(file), &package.join(file));
    }
    run("install workers/node", &clone, "npm", &["install", "--no-audit", "--no-fund", "./workers/node"]);
    let mut install_typescript = vec!["install", "--no-save", "--no-audit", "--no-fund"];
    install_typescript.extend(TYPESCRIPT);
    run("install TypeScript for the type check", &clone, "npm", &install_typescript);

    let mut tests: Vec<String> = std::fs::read_dir(package.join("test"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("test/{name}"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 5, "the package's tests are missing: {tests:?}");
    let mut args = vec!["--test".to_string()];
    args.extend(tests);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run("run the package's tests", &package, "node", &args);
    println!("{output}");
    assert!(output.contains("\n# fail 0\n"), "the node:test run did not end without failures:\n{output}");
}
