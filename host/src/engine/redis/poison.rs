//! Poison entries: a stream entry no actor can run (its `input` or `key` is not JSON, a
//! number is not a number, a field is missing). Every value Redis hands a worker is
//! untrusted, and such an entry must neither stop the worker nor stay pending: skipped,
//! it would be reclaimed and skipped again after every visibility timeout while its stage
//! waited for ever. So it ends at once, as a worker of any language ends it
//! (`docs/redis-protocol.md`): failed with a message saying why when the entry says which
//! task it is (the failure counts like an actor's, the stage reaches its barrier), and
//! acknowledged and logged when it cannot even be recorded.
//!
//! An entry whose `run` and `actor` name another stream than the one it was read from is
//! foreign: recording it would write into that other run (or run it as another actor),
//! and it cannot be one of this stream's tasks (troupe's functions write both fields from
//! the stream's own run and actor). It is acknowledged and logged, never run.

use super::acker::Report;
use super::conn::Pool;
use super::keys::{Keys, GROUP};
use redis::streams::StreamId;

/// End the entry `entry` of the actor stream `stream`, which could not be decoded (`why`).
pub fn settle(pool: &Pool, keys: &Keys, stream: &str, entry: &StreamId, why: &anyhow::Error) {
    let text = |name: &str| entry.get::<String>(name);
    let number = |name: &str| text(name).filter(|t| t.parse::<u64>().is_ok());
    let task = (|| Some((text("run")?, text("stage")?, number("index")?, number("attempt")?, text("actor")?)))();
    let Some((run, stage, index, attempt, actor)) = task else {
        let acked = pool.with(|c| redis::cmd("XACK").arg(stream).arg(GROUP).arg(&entry.id).query::<i64>(c));
        eprintln!(
            "troupe worker: dropped entry {} of {stream}: it names no task a result could be recorded for ({why:#}){}",
            entry.id,
            acked.err().map(|e| format!("; cannot acknowledge it: {e:#}")).unwrap_or_default()
        );
        return;
    };
    let message = crate::text::one_line(
        &format!("task {index} of stage `{stage}` (actor `{actor}`): its stream entry cannot be run: {why:#}"),
        500,
    );
    let report = Report {
        head: [keys.stage(&run, &stage), keys.base(&run), keys.prefix().to_string(), run, stage, actor],
        task: [index, attempt, "err".to_string(), message.clone(), entry.id.clone()],
    };
    // Not recorded (Redis unreachable, an odd reply): the entry stays pending, is reclaimed
    // after the visibility timeout and settled again.
    match pool.with(|c| Report::call(&report.head, [&report.task]).query::<Vec<String>>(c)) {
        Ok(_) => eprintln!("troupe worker: failed entry {} of {stream}: {message}", entry.id),
        Err(e) => eprintln!("troupe worker: cannot fail entry {} of {stream} ({message}): {e:#}", entry.id),
    }
}

/// Whether the entry names a run (and, on an actor stream, an actor) whose stream is not
/// `stream`. An entry missing those fields is not foreign but poison ([`settle`]).
pub fn foreign(keys: &Keys, stream: &str, entry: &StreamId) -> bool {
    let Some(run) = entry.get::<String>("run") else { return false };
    if stream.ends_with(":hooks") {
        return keys.hooks(&run) != stream;
    }
    match entry.get::<String>("actor") {
        Some(actor) => keys.queue(&run, &actor) != stream,
        None => false,
    }
}

/// Acknowledge and log a foreign entry of `stream` ([`foreign`]).
pub fn drop_foreign(pool: &Pool, stream: &str, entry: &StreamId) {
    let named = |field: &str| crate::text::one_line(&entry.get::<String>(field).unwrap_or_default(), 60);
    let acked = pool.with(|c| redis::cmd("XACK").arg(stream).arg(GROUP).arg(&entry.id).query::<i64>(c));
    eprintln!(
        "troupe worker: dropped entry {} of {stream}: it names run `{}` and actor `{}`, whose stream this is not{}",
        entry.id,
        named("run"),
        named("actor"),
        acked.err().map(|e| format!("; cannot acknowledge it: {e:#}")).unwrap_or_default()
    );
}
