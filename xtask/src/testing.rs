//! `cargo xtask test`: every test of the workspace, then the behavioural suites again on
//! the Redis engine. The end-to-end suites are modules of one test binary, `suite`
//! (`tests/suite/main.rs`), so the Redis pass selects modules by libtest filters on that
//! binary rather than binaries. libtest filters match substrings anywhere in a test's
//! name, so the selection is checked against the binary's own list before it runs: the
//! pass runs exactly the tests whose first path segment is a behavioural module.

use crate::{browser, cargo, python, redis, run};
use anyhow::{bail, ensure, Context as _};
use std::collections::BTreeSet;
use std::path::Path;

/// The modules of the `suite` binary that read `TROUPE_TEST_ENGINE` and run on both engines.
const BOTH_ENGINES: &[&str] =
    &["pipelines", "custom_executors", "growing_stages", "examples", "wdl_examples", "hostile", "python_guests"];

/// libtest options that take their value as the next argument.
const OPTIONS_WITH_VALUE: &[&str] =
    &["--skip", "--test-threads", "--format", "--color", "--logfile", "-Z", "--shuffle-seed"];

/// libtest options that change which tests are selected (the rest change how they run).
const SELECTING_OPTIONS: &[&str] = &["--skip", "--ignored", "--include-ignored", "--exact"];

/// `cargo xtask test [cargo test args] [-- libtest args]`: cargo's arguments go to both
/// passes; libtest's filters narrow both passes (on Redis, to the behavioural tests that
/// match them), its options go to both.
pub fn test(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    redis::ensure()?;
    python::ensure_redis_py()?;
    browser::ensure()?;
    eprintln!("xtask: running every test (release profile, sharing the host's build)");
    run(cargo(root).args(["test", "--release", "--workspace"]).args(extra))?;
    sdk_unit_tests(root)?;

    let args = TestArgs::split(extra);
    let listed = list(root, &args)?;
    let chosen = behavioural(&listed);
    if chosen.is_empty() {
        eprintln!("xtask: no behavioural test matches the filters; nothing to run on Redis");
        return Ok(());
    }
    let selection = if args.filters.is_empty() {
        let filters: Vec<String> = BOTH_ENGINES.iter().map(|m| format!("{m}::")).collect();
        let matched = matching(&listed, &filters);
        ensure!(
            matched == chosen,
            "the module filters {filters:?} select {} tests, the behavioural modules hold {}: \
             a module name of tests/suite/ contains a behavioural one (rename it)",
            matched.len(),
            chosen.len()
        );
        filters
    } else {
        std::iter::once("--exact".to_string()).chain(chosen.iter().map(|n| n.to_string())).collect()
    };
    eprintln!(
        "xtask: the behavioural suites again ({} tests of {}), on the Redis engine (TROUPE_TEST_ENGINE=redis)",
        chosen.len(),
        BOTH_ENGINES.join(", ")
    );
    // The selection is exact names or module filters (substrings); the user's `--exact`
    // applied to their own filters, already resolved by the list.
    let options = args.options.iter().filter(|o| *o != "--exact");
    let mut cmd = cargo(root);
    cmd.env("TROUPE_TEST_ENGINE", "redis").args(["test", "--release", "-p", "troupe-tests", "--test", "suite"]);
    run(cmd.args(&args.cargo).arg("--").args(options).args(selection))
}

/// The guest SDK's own unit tests, natively: its plain-Rust parts (the card builder of
/// `troupe_sdk::view`) need no wasm target, and the guests' workspace is not the host's,
/// so `--workspace` above does not reach them. A target dir of their own keeps the
/// native build apart from the guests' wasm one.
fn sdk_unit_tests(root: &Path) -> anyhow::Result<()> {
    eprintln!("xtask: the guest SDK's unit tests (native)");
    let mut cmd = cargo(&root.join("plugins"));
    cmd.args(["test", "-p", "troupe-sdk", "--lib", "--target-dir"]).arg(root.join("target/sdk-native"));
    run(&mut cmd)
}

/// `cargo xtask test`'s arguments: cargo's, then (after `--`) libtest's options and filters.
#[derive(Debug, Default, PartialEq)]
struct TestArgs {
    cargo: Vec<String>,
    options: Vec<String>,
    filters: Vec<String>,
}

impl TestArgs {
    fn split(extra: &[String]) -> TestArgs {
        let mut args = TestArgs::default();
        let mut rest = extra.iter();
        for arg in rest.by_ref() {
            if arg == "--" {
                break;
            }
            args.cargo.push(arg.clone());
        }
        while let Some(arg) = rest.next() {
            if OPTIONS_WITH_VALUE.contains(&arg.as_str()) {
                args.options.push(arg.clone());
                args.options.extend(rest.next().cloned());
            } else if arg.starts_with('-') {
                args.options.push(arg.clone());
            } else {
                args.filters.push(arg.clone());
            }
        }
        args
    }

    /// The libtest arguments that decide which tests run, for `--list`.
    fn selecting(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut options = self.options.iter();
        while let Some(option) = options.next() {
            let name = option.split('=').next().unwrap_or_default();
            if SELECTING_OPTIONS.contains(&name) {
                out.push(option.clone());
                if OPTIONS_WITH_VALUE.contains(&option.as_str()) {
                    out.extend(options.next().cloned());
                }
            } else if OPTIONS_WITH_VALUE.contains(&option.as_str()) {
                options.next();
            }
        }
        out.extend(self.filters.iter().cloned());
        out
    }
}

/// The tests of the `suite` binary that the given filters and options select.
fn list(root: &Path, args: &TestArgs) -> anyhow::Result<BTreeSet<String>> {
    let mut cmd = cargo(root);
    cmd.args(["test", "--release", "-p", "troupe-tests", "--test", "suite"]).args(&args.cargo);
    cmd.args(["--", "--list", "--format", "terse"]).args(args.selecting());
    let out = cmd.output().with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed with {}:\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(parse_list(&String::from_utf8_lossy(&out.stdout)))
}

/// The names in libtest's terse list (`name: test` per line).
fn parse_list(text: &str) -> BTreeSet<String> {
    text.lines().filter_map(|l| l.strip_suffix(": test")).map(str::to_string).collect()
}

/// The listed tests inside a behavioural module.
fn behavioural(listed: &BTreeSet<String>) -> BTreeSet<String> {
    listed
        .iter()
        .filter(|name| name.split_once("::").is_some_and(|(module, _)| BOTH_ENGINES.contains(&module)))
        .cloned()
        .collect()
}

/// The listed tests libtest's (substring) filters select.
fn matching(listed: &BTreeSet<String>, filters: &[String]) -> BTreeSet<String> {
    listed.iter().filter(|name| filters.iter().any(|f| name.contains(f.as_str()))).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_split_into_cargo_options_and_filters() {
        let args = TestArgs::split(&strings(&[
            "--no-fail-fast",
            "--",
            "--skip",
            "slow",
            "retry",
            "--nocapture",
            "--test-threads=1",
        ]));
        assert_eq!(args.cargo, strings(&["--no-fail-fast"]));
        assert_eq!(args.options, strings(&["--skip", "slow", "--nocapture", "--test-threads=1"]));
        assert_eq!(args.filters, strings(&["retry"]));
        assert_eq!(args.selecting(), strings(&["--skip", "slow", "retry"]));
        let args = TestArgs::split(&strings(&["--", "--test-threads", "1", "--exact", "a::b"]));
        assert_eq!(args.selecting(), strings(&["--exact", "a::b"]));
    }

    #[test]
    fn behavioural_tests_are_those_of_the_behavioural_modules_only() {
        let listed = parse_list(
            "pipelines::a: test\nwdl_examples::b: test\nexamples::c: test\nhostile::cache::d: test\n\
             distributed::pipelines_e: test\nwdl_fuzz::f: test\nsome_bench: bench\n",
        );
        let chosen = behavioural(&listed);
        assert_eq!(
            chosen,
            parse_list("pipelines::a: test\nwdl_examples::b: test\nexamples::c: test\nhostile::cache::d: test\n")
        );
        let filters: Vec<String> = BOTH_ENGINES.iter().map(|m| format!("{m}::")).collect();
        assert_eq!(matching(&listed, &filters), chosen);
        let clash = parse_list("pipelines::a: test\nretry_pipelines::b: test\n");
        assert_ne!(matching(&clash, &filters), behavioural(&clash), "a clash of names is caught");
    }
}
