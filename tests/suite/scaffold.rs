//! `troupe new`: a crate scaffolded in a temporary directory outside the clone builds
//! with the commands its README documents (rustup's wasm32 target when installed, else
//! the Debian `-Zbuild-std` route, as on these build machines), passes its own tests
//! (the harness test for an executor, the unit and pipeline tests for an actor) and runs
//! in a pipeline. Prints the time from `troupe new` to a built `.wasm`.
//!
//! The builds share one target dir (`target/scaffold/`), as a plugin author's later
//! builds do, so only the first run pays for the guest standard library and dependencies.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use troupe_tests::root;

fn troupe() -> PathBuf {
    let troupe = root().join("target/release/troupe");
    assert!(troupe.is_file(), "run `cargo xtask build` first");
    troupe
}

fn check(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The shared target dir of every scaffolded crate.
fn target_dir() -> PathBuf {
    root().join("target/scaffold")
}

/// A command with no cargo settings of the test's own build.
fn clean(mut cmd: Command) -> Command {
    for var in
        ["CARGO", "CARGO_TARGET_DIR", "RUSTUP_TOOLCHAIN", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "RUSTC_WRAPPER"]
    {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_TARGET_DIR", target_dir());
    cmd
}

fn output(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stdout).unwrap().trim().to_string()
}

/// `cargo build --release --target wasm32-unknown-unknown` in `dir` as the README says:
/// rustup's route when its wasm32 standard library is installed, else the fallback.
fn build_wasm(dir: &Path) {
    let sysroot = PathBuf::from(output(Command::new("rustc").args(["--print", "sysroot"])));
    let mut cmd = if sysroot.join("lib/rustlib/wasm32-unknown-unknown/lib").is_dir() {
        let mut cmd = clean(Command::new("cargo"));
        cmd.args(["build", "--release", "--target", "wasm32-unknown-unknown"]);
        cmd
    } else {
        let host = output(Command::new("rustc").arg("-vV"))
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
            .unwrap();
        let lld = sysroot.join(format!("lib/rustlib/{host}/bin/rust-lld"));
        assert!(
            Path::new("/usr/bin/cargo").is_file(),
            "the fallback needs Debian's cargo-web (cargo xtask installs it)"
        );
        let mut cmd = clean(Command::new("/usr/bin/cargo"));
        cmd.env("RUSTC", "/usr/bin/rustc")
            .env("RUSTDOC", "/usr/bin/rustdoc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", lld)
            .args(["build", "--release", "-Zbuild-std=std,panic_abort", "--target", "wasm32-unknown-unknown"]);
        cmd
    };
    check("the documented wasm build", cmd.current_dir(dir).output().unwrap());
}

/// Scaffold `kind NAME` in a temporary directory and build it; the crate's directory
/// (kept by the returned guard) and its `.wasm`.
fn scaffold(kind: &str, name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    assert!(!tmp.path().starts_with(root()), "the crate must be outside the clone");
    let dir = tmp.path().join(name);
    let started = Instant::now();
    let out =
        check("troupe new", Command::new(troupe()).args(["new", kind, name, "--dir"]).arg(&dir).output().unwrap());
    let said = String::from_utf8_lossy(&out.stdout);
    let sdk = root().join("plugins/sdk").canonicalize().unwrap();
    assert!(said.contains(&format!("troupe-sdk: path {}", sdk.display())), "{said}");
    for file in ["Cargo.toml", ".cargo/config.toml", "src/lib.rs", "README.md"] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    build_wasm(&dir);
    let wasm = target_dir().join(format!("wasm32-unknown-unknown/release/{}.wasm", name.replace('-', "_")));
    assert!(wasm.is_file());
    eprintln!("scaffold: `troupe new {kind} {name}` to a built .wasm in {:.1} s", started.elapsed().as_secs_f64());
    (tmp, dir, wasm)
}

fn cargo_test(dir: &Path) -> String {
    let mut cmd = clean(Command::new("cargo"));
    let out = check("cargo test in the scaffolded crate", cmd.arg("test").current_dir(dir).output().unwrap());
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn run(dir: &Path, manifest: &str, pipeline: Value, input: Value) -> Value {
    std::fs::write(dir.join("troupe.toml"), manifest).unwrap();
    std::fs::write(dir.join("pipeline.json"), pipeline.to_string()).unwrap();
    std::fs::write(dir.join("input.json"), input.to_string()).unwrap();
    let out = Command::new(troupe())
        .current_dir(dir)
        .args(["run", "pipeline.json", "--input", "input.json", "--manifest", "troupe.toml", "--json", "--cache-dir"])
        .arg(root().join("target/test-cache"))
        .output()
        .unwrap();
    serde_json::from_slice(&check("troupe run", out).stdout).unwrap()
}

#[test]
fn a_new_executor_builds_outside_the_clone_passes_its_harness_test_and_runs_in_a_pipeline() {
    let (_tmp, dir, wasm) = scaffold("executor", "fan-probe");
    let tests = cargo_test(&dir);
    assert!(tests.contains("runs_one_task_per_item_and_outputs_them_in_order ... ok"), "{tests}");

    let manifest = format!(
        "version = 1\nplugins-dir = {:?}\n[executors.fan-probe]\ncomponent = {:?}\n[actors.Pass]\ncomponent = \"pass.wasm\"\n",
        root().join("target/plugins").display().to_string(),
        wasm.display().to_string()
    );
    let pipeline = json!({ "stages": [{ "name": "probe", "mode": "fan-probe", "actor": "Pass",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "v": "$.item" },
        "executorConfig": { "maxParallel": 2 } }] });
    let context = run(&dir, &manifest, pipeline, json!({ "items": ["a", "b", "c"] }));
    assert_eq!(context["probe"], json!([{ "v": "a" }, { "v": "b" }, { "v": "c" }]));
}

#[test]
fn a_new_actor_builds_outside_the_clone_and_passes_its_unit_and_pipeline_tests() {
    let (_tmp, dir, wasm) = scaffold("actor", "greeter");
    // Its pipeline test reads the component where the README's build writes it.
    let release = dir.join("target/wasm32-unknown-unknown/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(&wasm, release.join("greeter.wasm")).unwrap();
    let tests = cargo_test(&dir);
    for test in ["greets_by_name ... ok", "says_what_is_missing ... ok", "greets_in_a_pipeline ... ok"] {
        assert!(tests.contains(test), "{test}: {tests}");
    }
}

#[test]
fn troupe_new_refuses_a_bad_name_and_a_directory_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(troupe())
        .args(["new", "executor", "Bad_Name", "--dir"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAME `Bad_Name`: use lowercase letters"), "{out:?}");
    std::fs::write(tmp.path().join("taken"), "").unwrap();
    let out = Command::new(troupe()).args(["new", "actor", "ok", "--dir"]).arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists and is not empty"), "{out:?}");
}
