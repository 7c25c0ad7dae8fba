//! The live-state reads of [`RedisEngine`]: a running stage's limit, waiting tasks and
//! rate bucket, and a plugin's state keys by prefix. Read-only: nothing here writes, so
//! a dashboard looking cannot disturb a run.
//!
//! Everything read is checked like the rest of the run's state: a field that holds
//! garbage is an error naming the key and field, never a silent zero.

use super::RedisEngine;
use crate::engine::live::{RateLive, StageLive, StateEntry, RETUNED_BUCKET, TIMED_SCAN};
use crate::engine::StateError;
use serde_json::Value;
use std::collections::HashMap;

/// One pipelined read of a stage: its hash, task 0's record, the run's delayed set
/// (capped), Redis's clock.
type StageRead = (HashMap<String, String>, Option<String>, Vec<String>, (u64, u64));

/// Redis's clock in ms (the scripts' `now`: bucket TATs and state expiries are on it).
fn redis_ms(time: &(u64, u64)) -> f64 {
    time.0 as f64 * 1000.0 + (time.1 / 1000) as f64
}

impl RedisEngine {
    pub(super) fn read_stage_live(&self, run_id: &str, stage: &str) -> anyhow::Result<StageLive> {
        let sh = self.keys.stage(run_id, stage);
        let (fields, first, delayed, time): StageRead = self.pool.with(|c| {
            redis::pipe()
                .cmd("HGETALL")
                .arg(&sh)
                .cmd("HGET")
                .arg(self.keys.tasks(run_id, stage))
                .arg(0)
                .cmd("ZRANGE")
                .arg(self.keys.delayed(run_id))
                .arg(0)
                .arg(TIMED_SCAN - 1)
                .cmd("TIME")
                .query(c)
        })?;
        if fields.is_empty() {
            anyhow::bail!("run `{run_id}` has no open stage `{stage}`");
        }
        let number = |field: &str, expected: &'static str| -> anyhow::Result<Option<f64>> {
            fields
                .get(field)
                .map(|v| v.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0))
                .map(|n| n.ok_or_else(|| StateError::garbage(run_id, &sh, field, &fields[field], expected).into()))
                .transpose()
        };
        let max_parallel =
            number("max_parallel", "a maxParallel (an integer >= 1)")?.map(|n| n.min(u32::MAX as f64) as u32);
        let timed = delayed.iter().filter(|m| delayed_stage(m).as_deref() == Some(stage)).count() as u64;
        let mut live = StageLive {
            max_parallel,
            retuned: fields.contains_key("retuned"),
            timed,
            timed_capped: delayed.len() >= TIMED_SCAN,
            rate: None,
        };
        let paced = match (number("rate_ps", "a rate per second")?, number("rate_burst", "a burst")?) {
            (Some(ps), Some(burst)) => Some((
                format!("{}:bucket:{stage}", self.keys.base(run_id)),
                RETUNED_BUCKET.to_string(),
                ps,
                burst,
                true,
            )),
            _ => first.as_deref().and_then(task_rate).map(|(name, ps, burst)| {
                let key = format!("{}:rate:{name}", self.keys.prefix());
                // `<namespace>:<bucket>`, the namespace being `mode:<name>`.
                let shown = name.splitn(3, ':').nth(2).unwrap_or(&name).to_string();
                (key, shown, ps, burst, false)
            }),
        };
        if let Some((key, bucket, per_second, burst, retuned)) = paced {
            if per_second > 0.0 && burst >= 1.0 {
                let tat: Option<String> = self.pool.with(|c| redis::cmd("GET").arg(&key).query(c))?;
                let tat = tat.and_then(|t| t.parse::<f64>().ok()).filter(|t| t.is_finite());
                let burst = burst.min(u32::MAX as f64) as u32;
                let tokens = crate::rules::rate::tokens(tat, redis_ms(&time), per_second, burst);
                live.rate = Some(RateLive { bucket, per_second, burst, tokens, retuned });
            }
        }
        Ok(live)
    }

    pub(super) fn read_plugin_state(
        &self,
        namespace: &str,
        prefix: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<StateEntry>> {
        let index = self.keys.state_index(namespace);
        let (listed, time): (Vec<(String, f64)>, (u64, u64)) = self
            .pool
            .with(|c| redis::pipe().cmd("ZRANGE").arg(&index).arg(0).arg(-1).arg("WITHSCORES").cmd("TIME").query(c))?;
        let now = redis_ms(&time);
        let mut live: Vec<(String, f64)> =
            listed.into_iter().filter(|(k, expires)| k.starts_with(prefix) && *expires > now).collect();
        live.sort_by(|a, b| a.0.cmp(&b.0));
        live.truncate(limit);
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = live.iter().map(|(k, _)| self.keys.state(namespace, k)).collect();
        let values: Vec<Option<String>> = self.pool.with(|c| redis::cmd("MGET").arg(&keys).query(c))?;
        Ok(live
            .into_iter()
            .zip(values)
            .filter_map(|((key, expires), value)| {
                Some(StateEntry { key, value: value?, expires_in_ms: (expires - now).max(0.0) as u64 })
            })
            .collect())
    }
}

/// The stage of a delayed-set member `[stage, index, attempt]`.
fn delayed_stage(member: &str) -> Option<String> {
    match serde_json::from_str::<Value>(member).ok()? {
        Value::Array(items) => items.first()?.as_str().map(str::to_string),
        _ => None,
    }
}

/// The rate limit of a task record (`r`: `[<namespace>:<bucket>, per second, burst]`).
fn task_rate(record: &str) -> Option<(String, f64, f64)> {
    let record: Value = serde_json::from_str(record).ok()?;
    let r = record.get("r")?.as_array()?;
    Some((r.first()?.as_str()?.to_string(), r.get(1)?.as_f64()?, r.get(2)?.as_f64()?))
}

#[cfg(test)]
mod tests {
    use super::{delayed_stage, task_rate};

    #[test]
    fn delayed_members_and_task_rates_are_read_and_garbage_is_none() {
        assert_eq!(delayed_stage(r#"["fetch",3,1]"#).as_deref(), Some("fetch"));
        assert_eq!(delayed_stage("garbage"), None);
        assert_eq!(
            task_rate(r#"{"a":"x","r":["mode:rate-limited:api",2.5,3]}"#),
            Some(("mode:rate-limited:api".to_string(), 2.5, 3.0))
        );
        assert_eq!(task_rate(r#"{"a":"x"}"#), None);
        assert_eq!(task_rate(r#"{"r":[1,2,3]}"#), None);
    }
}
