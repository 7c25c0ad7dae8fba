//! Each Python and TypeScript actor against its wasm twin on inputs the example never
//! sends: ties, Unicode whitespace, wrong types, missing fields, `__proto__` keys. The wasm
//! side is one `troupe run` whose stages scatter every actor over its cases (failures
//! tolerated, so a failed case is `null`); the other side calls the functions directly.
//! The notifiers get no usable `webhookUrl`, so nothing is sent: both sides compute the
//! message and judge `notify` only (a bad one fails the case on both sides).

use super::{run_limited, EXAMPLE, RUN_LIMIT};
use serde_json::{json, Value};
use std::process::Command;
use troupe_tests::root;

/// Cases per actor. Numbers stay below 2^53 and whole numbers are written without `.0`:
/// JavaScript cannot tell those apart (the README says so).
fn cases() -> Value {
    json!({
        "FileProcessor": [
            { "path": "tie", "text": "invoice and receipt" },
            { "path": "most", "text": "Bill to: you. Receipt: total paid, thank you for your purchase" },
            { "path": "ws", "text": "\u{a0}\u{85} Title\u{2003}\r\n\r\nrest\u{3000}of it" },
            { "path": "not-rust-ws", "text": "\u{1c}word\u{1c} two\u{feff}" },
            { "path": "bom", "text": "\u{feff}\nnext" },
            { "path": "separators", "text": "a\u{1c}b\u{1f}c\u{feff}d e" },
            { "path": "edges", "text": "\u{feff}Title\u{1c}\nmore" },
            { "path": "sigma", "text": "ΣΑΣ AGREEMENT between THE PARTIES" },
            { "path": "empty", "text": "" },
            { "path": "blank", "text": " \n\t\n" },
            { "path": 1, "text": "x" },
            { "text": "no path" },
            { "path": "no text" },
            "not an object",
            null
        ],
        "Consolidator": [
            { "group": { "key": "k", "items": [
                { "words": 3, "path": "a", "title": "t" }, { "words": -1, "path": null }, { "words": 2.5 },
                { "words": true }, 5, null, [1], { "title": { "nested": 1 } } ] } },
            { "group": { "items": [] } },
            { "group": { "key": ["x"], "items": [{ "__proto__": 1, "path": "p" }] } },
            { "group": null },
            { "group": { "key": "k" } },
            {},
            []
        ],
        "EmailNotifier": notifier_cases(),
        "SlackNotifier": notifier_cases(),
        "WebhookNotifier": notifier_cases(),
        "DataExtractor": [
            { "pages": [null, { "title": "$5 $x $12.50. 2026-01-02T 1999-12-31-2000 ---------- $1,2,3,,, 2026-1-0002" },
                        { "path": 3 }, 7, { "title": "$\u{663} $\u{1d7d9}9 ab$12 $9\u{1f4b0}" }, { "path": "p", "title": 5 }] },
            { "pages": [] },
            { "pages": "no" },
            {}
        ],
        "Validator": [
            { "pages": [null, { "documentType": "other" }, { "path": "a", "words": 0 },
                        { "path": "b", "words": 0, "documentType": "other" }, { "path": "c", "words": 1 }, 5,
                        { "path": 9, "words": 0 }, { "documentType": "invoice", "words": -0 }] },
            { "pages": [] },
            { "pages": {} }
        ],
        "Transformer": [
            { "groups": [{ "key": "a", "result": { "pages": 1, "words": 2 } }, { "key": "b" }, 3,
                         { "result": { "pages": -1, "words": "x" } }, { "key": "", "result": [] }] },
            { "groups": [] },
            { "groups": null }
        ]
    })
}

fn notifier_cases() -> Value {
    json!([
        { "result": [
            { "key": "a", "result": { "pages": 1 } }, { "key": 5, "result": { "pages": "x" } },
            { "result": { "pages": null } }, 7, { "key": "", "result": { "pages": 2 } },
            { "key": "a", "result": { "pages": 3 } }, { "key": "__proto__", "result": { "pages": 4 } },
            { "key": "toString", "result": {} } ] },
        { "result": [] },
        { "result": {} },
        {},
        { "result": [], "notify": {} },
        { "result": [], "notify": null },
        { "result": [], "notify": { "webhookUrl": null, "timeoutMs": "ignored without a URL" } },
        { "result": [], "notify": "http://127.0.0.1:9/hook" },
        { "result": [], "notify": { "webhookUrl": 7 } },
        { "result": [], "notify": { "webhookUrl": "ftp://127.0.0.1/hook" } },
        { "result": [], "notify": { "webhookUrl": "http://user:pw@127.0.0.1:9/hook" } },
        { "result": [], "notify": { "webhookUrl": "http://127.0.0.1:9/hook", "timeoutMs": 0 } },
        { "result": [], "notify": { "webhookUrl": "http://127.0.0.1:9/hook", "timeoutMs": 1.5 } }
    ])
}

/// The wasm actors' results: one scatter stage per actor over its cases.
fn wasm_results(dir: &std::path::Path, cases: &Value) -> Value {
    let stages: Vec<Value> = cases
        .as_object()
        .unwrap()
        .keys()
        .map(|actor| {
            json!({ "name": actor, "mode": "scatter", "actor": actor,
                    "scatter": { "input": format!("$.trigger.{actor}"), "as": "case" }, "input": "$.case",
                    "executorConfig": { "toleratedFailurePercent": 100 } })
        })
        .collect();
    let pipeline = dir.join("twins.json");
    std::fs::write(&pipeline, json!({ "name": "twins", "stages": stages }).to_string()).unwrap();
    let input = dir.join("cases.json");
    std::fs::write(&input, cases.to_string()).unwrap();
    let mut context = super::wasm_run(&pipeline.display().to_string(), &input.display().to_string());
    context.as_object_mut().unwrap().remove("trigger");
    context
}

/// Calls every actor of `ACTORS` on its cases; prints `{actor: [result or null]}`.
const PYTHON_DRIVER: &str = r#"
import asyncio, inspect, json, sys
sys.path.insert(0, "python")
from actors import ACTORS
def call(fn, case):
    try:
        result = fn(case)
        return asyncio.run(result) if inspect.iscoroutine(result) else result
    except Exception:
        return None
cases = json.load(sys.stdin)
print(json.dumps({actor: [call(ACTORS[actor], c) for c in cs] for actor, cs in cases.items()}))
"#;

const NODE_DRIVER: &str = r#"
import { readFileSync } from "node:fs";
const { ACTORS } = await import("./actors.ts");
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = {};
for (const [actor, list] of Object.entries(cases)) {
  out[actor] = [];
  for (const c of list) {
    try { out[actor].push(await ACTORS[actor](c)); } catch { out[actor].push(null); }
  }
}
console.log(JSON.stringify(out));
"#;

/// `language`'s actors on the same cases, called in-process by a small driver.
fn language_results(language: &str, cases: &Value) -> Value {
    let dir = root().join(EXAMPLE).join("workers");
    let mut cmd = match language {
        "python" => {
            let mut cmd = Command::new("python3");
            cmd.current_dir(&dir).args(["-c", PYTHON_DRIVER]);
            cmd
        }
        _ => {
            let mut cmd = Command::new("node");
            cmd.current_dir(dir.join("node")).args(["--import", "tsx", "--input-type=module", "-e", NODE_DRIVER]);
            cmd
        }
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), cases.to_string()).unwrap();
    cmd.stdin(std::fs::File::open(file.path()).unwrap());
    let ran = run_limited(cmd, RUN_LIMIT);
    assert_eq!(ran.code, Some(0), "the {language} driver failed:\n{}", ran.stderr);
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {}", ran.stdout))
}

/// Every actor of `language` returns what its wasm twin returns, case by case.
pub fn agree(language: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    let wasm = wasm_results(dir.path(), &cases);
    let theirs = language_results(language, &cases);
    for (actor, list) in cases.as_object().unwrap() {
        for (i, case) in list.as_array().unwrap().iter().enumerate() {
            assert_eq!(
                theirs[actor][i], wasm[actor][i],
                "{language} {actor} differs from the wasm {actor} on case {i}: {case}"
            );
        }
    }
}
