//! Canonical JSON: the one byte form every Gatehouse signature covers.
//!
//! Rules: object keys sorted recursively, no insignificant whitespace, UTF-8
//! output with non-ASCII characters written raw, and NaN/Infinity refused.
//! Keys are ordered by UTF-16 code units, which is what `JSON.stringify` with
//! sorted keys (Lodestar) yields; for keys in the Basic Multilingual Plane it is
//! also Python's `sort_keys=True` order (mesa). Strings are escaped exactly as
//! `JSON.stringify` does (`serde_json`'s escaping is identical).
//!
//! `serde_json::Value` cannot hold a non-finite number, so values built in Rust
//! are safe by construction; text coming from outside goes through
//! [`parse_strict`], which refuses `NaN`, `Infinity` and duplicate keys.

use serde_json::{Map, Value};
use std::cmp::Ordering;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    #[error("invalid JSON: {0}")]
    Invalid(String),
    #[error("duplicate object key {0:?}")]
    DuplicateKey(String),
    #[error("non-finite number (NaN or Infinity) is not allowed")]
    NonFinite,
}

/// The canonical UTF-8 bytes of `value`.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    canonical_string(value).into_bytes()
}

/// The canonical form of `value` as a string.
pub fn canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            // serde_json writes scalars exactly as JSON.stringify does for
            // strings, integers and booleans.
            out.push_str(&serde_json::to_string(value).expect("scalar serialises"));
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| utf16_cmp(a, b));
    out.push('{');
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).expect("key serialises"));
        out.push(':');
        write_value(&map[key.as_str()], out);
    }
    out.push('}');
}

/// Parse untrusted JSON text, refusing what canonical JSON cannot represent:
/// NaN/Infinity (which some encoders emit) and duplicate keys (which would make
/// two parties disagree about what was signed).
pub fn parse_strict(text: &str) -> Result<Value, CanonicalError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = strict::StrictValue::deserialize_from(&mut de)?;
    de.end().map_err(|e| CanonicalError::Invalid(e.to_string()))?;
    Ok(value)
}

mod strict {
    //! A deserializer seed that builds a `Value` while rejecting duplicate keys.
    use super::CanonicalError;
    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};
    use std::fmt;

    pub struct StrictValue;

    impl StrictValue {
        pub fn deserialize_from(de: &mut serde_json::Deserializer<serde_json::de::StrRead<'_>>) -> Result<Value, CanonicalError> {
            StrictValue.deserialize(de).map_err(|e| {
                let msg = e.to_string();
                if let Some(rest) = msg.strip_prefix("duplicate key ") {
                    let key = rest.split(" at line").next().unwrap_or(rest);
                    CanonicalError::DuplicateKey(key.trim_matches('"').to_string())
                } else if msg.contains("NaN") || msg.contains("Infinity") {
                    CanonicalError::NonFinite
                } else {
                    CanonicalError::Invalid(msg)
                }
            })
        }
    }

    impl<'de> DeserializeSeed<'de> for StrictValue {
        type Value = Value;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(StrictVisitor)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("NaN or Infinity"))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(StrictValue)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                if out.contains_key(&key) {
                    return Err(de::Error::custom(format!("duplicate key \"{key}\"")));
                }
                let value = map.next_value_seed(StrictValue)?;
                out.insert(key, value);
            }
            Ok(Value::Object(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_recursively_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "c": null}, "é": "ü"});
        assert_eq!(canonical_string(&v), r#"{"a":{"c":null,"z":[3,{"x":2,"y":1}]},"b":1,"é":"ü"}"#);
    }

    #[test]
    fn orders_keys_by_utf16_like_javascript() {
        // U+FF61 sorts after U+1F600 in UTF-16 (surrogates are 0xD83D..)
        // but before it by code point; JSON.stringify order is UTF-16.
        let v = json!({"\u{ff61}": 1, "\u{1f600}": 2});
        assert_eq!(canonical_string(&v), "{\"\u{1f600}\":2,\"\u{ff61}\":1}");
    }

    #[test]
    fn refuses_non_finite_and_duplicates() {
        assert!(parse_strict(r#"{"a": NaN}"#).is_err());
        assert!(parse_strict(r#"[Infinity]"#).is_err());
        assert!(parse_strict(r#"[-Infinity]"#).is_err());
        assert!(parse_strict("[1e400]").is_err());
        assert_eq!(parse_strict(r#"{"a":1,"a":2}"#).unwrap_err(), CanonicalError::DuplicateKey("a".into()));
        assert!(matches!(parse_strict("{"), Err(CanonicalError::Invalid(_))));
        assert!(matches!(parse_strict("{} x"), Err(CanonicalError::Invalid(_))));
    }

    #[test]
    fn escapes_like_json_stringify() {
        let v = json!({"s": "line\nbreak \"q\" \u{0001} </script>"});
        assert_eq!(canonical_string(&v), r#"{"s":"line\nbreak \"q\" \u0001 </script>"}"#);
    }
}
