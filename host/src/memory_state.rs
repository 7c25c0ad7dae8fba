//! [`MemoryState`]: the plugins' key-value state (get, set, set-if-absent, increment,
//! delete, with expiry) in process memory, for the embedded engine and the recording host.
//!
//! Each namespace (one plugin) keeps a count of its keys and bytes, so a write past the
//! plugin's [`StateQuota`] is refused before anything is stored. Every key expires (at
//! the plugin's ttl, or the quota's `state-ttl-hours`), like on Redis. Expired keys are
//! dropped when next touched, and all of a namespace's when it reaches its quota, so
//! expired keys never count against it.

use crate::api::HostError;
use crate::engine::live::StateEntry;
use crate::stage_host::{StateQuota, QUOTA_ERROR};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Entry {
    value: String,
    expires: Instant,
}

#[derive(Default)]
struct Namespace {
    keys: HashMap<String, Entry>,
    /// Bytes of keys plus values held.
    bytes: u64,
}

#[derive(Default)]
pub struct MemoryState {
    namespaces: Mutex<HashMap<String, Namespace>>,
}

fn expiry(ttl_ms: u64) -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_millis(ttl_ms)).unwrap_or(now + Duration::from_secs(86_400 * 365 * 10))
}

impl Namespace {
    fn size(key: &str, value: &str) -> u64 {
        (key.len() + value.len()) as u64
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.keys.remove(key)?;
        self.bytes -= Self::size(key, &entry.value);
        Some(entry)
    }

    /// The key's entry unless it has expired (an expired one is dropped).
    fn live(&mut self, key: &str) -> Option<&mut Entry> {
        if self.keys.get(key).is_some_and(|e| e.expires <= Instant::now()) {
            self.remove(key);
        }
        self.keys.get_mut(key)
    }

    fn sweep(&mut self) {
        let now = Instant::now();
        let expired: Vec<String> = self.keys.iter().filter(|(_, e)| e.expires <= now).map(|(k, _)| k.clone()).collect();
        for key in expired {
            self.remove(&key);
        }
    }

    /// Store `value` under `key` if the quota allows it (expired keys swept first when
    /// it would not).
    fn put(&mut self, key: &str, value: String, expires: Instant, quota: &StateQuota) -> Result<(), HostError> {
        let fits = |ns: &Namespace| {
            let old = ns.keys.get(key).map(|e| Self::size(key, &e.value));
            let keys = ns.keys.len() as u64 + u64::from(old.is_none());
            let bytes = ns.bytes - old.unwrap_or(0) + Self::size(key, &value);
            (keys, bytes)
        };
        let (mut keys, mut bytes) = fits(self);
        if keys > quota.keys || bytes > quota.bytes {
            self.sweep();
            (keys, bytes) = fits(self);
        }
        if keys > quota.keys {
            return Err(HostError::LimitExceeded(format!(
                "{QUOTA_ERROR}it holds {} keys, its limit state-keys = {}; key `{}` not written",
                keys - 1,
                quota.keys,
                crate::text::one_line(key, 120)
            )));
        }
        if bytes > quota.bytes {
            return Err(HostError::LimitExceeded(format!(
                "{QUOTA_ERROR}it would hold {bytes} bytes of keys and values, over its limit state-bytes = {}; key `{}` not written",
                quota.bytes,
                crate::text::one_line(key, 120)
            )));
        }
        self.remove(key);
        self.bytes += Self::size(key, &value);
        self.keys.insert(key.to_string(), Entry { value, expires });
        Ok(())
    }
}

impl MemoryState {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Namespace>> {
        self.namespaces.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, namespace: &str, key: &str) -> Result<Option<String>, HostError> {
        let mut namespaces = self.lock();
        let Some(ns) = namespaces.get_mut(namespace) else { return Ok(None) };
        Ok(ns.live(key).map(|e| e.value.clone()))
    }

    pub fn set(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<(), HostError> {
        let mut namespaces = self.lock();
        let ns = namespaces.entry(namespace.to_string()).or_default();
        ns.put(key, value.to_string(), expiry(quota.ttl_ms(ttl_ms)), quota)
    }

    pub fn set_if_absent(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<bool, HostError> {
        let mut namespaces = self.lock();
        let ns = namespaces.entry(namespace.to_string()).or_default();
        if ns.live(key).is_some() {
            return Ok(false);
        }
        ns.put(key, value.to_string(), expiry(quota.ttl_ms(ttl_ms)), quota)?;
        Ok(true)
    }

    /// Add `delta` (absent counts as 0); a `ttl_ms` resets the expiry, none keeps it.
    pub fn increment(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<i64, HostError> {
        let mut namespaces = self.lock();
        let ns = namespaces.entry(namespace.to_string()).or_default();
        let (current, old_expiry) = match ns.live(key) {
            Some(e) => (
                e.value.parse::<i64>().map_err(|_| {
                    HostError::Invalid(format!(
                        "state key `{}` holds `{}`, not an integer",
                        crate::text::one_line(key, 120),
                        crate::text::one_line(&e.value, 80)
                    ))
                })?,
                Some(e.expires),
            ),
            None => (0, None),
        };
        let next = current.checked_add(delta).ok_or_else(|| {
            HostError::Invalid(format!("state key `{}` would overflow", crate::text::one_line(key, 120)))
        })?;
        let expires = match (ttl_ms, old_expiry) {
            (None, Some(at)) => at,
            (asked, _) => expiry(quota.ttl_ms(asked)),
        };
        ns.put(key, next.to_string(), expires, quota)?;
        Ok(next)
    }

    pub fn delete(&self, namespace: &str, key: &str) -> Result<(), HostError> {
        if let Some(ns) = self.lock().get_mut(namespace) {
            ns.remove(key);
        }
        Ok(())
    }

    /// The live keys starting with `prefix`, in key order, at most `limit`.
    pub fn list(&self, namespace: &str, prefix: &str, limit: usize) -> Vec<StateEntry> {
        let namespaces = self.lock();
        let Some(ns) = namespaces.get(namespace) else { return Vec::new() };
        let now = Instant::now();
        let mut found: Vec<StateEntry> = ns
            .keys
            .iter()
            .filter(|(k, e)| k.starts_with(prefix) && e.expires > now)
            .map(|(k, e)| StateEntry {
                key: k.clone(),
                value: e.value.clone(),
                expires_in_ms: e.expires.saturating_duration_since(now).as_millis() as u64,
            })
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        found.truncate(limit);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::{HostError, MemoryState};
    use crate::stage_host::StateQuota;

    const QUOTA: StateQuota = StateQuota { keys: 100, bytes: 1000, max_ttl_ms: 3_600_000 };

    #[test]
    fn keys_expire_increment_and_elect_once() {
        let s = MemoryState::default();
        let q = &QUOTA;
        assert_eq!(s.increment("ns", "n", 2, None, q), Ok(2));
        assert_eq!(s.increment("ns", "n", -5, None, q), Ok(-3));
        assert_eq!(s.get("other", "n"), Ok(None), "namespaces are separate");
        assert_eq!(s.set_if_absent("ns", "trial", "1", Some(20), q), Ok(true));
        assert_eq!(s.set_if_absent("ns", "trial", "2", Some(20), q), Ok(false));
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_eq!(s.get("ns", "trial"), Ok(None), "expired");
        assert_eq!(s.set_if_absent("ns", "trial", "3", None, q), Ok(true));
        s.set("ns", "word", "x", None, q).unwrap();
        let err = s.increment("ns", "word", 1, None, q).unwrap_err();
        assert!(matches!(&err, HostError::Invalid(m) if m.contains("not an integer")), "{err:?}");
        s.delete("ns", "word").unwrap();
        assert_eq!(s.get("ns", "word"), Ok(None));
    }

    #[test]
    fn keys_are_listed_by_prefix_in_order_without_expired_ones() {
        let s = MemoryState::default();
        let q = &QUOTA;
        for (k, ttl) in [("view:b", None), ("view:a", Some(60_000)), ("other", None), ("view:gone", Some(1))] {
            s.set("ns", k, k, ttl, q).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        let listed = s.list("ns", "view:", 10);
        let keys: Vec<&str> = listed.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["view:a", "view:b"]);
        assert_eq!(listed[0].value, "view:a");
        assert!(listed[0].expires_in_ms > 50_000 && listed[0].expires_in_ms <= 60_000, "{listed:?}");
        assert_eq!(s.list("ns", "view:", 1).len(), 1, "limited");
        assert!(s.list("none", "", 10).is_empty());
    }

    #[test]
    fn a_namespace_is_held_to_its_quota_and_expired_keys_free_it() {
        let s = MemoryState::default();
        let q = StateQuota { keys: 3, bytes: 50, max_ttl_ms: 3_600_000 };
        for k in ["a", "b", "c"] {
            s.set("ns", k, "1", None, &q).unwrap();
        }
        let err = s.set("ns", "d", "1", None, &q).unwrap_err();
        assert!(matches!(&err, HostError::LimitExceeded(m) if m.contains("state-keys = 3")), "{err:?}");
        s.set("ns", "a", "2", None, &q).expect("overwriting a key adds none");
        s.set("other", "d", "1", None, &q).expect("another plugin has its own quota");
        let err = s.set("ns", "a", &"x".repeat(60), None, &q).unwrap_err();
        assert!(matches!(&err, HostError::LimitExceeded(m) if m.contains("state-bytes = 50")), "{err:?}");
        s.set("ns", "c", "1", Some(1), &q).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        s.set("ns", "d", "1", None, &q).expect("the expired key no longer counts");
    }
}
