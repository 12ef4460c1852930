//! Values to and from JSON, without a schema (Kafka Connect's schemaless JSON mapping).
//!
//! Integers read as `int64` and other numbers as `double`; objects as maps with string keys;
//! bytes are written as base64 text; maps with non-string keys as arrays of `[key, value]`
//! pairs, as Kafka Connect's `JsonConverter` writes them.

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{Struct, Text, Value};

pub(crate) const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl Value {
    /// Parses JSON text into a value. Strings without escapes share `json`'s buffer
    /// instead of being copied.
    pub fn parse_json(json: &Bytes) -> Result<Value, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let value = ValueSeed { source: json }.deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    /// Converts a `serde_json::Value` into a value.
    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Boolean(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int64(i),
                None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.into()),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| (Value::String(k.into()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts the value into a `serde_json::Value`.
    pub fn to_json(&self) -> serde_json::Value {
        // Serializing a Value into serde_json::Value cannot fail: every key we emit is a string.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Writes the value as JSON text.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        // Writing into a Vec cannot fail, and every map key we emit is a string.
        let _ = serde_json::to_writer(&mut out, self);
        out
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Boolean(b) => serializer.serialize_bool(*b),
            Value::Int8(n) => serializer.serialize_i8(*n),
            Value::Int16(n) => serializer.serialize_i16(*n),
            Value::Int32(n) => serializer.serialize_i32(*n),
            Value::Int64(n) => serializer.serialize_i64(*n),
            // f32 stays f32 so 12.34f32 prints as 12.34, not as its widened f64 digits.
            Value::Float32(n) if n.is_finite() => serializer.serialize_f32(*n),
            Value::Float32(_) => serializer.serialize_unit(),
            Value::Float64(n) => serialize_float(*n, serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(b) => serializer.serialize_str(&BASE64.encode(b)),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) if entries.iter().all(|(k, _)| k.as_str().is_some()) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Map(entries) => {
                let mut seq = serializer.serialize_seq(Some(entries.len()))?;
                for (k, v) in entries {
                    seq.serialize_element(&[k, v])?;
                }
                seq.end()
            }
            Value::Struct(s) => {
                let mut map = serializer.serialize_map(Some(s.len()))?;
                for (k, v) in s.fields() {
                    map.serialize_entry(k.as_ref() as &str, v)?;
                }
                map.end()
            }
        }
    }
}

/// JSON has no NaN or infinities: they are written as `null`, as JSON libraries do.
fn serialize_float<S: Serializer>(n: f64, serializer: S) -> Result<S::Ok, S::Error> {
    if n.is_finite() {
        serializer.serialize_f64(n)
    } else {
        serializer.serialize_unit()
    }
}

/// Deserializes a value, slicing unescaped strings out of `source` instead of copying them.
struct ValueSeed<'a> {
    source: &'a Bytes,
}

impl ValueSeed<'_> {
    fn text_from_borrowed(&self, s: &str) -> Text {
        // `s` points into `source` (serde_json hands out borrowed strings only from its input),
        // so this shares the buffer; the UTF-8 check cannot fail on a &str.
        Text::try_from(self.source.slice_ref(s.as_bytes())).unwrap_or_else(|_| Text::from(s))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int64)
            .map_err(|_| E::custom(format_args!("integer {v} is out of the int64 range")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float64(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value, E> {
        Ok(Value::String(self.text_from_borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(Text::from(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(Text::from(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(ValueSeed {
            source: self.source,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key_seed(KeySeed {
            source: self.source,
        })? {
            let value = map.next_value_seed(ValueSeed {
                source: self.source,
            })?;
            entries.push((Value::String(key), value));
        }
        Ok(Value::Map(entries))
    }
}

/// Deserializes an object key, sharing `source`'s buffer when the key has no escapes.
struct KeySeed<'a> {
    source: &'a Bytes,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Text;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Text, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text, E> {
        Ok(ValueSeed {
            source: self.source,
        }
        .text_from_borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Text, E> {
        Ok(Text::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Text, E> {
        Ok(Text::from(v))
    }
}

impl From<Struct> for serde_json::Value {
    fn from(s: Struct) -> Self {
        Value::Struct(s).to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_kafka_connects_schemaless_types() {
        let json = Bytes::from_static(br#"{"a":1,"b":1.5,"c":"x","d":[true,null],"e":{"f":-2}}"#);
        let v = Value::parse_json(&json).unwrap();
        assert_eq!(v.get("a"), Some(&Value::Int64(1)));
        assert_eq!(v.get("b"), Some(&Value::Float64(1.5)));
        assert_eq!(v.get("c"), Some(&Value::from("x")));
        assert_eq!(
            v.get("d"),
            Some(&Value::Array(vec![Value::Boolean(true), Value::Null]))
        );
        assert_eq!(v.get("e").and_then(|e| e.get("f")), Some(&Value::Int64(-2)));
    }

    #[test]
    fn parsed_strings_share_the_input_buffer() {
        let json = Bytes::from(br#"{"name":"plain"}"#.to_vec());
        let v = Value::parse_json(&json).unwrap();
        let Some(Value::String(s)) = v.get("name") else {
            panic!("not a string: {v:?}")
        };
        let input = json.as_ptr_range();
        assert!(input.contains(&s.as_ptr()), "the string was copied");
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let v = Value::parse_json(&Bytes::from_static(br#""a\"b\u00e9""#)).unwrap();
        assert_eq!(v, Value::from("a\"bé"));
    }

    #[test]
    fn malformed_json_is_an_error_with_a_position() {
        let err = Value::parse_json(&Bytes::from_static(b"{\"a\":")).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(Value::parse_json(&Bytes::from_static(b"1 2")).is_err());
        let big = Value::parse_json(&Bytes::from_static(b"18446744073709551615")).unwrap_err();
        assert!(big.to_string().contains("int64 range"), "{big}");
    }

    #[test]
    fn round_trip_keeps_order_and_types() {
        let text = r#"{"z":1,"a":[1.5,"s",false],"m":{"k":null}}"#;
        let v = Value::parse_json(&Bytes::from_static(text.as_bytes())).unwrap();
        assert_eq!(String::from_utf8(v.to_json_bytes()).unwrap(), text);
        assert_eq!(Value::from_json(v.to_json()), v);
    }

    #[test]
    fn bytes_are_base64_and_non_string_keys_are_pairs() {
        assert_eq!(
            Value::Bytes(Bytes::from_static(b"hi")).to_json(),
            serde_json::json!("aGk=")
        );
        let m = Value::Map(vec![(Value::Int32(1), Value::from("one"))]);
        assert_eq!(m.to_json(), serde_json::json!([[1, "one"]]));
        assert_eq!(Value::Float64(f64::NAN).to_json(), serde_json::Value::Null);
        assert_eq!(Value::Float32(12.34).to_json_bytes(), b"12.34");
    }
}
