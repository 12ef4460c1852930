//! `MaskField$Key` / `MaskField$Value`: replaces the values of some fields with their type's
//! "zero" (`0`, `false`, `""`, an empty array or map, a zero decimal), or with a configured
//! replacement converted to the field's type, as Kafka's `MaskField`.
//!
//! The replacement is converted as Kafka's `Values.convertTo*` converts text: numbers go
//! through `BigDecimal` (so `"12.7"` masks an `int32` as `12`, and out-of-range values keep
//! their low bits); booleans, bytes, arrays, maps, structs and dates cannot take one. Null
//! field values stay null.
//!
//! Unlike Kafka, which fails on them, a null key or value passes through unchanged.

use bytes::Bytes;

use super::extract_field::{
    field_slot, map_get_mut, replace_null_key, require_map, require_struct, with_default,
    REPLACE_NULL_WITH_DEFAULT,
};
use super::registry;
use super::support::data_error;
use super::{Outcome, Transformation};
use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props, Validator};
use crate::data::{logical, Schema, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

const FIELDS: &str = "fields";
const REPLACEMENT: &str = "replacement";
const PURPOSE: &str = "mask fields";

/// The `MaskField$Key` and `MaskField$Value` plugins.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value("MaskField", config_def(), build)
}

/// Kafka's keys: `fields` (a non-empty list), `replacement` and `replace.null.with.default`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FIELDS, ConfigType::List)
                .validator(non_empty_list())
                .importance(Importance::High)
                .doc("Names of fields to mask."),
        )
        .define(
            ConfigKey::new(REPLACEMENT, ConfigType::String)
                .optional()
                .validator(Validator::NonEmptyString)
                .importance(Importance::Low)
                .doc(
                    "Custom value replacement, that will be applied to all 'fields' values \
                     (numeric or non-empty string values only).",
                ),
        )
        .define(replace_null_key())
}

/// Kafka's `NonEmptyListValidator`.
pub(super) fn non_empty_list() -> Validator {
    Validator::Custom(std::sync::Arc::new(|value| match value {
        crate::config::ConfigValue::List(items) if items.is_empty() => Err("Empty list".into()),
        _ => Ok(()),
    }))
}

/// A number as Java's `new BigDecimal(text)` reads it: `±digits × 10^-scale`.
#[derive(Debug, Clone, PartialEq)]
struct JavaDecimal {
    negative: bool,
    digits: String,
    scale: i64,
}

impl JavaDecimal {
    /// `[+-]digits[.digits][e[+-]digits]`, with digits on at least one side of the point.
    fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (significand, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = significand.split_once('.').unwrap_or((significand, ""));
        let digits = format!("{int}{frac}");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let scale = i64::try_from(frac.len()).ok()? - i64::from(exponent);
        Some(Self {
            negative,
            digits,
            scale,
        })
    }

    /// `BigDecimal.longValue()`: the fraction dropped, then the low 64 bits.
    fn to_i64(&self) -> i64 {
        let keep = match usize::try_from(self.scale) {
            Ok(scale) => self.digits.len().saturating_sub(scale),
            Err(_) => self.digits.len(),
        };
        // Arithmetic modulo 2^64 keeps exactly the low 64 bits of the exact result.
        let mut n = self.digits.bytes().take(keep).fold(0u64, |n, b| {
            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
        });
        if self.scale < 0 {
            // 10^64 is a multiple of 2^64: more zeros change nothing.
            for _ in 0..(-self.scale).min(64) {
                n = n.wrapping_mul(10);
            }
        }
        let n = n as i64;
        if self.negative {
            n.wrapping_neg()
        } else {
            n
        }
    }

    /// `BigDecimal.doubleValue()`: the nearest double.
    fn to_f64(&self) -> Option<f64> {
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{}e{}", self.digits, -self.scale)
            .parse()
            .ok()
    }

    /// The unscaled value at `scale`, when the number has no more fraction digits than that
    /// and fits in 128 bits.
    fn unscaled(&self, scale: i32) -> Option<i128> {
        let shift = i64::from(scale) - self.scale;
        let magnitude = if shift >= 0 {
            let digits: i128 = self.digits.parse().ok()?;
            digits.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?
        } else {
            let cut = usize::try_from(-shift).ok()?;
            let (kept, dropped) = self.digits.split_at(self.digits.len().saturating_sub(cut));
            if !dropped.bytes().all(|b| b == b'0') {
                return None;
            }
            if kept.is_empty() {
                0
            } else {
                kept.parse().ok()?
            }
        };
        Some(if self.negative { -magnitude } else { magnitude })
    }
}

/// A decimal's unscaled value as Kafka writes it: big-endian two's complement, shortest form.
fn decimal_bytes(unscaled: i128) -> Bytes {
    let bytes = unscaled.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    Bytes::copy_from_slice(&bytes[start..])
}

/// The replacement text, with its numeric readings computed once.
#[derive(Debug)]
struct Replacement {
    text: Text,
    decimal: Option<JavaDecimal>,
    long: Option<i64>,
    double: Option<f64>,
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    let replacement = config.string(REPLACEMENT).map(|text| {
        let decimal = JavaDecimal::parse(text);
        Replacement {
            text: Text::from(text),
            long: decimal.as_ref().map(JavaDecimal::to_i64),
            double: decimal.as_ref().and_then(JavaDecimal::to_f64),
            decimal,
        }
    });
    Ok(Box::new(MaskField {
        part,
        fields: config
            .list(FIELDS)
            .iter()
            .map(|f| Text::from(f.as_str()))
            .collect(),
        replacement,
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
    }))
}

/// Masks fields.
#[derive(Debug)]
struct MaskField {
    part: RecordPart,
    fields: Vec<Text>,
    replacement: Option<Replacement>,
    replace_null_with_default: bool,
}

impl MaskField {
    fn name(&self) -> &'static str {
        match self.part {
            RecordPart::Key => "MaskField$Key",
            RecordPart::Value => "MaskField$Value",
        }
    }

    /// The masked form of a field's value; `schema` is the field's schema, if any.
    fn masked(
        &self,
        field: &str,
        value: Value,
        schema: Option<&Schema>,
    ) -> Result<Value, ConnectError> {
        let decimal_scale = schema.filter(|s| s.is_logical(logical::DECIMAL)).map(|s| {
            s.parameters
                .get(logical::DECIMAL_SCALE)
                .and_then(|p| p.parse::<i32>().ok())
                .unwrap_or(0)
        });
        let is_date = schema.is_some_and(|s| {
            [logical::DATE, logical::TIME, logical::TIMESTAMP]
                .iter()
                .any(|name| s.is_logical(name))
        });
        let type_name = match (decimal_scale, is_date) {
            (Some(_), _) => "decimal",
            (_, true) => "date",
            _ => value.type_name(),
        };
        let Some(r) = &self.replacement else {
            return Ok(match value {
                Value::Null => Value::Null,
                Value::Boolean(_) => Value::Boolean(false),
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::String(_) => Value::String(Text::new()),
                Value::Bytes(_) if decimal_scale.is_some() => Value::Bytes(decimal_bytes(0)),
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Vec::new()),
                _ => {
                    return Err(data_error(
                        self.name(),
                        format!("Cannot mask field {field} of type {type_name}"),
                    ))
                }
            });
        };
        let not_a_number = || {
            data_error(
                self.name(),
                format!(
                    "Unable to convert {} to a number to mask field {field}",
                    r.text
                ),
            )
        };
        Ok(match value {
            Value::Null => Value::Null,
            _ if is_date => {
                return Err(data_error(
                    self.name(),
                    format!("Cannot mask field {field} of type date with custom replacement"),
                ))
            }
            // Narrowing keeps the low bits, as Java's casts do.
            Value::Int8(_) => Value::Int8(r.long.ok_or_else(not_a_number)? as i8),
            Value::Int16(_) => Value::Int16(r.long.ok_or_else(not_a_number)? as i16),
            Value::Int32(_) => Value::Int32(r.long.ok_or_else(not_a_number)? as i32),
            Value::Int64(_) => Value::Int64(r.long.ok_or_else(not_a_number)?),
            Value::Float32(_) => Value::Float32(r.double.ok_or_else(not_a_number)? as f32),
            Value::Float64(_) => Value::Float64(r.double.ok_or_else(not_a_number)?),
            Value::String(_) => Value::String(r.text.clone()),
            Value::Bytes(_) if decimal_scale.is_some() => {
                let scale = decimal_scale.unwrap_or(0);
                let unscaled = r.decimal.as_ref().and_then(|d| d.unscaled(scale));
                Value::Bytes(decimal_bytes(unscaled.ok_or_else(|| {
                    data_error(
                        self.name(),
                        format!(
                            "Unable to convert {} to a decimal of scale {scale} to mask field \
                             {field}",
                            r.text
                        ),
                    )
                })?))
            }
            _ => {
                return Err(data_error(
                    self.name(),
                    format!(
                        "Cannot mask field {field} of type {type_name} with custom replacement"
                    ),
                ))
            }
        })
    }
}

impl Transformation for MaskField {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema, value) = record.part_mut(self.part);
        if value.is_null() {
            return Ok(Outcome::Keep);
        }
        let Some(schema) = schema.as_ref() else {
            let entries = require_map(self.name(), PURPOSE, self.part, value)?;
            for field in &self.fields {
                match map_get_mut(entries, field) {
                    Some(slot) => *slot = self.masked(field, std::mem::take(slot), None)?,
                    // Kafka puts every masked field, so a missing one appears as null.
                    None => entries.push((Value::String(field.clone()), Value::Null)),
                }
            }
            return Ok(Outcome::Keep);
        };
        let s = require_struct(self.name(), PURPOSE, self.part, schema, value)?;
        for (i, field) in schema.fields().iter().enumerate() {
            let masked = self.fields.iter().any(|f| *f == *field.name);
            // Kafka copies every field (with its default when null), masking the chosen ones.
            let fix = |value: Value| {
                let value = with_default(value, &field.schema, self.replace_null_with_default);
                if masked {
                    self.masked(&field.name, value, Some(&field.schema))
                } else {
                    Ok(value)
                }
            };
            match field_slot(s, i, &field.name) {
                Some(slot) => *slot = fix(std::mem::take(slot))?,
                None => {
                    let value = fix(Value::Null)?;
                    if !value.is_null() {
                        s.put(field.name.as_str(), value);
                    }
                }
            }
        }
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract_field::props;
    use super::*;
    use crate::data::{Field, SchemaType, Struct};
    use std::sync::Arc;

    fn mask(pairs: &[(&str, &str)]) -> Box<dyn Transformation> {
        build(&props(pairs), RecordPart::Value).unwrap()
    }

    fn all_types() -> Vec<(&'static str, Value)> {
        vec![
            ("int8", Value::Int8(8)),
            ("int16", Value::Int16(16)),
            ("int32", Value::Int32(32)),
            ("int64", Value::Int64(64)),
            ("float32", Value::Float32(32.5)),
            ("float64", Value::Float64(64.5)),
            ("string", Value::from("secret")),
        ]
    }

    fn schemaless(fields: &[(&'static str, Value)]) -> Value {
        Value::Map(
            fields
                .iter()
                .map(|(k, v)| (Value::from(*k), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn schemaless_masks_to_zero_values() {
        let mut fields = all_types();
        fields.push(("bool", Value::Boolean(true)));
        fields.push(("array", Value::Array(vec![Value::Int8(1)])));
        fields.push(("map", schemaless(&[("k", Value::Int8(1))])));
        fields.push(("keep", Value::Int8(1)));
        let t = mask(&[(
            "fields",
            "int8,int16,int32,int64,float32,float64,string,bool,array,map,missing",
        )]);
        let mut r = ConnectRecord::new("t", schemaless(&fields));
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            schemaless(&[
                ("int8", Value::Int8(0)),
                ("int16", Value::Int16(0)),
                ("int32", Value::Int32(0)),
                ("int64", Value::Int64(0)),
                ("float32", Value::Float32(0.0)),
                ("float64", Value::Float64(0.0)),
                ("string", Value::from("")),
                ("bool", Value::Boolean(false)),
                ("array", Value::Array(vec![])),
                ("map", Value::Map(vec![])),
                ("keep", Value::Int8(1)),
                ("missing", Value::Null),
            ])
        );
    }

    #[test]
    fn replacements_are_converted_to_the_field_type() {
        let t = mask(&[
            ("fields", "int8,int16,int32,int64,float32,float64,string"),
            ("replacement", "300.9"),
        ]);
        let mut r = ConnectRecord::new("t", schemaless(&all_types()));
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            schemaless(&[
                ("int8", Value::Int8(44)), // 300 keeps its low 8 bits, as Java's (byte) does
                ("int16", Value::Int16(300)),
                ("int32", Value::Int32(300)),
                ("int64", Value::Int64(300)),
                ("float32", Value::Float32(300.9)),
                ("float64", Value::Float64(300.9)),
                ("string", Value::from("300.9")),
            ])
        );
    }

    #[test]
    fn with_schema_masks_in_place_and_keeps_the_schema() {
        let mut dflt = Schema::new(SchemaType::Int32).optional();
        dflt.default = Some(Value::Int32(7));
        let decimal = Schema::new(SchemaType::Bytes).named(logical::DECIMAL);
        let mut decimal = decimal;
        decimal.parameters.insert("scale".into(), "2".into());
        let schema = Arc::new(Schema::structure(vec![
            Field::new("name", Schema::string()),
            Field::new("d", dflt),
            Field::new("price", decimal),
            Field::new("opt", Schema::optional_string()),
            Field::new("keep", Schema::int32()),
        ]));
        let value = Struct::new()
            .with("name", "bob")
            .with("d", Value::Null)
            .with("price", Bytes::from_static(&[0x30, 0x39]))
            .with("opt", Value::Null)
            .with("keep", 5i32);
        let t = mask(&[("fields", "name,d,price,opt")]);
        let mut r = ConnectRecord::new("t", value.clone());
        r.value_schema = Some(schema.clone());
        t.apply(&mut r).unwrap();
        let expected = Struct::new()
            .with("name", "")
            .with("d", 0i32) // the default 7, masked
            .with("price", Bytes::from_static(&[0]))
            .with("opt", Value::Null)
            .with("keep", 5i32);
        assert_eq!(r.value, Value::Struct(expected));
        assert!(Arc::ptr_eq(r.value_schema.as_ref().unwrap(), &schema));
        assert_eq!(schema.validate(&r.value), Ok(()));

        // A decimal replacement is written at the field's scale.
        let t = mask(&[("fields", "price"), ("replacement", "-1.5")]);
        let mut r = ConnectRecord::new("t", value);
        r.value_schema = Some(schema);
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value.get("price"),
            Some(&Value::Bytes(Bytes::from_static(&[0xff, 0x6a])))
        );
    }

    #[test]
    fn record_errors_name_the_field() {
        let cases = [
            (
                &[("fields", "b")][..],
                Value::Boolean(true),
                "Cannot mask field b of type boolean with custom replacement",
            ),
            (
                &[("fields", "b")][..],
                Value::Bytes(Bytes::new()),
                "Cannot mask field b of type bytes with custom replacement",
            ),
            (
                &[("fields", "b"), ("replacement", "x")][..],
                Value::Int32(1),
                "Unable to convert x to a number to mask field b",
            ),
        ];
        for (config, value, message) in cases {
            let mut config = config.to_vec();
            if !config.iter().any(|(k, _)| *k == "replacement") {
                config.push(("replacement", "1"));
            }
            let t = mask(&config);
            let mut r = ConnectRecord::new("t", schemaless(&[("b", value)]));
            assert_eq!(
                t.apply(&mut r).unwrap_err().to_string(),
                format!("MaskField$Value: {message}")
            );
        }
        let t = mask(&[("fields", "s")]);
        let mut r = ConnectRecord::new("t", schemaless(&[("s", Value::Struct(Struct::new()))]));
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "MaskField$Value: Cannot mask field s of type struct"
        );
        let mut r = ConnectRecord::new("t", 5i64);
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "MaskField$Value: Only Map objects supported in absence of schema for [mask fields], \
             found int64 in the record value"
        );
        let mut r = ConnectRecord::new("t", Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Null);
    }

    #[test]
    fn config_errors() {
        let errors = build(&props(&[]), RecordPart::Key).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Missing required configuration \"fields\" which has no default value."
        );
        let errors = build(
            &props(&[("fields", ""), ("replacement", "")]),
            RecordPart::Key,
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Invalid value  for configuration fields: Empty list\n\
             Invalid value  for configuration replacement: String must be non-empty"
        );
    }

    #[test]
    fn java_decimals() {
        let d = |s| JavaDecimal::parse(s).unwrap();
        assert_eq!(d("12.7").to_i64(), 12);
        assert_eq!(d("-12.7").to_i64(), -12);
        assert_eq!(d("1e3").to_i64(), 1000);
        assert_eq!(d(".5").to_i64(), 0);
        assert_eq!(d("18446744073709551617").to_i64(), 1);
        assert_eq!(d("2.5E-1").to_f64(), Some(0.25));
        assert_eq!(d("1.50").unscaled(1), Some(15));
        assert_eq!(d("1.55").unscaled(1), None);
        assert_eq!(d("12").unscaled(-1), None);
        for bad in ["", "-", ".", "1e", "abc", "1.2.3", "NaN", " 1"] {
            assert_eq!(JavaDecimal::parse(bad), None, "{bad:?}");
        }
        assert_eq!(decimal_bytes(0).as_ref(), [0]);
        assert_eq!(decimal_bytes(128).as_ref(), [0, 128]);
        assert_eq!(decimal_bytes(-1).as_ref(), [0xff]);
        assert_eq!(decimal_bytes(-129).as_ref(), [0xff, 0x7f]);
    }
}
