//! `Cast$Key` / `Cast$Value`: casts the whole key or value, or some of its top-level fields,
//! to `int8`, `int16`, `int32`, `int64`, `float32`, `float64`, `boolean` or `string`, as
//! Kafka's `Cast`.
//!
//! Conversions follow Java's: numbers narrow as Java's casts do (integers keep their low bits,
//! floats truncate and saturate), booleans become 1/0 and numbers become `true` when their
//! integer part is not zero, strings parse as Java parses them (`Boolean.parseBoolean` never
//! fails), bytes cast only to string (base64), and strings of floats look like Java's
//! (`1.0`, `1.0E10`). `Date`/`Time`/`Timestamp` values cast to string as Kafka formats them
//! (UTC), and `Decimal`s cast to numbers and strings (`BigDecimal.toString`); decimals of
//! more than 16 bytes are refused.
//!
//! Differences from Kafka: a whole-value cast drops the logical type name (and its
//! parameters) of the input schema, where Kafka keeps it on the new type; a spec entry with
//! more than one colon is reported as an invalid cast mapping (Kafka reports it as a rename
//! mapping of `renames`). Like Kafka, a schemaless field cast of a missing field adds it as
//! null, and a null key or value passes through unchanged.

use std::mem;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;

use super::extract_field::{
    field_slot, map_get_mut, replace_null_key, require_map, require_struct, with_default,
    REPLACE_NULL_WITH_DEFAULT,
};
use super::registry;
use super::replace_field::java_split;
use super::support::{data_error, part_name, struct_like, SchemaCache};
use super::{Outcome, Transformation};
use crate::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValue, Importance, Props, Validator,
};
use crate::data::{logical, Field, Schema, SchemaType, Text, Value, BASE64};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

const SPEC: &str = "spec";
const PURPOSE: &str = "cast types";
const OUTPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";
const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";
const MILLIS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

/// The `Cast$Key` and `Cast$Value` plugins.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value("Cast", config_def(), build)
}

/// Kafka's keys: `spec` and `replace.null.with.default`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(SPEC, ConfigType::List)
                .validator(Validator::Custom(Arc::new(|value| match value {
                    ConfigValue::List(items) => parse_spec(items).map(|_| ()),
                    _ => Ok(()),
                })))
                .importance(Importance::High)
                .doc(
                    "List of fields and the type to cast them to of the form \
                     field1:type,field2:type to cast fields of Maps or Structs. A single type to \
                     cast the entire value. Valid types are int8, int16, int32, int64, float32, \
                     float64, boolean, and string. Note that binary fields can only be cast to \
                     string.",
                ),
        )
        .define(replace_null_key())
}

/// A type values can be cast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CastType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

impl CastType {
    /// A type of the spec, named as Kafka's `Schema.Type` in any case.
    fn parse(name: &str) -> Result<Self, String> {
        let upper = name.trim().to_ascii_uppercase();
        Ok(match upper.as_str() {
            "INT8" => Self::Int8,
            "INT16" => Self::Int16,
            "INT32" => Self::Int32,
            "INT64" => Self::Int64,
            "FLOAT32" => Self::Float32,
            "FLOAT64" => Self::Float64,
            "BOOLEAN" => Self::Boolean,
            "STRING" => Self::String,
            "BYTES" | "ARRAY" | "MAP" | "STRUCT" => {
                return Err(format!(
                    "Cast transformation does not support casting to {upper}; supported types \
                     are {OUTPUT_TYPES}"
                ))
            }
            _ => {
                return Err(format!(
                    "Invalid type found in casting spec: {}",
                    name.trim()
                ))
            }
        })
    }

    /// The schema type of this type.
    fn kind(self) -> SchemaType {
        match self {
            Self::Int8 => SchemaType::Int8,
            Self::Int16 => SchemaType::Int16,
            Self::Int32 => SchemaType::Int32,
            Self::Int64 => SchemaType::Int64,
            Self::Float32 => SchemaType::Float32,
            Self::Float64 => SchemaType::Float64,
            Self::Boolean => SchemaType::Boolean,
            Self::String => SchemaType::String,
        }
    }
}

/// What to cast: the whole key or value, or fields of it.
#[derive(Debug)]
enum Spec {
    Whole(CastType),
    /// `(field, type)`; a field named twice takes its last type.
    Fields(Vec<(Text, CastType)>),
}

fn parse_spec(items: &[String]) -> Result<Spec, String> {
    if items.is_empty() {
        return Err("Must specify at least one field to cast.".into());
    }
    let mut whole = None;
    let mut fields: Vec<(Text, CastType)> = Vec::new();
    for item in items {
        match java_split(item, ':').as_slice() {
            [ty] => whole = Some(CastType::parse(ty)?),
            [field, ty] => {
                let (field, ty) = (field.trim(), CastType::parse(ty)?);
                match fields.iter_mut().find(|(f, _)| f == field) {
                    Some(entry) => entry.1 = ty,
                    None => fields.push((Text::from(field), ty)),
                }
            }
            _ => return Err(format!("Invalid cast mapping: {item}")),
        }
    }
    match whole {
        Some(_) if items.len() > 1 => Err("Cast transformations that specify a type to cast the \
                                          entire value to may only specify a single cast in \
                                          their spec"
            .into()),
        Some(ty) => Ok(Spec::Whole(ty)),
        None => Ok(Spec::Fields(fields)),
    }
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    // The validator accepted the spec, so this parses.
    let spec = parse_spec(config.list(SPEC)).map_err(|message| {
        let mut errors = ConfigErrors::default();
        errors.add(SPEC, message);
        errors
    })?;
    Ok(Box::new(Cast {
        part,
        spec,
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        cache: SchemaCache::default(),
    }))
}

/// Casts the key or value, or fields of it.
#[derive(Debug)]
struct Cast {
    part: RecordPart,
    spec: Spec,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Cast {
    fn name(&self) -> &'static str {
        match self.part {
            RecordPart::Key => "Cast$Key",
            RecordPart::Value => "Cast$Value",
        }
    }

    /// The error for a cast that failed, naming the field (`None`: the whole key or value).
    fn error(&self, field: Option<&str>, message: String) -> ConnectError {
        let part = part_name(self.part);
        match field {
            Some(field) => data_error(
                self.name(),
                format!("{message} (field {field} of the {part})"),
            ),
            None => data_error(self.name(), format!("{message} (the record {part})")),
        }
    }

    fn derive_schema(&self, schema: &Schema) -> Result<Schema, ConnectError> {
        // A field's new schema: the type's, with the field's optionality and cast default.
        let cast_schema = |field: Option<&str>, input: &Schema, to: CastType| {
            let mut out = Schema::new(to.kind());
            out.optional = input.optional;
            if let Some(default) = &input.default {
                let cast = cast_value(default.clone(), Some(input), to);
                out.default = Some(cast.map_err(|e| self.error(field, e))?);
            }
            Ok::<_, ConnectError>(out)
        };
        match &self.spec {
            Spec::Whole(to) => {
                let mut out = cast_schema(None, schema, *to)?;
                out.version = schema.version;
                out.doc = schema.doc.clone();
                // Kafka keeps the name and parameters even on a logical type, which leaves e.g.
                // a float64 named Decimal; those are dropped.
                if !is_logical(schema) {
                    out.name = schema.name.clone();
                    out.parameters = schema.parameters.clone();
                }
                Ok(out)
            }
            Spec::Fields(casts) => {
                let mut fields = Vec::with_capacity(schema.fields().len());
                for field in schema.fields() {
                    match casts.iter().find(|(f, _)| *f == *field.name) {
                        Some((_, to)) => fields.push(Field::new(
                            field.name.as_str(),
                            Arc::new(cast_schema(Some(&field.name), &field.schema, *to)?),
                        )),
                        None => fields.push(field.clone()),
                    }
                }
                Ok(struct_like(schema, fields))
            }
        }
    }
}

impl Transformation for Cast {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema_slot, value) = record.part_mut(self.part);
        if value.is_null() {
            return Ok(Outcome::Keep);
        }
        match (schema_slot, &self.spec) {
            (None, Spec::Whole(to)) => {
                *value =
                    cast_value(mem::take(value), None, *to).map_err(|e| self.error(None, e))?;
            }
            (None, Spec::Fields(casts)) => {
                let entries = require_map(self.name(), PURPOSE, self.part, value)?;
                for (field, to) in casts {
                    match map_get_mut(entries, field) {
                        Some(slot) => {
                            *slot = cast_value(mem::take(slot), None, *to)
                                .map_err(|e| self.error(Some(field), e))?
                        }
                        None => entries.push((Value::String(field.clone()), Value::Null)),
                    }
                }
            }
            (Some(schema), Spec::Whole(to)) => {
                let updated = self
                    .cache
                    .get_or_insert(schema, |s| self.derive_schema(s))?;
                *value = cast_value(mem::take(value), Some(schema), *to)
                    .map_err(|e| self.error(None, e))?;
                *schema = updated;
            }
            (Some(schema), Spec::Fields(casts)) => {
                let s = require_struct(self.name(), PURPOSE, self.part, schema, value)?;
                let updated = self
                    .cache
                    .get_or_insert(schema, |s| self.derive_schema(s))?;
                for (i, field) in schema.fields().iter().enumerate() {
                    let to = casts
                        .iter()
                        .find(|(f, _)| *f == *field.name)
                        .map(|(_, t)| *t);
                    let fix = |v: Value| {
                        let v = with_default(v, &field.schema, self.replace_null_with_default);
                        match to {
                            Some(to) => cast_value(v, Some(&field.schema), to)
                                .map_err(|e| self.error(Some(&field.name), e)),
                            None => Ok(v),
                        }
                    };
                    match field_slot(s, i, &field.name) {
                        Some(slot) => *slot = fix(mem::take(slot))?,
                        None => {
                            let v = fix(Value::Null)?;
                            if !v.is_null() {
                                s.put(field.name.as_str(), v);
                            }
                        }
                    }
                }
                *schema = updated;
            }
        }
        Ok(Outcome::Keep)
    }
}

fn is_logical(schema: &Schema) -> bool {
    [
        logical::DATE,
        logical::TIME,
        logical::TIMESTAMP,
        logical::DECIMAL,
    ]
    .iter()
    .any(|name| schema.is_logical(name))
}

/// A value reduced to what the conversions need.
enum Source {
    /// Any integer, widened (Java's `Number.longValue()`).
    Int(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Str(Text),
    Bytes(bytes::Bytes),
    /// A `Decimal`: unscaled value and scale.
    Decimal(i128, i32),
    /// A `Date`, `Time` or `Timestamp` cast to string, in milliseconds since the epoch.
    Date(i64),
}

/// Casts one value; `schema` is its schema when the record has one. The error is the message.
fn cast_value(value: Value, schema: Option<&Schema>, to: CastType) -> Result<Value, String> {
    let composite = match (schema.map(|s| &s.kind), &value) {
        (Some(SchemaType::Array(_)), _) | (None, Value::Array(_)) => Some("ARRAY"),
        (Some(SchemaType::Map { .. }), _) | (None, Value::Map(_)) => Some("MAP"),
        (Some(SchemaType::Struct(_)), _) | (None, Value::Struct(_)) => Some("STRUCT"),
        _ => None,
    };
    if let Some(kind) = composite {
        return Err(format!(
            "Cast transformation does not support casting from {kind}; supported types are \
             {INPUT_TYPES}"
        ));
    }
    let logical_name = schema.and_then(|s| s.name.as_deref());
    // Dates format as text only when cast to string; otherwise their number (days for a
    // Date, milliseconds for Time and Timestamp) casts as it is, as Kafka's encoding gives.
    let date = |name| to == CastType::String && logical_name == Some(name);
    let source = match value {
        Value::Null => return Ok(Value::Null),
        Value::Bytes(b) if logical_name == Some(logical::DECIMAL) => {
            let scale = schema
                .and_then(|s| s.parameters.get(logical::DECIMAL_SCALE))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            Source::Decimal(decimal_unscaled(&b)?, scale)
        }
        Value::Int32(days) if date(logical::DATE) => Source::Date(i64::from(days) * MILLIS_PER_DAY),
        Value::Int32(ms) if date(logical::TIME) => Source::Date(i64::from(ms)),
        Value::Int64(ms) if date(logical::TIMESTAMP) => Source::Date(ms),
        Value::Int8(n) => Source::Int(n.into()),
        Value::Int16(n) => Source::Int(n.into()),
        Value::Int32(n) => Source::Int(n.into()),
        Value::Int64(n) => Source::Int(n),
        Value::Float32(f) => Source::F32(f),
        Value::Float64(f) => Source::F64(f),
        Value::Boolean(b) => Source::Bool(b),
        Value::String(s) => Source::Str(s),
        Value::Bytes(b) => Source::Bytes(b),
        other => {
            return Err(format!(
                "Unexpected type in Cast transformation: {}",
                other.type_name()
            ))
        }
    };
    if to == CastType::String {
        return Ok(Value::String(cast_to_string(source)));
    }
    let long = match source {
        Source::Str(s) => return parse_as(&s, to),
        Source::F32(f) => return Ok(from_float(f64::from(f), Some(f), to)),
        Source::F64(f) => return Ok(from_float(f, None, to)),
        Source::Decimal(u, scale) if matches!(to, CastType::Float32 | CastType::Float64) => {
            return parse_as(&decimal_string(u, scale), to)
        }
        // Only the low 64 bits matter to every narrowing below.
        Source::Decimal(u, scale) => decimal_trunc(u, scale) as i64,
        Source::Int(n) | Source::Date(n) => n,
        Source::Bool(b) => i64::from(b),
        Source::Bytes(_) => return Err("Unexpected type in Cast transformation: bytes".into()),
    };
    // Java narrows a long by keeping its low bits.
    Ok(match to {
        CastType::Int8 => Value::Int8(long as i8),
        CastType::Int16 => Value::Int16(long as i16),
        CastType::Int32 => Value::Int32(long as i32),
        CastType::Int64 => Value::Int64(long),
        CastType::Float32 => Value::Float32(long as f32),
        CastType::Float64 => Value::Float64(long as f64),
        CastType::Boolean => Value::Boolean(long != 0),
        CastType::String => Value::String(Text::from(long.to_string())),
    })
}

/// A float cast as Java casts: to an int first for int8/int16 (truncating, saturating, NaN
/// as 0), booleans true when the integer part is not zero. `f32` keeps a float32's own value.
fn from_float(f: f64, f32: Option<f32>, to: CastType) -> Value {
    match to {
        CastType::Int8 => Value::Int8(f as i32 as i8),
        CastType::Int16 => Value::Int16(f as i32 as i16),
        CastType::Int32 => Value::Int32(f as i32),
        CastType::Int64 => Value::Int64(f as i64),
        CastType::Float32 => Value::Float32(f32.unwrap_or(f as f32)),
        CastType::Float64 => Value::Float64(f),
        CastType::Boolean => Value::Boolean(f as i64 != 0),
        CastType::String => Value::String(Text::from(java_float_text(
            f,
            || f.to_string(),
            || format!("{f:e}"),
        ))),
    }
}

/// Text parsed as Java's `Byte.parseByte` ... `Double.parseDouble`, `Boolean.parseBoolean`.
fn parse_as(s: &str, to: CastType) -> Result<Value, String> {
    let parsed = match to {
        CastType::Int8 => s.parse().ok().map(Value::Int8),
        CastType::Int16 => s.parse().ok().map(Value::Int16),
        CastType::Int32 => s.parse().ok().map(Value::Int32),
        CastType::Int64 => s.parse().ok().map(Value::Int64),
        CastType::Float32 => java_parse_float(s).map(Value::Float32),
        CastType::Float64 => java_parse_float(s).map(Value::Float64),
        CastType::Boolean => Some(Value::Boolean(s.eq_ignore_ascii_case("true"))),
        CastType::String => Some(Value::from(s)),
    };
    parsed.ok_or_else(|| format!("Value ({s}) was out of range for requested data type"))
}

/// Any value's text: Java's `toString` for numbers, base64 for bytes, Kafka's date formats.
fn cast_to_string(source: Source) -> Text {
    match source {
        Source::Str(s) => s,
        Source::Int(n) => Text::from(n.to_string()),
        Source::F32(f) => Text::from(java_float_text(
            f64::from(f),
            || f.to_string(),
            || format!("{f:e}"),
        )),
        Source::F64(f) => Text::from(java_float_text(f, || f.to_string(), || format!("{f:e}"))),
        Source::Bool(b) => Text::from(if b { "true" } else { "false" }),
        Source::Bytes(b) => Text::from(BASE64.encode(&b)),
        Source::Decimal(unscaled, scale) => Text::from(decimal_string(unscaled, scale)),
        Source::Date(ms) => Text::from(java_date_string(ms)),
    }
}

/// The unscaled value of a decimal's bytes (big-endian two's complement).
fn decimal_unscaled(bytes: &[u8]) -> Result<i128, String> {
    if bytes.is_empty() || bytes.len() > 16 {
        return Err(format!(
            "Cannot cast a decimal of {} bytes: 1 to 16 are supported",
            bytes.len()
        ));
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Ok(i128::from_be_bytes(full))
}

/// `BigDecimal.toBigInteger()`: the fraction dropped.
fn decimal_trunc(unscaled: i128, scale: i32) -> i128 {
    if scale >= 0 {
        // 10^39 exceeds any i128: the integer part is then zero.
        10i128
            .checked_pow(scale.unsigned_abs())
            .map_or(0, |p| unscaled / p)
    } else {
        (0..scale.unsigned_abs().min(128)).fold(unscaled, |n, _| n.wrapping_mul(10))
    }
}

/// `BigDecimal.toString()`: plain unless the scale is negative or the number is tiny.
fn decimal_string(unscaled: i128, scale: i32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let adjusted = i64::from(-scale) + digits.len() as i64 - 1;
    if scale >= 0 && adjusted >= -6 {
        let scale = scale.unsigned_abs() as usize;
        if scale == 0 {
            format!("{sign}{digits}")
        } else if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exp_sign = if adjusted >= 0 { "+" } else { "" };
        format!("{sign}{first}{point}{rest}E{exp_sign}{adjusted}")
    }
}

/// Java's `Double.toString` / `Float.toString` layout around Rust's shortest digits: plain
/// with at least one decimal from 10^-3 to 10^7, `d.dddE±n` outside.
fn java_float_text(v: f64, plain: impl FnOnce() -> String, sci: impl FnOnce() -> String) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let abs = v.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let text = plain();
        if text.contains('.') {
            text
        } else {
            text + ".0"
        }
    } else {
        let text = sci();
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let point = if mantissa.contains('.') { "" } else { ".0" };
        format!("{mantissa}{point}E{exp}")
    }
}

/// Java's `Float.parseFloat` / `Double.parseDouble`, without hexadecimal forms: surrounding
/// control characters and spaces ignored, `NaN`, `Infinity`, an `f`/`d` suffix.
fn java_parse_float<T: FromStr + From<f32>>(text: &str) -> Option<T> {
    let t = text.trim_matches(|c: char| c <= ' ');
    let (negative, unsigned) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    match unsigned {
        "NaN" => return Some(T::from(f32::NAN)),
        "Infinity" if negative => return Some(T::from(f32::NEG_INFINITY)),
        "Infinity" => return Some(T::from(f32::INFINITY)),
        _ => {}
    }
    let number = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
    // Rust also reads `inf` and `nan`, which Java does not.
    if number
        .bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
    {
        return None;
    }
    number.parse().ok()
}

/// Kafka's `Values.dateFormatFor` in UTC: a time before one day, a date at midnight, else both.
fn java_date_string(millis: i64) -> String {
    let format = if millis < MILLIS_PER_DAY {
        "%H:%M:%S%.3fZ"
    } else if millis % MILLIS_PER_DAY == 0 {
        "%Y-%m-%d"
    } else {
        "%Y-%m-%dT%H:%M:%S%.3fZ"
    };
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(t) => t.format(format).to_string(),
        None => millis.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract_field::props;
    use super::*;
    use crate::data::Struct;
    use bytes::Bytes;

    fn cast(spec: &str) -> Box<dyn Transformation> {
        build(&props(&[("spec", spec)]), RecordPart::Value).unwrap()
    }

    fn ty(name: &str) -> CastType {
        CastType::parse(name).unwrap()
    }

    fn named(kind: SchemaType, name: &str) -> Schema {
        Schema::new(kind).named(name)
    }

    #[test]
    fn conversions_follow_java() {
        let cases: Vec<(Value, &str, Value)> = vec![
            (Value::Int32(300), "int8", Value::Int8(44)),
            (Value::Int64(-1), "int16", Value::Int16(-1)),
            (Value::Int8(5), "float32", Value::Float32(5.0)),
            (Value::Float64(3.99), "int32", Value::Int32(3)),
            (Value::Float64(-3.99), "int64", Value::Int64(-3)),
            (Value::Float64(1e10), "int32", Value::Int32(i32::MAX)),
            (Value::Float64(f64::NAN), "int64", Value::Int64(0)),
            (Value::Float32(300.7), "int8", Value::Int8(44)),
            (Value::Float64(0.5), "boolean", Value::Boolean(false)),
            (Value::Int32(2), "boolean", Value::Boolean(true)),
            (Value::Boolean(true), "int32", Value::Int32(1)),
            (Value::Boolean(true), "float64", Value::Float64(1.0)),
            (Value::from("42"), "int16", Value::Int16(42)),
            (Value::from("-7"), "int64", Value::Int64(-7)),
            (Value::from(" 1.5f "), "float32", Value::Float32(1.5)),
            (Value::from("1e3"), "float64", Value::Float64(1000.0)),
            (
                Value::from("-Infinity"),
                "float64",
                Value::Float64(f64::NEG_INFINITY),
            ),
            (Value::from("TRUE"), "boolean", Value::Boolean(true)),
            (Value::from("yes"), "boolean", Value::Boolean(false)),
            (Value::Int64(7), "string", Value::from("7")),
            (Value::Float64(1.0), "string", Value::from("1.0")),
            (Value::Float64(100.25), "string", Value::from("100.25")),
            (Value::Float64(1e10), "string", Value::from("1.0E10")),
            (Value::Float64(1.5e-5), "string", Value::from("1.5E-5")),
            (Value::Float64(-0.0), "string", Value::from("-0.0")),
            (Value::Float32(0.1), "string", Value::from("0.1")),
            (Value::Float32(1.5e7), "string", Value::from("1.5E7")),
            (Value::Boolean(false), "string", Value::from("false")),
            (
                Value::Bytes(Bytes::from_static(b"hi")),
                "string",
                Value::from("aGk="),
            ),
            (Value::Float32(2.5), "float64", Value::Float64(2.5)),
        ];
        for (input, to, expected) in cases {
            let text = format!("{input:?} -> {to}");
            assert_eq!(cast_value(input, None, ty(to)), Ok(expected), "{text}");
        }
    }

    #[test]
    fn conversion_errors() {
        let err = |v: Value, to: &str| cast_value(v, None, ty(to)).unwrap_err();
        assert_eq!(
            err(Value::from("abc"), "int32"),
            "Value (abc) was out of range for requested data type"
        );
        assert_eq!(
            err(Value::from("300"), "int8"),
            "Value (300) was out of range for requested data type"
        );
        assert_eq!(
            err(Value::from("inf"), "float64"),
            "Value (inf) was out of range for requested data type"
        );
        assert_eq!(
            err(Value::Bytes(Bytes::new()), "int8"),
            "Unexpected type in Cast transformation: bytes"
        );
        assert_eq!(
            err(Value::Array(vec![]), "string"),
            "Cast transformation does not support casting from ARRAY; supported types are \
             [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]"
        );
    }

    #[test]
    fn logical_types() {
        let ts = named(SchemaType::Int64, logical::TIMESTAMP);
        let date = named(SchemaType::Int32, logical::DATE);
        let time = named(SchemaType::Int32, logical::TIME);
        let c = |v: Value, s: &Schema, to: &str| cast_value(v, Some(s), ty(to)).unwrap();
        assert_eq!(
            c(Value::Int64(1_700_000_000_000), &ts, "string"),
            Value::from("2023-11-14T22:13:20.000Z")
        );
        assert_eq!(
            c(Value::Int32(19_675), &date, "string"),
            Value::from("2023-11-14")
        );
        assert_eq!(
            c(Value::Int32(3_723_004), &time, "string"),
            Value::from("01:02:03.004Z")
        );
        // To numbers they keep their encoding: days for a Date.
        assert_eq!(
            c(Value::Int32(19_675), &date, "int64"),
            Value::Int64(19_675)
        );

        let mut dec = named(SchemaType::Bytes, logical::DECIMAL);
        dec.parameters.insert("scale".into(), "2".into());
        let v = Value::Bytes(Bytes::from_static(&[0xcf, 0xc7])); // -12345 -> -123.45
        assert_eq!(c(v.clone(), &dec, "string"), Value::from("-123.45"));
        assert_eq!(c(v.clone(), &dec, "float64"), Value::Float64(-123.45));
        assert_eq!(c(v.clone(), &dec, "int32"), Value::Int32(-123));
        assert_eq!(c(v, &dec, "boolean"), Value::Boolean(true));
        assert_eq!(decimal_string(5, 0), "5");
        assert_eq!(decimal_string(5, 3), "0.005");
        assert_eq!(decimal_string(0, 10), "0E-10");
        assert_eq!(decimal_string(123, -2), "1.23E+4");
        assert_eq!(decimal_trunc(-199, 2), -1);
        assert_eq!(decimal_trunc(5, -2), 500);
        assert!(decimal_unscaled(&[0; 17]).is_err());
    }

    #[test]
    fn schemaless_whole_and_field_casts() {
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key = Value::Int64(42);
        build(&props(&[("spec", "int8")]), RecordPart::Key)
            .unwrap()
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key, Value::Int8(42));

        let map = |entries: Vec<(&str, Value)>| {
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), v))
                    .collect(),
            )
        };
        let mut r = ConnectRecord::new(
            "t",
            map(vec![
                ("a", Value::Int32(1)),
                ("b", Value::from("2")),
                ("c", Value::Null),
            ]),
        );
        cast("a:string,b:int64,c:int8,missing:boolean")
            .apply(&mut r)
            .unwrap();
        assert_eq!(
            r.value,
            map(vec![
                ("a", Value::from("1")),
                ("b", Value::Int64(2)),
                ("c", Value::Null),
                ("missing", Value::Null),
            ])
        );
    }

    #[test]
    fn with_schema_whole_value_cast_derives_the_schema() {
        let mut input = Schema::new(SchemaType::Int32).optional();
        input.default = Some(Value::Int32(7));
        input.doc = Some("doc".into());
        let mut r = ConnectRecord::new("t", 300i32);
        r.value_schema = Some(Arc::new(input));
        cast("int8").apply(&mut r).unwrap();
        let out = r.value_schema.unwrap();
        let mut expected = Schema::new(SchemaType::Int8).optional();
        expected.default = Some(Value::Int8(7));
        expected.doc = Some("doc".into());
        assert_eq!(*out, expected);
        assert_eq!(r.value, Value::Int8(44));

        // A logical name does not survive the cast.
        let mut r = ConnectRecord::new("t", 1_700_000_000_000i64);
        r.value_schema = Some(Arc::new(named(SchemaType::Int64, logical::TIMESTAMP)));
        cast("string").apply(&mut r).unwrap();
        assert_eq!(r.value_schema, Some(Schema::string()));
        assert_eq!(r.value, Value::from("2023-11-14T22:13:20.000Z"));
    }

    #[test]
    fn with_schema_field_casts_derive_the_schema() {
        let mut dflt = Schema::new(SchemaType::Int64).optional();
        dflt.default = Some(Value::Int64(12));
        let schema = Arc::new(
            Schema::structure(vec![
                Field::new("a", Schema::int32()),
                Field::new("b", dflt),
                Field::new("c", Schema::string()),
                Field::new("d", Schema::float64()),
            ])
            .named("rec"),
        );
        let value = Struct::new()
            .with("a", 1i32)
            .with("b", Value::Null)
            .with("c", "x")
            .with("d", 2.5f64);
        let mut r = ConnectRecord::new("t", value.clone());
        r.value_schema = Some(schema.clone());
        cast("a:boolean,b:string,d:int16").apply(&mut r).unwrap();
        let out = r.value_schema.clone().unwrap();
        let mut b = Schema::new(SchemaType::String).optional();
        b.default = Some(Value::from("12"));
        assert_eq!(
            *out,
            Schema::structure(vec![
                Field::new("a", Schema::boolean()),
                Field::new("b", b),
                Field::new("c", Schema::string()),
                Field::new("d", Schema::int16()),
            ])
            .named("rec")
        );
        assert_eq!(
            r.value,
            Value::Struct(
                Struct::new()
                    .with("a", true)
                    .with("b", "12")
                    .with("c", "x")
                    .with("d", 2i16)
            )
        );
        assert_eq!(out.validate(&r.value), Ok(()));

        // Without defaults, the null stays null (and fits the optional field).
        let t = build(
            &props(&[("spec", "b:string"), ("replace.null.with.default", "false")]),
            RecordPart::Value,
        )
        .unwrap();
        let mut r = ConnectRecord::new("t", value);
        r.value_schema = Some(schema);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value.get("b"), Some(&Value::Null));
    }

    #[test]
    fn record_errors_name_the_field() {
        let schema = Arc::new(Schema::structure(vec![Field::new("a", Schema::string())]));
        let mut r = ConnectRecord::new("t", Struct::new().with("a", "x1"));
        r.value_schema = Some(schema);
        assert_eq!(
            cast("a:int32").apply(&mut r).unwrap_err().to_string(),
            "Cast$Value: Value (x1) was out of range for requested data type (field a of the \
             value)"
        );
        let mut r = ConnectRecord::new("t", Value::Map(vec![]));
        assert_eq!(
            cast("int32").apply(&mut r).unwrap_err().to_string(),
            "Cast$Value: Cast transformation does not support casting from MAP; supported types \
             are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES] (the \
             record value)"
        );
        let mut r = ConnectRecord::new("t", 5i32);
        assert_eq!(
            cast("a:int8").apply(&mut r).unwrap_err().to_string(),
            "Cast$Value: Only Map objects supported in absence of schema for [cast types], found \
             int32 in the record value"
        );
        let mut r = ConnectRecord::new("t", Value::Null);
        cast("int8").apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Null);
    }

    #[test]
    fn config_errors() {
        let message = |spec: Option<&str>| {
            let pairs: Vec<(&str, &str)> = spec.map(|s| ("spec", s)).into_iter().collect();
            build(&props(&pairs), RecordPart::Value)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message(None),
            "Missing required configuration \"spec\" which has no default value."
        );
        let invalid = |spec: &str, m: &str| {
            assert_eq!(
                message(Some(spec)),
                format!("Invalid value {spec} for configuration spec: {m}")
            )
        };
        invalid("", "Must specify at least one field to cast.");
        invalid("a:foo", "Invalid type found in casting spec: foo");
        invalid("a:", "Invalid type found in casting spec: a");
        invalid(
            "a:bytes",
            "Cast transformation does not support casting to BYTES; supported types are [INT8, \
             INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]",
        );
        invalid(
            "int8,a:int16",
            "Cast transformations that specify a type to cast the entire value to may only \
             specify a single cast in their spec",
        );
        invalid("a:b:c", "Invalid cast mapping: a:b:c");
        // Types are case-insensitive and trimmed, like field names.
        assert!(matches!(
            parse_spec(&[" f : Float64 ".to_owned()]),
            Ok(Spec::Fields(f)) if f == vec![(Text::from("f"), CastType::Float64)]
        ));
    }
}
