//! The document example with its eight actors written in Python and in TypeScript
//! (`examples/document-processing/workers/`), each served by that language's worker
//! package alone, through the example's own command (`run.sh python|node`): the run on
//! Redis ends with exactly the context the wasm actors give on the embedded engine, the
//! notifiers POST their messages to a receiver on 127.0.0.1 named in the run's input,
//! and a webhook that answers 500 or hangs fails its notifier's task with a message
//! naming the URL. Then each actor is held to its wasm twin on edge cases (`twins.rs`).
//! The script installs the packages as a user would: Python's into a venv under
//! `target/document-workers/`, Node's with `npm install` in the example's `node/`
//! (`node_modules/` there is ignored). The Node half runs once `workers/node` is in the
//! tree, and type-checks the actors with `tsc` too.

pub(crate) mod receiver;
mod twins;

use receiver::{Answer, Receiver};
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use troupe_tests::{root, test_redis_url, unique_prefix};

const EXAMPLE: &str = "examples/document-processing";
/// The tasks of one whole run: 7 pages, 5 groups, 3 notifiers, 3 branches.
const TASKS: u64 = 18;
/// How long one `run.sh` may take, installing its worker package included.
const RUN_LIMIT: Duration = Duration::from_secs(600);

pub(crate) fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The example's input with `notify` as given, written to a file in `dir`.
pub(crate) fn input_with(dir: &Path, notify: Value) -> String {
    let mut input = read_json(&root().join(EXAMPLE).join("input.json"));
    input["notify"] = notify;
    let path = dir.join("input.json");
    std::fs::write(&path, input.to_string()).unwrap();
    path.display().to_string()
}

/// What a command printed, and how it ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run `cmd` in its own process group, killing the whole group (the script, its worker,
/// its `troupe run`) with SIGKILL if it outlives `limit`.
fn run_limited(mut cmd: Command, limit: Duration) -> Ran {
    use std::os::unix::process::CommandExt;
    let mut child =
        cmd.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("cannot start the command");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = Command::new("kill").args(["-KILL", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let ran =
        Ran { code: status.and_then(|s| s.code()), stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() };
    assert!(
        status.is_some(),
        "still running after {limit:?}; killed.\nstdout:\n{}\nstderr:\n{}",
        ran.stdout,
        ran.stderr
    );
    ran
}

/// The final context of `pipeline` on the embedded engine with the default manifest, whose
/// actors are the wasm components of plugins/examples/.
fn wasm_run(pipeline: &str, input: &str) -> Value {
    let mut cmd = Command::new(root().join("target/release/troupe"));
    cmd.current_dir(root()).args(["run", pipeline, "--input", input, "--json", "--cache-dir", "target/test-cache"]);
    let ran = run_limited(cmd, RUN_LIMIT);
    assert_eq!(ran.code, Some(0), "the wasm run failed:\n{}", ran.stderr);
    serde_json::from_str(&ran.stdout).unwrap()
}

/// `run.sh LANGUAGE --json --input INPUT` on the test Redis under a prefix of its own.
fn example_run(language: &str, input: &str) -> Ran {
    let mut cmd = Command::new(root().join(EXAMPLE).join("workers/run.sh"));
    cmd.current_dir(root())
        .args([language, "--json", "--input", input, "--cache-dir", "target/test-cache"])
        .env("TROUPE_REDIS", test_redis_url())
        .env("TROUPE_REDIS_PREFIX", unique_prefix(&format!("docs-{language}")));
    run_limited(cmd, RUN_LIMIT)
}

/// The stages of the run, without `$.trigger`.
fn stages(context: &Value) -> Value {
    let mut stages = context.clone();
    stages.as_object_mut().unwrap().remove("trigger");
    stages
}

/// The whole example in `language`: same context as the wasm actors, the three messages
/// delivered once each, then a webhook that refuses one and lets another time out.
fn the_example_in(language: &str) {
    let dir = tempfile::tempdir().unwrap();

    // The reference: the example as it is, the wasm actors offline (the default manifest
    // grants them no network, and the input names no webhook).
    let reference = wasm_run(&format!("{EXAMPLE}/pipeline.json"), &format!("{EXAMPLE}/input.json"));
    let accepting = Receiver::start(|_| Answer::Accept);
    let input = input_with(dir.path(), json!({ "webhookUrl": accepting.url }));

    let ran = example_run(language, &input);
    assert_eq!(ran.code, Some(0), "the {language} run failed:\n{}", ran.stderr);
    let context: Value = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the context ({e}):\n{}\nstderr:\n{}", ran.stdout, ran.stderr));
    assert_eq!(stages(&context), stages(&reference), "the {language} actors' run differs from the wasm actors'");
    assert_eq!(context["trigger"], read_json(Path::new(&input)), "the run's input is its trigger");
    assert!(
        ran.stderr.contains(&format!("ran {TASKS} handed_back 0")),
        "the {language} worker did not run all {TASKS} tasks:\n{}",
        ran.stderr
    );

    receiver::assert_the_three_messages(&accepting.requests(), &reference["notify-all"], None);

    // Email is accepted, Slack refused with a 500, the webhook hangs past the timeout.
    let refusing = Receiver::start(|body| match body["channel"].as_str() {
        Some("slack") => Answer::Refuse,
        Some("webhook") => Answer::Hang(Duration::from_secs(4)),
        _ => Answer::Accept,
    });
    let input = input_with(dir.path(), json!({ "webhookUrl": refusing.url, "timeoutMs": 1000 }));
    let ran = example_run(language, &input);
    assert_eq!(ran.code, Some(1), "the run must fail at notify-all:\n{}", ran.stderr);
    let url = &refusing.url;
    for expected in [
        "stage notify-all failed: 2 of 3 tasks failed".to_string(),
        format!("task 1 (SlackNotifier): POST {url} answered 500 Internal Server Error: {{\"error\":\"the receiver refuses this one\"}}"),
        format!("task 2 (WebhookNotifier): POST {url} timed out after 1000 ms"),
    ] {
        assert!(ran.stderr.contains(&expected), "the {language} run's error lacks {expected:?}:\n{}", ran.stderr);
    }
    assert!(!ran.stderr.contains("(EmailNotifier)"), "email was accepted:\n{}", ran.stderr);
    let channels: Vec<Value> = refusing.requests().iter().map(|r| r.json()["channel"].clone()).collect();
    assert_eq!(channels.len(), 3, "{channels:?}");
    for channel in ["email", "slack", "webhook"] {
        assert!(channels.contains(&json!(channel)), "no {channel} request: {channels:?}");
    }
}

#[test]
fn the_python_actors_give_the_wasm_actors_results_and_post_to_the_webhook() {
    the_example_in("python");
    twins::agree("python");
}

#[test]
fn the_typescript_actors_give_the_wasm_actors_results_and_post_to_the_webhook() {
    if !root().join("workers/node/package.json").exists() {
        println!("skipped: workers/node (the Node worker package) is not in this tree yet");
        return;
    }
    the_example_in("node");
    twins::agree("node");
    let typecheck = Command::new("npm")
        .args(["run", "--silent", "typecheck"])
        .current_dir(root().join(EXAMPLE).join("workers/node"))
        .output()
        .unwrap();
    assert!(
        typecheck.status.success(),
        "tsc finds type errors in the TypeScript actors:\n{}{}",
        String::from_utf8_lossy(&typecheck.stdout),
        String::from_utf8_lossy(&typecheck.stderr)
    );
}
