//! The Python worker package (`workers/python`, `troupe-worker`): installed into a fresh
//! venv under `target/` with `pip install ./workers/python`, as a user would, then its own
//! unittest suite runs against a real `troupe run --redis` (target/release/troupe) on
//! the test Redis: results counted once, an actor's exception as a failed task, SIGTERM
//! handing back unstarted tasks, a SIGKILLed worker's tasks reclaimed, a long task kept by
//! heartbeats, a Redis restart mid-run, a cancelled run, poison entries, and a Redis
//! without the protocol's function library refused.

use std::process::Command;
use troupe_tests::{root, test_redis_url};

/// Run `program args` in the repository; panic with its output unless it succeeded.
fn run(what: &str, program: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .env("TROUPE_TEST_REDIS", test_redis_url())
        .output()
        .unwrap_or_else(|e| panic!("cannot {what} ({}): {e}", program.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "cannot {what} ({}):\n{text}", out.status);
    text
}

#[test]
fn the_python_worker_package_installs_and_passes_its_tests() {
    let venv = root().join("target/python-worker-venv");
    let venv_arg = venv.display().to_string();
    run("create a venv", std::path::Path::new("python3"), &["-m", "venv", "--clear", &venv_arg]);
    let python = venv.join("bin/python");
    run("install workers/python", &python, &["-m", "pip", "install", "--quiet", "./workers/python"]);
    let output = run("run the package's tests", &python, &["-m", "unittest", "discover", "-v", "workers/python/tests"]);
    println!("{output}");
    assert!(output.contains("\nOK"), "the unittest run did not end with OK:\n{output}");
}
