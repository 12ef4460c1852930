//! Reading payloads under a schema: serde_json streams the payload text into Connect values
//! with the schema in hand, so no intermediate tree is built and strings without escapes
//! share the record's buffer.

use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{decimal_scale, is_decimal, kafka_type, unscaled_check, MILLIS_PER_DAY};
use crate::data::{logical, Field, Schema, SchemaType, Struct, Text, Value, BASE64};

/// An error reading a payload: serde_json's (with its position in the payload text) and the
/// path to the value that did not fit, innermost segment first.
#[derive(Debug)]
pub(in crate::converter) struct DecodeError {
    pub(in crate::converter) json: serde_json::Error,
    pub(in crate::converter) path: Vec<String>,
}

/// Reads `payload` (JSON text) under `schema`, as Kafka's `convertToConnect` does. Strings
/// without escapes share `payload`'s buffer. A number that does not fit its type is an error
/// (Kafka truncates it), as is a JSON type that does not fit the schema (Kafka reads `0`,
/// `false` or `null` for it).
pub(in crate::converter) fn decode(
    payload: &Bytes,
    schema: &Schema,
    replace_null_with_default: bool,
) -> Result<Value, DecodeError> {
    let cx = Cx {
        source: payload,
        replace_null_with_default,
        path: RefCell::new(Vec::new()),
    };
    let mut de = serde_json::Deserializer::from_slice(payload);
    let value = Typed { schema, cx: &cx }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    value.map_err(|json| DecodeError {
        json,
        path: cx.path.into_inner(),
    })
}

/// What every step of a decoding shares.
struct Cx<'a> {
    source: &'a Bytes,
    replace_null_with_default: bool,
    /// Filled only while an error bubbles up.
    path: RefCell<Vec<String>>,
}

impl Cx<'_> {
    fn at<E>(&self, segment: impl fmt::Display, error: E) -> E {
        self.path.borrow_mut().push(segment.to_string());
        error
    }

    /// A string serde_json borrowed from the payload, sharing its buffer.
    fn share(&self, s: &str) -> Text {
        let within = self.source.as_ptr_range();
        if s.is_empty() || !within.contains(&s.as_ptr()) {
            return Text::from(s);
        }
        Text::try_from(self.source.slice_ref(s.as_bytes())).unwrap_or_else(|_| Text::from(s))
    }
}

/// The value for a JSON null or a missing field: the default, null, or Kafka's error.
fn null_value(schema: &Schema, replace_null_with_default: bool) -> Result<Value, String> {
    match &schema.default {
        Some(d) if replace_null_with_default && !d.is_null() => Ok(d.clone()),
        _ if schema.optional => Ok(Value::Null),
        _ => Err(format!(
            "Invalid null value for required {} field",
            kafka_type(&schema.kind)
        )),
    }
}

/// Reads one value under its schema.
#[derive(Clone, Copy)]
struct Typed<'a> {
    schema: &'a Schema,
    cx: &'a Cx<'a>,
}

impl Typed<'_> {
    /// The error for a JSON type the schema cannot take (`found` as Jackson names node types).
    fn wrong<E: de::Error>(&self, found: &str) -> E {
        let kind = &self.schema.kind;
        match kind {
            SchemaType::Struct(_) => E::custom(format_args!(
                "Structs should be encoded as JSON objects, but found {found}"
            )),
            SchemaType::Map { keys, .. } if matches!(keys.kind, SchemaType::String) => {
                E::custom(format_args!(
                    "Maps with string fields should be encoded as JSON objects, but found {found}"
                ))
            }
            SchemaType::Map { .. } => E::custom(format_args!(
                "Maps with non-string fields should be encoded as JSON array of tuples, but found {found}"
            )),
            _ => E::custom(format_args!(
                "Expected {} for schema type {}, found {found}",
                match kind {
                    SchemaType::Boolean => "a JSON boolean",
                    SchemaType::String => "a JSON string",
                    SchemaType::Bytes if is_decimal(self.schema) => "a JSON number or base64 string",
                    SchemaType::Bytes => "a base64 JSON string",
                    SchemaType::Array(_) => "a JSON array",
                    _ => "a JSON number",
                },
                kafka_type(kind)
            )),
        }
    }

    fn scale<E: de::Error>(&self) -> Result<i32, E> {
        decimal_scale(self.schema).map_err(E::custom)
    }

    fn decimal<E: de::Error>(&self, unscaled: Result<i128, String>) -> Result<Value, E> {
        unscaled
            .map(|n| Value::Bytes(unscaled_to_bytes(n)))
            .map_err(E::custom)
    }

    fn integer<E: de::Error>(self, n: i128) -> Result<Value, E> {
        let out_of_range = || {
            E::custom(format_args!(
                "Value {n} is out of range for schema type {}",
                kafka_type(&self.schema.kind)
            ))
        };
        match self.schema.kind {
            SchemaType::Int8 => i8::try_from(n).map(Value::Int8).map_err(|_| out_of_range()),
            SchemaType::Int16 => i16::try_from(n)
                .map(Value::Int16)
                .map_err(|_| out_of_range()),
            SchemaType::Int32 => {
                let n = i32::try_from(n).map_err(|_| out_of_range())?;
                if self.schema.is_logical(logical::TIME) && !(0..=MILLIS_PER_DAY).contains(&n) {
                    return Err(E::custom(
                        "Time values must use number of milliseconds greater than 0 and less than 86400000",
                    ));
                }
                Ok(Value::Int32(n))
            }
            SchemaType::Int64 => i64::try_from(n)
                .map(Value::Int64)
                .map_err(|_| out_of_range()),
            SchemaType::Float32 => Ok(Value::Float32(n as f32)),
            SchemaType::Float64 => Ok(Value::Float64(n as f64)),
            SchemaType::Bytes if is_decimal(self.schema) => {
                let scale = self.scale()?;
                self.decimal(rescale(n, 0, scale))
            }
            _ => Err(self.wrong("NUMBER")),
        }
    }

    fn text<E: de::Error>(self, s: &str, borrowed: bool) -> Result<Value, E> {
        match self.schema.kind {
            SchemaType::String if borrowed => Ok(Value::String(self.cx.share(s))),
            SchemaType::String => Ok(Value::String(Text::from(s))),
            SchemaType::Bytes => {
                if is_decimal(self.schema) {
                    self.scale::<E>()?;
                }
                let bytes = decode_base64(s).map_err(E::custom)?;
                if is_decimal(self.schema) {
                    unscaled_check(&bytes).map_err(|e| E::custom(e.message))?;
                }
                Ok(Value::Bytes(bytes))
            }
            SchemaType::Float32 | SchemaType::Float64 => {
                let x = match s {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => return Err(self.wrong("STRING")),
                };
                Ok(match self.schema.kind {
                    SchemaType::Float32 => Value::Float32(x as f32),
                    _ => Value::Float64(x),
                })
            }
            _ => Err(self.wrong("STRING")),
        }
    }
}

/// Base64 text to bytes, decoded into a buffer of exactly the decoded size (so turning it
/// into `Bytes` allocates nothing more).
fn decode_base64(s: &str) -> Result<Bytes, String> {
    let padding = s.bytes().rev().take_while(|&b| b == b'=').count().min(2);
    let mut buf = vec![0u8; (s.len() / 4 * 3).saturating_sub(padding)];
    let n = BASE64
        .decode_slice(s, &mut buf)
        .map_err(|e| format!("Invalid bytes field: {e}"))?;
    buf.truncate(n);
    Ok(Bytes::from(buf))
}

impl<'de> DeserializeSeed<'de> for Typed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Typed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a JSON value for schema type {}",
            kafka_type(&self.schema.kind)
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        null_value(self.schema, self.cx.replace_null_with_default).map_err(E::custom)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        match self.schema.kind {
            SchemaType::Boolean => Ok(Value::Boolean(b)),
            _ => Err(self.wrong("BOOLEAN")),
        }
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        self.integer(n.into())
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        self.integer(n.into())
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Value, E> {
        match self.schema.kind {
            SchemaType::Float32 => Ok(Value::Float32(x as f32)),
            SchemaType::Float64 => Ok(Value::Float64(x)),
            SchemaType::Bytes if is_decimal(self.schema) => {
                let scale = self.scale()?;
                self.decimal(decimal_from_f64(x, scale))
            }
            SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
                Err(E::custom(format_args!(
                    "Expected an integer for schema type {}, found {x}",
                    kafka_type(&self.schema.kind)
                )))
            }
            _ => Err(self.wrong("NUMBER")),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Value, E> {
        self.text(s, true)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.text(s, false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let cx = self.cx;
        match &self.schema.kind {
            SchemaType::Array(items) => {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                let item = Typed { schema: items, cx };
                while let Some(v) = seq
                    .next_element_seed(item)
                    .map_err(|e| cx.at(format_args!("[{}]", out.len()), e))?
                {
                    out.push(v);
                }
                Ok(Value::Array(out))
            }
            SchemaType::Map { keys, values } if !matches!(keys.kind, SchemaType::String) => {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                let pair = Pair { keys, values, cx };
                while let Some(entry) = seq
                    .next_element_seed(pair)
                    .map_err(|e| cx.at(format_args!("[{}]", out.len()), e))?
                {
                    out.push(entry);
                }
                Ok(Value::Map(out))
            }
            _ => Err(self.wrong("ARRAY")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let cx = self.cx;
        match &self.schema.kind {
            SchemaType::Struct(fields) => read_struct(fields, map, cx),
            SchemaType::Map { keys, values } if matches!(keys.kind, SchemaType::String) => {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                let value = Typed { schema: values, cx };
                while let Some(key) = map.next_key_seed(Key { cx })? {
                    let v = map
                        .next_value_seed(value)
                        .map_err(|e| cx.at(format_args!("[{key}]"), e))?;
                    out.push((Value::String(key), v));
                }
                Ok(Value::Map(out))
            }
            _ => Err(self.wrong("OBJECT")),
        }
    }
}

/// Reads a struct: fields by name (others ignored, as Kafka does), in schema order; missing
/// fields take their default or null, as a JSON null would.
fn read_struct<'de, A: MapAccess<'de>>(
    fields: &[Field],
    mut map: A,
    cx: &Cx<'_>,
) -> Result<Value, A::Error> {
    let mut read = Struct::with_capacity(fields.len());
    let out = read.fields_mut();
    // JSON written by Kafka has the fields in schema order: expect the next one first.
    let mut next = 0;
    let mut in_order = true;
    while let Some(key) = map.next_key_seed(Key { cx })? {
        let index = match fields.get(next) {
            Some(f) if key == f.name => Some(next),
            _ => fields.iter().position(|f| key == f.name),
        };
        let Some(index) = index else {
            map.next_value::<IgnoredAny>()?;
            continue;
        };
        let field = &fields[index];
        let value = map
            .next_value_seed(Typed {
                schema: &field.schema,
                cx,
            })
            .map_err(|e| cx.at(&field.name, e))?;
        if in_order && index == next {
            out.push((key, value));
            next += 1;
            continue;
        }
        in_order = false;
        // A repeated key: the last one wins, as with Jackson.
        match out.iter_mut().find(|(name, _)| *name == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    if in_order && out.len() == fields.len() {
        return Ok(Value::Struct(read));
    }
    let mut ordered = Struct::with_capacity(fields.len());
    for field in fields {
        let entry = match out.iter_mut().find(|(name, _)| *name == *field.name) {
            Some(entry) => std::mem::take(entry),
            None => {
                let value = null_value(&field.schema, cx.replace_null_with_default)
                    .map_err(|m| cx.at(&field.name, de::Error::custom(m)))?;
                (Text::from(field.name.as_str()), value)
            }
        };
        ordered.fields_mut().push(entry);
    }
    Ok(Value::Struct(ordered))
}

/// Reads an object key, sharing the payload's buffer when it has no escapes.
#[derive(Clone, Copy)]
struct Key<'a> {
    cx: &'a Cx<'a>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Text;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Text, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text, E> {
        Ok(self.cx.share(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Text, E> {
        Ok(Text::from(s))
    }
}

/// Reads a `[key, value]` entry of a map whose keys are not strings.
#[derive(Clone, Copy)]
struct Pair<'a> {
    keys: &'a Schema,
    values: &'a Schema,
    cx: &'a Cx<'a>,
}

impl<'de> DeserializeSeed<'de> for Pair<'_> {
    type Value = (Value, Value);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(Value, Value), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Pair<'_> {
    type Value = (Value, Value);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map entry as a [key, value] array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(Value, Value), A::Error> {
        let length = |n: usize| {
            de::Error::custom(format_args!(
                "Found invalid map entry, expected length 2 but found :{n}"
            ))
        };
        let cx = self.cx;
        let key = seq
            .next_element_seed(Typed {
                schema: self.keys,
                cx,
            })?
            .ok_or_else(|| length(0))?;
        let value = seq
            .next_element_seed(Typed {
                schema: self.values,
                cx,
            })
            .map_err(|e| cx.at(format_args!("[{key}]"), e))?
            .ok_or_else(|| length(1))?;
        let mut extra = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            extra += 1;
        }
        if extra > 0 {
            return Err(length(2 + extra));
        }
        Ok((key, value))
    }
}

// Decimals read from JSON numbers, and written back as bytes.

/// The shortest two's complement form of an unscaled value, as Java's `BigInteger.toByteArray`.
fn unscaled_to_bytes(n: i128) -> Bytes {
    let be = n.to_be_bytes();
    let mut start = 0;
    while start < 15
        && ((be[start] == 0 && be[start + 1] & 0x80 == 0)
            || (be[start] == 0xff && be[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    Bytes::copy_from_slice(&be[start..])
}

/// The unscaled value of `mantissa × 10^exponent` at `scale`; an error when digits would be
/// lost or the value does not fit in 128 bits.
fn rescale(mantissa: i128, exponent: i64, scale: i32) -> Result<i128, String> {
    let shift = exponent + i64::from(scale);
    let pow = |n: i64| u32::try_from(n).ok().and_then(|n| 10i128.checked_pow(n));
    if shift >= 0 {
        pow(shift)
            .and_then(|p| mantissa.checked_mul(p))
            .ok_or_else(|| {
                format!("Decimal value is too large for a 128-bit unscaled value at scale {scale}")
            })
    } else {
        match pow(-shift) {
            Some(p) if mantissa % p == 0 => Ok(mantissa / p),
            _ if mantissa == 0 => Ok(0),
            _ => Err(format!(
                "Decimal value has more digits after the point than its scale {scale} allows"
            )),
        }
    }
}

/// A decimal from a JSON floating-point number. serde_json hands us an `f64`; its shortest
/// round-trip digits are the digits written for up to 15 significant digits.
fn decimal_from_f64(x: f64, scale: i32) -> Result<i128, String> {
    let mut buf = [0u8; 40];
    let mut cursor = &mut buf[..];
    let _ = serde_json::to_writer(&mut cursor, &x);
    let len = 40 - cursor.len();
    let text = std::str::from_utf8(&buf[..len]).unwrap_or("");
    let (number, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exponent: i64 = exponent
        .parse()
        .map_err(|_| format!("Invalid decimal {text}"))?;
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let mut mantissa: i128 = 0;
    for digit in int.bytes().chain(frac.bytes()).filter(u8::is_ascii_digit) {
        mantissa = mantissa * 10 + i128::from(digit - b'0');
    }
    if int.starts_with('-') {
        mantissa = -mantissa;
    }
    rescale(mantissa, exponent - frac.len() as i64, scale)
}
