//! [`Payload`]: a task's input or result kept as the JSON text its producer wrote.
//!
//! Why text: a payload crosses the host many times (a guest hands it over, the engine
//! keeps it, Redis carries it, a worker hands it to an actor, the actor's result comes
//! back the same way) and the host looks inside it at only two places: a native actor
//! and the stage output. As a `serde_json::Value` every hop parsed and re-serialised it
//! and each copy held ~4.5x its JSON in memory; as text a hop is a reference count.
//!
//! What the host still promises: every payload is checked once where it enters (a
//! guest, a worker's report, a Redis read) to be one JSON value nested no deeper than
//! `serde_json` reads (so turning it into a `Value` later cannot fail), with the
//! whitespace around it dropped. Inside, it is the producer's text: a duplicated key
//! stays until something parses it (then the last one wins, as before).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// Deepest nesting `serde_json` parses (its recursion limit is 128 levels, the 128th
/// opening bracket fails): a payload deeper than this could be carried but never read.
const MAX_DEPTH: usize = 127;

/// One JSON value as text, checked once, cheap to clone.
#[derive(Clone)]
pub struct Payload(Arc<RawValue>);

/// Why a text is not a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(String);

impl Payload {
    /// Check `text` (one JSON value, nested at most as deep as `serde_json` reads).
    pub fn parse(text: String) -> Result<Payload, PayloadError> {
        let raw = RawValue::from_string(text).map_err(|e| PayloadError(e.to_string()))?;
        if let Some(column) = too_deep(raw.get()) {
            return Err(PayloadError(format!("recursion limit exceeded at byte {column}")));
        }
        Ok(Payload(Arc::from(raw)))
    }

    /// A value the host made, as compact text. A `Value` built in code can nest deeper
    /// than any reader accepts; that is a bug where it was built, so it stops here rather
    /// than where the payload is read. Values from outside go through [`Payload::parse`].
    pub fn from_value(value: &Value) -> Payload {
        let raw = serde_json::value::to_raw_value(value).expect("a Value always serialises");
        if let Some(at) = too_deep(raw.get()) {
            panic!("a payload built from a Value nests deeper than {MAX_DEPTH} levels (byte {at})");
        }
        Payload(Arc::from(raw))
    }

    /// The JSON text, without surrounding whitespace.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Bytes of the text.
    pub fn len(&self) -> usize {
        self.0.get().len()
    }

    /// Never true: a JSON value has at least one byte. For clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.0.get().is_empty()
    }

    /// The value, parsed. Checked on the way in, so this does not fail.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).expect("a payload was checked to parse when it was made")
    }
}

/// The byte offset of the first bracket nested past [`MAX_DEPTH`], if any. The text is
/// already known to be JSON, so brackets inside strings are the only ones to skip.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(at);
                }
            }
            b']' | b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

impl From<Value> for Payload {
    fn from(value: Value) -> Payload {
        Payload::from_value(&value)
    }
}

impl From<&Value> for Payload {
    fn from(value: &Value) -> Payload {
        Payload::from_value(value)
    }
}

/// Equal as JSON values: the same text, or texts that parse to equal values (a worker
/// in another language may write `{"a": 1}` where the host writes `{"a":1}`).
impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Written as the JSON value it is (through `serde_json`; other formats get the text).
impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawValue::serialize(&self.0, serializer)
    }
}

/// Read as the JSON value it is, checked like [`Payload::parse`] (through `serde_json`).
impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        if let Some(at) = too_deep(raw.get()) {
            return Err(serde::de::Error::custom(format!("recursion limit exceeded at byte {at} of a payload")));
        }
        Ok(Payload(Arc::from(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_payload_is_one_json_value_without_its_surrounding_whitespace() {
        let p = Payload::parse(" {\"a\": [1, \"]\"]}\n".into()).unwrap();
        assert_eq!(p.as_str(), "{\"a\": [1, \"]\"]}");
        assert_eq!(p.to_value(), json!({"a": [1, "]"]}));
        for bad in ["", "{", "1 2", "nul", "{\"a\":1,}"] {
            assert!(Payload::parse(bad.into()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn payloads_nest_exactly_as_deep_as_serde_json_reads() {
        for depth in [126, 127, 128, 129, 5000] {
            // Strings holding brackets and escaped quotes do not count.
            let text = format!("{}\"[{{\\\"\"{}", "[".repeat(depth), "]".repeat(depth));
            let as_value = serde_json::from_str::<Value>(&text).is_ok();
            assert_eq!(Payload::parse(text.clone()).is_ok(), as_value, "depth {depth}");
            assert_eq!(as_value, depth <= MAX_DEPTH, "depth {depth}");
        }
    }

    #[test]
    fn payloads_compare_as_values_and_serialise_as_json() {
        let spaced = Payload::parse("{\"b\": 1, \"a\": [true]}".into()).unwrap();
        assert_eq!(spaced, Payload::from(json!({"a": [true], "b": 1})));
        assert_ne!(spaced, Payload::from(json!({"a": [false], "b": 1})));
        assert_eq!(serde_json::to_string(&json!({"x": 1})).unwrap(), "{\"x\":1}");
        let wrapped = serde_json::to_value(vec![spaced]).unwrap();
        assert_eq!(wrapped, json!([{"a": [true], "b": 1}]));
    }
}
