//! Malformed worker calls write nothing: `troupe_v5_finish` with a value missing, a
//! non-numeric attempt or a bad entry id (its `XACK` comes before the writes), and `troupe_v5_handback` with fields not in
//! pairs, are refused before any write (a call that failed half-way used to leave tasks
//! recorded but never counted, or a delivery acknowledged and never added again), with
//! the error texts docs/redis-protocol.md gives.
//!
//! The library is this checkout's `troupe.lua`, loaded in the same `MULTI` as the calls:
//! the Redis is shared, and a troupe process of another checkout connecting meanwhile
//! loads its own.

use super::resp::{Connection, Reply};
use troupe_tests::{root, test_redis_url, unique_prefix};

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn text(reply: &Reply) -> String {
    match reply {
        Reply::Status(s) | Reply::Error(s) => s.clone(),
        Reply::Integer(n) => n.to_string(),
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

#[test]
fn malformed_worker_calls_are_refused_before_any_write() {
    let doc = std::fs::read_to_string(root().join("docs/redis-protocol.md")).unwrap();
    let library = std::fs::read_to_string(root().join("host/src/engine/redis/troupe.lua")).unwrap();
    let mut redis = Connection::open(&test_redis_url());
    let prefix = unique_prefix("malformed");
    let base = format!("{prefix}:{{r}}");
    let (stage, stream) = (format!("{base}:st:s"), format!("{base}:q:A"));
    // A running run with two tasks of stage `s`, both delivered to consumer `c`.
    for call in [
        vec!["HSET", &format!("{base}:run"), "status", r#"{"state":"running"}"#],
        vec!["HSET", &format!("{base}:tasks:s"), "0", r#"{"a":"A"}"#, "1", r#"{"a":"A"}"#],
        vec!["HSET", &stage, "expected", "2", "enqueued", "2", "in_flight", "2"],
        vec!["XGROUP", "CREATE", &stream, "workers", "0", "MKSTREAM"],
    ] {
        let reply = redis.call(&args(&call));
        assert!(!matches!(reply, Reply::Error(_)), "{call:?}: {reply:?}");
    }
    let mut ids = Vec::new();
    for index in ["0", "1"] {
        let fields = ["XADD", &stream, "*", "run", "r", "stage", "s", "index", index, "attempt", "1"];
        ids.push(text(&redis.call(&args(&fields))));
    }
    let read = ["XREADGROUP", "GROUP", "workers", "c", "STREAMS", &stream, ">"];
    assert!(matches!(redis.call(&args(&read)), Reply::Array(Some(_))));

    let head = ["FCALL", "troupe_v5_finish", "1", &stage, &base, &prefix, "r", "s", "A"];
    let finish = |tasks: &[&str]| args(&[&head[..], tasks].concat());
    // Each call, the doc's error template, and the message with its placeholders filled.
    let finish_arity = "troupe_v5_finish: <n> arguments: base, prefix, run, stage and actor, then 5 per task \
                        (index, attempt, kind, payload, entry)";
    let calls: Vec<(Vec<Vec<u8>>, &str, String)> = vec![
        (
            finish(&["0", "1", "ok", "{}", &ids[0], "1", "1", "err", "boom"]),
            finish_arity,
            finish_arity.replace("<n>", "14"),
        ),
        (
            finish(&["0", "1", "ok", "{}", &ids[0], "1", "1,\"x\":1", "err", "boom", &ids[1]]),
            "troupe_v5_finish: task <i>: attempt `<value>` is not a number",
            "troupe_v5_finish: task 2: attempt `1,\"x\":1` is not a number".into(),
        ),
        (
            // Redis's own text, then the script's name and line.
            finish(&["0", "1", "ok", "{}", &ids[0], "1", "1", "err", "boom", "not-an-id"]),
            "ERR Invalid stream ID specified as stream command argument",
            "ERR Invalid stream ID specified as stream command argument script: troupe_v5_finish, on ".into(),
        ),
        (
            args(&["FCALL", "troupe_v5_handback", "1", &stream, &ids[0], "run", "r", "stage"]),
            "troupe_v5_handback: <n> values after the entry id: fields and values go in pairs, at least one",
            "troupe_v5_handback: 3 values after the entry id: fields and values go in pairs, at least one".into(),
        ),
    ];
    assert_eq!(text(&redis.call(&args(&["MULTI"]))), "OK");
    redis.call(&args(&["FUNCTION", "LOAD", "REPLACE", &library]));
    for (call, _, _) in &calls {
        redis.call(call);
    }
    let Reply::Array(Some(replies)) = redis.call(&args(&["EXEC"])) else { panic!("EXEC failed") };
    assert_eq!(text(&replies[0]), "troupe_v5");
    for ((_, template, expected), reply) in calls.iter().zip(&replies[1..]) {
        let Reply::Error(message) = reply else { panic!("expected `{expected}`, Redis answered {reply:?}") };
        let exact = message == expected || (expected.ends_with(" on ") && message.starts_with(expected.as_str()));
        assert!(exact, "expected `{expected}`, Redis answered `{message}`");
        assert!(doc.contains(template), "docs/redis-protocol.md does not give the error `{template}`");
    }

    // Nothing was written: no result, nothing counted or acknowledged, no entry added.
    assert_eq!(text(&redis.call(&args(&["HLEN", &format!("{base}:res:s")]))), "0");
    assert_eq!(text(&redis.call(&args(&["HGET", &stage, "in_flight"]))), "2");
    assert_eq!(text(&redis.call(&args(&["XLEN", &stream]))), "2");
    let Reply::Array(Some(pending)) = redis.call(&args(&["XPENDING", &stream, "workers"])) else { panic!() };
    assert_eq!(text(&pending[0]), "2", "both deliveries are still pending");

    // The well-formed call still records both.
    let Reply::Array(Some(words)) =
        redis.call(&finish(&["0", "1", "ok", "{}", &ids[0], "1", "1", "err", "boom", &ids[1]]))
    else {
        panic!("finish failed")
    };
    assert_eq!(words.iter().map(text).collect::<Vec<_>>(), ["counted", "counted"]);
    let keys = ["run", "tasks:s", "st:s", "q:A", "res:s"].map(|k| format!("{base}:{k}"));
    redis.call(&args(&[&["DEL"][..], &keys.iter().map(String::as_str).collect::<Vec<_>>()].concat()));
}
