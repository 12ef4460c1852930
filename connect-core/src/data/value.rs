//! Values with Kafka Connect's types.

use std::fmt;

use bytes::Bytes;
use bytestring::ByteString;

/// UTF-8 text backed by [`Bytes`]: slicing it out of a record's payload copies nothing.
pub type Text = ByteString;

/// A key, value or header value with Kafka Connect's types.
///
/// `Null` stands for an absent key and for a tombstone value.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Value {
    /// No value.
    #[default]
    Null,
    /// A boolean.
    Boolean(bool),
    /// An 8-bit signed integer.
    Int8(i8),
    /// A 16-bit signed integer.
    Int16(i16),
    /// A 32-bit signed integer.
    Int32(i32),
    /// A 64-bit signed integer.
    Int64(i64),
    /// A 32-bit floating-point number.
    Float32(f32),
    /// A 64-bit floating-point number.
    Float64(f64),
    /// UTF-8 text.
    String(Text),
    /// A sequence of bytes.
    Bytes(Bytes),
    /// Elements, in order.
    Array(Vec<Value>),
    /// Entries in the order they were read. Without a schema, a JSON object is a map with
    /// string keys, as in Kafka Connect.
    Map(Vec<(Value, Value)>),
    /// Named fields, in order.
    Struct(Struct),
}

impl Value {
    /// The name of the value's type, as schemas spell it (`int32`, `string`, ...), or `null`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean(_) => "boolean",
            Self::Int8(_) => "int8",
            Self::Int16(_) => "int16",
            Self::Int32(_) => "int32",
            Self::Int64(_) => "int64",
            Self::Float32(_) => "float",
            Self::Float64(_) => "double",
            Self::String(_) => "string",
            Self::Bytes(_) => "bytes",
            Self::Array(_) => "array",
            Self::Map(_) => "map",
            Self::Struct(_) => "struct",
        }
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer value widened to `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::Int8(n) => Some(n.into()),
            Self::Int16(n) => Some(n.into()),
            Self::Int32(n) => Some(n.into()),
            Self::Int64(n) => Some(n),
            _ => None,
        }
    }

    /// Any number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::Float32(n) => Some(n.into()),
            Self::Float64(n) => Some(n),
            // i64 -> f64 may round, as Java's Number.doubleValue() does.
            _ => self.as_i64().map(|n| n as f64),
        }
    }

    /// The value of a field of a struct, or of a string key of a map.
    pub fn get(&self, field: &str) -> Option<&Value> {
        match self {
            Self::Struct(s) => s.get(field),
            Self::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(field))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Mutable access to a field of a struct, or of a string key of a map.
    pub fn get_mut(&mut self, field: &str) -> Option<&mut Value> {
        match self {
            Self::Struct(s) => s.get_mut(field),
            Self::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(field))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Numbers, booleans and text as they are; bytes as base64; composites as JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Boolean(b) => write!(f, "{b}"),
            Self::Int8(n) => write!(f, "{n}"),
            Self::Int16(n) => write!(f, "{n}"),
            Self::Int32(n) => write!(f, "{n}"),
            Self::Int64(n) => write!(f, "{n}"),
            Self::Float32(n) => write!(f, "{n}"),
            Self::Float64(n) => write!(f, "{n}"),
            Self::String(s) => f.write_str(s),
            Self::Bytes(_) | Self::Array(_) | Self::Map(_) | Self::Struct(_) => {
                match self.to_json() {
                    serde_json::Value::String(s) => f.write_str(&s),
                    json => write!(f, "{json}"),
                }
            }
        }
    }
}

/// The fields of a struct value, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Struct {
    fields: Vec<(Text, Value)>,
}

impl Struct {
    /// An empty struct.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty struct with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            fields: Vec::with_capacity(n),
        }
    }

    /// This struct with a field set (replaced when present, appended otherwise).
    pub fn with(mut self, name: impl Into<Text>, value: impl Into<Value>) -> Self {
        self.put(name, value);
        self
    }

    /// Sets a field, replacing its value when present, appending it otherwise.
    pub fn put(&mut self, name: impl Into<Text>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => self.fields.push((name, value)),
        }
    }

    /// The value of a field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Mutable access to the value of a field.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.fields
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Removes a field and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(n, _)| n == name)?;
        Some(self.fields.remove(i).1)
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[(Text, Value)] {
        &self.fields
    }

    /// The fields, mutably.
    pub fn fields_mut(&mut self) -> &mut Vec<(Text, Value)> {
        &mut self.fields
    }

    /// The fields, by value.
    pub fn into_fields(self) -> Vec<(Text, Value)> {
        self.fields
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the struct has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl FromIterator<(Text, Value)> for Struct {
    fn from_iter<I: IntoIterator<Item = (Text, Value)>>(iter: I) -> Self {
        Self {
            fields: iter.into_iter().collect(),
        }
    }
}

macro_rules! from_impls {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Self::$variant(v.into())
            }
        })*
    };
}

from_impls! {
    bool => Boolean, i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    f32 => Float32, f64 => Float64, Text => String, String => String, &str => String,
    Bytes => Bytes, Vec<Value> => Array, Struct => Struct,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_put_replaces_or_appends() {
        let mut s = Struct::new().with("a", 1i32).with("b", "x");
        s.put("a", 2i32);
        assert_eq!(s.get("a"), Some(&Value::Int32(2)));
        assert_eq!(s.len(), 2);
        assert_eq!(s.remove("b"), Some(Value::from("x")));
        assert_eq!(s.get("b"), None);
    }

    #[test]
    fn get_reads_struct_fields_and_string_map_keys() {
        let map = Value::Map(vec![(Value::from("k"), Value::Int64(7))]);
        assert_eq!(map.get("k"), Some(&Value::Int64(7)));
        let st = Value::Struct(Struct::new().with("k", true));
        assert_eq!(st.get("k"), Some(&Value::Boolean(true)));
        assert_eq!(Value::Int8(1).get("k"), None);
    }

    #[test]
    fn display_is_plain_for_scalars_and_json_for_composites() {
        assert_eq!(Value::from("hi").to_string(), "hi");
        assert_eq!(Value::Int16(-3).to_string(), "-3");
        let st = Value::Struct(Struct::new().with("a", 1i64));
        assert_eq!(st.to_string(), r#"{"a":1}"#);
    }
}
