//! The Python worker package (`workers/python`) installed into a venv under `target/`, as
//! a user would (`pip install ./workers/python`), once per test process: its own tests
//! (`python_worker_package`) and the cross-implementation worker conformance suite both
//! run in it, so they share one install rather than racing to rebuild the same venv.

use crate::{root, test_redis_url};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The venv's Python, with `troupe-worker` installed from this checkout. Panics, saying
/// why, when the venv cannot be made (and on every later call in the same process).
pub fn python_worker_venv() -> PathBuf {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(make).clone().unwrap_or_else(|e| panic!("{e}"))
}

fn make() -> Result<PathBuf, String> {
    let venv = root().join("target/python-worker-venv");
    let venv_arg = venv.display().to_string();
    // Fresh (`--clear`) each test process: a stale install must not pass for this checkout's.
    run_in_repo("create a venv", Path::new("python3"), &["-m", "venv", "--clear", &venv_arg])?;
    let python = venv.join("bin/python");
    run_in_repo("install workers/python", &python, &["-m", "pip", "install", "--quiet", "./workers/python"])?;
    Ok(python)
}

/// Run `program args` in the repository (with the test Redis in `TROUPE_TEST_REDIS`):
/// its stdout and stderr, or why it failed with them.
pub fn run_in_repo(what: &str, program: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .env("TROUPE_TEST_REDIS", test_redis_url())
        .output()
        .map_err(|e| format!("cannot {what} ({}): {e}", program.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(format!("cannot {what} ({}):\n{text}", out.status));
    }
    Ok(text)
}
