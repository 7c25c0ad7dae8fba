//! The Python worker package (`workers/python`, `troupe-worker`): installed into a fresh
//! venv under `target/` with `pip install ./workers/python`, as a user would (shared with
//! `worker_conformance`: [`troupe_tests::python_worker_venv`]), then its own unittest
//! suite runs against a real `troupe run --redis` (target/release/troupe) on the test
//! Redis: results counted once, an actor's exception as a failed task, SIGTERM handing
//! back unstarted tasks, a SIGKILLed worker's tasks reclaimed, long tasks kept by
//! heartbeats (busy and idle workers), a cancelled run's tasks dropped, poison entries
//! (bad numbers, a stage that is not UTF-8), input that is not UTF-8 or nested too deep,
//! broken runs beside a healthy one, a Redis restart mid-run, a Redis without the
//! protocol's function library refused, and the password never shown.

use troupe_tests::{python_worker_venv, run_in_repo};

#[test]
fn the_python_worker_package_installs_and_passes_its_tests() {
    let python = python_worker_venv();
    let output =
        run_in_repo("run the package's tests", &python, &["-m", "unittest", "discover", "-v", "workers/python/tests"])
            .unwrap_or_else(|e| panic!("{e}"));
    println!("{output}");
    assert!(output.contains("\nOK"), "the unittest run did not end with OK:\n{output}");
}
