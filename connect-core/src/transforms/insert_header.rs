//! `InsertHeader`: adds a header with a fixed value to every record, as Kafka's transform of
//! that name. The value is `value.literal` read as Kafka's `Values.parseString` reads a
//! single value: `null`, `true`/`false`, integers as the smallest of `int8`..`int64` that
//! holds them (then a `Decimal`), other numbers as `float` or `double`, ISO dates, times
//! and timestamps (`2024-01-15`, `12:30:45.123Z`, `2024-01-15T12:30:45.123Z`) as the
//! `Date`, `Time` and `Timestamp` logical types (in UTC), and anything else as a string.
//!
//! Differences from Kafka: arrays and maps (`[1,2]`, `{"a":1}`) stay strings, and a number or
//! date must be the whole literal (Kafka reads `12,5` as `12`).

use std::sync::Arc;

use bytes::Bytes;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props};
use crate::data::{logical, Schema, SchemaType, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::ConnectRecord;

use super::java_date_format::{logical_schema, MILLIS_PER_DAY};
use super::registry;
use super::{Outcome, Transformation};

const HEADER: &str = "header";
const VALUE_LITERAL: &str = "value.literal";

/// The `InsertHeader` plugin.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    vec![registry::transform("InsertHeader", config_def(), build)]
}

/// Kafka's keys: `header` and `value.literal`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(HEADER, ConfigType::String)
                .importance(Importance::High)
                .doc("The name of the header."),
        )
        .define(
            ConfigKey::new(VALUE_LITERAL, ConfigType::String)
                .importance(Importance::High)
                .doc("The literal value that is to be set as the header value on all records."),
        )
}

fn build(props: &Props) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    let (value, schema) = parse_literal(config.string(VALUE_LITERAL).unwrap_or_default());
    Ok(Box::new(InsertHeader {
        name: Text::from(config.string(HEADER).unwrap_or_default()),
        value,
        schema: schema.map(Arc::new),
    }))
}

/// Adds a header with a fixed name and value.
#[derive(Debug)]
pub struct InsertHeader {
    name: Text,
    value: Value,
    schema: Option<Arc<Schema>>,
}

impl Transformation for InsertHeader {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        // Cheap clones: text and bytes are reference-counted, schemas shared.
        record
            .headers
            .add_with_schema(self.name.clone(), self.value.clone(), self.schema.clone());
        Ok(Outcome::Keep)
    }
}

/// The typed value of a literal and its schema (none for `null`).
fn parse_literal(text: &str) -> (Value, Option<Schema>) {
    let first = text.chars().next();
    let parsed = match text {
        "null" => return (Value::Null, None),
        "true" | "false" => Some((Value::Boolean(text == "true"), plain(SchemaType::Boolean))),
        // Temporal literals are stricter than numbers, so they are tried first, as in Kafka.
        _ if first.is_some_and(|c| c.is_ascii_digit()) => {
            parse_temporal(text).or_else(|| parse_number(text))
        }
        _ if matches!(first, Some('+' | '-')) => parse_number(text),
        _ => None,
    };
    let (value, schema) = parsed.unwrap_or_else(|| (Value::from(text), plain(SchemaType::String)));
    (value, Some(schema))
}

/// A schema of a primitive type.
fn plain(ty: SchemaType) -> Schema {
    Schema::new(ty)
}

/// An ISO 8601 date, time or timestamp in UTC, told apart by length as Kafka does.
fn parse_temporal(text: &str) -> Option<(Value, Schema)> {
    let millis_of_day = |t: NaiveTime| {
        i64::from(t.num_seconds_from_midnight()) * 1000 + i64::from(t.nanosecond() / 1_000_000)
    };
    match text.len() {
        10 => {
            let days = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()?
                .signed_duration_since(NaiveDate::default()) // 1970-01-01
                .num_days();
            let schema = logical_schema(SchemaType::Int32, logical::DATE, false);
            Some((Value::Int32(i32::try_from(days).ok()?), schema))
        }
        13 => {
            let time = NaiveTime::parse_from_str(text, "%H:%M:%S%.3fZ").ok()?;
            let schema = logical_schema(SchemaType::Int32, logical::TIME, false);
            // Below MILLIS_PER_DAY, so it fits an i32.
            Some((Value::Int32(millis_of_day(time) as i32), schema))
        }
        24 => {
            let at = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3fZ").ok()?;
            let days = at
                .date()
                .signed_duration_since(NaiveDate::default())
                .num_days();
            let millis = days * MILLIS_PER_DAY + millis_of_day(at.time());
            let schema = logical_schema(SchemaType::Int64, logical::TIMESTAMP, false);
            Some((Value::Int64(millis), schema))
        }
        _ => None,
    }
}

/// A number in Java's `BigDecimal` syntax (`-12`, `1.50`, `1e3`), typed as Kafka types it:
/// a whole number as the smallest integer type holding it, else a `Decimal`; a fraction as
/// a `float` when one holds it without overflow, else a `double`.
fn parse_number(text: &str) -> Option<(Value, Schema)> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(text[at + 1..].parse::<i32>().ok()?)),
        None => (text, None),
    };
    let unsigned = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    if exponent.is_none() && fraction.bytes().all(|b| b == b'0') {
        let magnitude: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let n = if mantissa.starts_with('-') {
            -magnitude
        } else {
            magnitude
        };
        if let Ok(n) = i64::try_from(n) {
            return Some(smallest_integer(n));
        }
        if fraction.is_empty() {
            return Some(decimal(n));
        }
    } else if let Some(n) = exponent.and_then(|_| whole_number(text)) {
        return Some(smallest_integer(n));
    }
    match text.parse::<f32>() {
        Ok(f) if f.is_finite() => Some((Value::Float32(f), plain(SchemaType::Float32))),
        _ => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Some((Value::Float64(f), plain(SchemaType::Float64))),
            _ => None,
        },
    }
}

/// The value of an exponent form like `1.5e3` when it is a whole number that a `double`
/// holds exactly.
fn whole_number(text: &str) -> Option<i64> {
    let f = text.parse::<f64>().ok()?;
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    (f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64)
}

fn smallest_integer(n: i64) -> (Value, Schema) {
    if let Ok(n) = i8::try_from(n) {
        (Value::Int8(n), plain(SchemaType::Int8))
    } else if let Ok(n) = i16::try_from(n) {
        (Value::Int16(n), plain(SchemaType::Int16))
    } else if let Ok(n) = i32::try_from(n) {
        (Value::Int32(n), plain(SchemaType::Int32))
    } else {
        (Value::Int64(n), plain(SchemaType::Int64))
    }
}

/// A `Decimal` of scale 0: the big-endian two's complement of `n` in as few bytes as Java's
/// `BigInteger.toByteArray` uses.
fn decimal(n: i128) -> (Value, Schema) {
    let bytes = n.to_be_bytes();
    let sign_byte = |b: u8, next: u8| (b == 0 && next < 0x80) || (b == 0xff && next >= 0x80);
    let start = (0..bytes.len() - 1)
        .take_while(|&i| sign_byte(bytes[i], bytes[i + 1]))
        .count();
    let mut schema = logical_schema(SchemaType::Bytes, logical::DECIMAL, false);
    schema
        .parameters
        .insert(logical::DECIMAL_SCALE.to_owned(), "0".to_owned());
    (
        Value::Bytes(Bytes::copy_from_slice(&bytes[start..])),
        schema,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(header: &str, literal: &str) -> Props {
        Props::from([
            (HEADER.to_owned(), header.to_owned()),
            (VALUE_LITERAL.to_owned(), literal.to_owned()),
        ])
    }

    fn typed(literal: &str) -> (Value, Option<SchemaType>) {
        let (value, schema) = parse_literal(literal);
        if let Some(schema) = &schema {
            assert_eq!(schema.validate(&value), Ok(()), "{literal}");
        }
        (value, schema.map(|s| s.kind))
    }

    #[test]
    fn adds_the_header_after_existing_ones() {
        let t = build(&props("source", " 42 ")).unwrap();
        let mut record = ConnectRecord::new("t", "v");
        record.headers.add("source", "old");
        assert_eq!(t.apply(&mut record).unwrap(), Outcome::Keep);
        let headers: Vec<_> = record.headers.iter().collect();
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].value, Value::from("old"));
        assert_eq!(&*headers[1].key, "source");
        assert_eq!(headers[1].value, Value::Int8(42));
        assert_eq!(
            headers[1].schema.as_deref(),
            Some(&Schema::new(SchemaType::Int8))
        );
        assert_eq!(
            record.headers.last("source").map(|h| &h.value),
            Some(&Value::Int8(42))
        );
    }

    #[test]
    fn literals_are_typed_as_kafka_types_them() {
        use SchemaType as T;
        assert_eq!(typed("true"), (Value::Boolean(true), Some(T::Boolean)));
        assert_eq!(typed("false"), (Value::Boolean(false), Some(T::Boolean)));
        assert_eq!(typed("null"), (Value::Null, None));
        assert_eq!(typed("-128"), (Value::Int8(-128), Some(T::Int8)));
        assert_eq!(typed("300"), (Value::Int16(300), Some(T::Int16)));
        assert_eq!(typed("+66000"), (Value::Int32(66000), Some(T::Int32)));
        assert_eq!(
            typed("5000000000"),
            (Value::Int64(5_000_000_000), Some(T::Int64))
        );
        assert_eq!(typed("300.00"), (Value::Int16(300), Some(T::Int16)));
        assert_eq!(typed("1e3"), (Value::Int16(1000), Some(T::Int16)));
        assert_eq!(typed("1.1"), (Value::Float32(1.1), Some(T::Float32)));
        assert_eq!(typed("-2.5E-1"), (Value::Float32(-0.25), Some(T::Float32)));
        assert_eq!(
            typed("1.5e300"),
            (Value::Float64(1.5e300), Some(T::Float64))
        );
        assert_eq!(
            typed("hello world"),
            (Value::from("hello world"), Some(T::String))
        );
        assert_eq!(typed("12,5"), (Value::from("12,5"), Some(T::String)));
        assert_eq!(typed("[1,2]"), (Value::from("[1,2]"), Some(T::String)));
        assert_eq!(typed("TRUE"), (Value::from("TRUE"), Some(T::String)));
        assert_eq!(typed("1.2.3"), (Value::from("1.2.3"), Some(T::String)));
        assert_eq!(typed(""), (Value::from(""), Some(T::String)));
    }

    #[test]
    fn huge_integers_are_decimals() {
        let (value, schema) = parse_literal("123456789012345678901");
        let bytes: &[u8] = &[6, 177, 78, 159, 129, 47, 54, 108, 53];
        assert_eq!(value, Value::Bytes(Bytes::from_static(bytes)));
        let schema = schema.unwrap();
        assert!(schema.is_logical(logical::DECIMAL));
        assert_eq!(
            schema.parameters.get("scale").map(String::as_str),
            Some("0")
        );
        let (negative, _) = parse_literal("-123456789012345678901");
        let bytes: &[u8] = &[249, 78, 177, 96, 126, 208, 201, 147, 203];
        assert_eq!(negative, Value::Bytes(Bytes::from_static(bytes)));
    }

    #[test]
    fn iso_dates_and_times_are_logical_types() {
        let (date, schema) = parse_literal("2024-01-15");
        assert_eq!(date, Value::Int32(19_737));
        assert_eq!(
            schema,
            Some(logical_schema(SchemaType::Int32, logical::DATE, false))
        );
        let (time, schema) = parse_literal("12:30:45.123Z");
        assert_eq!(time, Value::Int32(45_045_123));
        assert_eq!(
            schema,
            Some(logical_schema(SchemaType::Int32, logical::TIME, false))
        );
        let (at, schema) = parse_literal("2024-01-15T12:30:45.123Z");
        assert_eq!(at, Value::Int64(1_705_321_845_123));
        assert_eq!(
            schema,
            Some(logical_schema(SchemaType::Int64, logical::TIMESTAMP, false))
        );
        assert_eq!(
            typed("2024-13-15"),
            (Value::from("2024-13-15"), Some(SchemaType::String))
        );
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            build(&Props::new()).unwrap_err().to_string(),
            "Missing required configuration \"header\" which has no default value.\n\
             Missing required configuration \"value.literal\" which has no default value."
        );
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        assert_eq!(names, ["org.apache.kafka.connect.transforms.InsertHeader"]);
    }
}
