//! Validated names in the manifest. Each rejects bad input while parsing, with a
//! message that says what a valid value looks like.

use serde::Deserialize;
use std::fmt;

/// A mode name: lowercase letters, digits and `-`, starting with a letter (`fork-join`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ModeName(String);

impl TryFrom<String> for ModeName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut chars = s.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(ModeName(s))
        } else {
            Err(format!(
                "invalid mode name `{s}`: use lowercase letters, digits and '-', starting with a letter (like `fork-join`)"
            ))
        }
    }
}

/// An actor name: letters, digits, `_` and `-`, starting with a letter (`EmailNotifier`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ActorName(String);

impl TryFrom<String> for ActorName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut chars = s.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(ActorName(s))
        } else {
            Err(format!(
                "invalid actor name `{s}`: use letters, digits, '_' and '-', starting with a letter (like `EmailNotifier`)"
            ))
        }
    }
}

/// A sha256 pin: 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Sha256Pin(String);

impl TryFrom<String> for Sha256Pin {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Sha256Pin(s.to_ascii_lowercase()))
        } else {
            Err(format!(
                "invalid sha256 `{s}`: expected 64 hexadecimal digits (run `troupe plugins` to see each file's sha256)"
            ))
        }
    }
}

macro_rules! string_newtype {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
string_newtype!(ModeName, ActorName, Sha256Pin);
