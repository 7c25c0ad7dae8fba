//! Golden files for bad manifests: each `ui/manifest/<case>.toml` sits next to
//! `<case>.err`, the exact message troupe prints for it. Components the cases need are
//! real: built by `cargo xtask build`, or small WAT components compiled here from
//! `ui/manifest/files/*.wat` into `files/gen/`.

use std::path::{Path, PathBuf};
use troupe::plugin::{LoadOptions, Plugins};
use troupe::Manifest;
use troupe_tests::{assert_golden, shared_cache};

fn compile_wat_fixtures(dir: &Path) {
    let gen = dir.join("gen");
    std::fs::create_dir_all(&gen).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wat") {
            let binary = wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            std::fs::write(gen.join(path.with_extension("wasm").file_name().unwrap()), binary).unwrap();
        }
    }
}

/// What troupe reports for a manifest: its parse error, or every load error.
fn report(path: &Path) -> Option<String> {
    let manifest = match Manifest::load(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("{e}\n")),
    };
    let options = LoadOptions { cache: Some(shared_cache()), builtins: vec!["pass".into()] };
    match Plugins::load(&manifest, &options) {
        Ok(_) => None,
        Err(errors) => Some(format!("{errors}\n")),
    }
}

#[test]
fn every_bad_manifest_gets_its_exact_message() {
    let dir = PathBuf::from("ui/manifest");
    compile_wat_fixtures(&dir.join("files"));
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "expected the full set of manifest cases, found {}", cases.len());
    for case in cases {
        let message = report(&case).unwrap_or_else(|| panic!("{} loaded without error", case.display()));
        assert_golden(&case.with_extension("err"), &message);
    }
}

#[test]
fn the_default_manifest_loads() {
    let (plugins, _) = troupe_tests::default_plugins();
    let modes: Vec<&str> = plugins.executors().map(|(m, _)| m).collect();
    assert_eq!(
        modes,
        [
            "broadcast",
            "canary",
            "chunk",
            "circuit-breaker",
            "dedupe",
            "expand",
            "fork-join",
            "gather",
            "rate-limited",
            "retry",
            "scatter",
            "single"
        ]
    );
}
