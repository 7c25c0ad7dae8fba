//! Queue figures for the metrics: per actor, the tasks its streams hold that no worker
//! took yet (the consumer group's `lag`, plus the run's delayed tasks are not counted:
//! they are not due) and the age of the oldest of them (its entry id's milliseconds).
//!
//! Read at each scrape over the running runs (at most [`MAX_RUNS`], a pipeline of calls
//! per step), so a scrape costs a few round trips whatever the load.

use super::feed::wall_ms;
use super::keys::GROUP;
use super::RedisEngine;
use crate::telemetry::metrics::ActorQueue;
use std::collections::{BTreeMap, HashMap};

/// Runs looked at per scrape.
const MAX_RUNS: isize = 1000;

impl RedisEngine {
    pub(super) fn actor_queues(&self) -> anyhow::Result<Vec<ActorQueue>> {
        let runs: Vec<String> =
            self.pool.with(|c| redis::cmd("SRANDMEMBER").arg(self.keys.active_runs()).arg(MAX_RUNS).query(c))?;
        let mut by: BTreeMap<String, (u64, f64)> = self.actors.iter().map(|a| (a.clone(), (0, 0.0))).collect();
        if runs.is_empty() {
            return Ok(into_queues(by));
        }
        let actors: Vec<Option<String>> = self.pool.with(|c| {
            let mut pipe = redis::pipe();
            for run in &runs {
                pipe.cmd("HGET").arg(self.keys.run(run)).arg("actors");
            }
            pipe.query(c)
        })?;
        let streams: Vec<(String, String)> = runs
            .iter()
            .zip(actors)
            .flat_map(|(run, actors)| {
                let actors: Vec<String> = serde_json::from_str(actors.as_deref().unwrap_or("[]")).unwrap_or_default();
                actors.into_iter().map(move |a| (self.keys.queue(run, &a), a))
            })
            .collect();
        let groups: Vec<redis::Value> = self.pool.with(|c| {
            let mut pipe = redis::pipe();
            for (stream, _) in &streams {
                pipe.cmd("XINFO").arg("GROUPS").arg(stream);
            }
            pipe.query(c)
        })?;
        let mut firsts = Vec::new();
        for ((stream, actor), reply) in streams.iter().zip(groups) {
            let Some(group) = group_of(reply) else { continue };
            let lag = group.get("lag").and_then(as_u64).unwrap_or(0);
            if lag > 0 {
                by.entry(actor.clone()).or_default().0 += lag;
                let last = group.get("last-delivered-id").and_then(as_string).unwrap_or_else(|| "0-0".into());
                firsts.push((stream.clone(), actor.clone(), last));
            }
        }
        let oldest: Vec<Vec<(String, HashMap<String, String>)>> = self.pool.with(|c| {
            let mut pipe = redis::pipe();
            for (stream, _, last) in &firsts {
                pipe.cmd("XRANGE").arg(stream).arg(format!("({last}")).arg("+").arg("COUNT").arg(1);
            }
            pipe.query(c)
        })?;
        let now = wall_ms();
        for ((_, actor, _), entries) in firsts.iter().zip(oldest) {
            let Some((id, _)) = entries.first() else { continue };
            let ms: u64 = id.split('-').next().and_then(|m| m.parse().ok()).unwrap_or(now);
            let age = now.saturating_sub(ms) as f64 / 1000.0;
            let entry = by.entry(actor.clone()).or_default();
            entry.1 = entry.1.max(age);
        }
        Ok(into_queues(by))
    }
}

fn into_queues(by: BTreeMap<String, (u64, f64)>) -> Vec<ActorQueue> {
    by.into_iter().map(|(actor, (waiting, oldest_seconds))| ActorQueue { actor, waiting, oldest_seconds }).collect()
}

/// The `workers` group of an `XINFO GROUPS` reply, as field -> value.
fn group_of(reply: redis::Value) -> Option<HashMap<String, redis::Value>> {
    let groups: Vec<HashMap<String, redis::Value>> = redis::from_redis_value(reply).ok()?;
    groups.into_iter().find(|g| g.get("name").and_then(as_string).as_deref() == Some(GROUP))
}

fn as_u64(v: &redis::Value) -> Option<u64> {
    redis::from_redis_value_ref(v).ok()
}

fn as_string(v: &redis::Value) -> Option<String> {
    redis::from_redis_value_ref(v).ok()
}
