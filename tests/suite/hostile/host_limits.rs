//! Deadlines and logs (item 6, the plugin-call half): the deadline is a clock reading,
//! time inside host calls counts, a plugin's log lines are limited per call (the rest
//! dropped and counted in one notice) and escaped, as are its error messages.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use troupe::manifest::Limits;
use troupe::plugin::{ExecutorPlugin, Loader};
use troupe::{Failure, LogLevel};
use troupe_tests::{executor, fixture, loader, recorder};

fn boundary(loader: &Loader, limits: Limits) -> ExecutorPlugin {
    executor(loader, "boundary", &fixture("boundary"), limits)
}

fn stage(plugin: &ExecutorPlugin, config: Value) -> troupe::Stage {
    plugin.stage("run-limits", &json!({ "name": "edge", "mode": "boundary", "executorConfig": config }))
}

#[test]
fn a_plugin_looping_on_host_calls_stops_at_its_deadline() {
    let loader = loader();
    let plugin = boundary(&loader, Limits { timeout_ms: 300, ..Limits::DEFAULT });
    let (_, host) = recorder(json!({ "trigger": { "big": "x".repeat(1 << 16) } }));
    let started = Instant::now();
    let err = plugin.execute(host, &stage(&plugin, json!({ "do": "host-loop" }))).expect_err("stopped");
    println!("a 300 ms deadline over a loop of context queries fired after {:?}", started.elapsed());
    assert_eq!(err.failure, Failure::Deadline { timeout_ms: 300 });
    assert!(err.to_string().ends_with("(mode boundary): stopped at its deadline of 300 ms"), "{err}");

    // The host goes on serving calls.
    let (_, host) = recorder(json!({}));
    let ok = plugin.execute(host, &stage(&plugin, json!({ "do": "log-flood", "lines": 1 }))).unwrap();
    assert!(ok.is_ok());
}

#[test]
fn a_million_log_lines_become_the_limit_and_one_notice() {
    let loader = loader();
    let plugin = boundary(&loader, Limits { timeout_ms: 60_000, ..Limits::DEFAULT });
    let (recorded, host) = recorder(json!({}));
    let started = Instant::now();
    let result = plugin.execute(host, &stage(&plugin, json!({ "do": "log-flood", "lines": 1_000_000 }))).unwrap();
    println!("1,000,000 log calls took {:?}", started.elapsed());
    assert!(result.is_ok(), "a chatty plugin is not a failed one");
    let logs = recorded.logs();
    assert_eq!(logs.len(), 1001, "log-lines = 1000 kept, then one notice");
    assert_eq!(logs[999].message, "flood line 999");
    let notice = &logs[1000];
    assert_eq!(notice.level, LogLevel::Warn);
    assert_eq!(
        notice.message,
        "dropped 999000 log lines (16875000 bytes) of this call past its log-lines limit of 1000"
    );

    // log-bytes is the other limit; it counts per call, so the next call starts afresh.
    let plugin = boundary(&loader, Limits { log_bytes: 100, ..Limits::DEFAULT });
    let (recorded, host) = recorder(json!({}));
    plugin.execute(host, &stage(&plugin, json!({ "do": "log-flood", "lines": 20 }))).unwrap().unwrap();
    let logs = recorded.logs();
    assert_eq!(logs.len(), 9, "eight lines of 12 bytes fit in 100 bytes, then the notice");
    assert_eq!(logs[8].message, "dropped 12 log lines (154 bytes) of this call past its log-bytes limit of 100");
}

#[test]
fn log_lines_and_errors_with_newlines_and_escapes_are_escaped() {
    let loader = loader();
    let plugin = boundary(&loader, Limits::DEFAULT);
    let (recorded, host) = recorder(json!({}));
    let err = plugin.execute(host, &stage(&plugin, json!({ "do": "log-escapes" }))).unwrap().expect_err("it fails");
    let escaped = "ok\\ntroupe: run run-0 finished\\u{1b}[2J\\u{1b}]0;owned\\u{7}";
    assert_eq!(recorded.logs()[0].message, escaped);
    assert_eq!(err, troupe::ExecutorError::Fatal(escaped.to_string()));
}

/// The deadline's precision with the machine busy: a 1 s limit on a spinning plugin,
/// with a CPU-bound neighbour thread per core. Prints the fire time; asserts only that
/// it fired (timings vary with the machine).
#[test]
fn deadline_precision_under_a_cpu_bound_neighbour() {
    let loader = loader();
    let plugin = boundary(&loader, Limits { timeout_ms: 1000, ..Limits::DEFAULT });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let neighbours: Vec<_> = (0..cores)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n = std::hint::black_box(n.wrapping_mul(31).wrapping_add(7));
                }
            })
        })
        .collect();
    let mut fired = Vec::new();
    for _ in 0..3 {
        let (_, host) = recorder(json!({}));
        let started = Instant::now();
        let err = plugin.execute(host, &stage(&plugin, json!({ "do": "spin" }))).expect_err("stopped");
        fired.push(started.elapsed());
        assert_eq!(err.failure, Failure::Deadline { timeout_ms: 1000 });
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for n in neighbours {
        n.join().unwrap();
    }
    let ms: Vec<String> = fired.iter().map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3)).collect();
    println!("a 1 s deadline with {cores} CPU-bound neighbour threads fired after: {}", ms.join(", "));
    assert!(fired.iter().all(|d| *d >= Duration::from_millis(1000)), "never early: {ms:?}");
}
