//! Plugins' key-value state on Redis, held to each plugin's [`StateQuota`].
//!
//! Each namespace (one plugin) has, beside its keys `P:state:<ns>:<key>`, an index of
//! its live keys by expiry (`P:state-index:<ns>`, a sorted set), their sizes
//! (`P:state-sizes:<ns>`, a hash) and its byte total (`P:state-bytes:<ns>`). One script
//! per write drops the index entries whose keys have expired, checks the quota and
//! writes, atomically, so concurrent writers on many hosts cannot overshoot it. Every
//! key gets an expiry (the plugin's ttl, at most `state-ttl-hours`, that without one),
//! and the index keys expire with the last of them: no state outlives its plugin's
//! `state-ttl-hours` once it stops writing.
//!
//! Why a script of our own rather than the `troupe_v2` library: state is not part of a
//! run's protocol (docs/redis-protocol.md), and EVAL keeps this change out of it.

use super::RedisEngine;
use crate::api::HostError;
use crate::stage_host::{StateQuota, QUOTA_ERROR};

/// KEYS: the state key, the index, the sizes, the byte total.
/// ARGV: op (`set`, `nx`, `incr`, `del`), field (the plugin's key), value or delta,
/// ttl ms (`''`: keep an incremented key's own), max ttl ms, max keys, max bytes.
/// Returns `{1, value}` written, `{0}` not written (`nx` on a live key), `{-1, keys}`
/// over `state-keys`, `{-2, bytes}` over `state-bytes`, `{-3, value}` an `incr` of a key
/// that does not hold an integer.
const WRITE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op, field = ARGV[1], ARGV[2]
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, k in ipairs(expired) do
  local size = tonumber(redis.call('HGET', KEYS[3], k) or '0')
  redis.call('HDEL', KEYS[3], k)
  redis.call('DECRBY', KEYS[4], size)
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local old = tonumber(redis.call('HGET', KEYS[3], field) or '-1')
if op == 'del' then
  redis.call('DEL', KEYS[1])
  if old >= 0 then
    redis.call('ZREM', KEYS[2], field)
    redis.call('HDEL', KEYS[3], field)
    redis.call('DECRBY', KEYS[4], old)
  end
  return {1, ''}
end
local exists = redis.call('EXISTS', KEYS[1]) == 1
if op == 'nx' and exists then return {0, ''} end
if op == 'incr' and exists then
  local v = redis.call('GET', KEYS[1])
  if not string.match(v, '^%-?%d+$') then return {-3, v} end
end
local size = #field + (op == 'incr' and 20 or #ARGV[3])
local count = redis.call('ZCARD', KEYS[2])
if old < 0 and count + 1 > tonumber(ARGV[6]) then return {-1, tostring(count)} end
local total = tonumber(redis.call('GET', KEYS[4]) or '0') - math.max(old, 0) + size
if total > tonumber(ARGV[7]) then return {-2, tostring(total)} end
local ttl
if op == 'incr' then
  redis.call('INCRBY', KEYS[1], ARGV[3])
  local left = redis.call('PTTL', KEYS[1])
  if ARGV[4] ~= '' then ttl = tonumber(ARGV[4]) elseif left > 0 then ttl = left else ttl = tonumber(ARGV[5]) end
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  ttl = tonumber(ARGV[4])
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
end
local value = redis.call('GET', KEYS[1])
size = #field + #value
redis.call('ZADD', KEYS[2], now + ttl, field)
redis.call('HSET', KEYS[3], field, size)
redis.call('INCRBY', KEYS[4], size - math.max(old, 0))
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
return {1, value}
"#;

/// What the script did.
pub(super) enum Written {
    Value(String),
    Absent,
}

impl RedisEngine {
    /// Run one state write (`op`) for `namespace`'s `key` under its quota.
    pub(super) fn state_write(
        &self,
        op: &str,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<Written, HostError> {
        let ttl = match (op, ttl_ms) {
            ("incr", None) => String::new(),
            (_, asked) => quota.ttl_ms(asked).to_string(),
        };
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(WRITE)
            .arg(4)
            .arg(self.keys.state(namespace, key))
            .arg(self.keys.state_index(namespace))
            .arg(self.keys.state_sizes(namespace))
            .arg(self.keys.state_bytes(namespace))
            .arg(op)
            .arg(key)
            .arg(value)
            .arg(ttl)
            .arg(quota.max_ttl_ms.max(1))
            .arg(quota.keys)
            .arg(quota.bytes);
        let (status, detail): (i64, String) =
            self.pool.with(|c| cmd.query(c)).map_err(|e| HostError::Unavailable(format!("{e:#}")))?;
        let shown = crate::text::one_line(key, 120);
        match status {
            1 => Ok(Written::Value(detail)),
            0 => Ok(Written::Absent),
            -1 => Err(HostError::LimitExceeded(format!(
                "{QUOTA_ERROR}it holds {detail} keys, its limit state-keys = {}; key `{shown}` not written",
                quota.keys
            ))),
            -3 => Err(HostError::Invalid(format!(
                "state key `{shown}` holds `{}`, not an integer",
                crate::text::one_line(&detail, 80)
            ))),
            _ => Err(HostError::LimitExceeded(format!(
                "{QUOTA_ERROR}it would hold {detail} bytes of keys and values, over its limit state-bytes = {}; key `{shown}` not written",
                quota.bytes
            ))),
        }
    }
}
