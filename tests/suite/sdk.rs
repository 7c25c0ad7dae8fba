//! troupe-sdk (`plugins/sdk`) as its users get it: its copy of the WIT package is the
//! contract in `wit/` (the copy is what lets the crate build as a git, path or vendored
//! dependency from anywhere), and every guest built from it, executors and actors built
//! together in one cargo invocation, has a component type of its own world alone.

use std::collections::BTreeMap;
use std::path::Path;
use troupe_tests::root;

fn wit_files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wit"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

#[test]
fn the_sdks_wit_copy_is_the_contract_byte_for_byte() {
    let contract = wit_files(&root().join("wit"));
    let copy = wit_files(&root().join("plugins/sdk/wit"));
    assert_eq!(contract.keys().collect::<Vec<_>>(), ["host.wit", "types.wit", "worlds.wit"]);
    assert_eq!(contract.keys().collect::<Vec<_>>(), copy.keys().collect::<Vec<_>>());
    for (name, text) in &contract {
        assert!(text.contains("package troupe:executor@0.2.1;"), "{name}");
        assert_eq!(text, &copy[name], "plugins/sdk/wit/{name} differs from wit/{name}: copy wit/*.wit over it");
    }
}

#[test]
fn the_sdk_is_self_contained() {
    let manifest = std::fs::read_to_string(root().join("plugins/sdk/Cargo.toml")).unwrap();
    assert!(!manifest.contains(".workspace"), "troupe-sdk inherits from a workspace:\n{manifest}");
    // One feature only, `http` (wasi:http bindings for actors that are granted outgoing
    // HTTP): every other guest builds without the extra bindings.
    let features = manifest.split("[features]").nth(1).unwrap_or_default();
    let named: Vec<&str> = features.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k.trim())).collect();
    assert!(named.is_empty() || named == ["http"], "troupe-sdk has features other than `http`:\n{manifest}");
    let bindings = std::fs::read_to_string(root().join("plugins/sdk/src/bindings.rs")).unwrap();
    assert!(bindings.contains("path: \"wit\"") && !bindings.contains("../"), "the SDK reads WIT outside its crate");
}

/// The `troupe:executor/...` interfaces a component imports and exports, by name without
/// the version.
fn interfaces(engine: &wasmtime::Engine, file: &Path) -> (Vec<String>, Vec<String>) {
    let component =
        wasmtime::component::Component::from_file(engine, file).unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
    let ty = component.component_type();
    let name = |n: &str| n.strip_prefix("troupe:executor/").map(|n| n.split('@').next().unwrap_or(n).to_string());
    let imports = ty.imports(engine).filter_map(|(n, _)| name(n)).collect();
    let exports = ty.exports(engine).filter_map(|(n, _)| name(n)).collect();
    (imports, exports)
}

#[test]
fn every_rust_guest_has_its_own_worlds_type_alone() {
    let engine = wasmtime::Engine::default();
    let mut seen = BTreeMap::new();
    for dir in [root().join("target/plugins"), root().join("target/plugins/fixtures")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            // The Python guests (componentize-py) are not built from troupe-sdk.
            if path.extension().is_none_or(|x| x != "wasm") || std::fs::metadata(&path).unwrap().len() > 4 << 20 {
                continue;
            }
            let (imports, exports) = interfaces(&engine, &path);
            let allowed: &[&str] = match exports.as_slice() {
                [e] if e == "stage-executor" => &["types", "context", "queue", "state", "log"],
                [e] if e == "actor" => &["types", "state", "log"],
                other => panic!("{} exports {other:?}: one world's export expected", path.display()),
            };
            for import in &imports {
                assert!(allowed.contains(&import.as_str()), "{} ({}) imports {import}", path.display(), exports[0]);
            }
            *seen.entry(exports[0].clone()).or_insert(0) += 1;
        }
    }
    assert!(
        seen.get("stage-executor").is_some_and(|n| *n >= 10) && seen.get("actor").is_some_and(|n| *n >= 10),
        "{seen:?}"
    );
}

/// The SDK maps a host error by its kind: an unknown actor is `not-found` (the engine
/// checks every enqueued task's actor), so `execute` fails the stage at once (`fatal`)
/// with the host's words, never `retryable` (which the orchestrator would call again).
#[test]
fn an_unknown_actor_at_enqueue_is_fatal_at_once_with_the_hosts_message() {
    let loader = troupe_tests::loader();
    let single =
        troupe_tests::executor(&loader, "single", &troupe_tests::plugin("single"), troupe::manifest::Limits::default());
    let engine = std::sync::Arc::new(troupe::engine::EmbeddedEngine::new(["Pass".to_string()], troupe::LogLevel::Warn));
    // No run: the context is empty, which a literal input does not read.
    let stage =
        single.stage("", &serde_json::json!({ "name": "s", "mode": "single", "actor": "Nobody", "input": { "x": 1 } }));
    match single.execute(engine, &stage).expect("the call itself succeeds") {
        Err(troupe::ExecutorError::Fatal(message)) => {
            assert_eq!(
                message,
                "task 0: unknown actor `Nobody`; the manifest has no [actors.Nobody] \
                 (add it with `component = \"<file>.wasm\"`, or `external = true` when a worker of your own serves it)"
            )
        }
        other => panic!("expected a fatal error naming the actor, got {other:?}"),
    }
}
