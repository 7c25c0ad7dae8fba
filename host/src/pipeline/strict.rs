//! Reading JSON and YAML pipeline files strictly: a value that the parser would change
//! without a word is refused with its location instead.
//!
//! What serde would change silently, and so is an error here: a key given twice in one
//! object (the last one would win), YAML's `.inf`/`.nan` and any number that overflows
//! to infinity (JSON has no such numbers; serde_json would make them `null`), and a whole
//! number that does not fit in 64 bits (it would become the nearest float: `1e+38` for a
//! 38-digit integer).

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};
use std::fmt;

/// `text` as JSON, refusing what would change silently.
pub fn json(text: &str) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let Strict(value) = Strict::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    // serde_json hands a whole number past 64 bits to the visitor as a float already,
    // so those are found in the text.
    wide_integer(text)?;
    Ok(value)
}

/// `text` as YAML, refusing what would change silently.
pub fn yaml(text: &str) -> Result<Value, String> {
    let Strict(value) = Strict::deserialize(serde_yaml_ng::Deserializer::from_str(text)).map_err(|e| e.to_string())?;
    Ok(value)
}

/// A JSON value built by a visitor that refuses duplicate keys, non-finite numbers and
/// integers wider than 64 bits.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

fn out_of_range<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format!(
        "the integer {v} is out of range (whole numbers run from {} to {}; write a larger one as a string)",
        i64::MIN,
        u64::MAX
    ))
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v).map(|v| Value::Number(v.into())).map_err(|_| out_of_range(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v).map(|v| Value::Number(v.into())).map_err(|_| out_of_range(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| {
            E::custom(format!("the number {v} is not finite; JSON has no infinity or NaN (write a finite number)"))
        })
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{}` (each key appears once in an object)",
                    crate::text::one_line(&key, 200)
                )));
            }
            let Strict(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// The first whole number in JSON `text` (already parsed, so well formed) that does not
/// fit in 64 bits, as an error with its line and column.
fn wide_integer(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let (mut at, mut in_string) = (0, false);
    while at < bytes.len() {
        let b = bytes[at];
        if in_string {
            match b {
                b'\\' => at += 1,
                b'"' => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len() && matches!(bytes[at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    at += 1;
                }
                let token = &text[start..at];
                let whole = !token.contains(['.', 'e', 'E']);
                if whole && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    let line = text[..start].matches('\n').count() + 1;
                    let column = start - text[..start].rfind('\n').map_or(0, |n| n + 1) + 1;
                    return Err(format!(
                        "{} at line {line} column {column}",
                        out_of_range::<serde_json::Error>(crate::text::truncate(token, 64))
                    ));
                }
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_would_change_silently() {
        assert_eq!(
            json("{\"a\": 1,\n \"a\": 2}").unwrap_err(),
            "duplicate key `a` (each key appears once in an object) at line 2 column 4"
        );
        assert!(json("[1e400]").unwrap_err().contains("out of range"));
        assert_eq!(
            json("{\"n\":\n  12345678901234567890123456789012345678}").unwrap_err(),
            "the integer 12345678901234567890123456789012345678 is out of range (whole numbers run from \
             -9223372036854775808 to 18446744073709551615; write a larger one as a string) at line 2 column 3"
        );
        assert!(yaml("a: .inf").unwrap_err().contains("the number inf is not finite"));
        assert!(yaml("a: .nan").unwrap_err().contains("the number NaN is not finite"));
        assert!(yaml("a: 1\na: 2").unwrap_err().contains("duplicate key `a`"));
        assert!(yaml("a: 123456789012345678901234567890").unwrap_err().contains("out of range"));
    }

    #[test]
    fn keeps_what_is_faithful() {
        let text = "{\"s\": \"-99999999999999999999 in a string \\\" 1\", \"n\": [-9223372036854775808, \
                    18446744073709551615, 1e38, 0.5, -1.5e-3, true, null]}";
        assert_eq!(json(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(
            yaml("a: [1, 2.5, x, null, {b: c}]").unwrap(),
            serde_json::json!({"a": [1, 2.5, "x", null, {"b": "c"}]})
        );
    }
}
