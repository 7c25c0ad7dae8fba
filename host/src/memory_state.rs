//! [`MemoryState`]: the plugins' key-value state (get, set, set-if-absent, increment,
//! delete, with expiry) in process memory, for the embedded engine and the recording host.
//! Expired keys are dropped when next touched.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

type Entry = (String, Option<Instant>);

#[derive(Default)]
pub struct MemoryState {
    keys: Mutex<HashMap<(String, String), Entry>>,
}

fn expiry(ttl_ms: Option<u64>) -> Option<Instant> {
    ttl_ms.map(|ms| Instant::now() + Duration::from_millis(ms))
}

fn live<'a>(keys: &'a mut HashMap<(String, String), Entry>, namespace: &str, key: &str) -> Option<&'a mut Entry> {
    let k = (namespace.to_string(), key.to_string());
    if matches!(keys.get(&k), Some((_, Some(at))) if *at <= Instant::now()) {
        keys.remove(&k);
    }
    keys.get_mut(&k)
}

impl MemoryState {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, namespace: &str, key: &str) -> Result<Option<String>, String> {
        Ok(live(&mut self.lock(), namespace, key).map(|(v, _)| v.clone()))
    }

    pub fn set(&self, namespace: &str, key: &str, value: &str, ttl_ms: Option<u64>) -> Result<(), String> {
        self.lock().insert((namespace.into(), key.into()), (value.into(), expiry(ttl_ms)));
        Ok(())
    }

    pub fn set_if_absent(&self, namespace: &str, key: &str, value: &str, ttl_ms: Option<u64>) -> Result<bool, String> {
        let mut keys = self.lock();
        if live(&mut keys, namespace, key).is_some() {
            return Ok(false);
        }
        keys.insert((namespace.into(), key.into()), (value.into(), expiry(ttl_ms)));
        Ok(true)
    }

    /// Add `delta` (absent counts as 0); a `ttl_ms` resets the expiry, none keeps it.
    pub fn increment(&self, namespace: &str, key: &str, delta: i64, ttl_ms: Option<u64>) -> Result<i64, String> {
        let mut keys = self.lock();
        let (current, old_expiry) = match live(&mut keys, namespace, key) {
            Some((v, at)) => {
                (v.parse::<i64>().map_err(|_| format!("state key `{key}` holds `{v}`, not an integer"))?, *at)
            }
            None => (0, None),
        };
        let next = current.checked_add(delta).ok_or_else(|| format!("state key `{key}` would overflow"))?;
        let at = if ttl_ms.is_some() { expiry(ttl_ms) } else { old_expiry };
        keys.insert((namespace.into(), key.into()), (next.to_string(), at));
        Ok(next)
    }

    pub fn delete(&self, namespace: &str, key: &str) -> Result<(), String> {
        self.lock().remove(&(namespace.to_string(), key.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryState;

    #[test]
    fn keys_expire_increment_and_elect_once() {
        let s = MemoryState::default();
        assert_eq!(s.increment("ns", "n", 2, None), Ok(2));
        assert_eq!(s.increment("ns", "n", -5, None), Ok(-3));
        assert_eq!(s.get("other", "n"), Ok(None), "namespaces are separate");
        assert_eq!(s.set_if_absent("ns", "trial", "1", Some(20)), Ok(true));
        assert_eq!(s.set_if_absent("ns", "trial", "2", Some(20)), Ok(false));
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert_eq!(s.get("ns", "trial"), Ok(None), "expired");
        assert_eq!(s.set_if_absent("ns", "trial", "3", None), Ok(true));
        s.set("ns", "word", "x", None).unwrap();
        assert!(s.increment("ns", "word", 1, None).unwrap_err().contains("not an integer"));
        s.delete("ns", "word").unwrap();
        assert_eq!(s.get("ns", "word"), Ok(None));
    }
}
