//! Files (item 7): a component, manifest, pipeline or input that is a device, a FIFO, a
//! directory or larger than its cap is refused at once with a message that says which,
//! never read without end or waited on. (The device, directory and oversize component
//! cases are golden files in `tests/ui/manifest/` too.)

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use troupe::plugin::{LoadProblem, Loader, PluginSpec};
use troupe_tests::{loader, root};

fn load_error(loader: &Loader, file: &Path) -> troupe::LoadError {
    match loader.load_executor(&PluginSpec::file("single", file), Value::Object(Default::default())) {
        Ok(_) => panic!("{} loaded", file.display()),
        Err(e) => e,
    }
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success());
}

#[test]
fn a_component_that_is_a_fifo_a_device_or_a_directory_is_refused_at_once() {
    let loader = loader();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("plugin.wasm");
    mkfifo(&fifo);
    for (file, what) in [
        (fifo.as_path(), "a FIFO (named pipe)"),
        (Path::new("/dev/zero"), "a character device"),
        (dir.path(), "a directory"),
    ] {
        let started = Instant::now();
        let err = load_error(&loader, file);
        println!("{} refused in {:?}", file.display(), started.elapsed());
        assert!(matches!(err.problem, LoadProblem::File(_)), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "[executors.single]: {}: refused: it is {what}, not a regular file; `component` must name a .wasm file",
                file.display()
            )
        );
    }
    // The host goes on loading real plugins.
    loader
        .load_executor(&PluginSpec::file("single", troupe_tests::plugin("single")), Value::Object(Default::default()))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_component_over_its_size_limit_is_refused_without_reading_it_all() {
    let loader = loader();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.wasm");
    // Sparse: 3 GiB that cost no disk, and that must never be read into memory.
    std::fs::File::create(&big).unwrap().set_len(3 << 30).unwrap();
    let spec = PluginSpec::file("single", &big)
        .with_limits(troupe::manifest::Limits { component_mib: 2, ..troupe::manifest::Limits::DEFAULT });
    let err = loader.load_executor(&spec, Value::Object(Default::default())).err().expect("refused");
    assert_eq!(
        err.to_string(),
        format!(
            "[executors.single]: {}: refused: it is larger than the limit of component-mib = 2 (2097152 bytes); `component` must name a .wasm file",
            big.display()
        )
    );
}

fn troupe(args: &[&str]) -> Output {
    let mut cmd = Command::new(root().join("target/release/troupe"));
    // The suites' shared compile cache: on a fresh machine the default manifest's
    // JavaScript and Python components take a minute or more to compile on a busy 2 cores,
    // which is not what this test waits for.
    cmd.args(args).current_dir(root()).env("TROUPE_CACHE_DIR", root().join("target/test-cache"));
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        // A hang detector (reading /dev/zero or a FIFO never ends), not a timing.
        if started.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("troupe {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn the_cli_refuses_dev_zero_and_fifos_as_its_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("pipeline.json");
    std::fs::write(&pipeline, r#"{"stages":[{"name":"one","mode":"single","actor":"Pass","input":{}}]}"#).unwrap();
    let fifo = dir.path().join("input.json");
    mkfifo(&fifo);
    let p = pipeline.to_str().unwrap();

    let out = troupe(&["run", p, "--input", "/dev/zero"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: cannot read /dev/zero: it is a character device, not a regular file"), "{stderr}");

    let out = troupe(&["run", p, "--input", fifo.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("it is a FIFO (named pipe), not a regular file"), "{stderr}");

    // A file that cannot be read is a failure (exit 1), not an invalid pipeline (2).
    let out = troupe(&["validate", fifo.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!("error: {}: cannot read: it is a FIFO (named pipe), not a regular file", fifo.display())
    );

    let out = troupe(&["run", p, "--manifest", "/dev/zero"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/dev/zero: cannot read the manifest: it is a character device, not a regular file"),
        "{stderr}"
    );

    // And the same command with real files still runs.
    let out = troupe(&["run", p]);
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
}
