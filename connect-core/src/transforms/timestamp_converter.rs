//! `TimestampConverter$Key` / `TimestampConverter$Value`: converts a timestamp (the whole key
//! or value, or one field of it) between strings, Unix numbers and Connect's `Date`, `Time`
//! and `Timestamp` logical types, as Kafka's transform of that name.
//!
//! Inputs: a string (parsed with `format`), an `int64` Unix time (in `unix.precision`), and
//! the logical types as this crate holds them: `Date` as `int32` days, `Time` as `int32`
//! milliseconds of the day, `Timestamp` as `int64` milliseconds, named by their schemas.
//! With a schema, the input type comes from the schema; without one, from the value
//! (`int64` is Unix time, a string is parsed).
//!
//! Without a schema there is no logical type to name, so `Date`, `Time` and `Timestamp`
//! results are `int64` milliseconds since the epoch (what Kafka's `java.util.Date` holds):
//! midnight of the day for `Date`, the time of day for `Time`.

use std::sync::Arc;

use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props, Validator};
use crate::data::{logical, Field, Schema, SchemaType, Struct, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

use super::java_date_format::{logical_schema, JavaDateFormat, MILLIS_PER_DAY};
use super::registry;
use super::set_schema_metadata::fill_null_defaults;
use super::support::{data_error, part_name, struct_like, SchemaCache};
use super::support::{replace_null_key, REPLACE_NULL_WITH_DEFAULT};
use super::{Outcome, Transformation};

const NAME: &str = "TimestampConverter";
const FIELD: &str = "field";
const TARGET_TYPE: &str = "target.type";
const FORMAT: &str = "format";
const UNIX_PRECISION: &str = "unix.precision";
const PURPOSE: &str = "converting timestamp formats";

/// The plugins `TimestampConverter$Key` and `TimestampConverter$Value`.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value(NAME, config_def(), build)
}

/// Kafka's keys: `field`, `target.type`, `format`, `unix.precision`,
/// `replace.null.with.default`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FIELD, ConfigType::String)
                .default_value("")
                .importance(Importance::High)
                .doc("The field containing the timestamp, or empty if the entire value is a timestamp"),
        )
        .define(
            ConfigKey::new(TARGET_TYPE, ConfigType::String)
                .validator(Validator::one_of(&["string", "unix", "Date", "Time", "Timestamp"]))
                .importance(Importance::High)
                .doc("The desired timestamp representation: string, unix, Date, Time, or Timestamp"),
        )
        .define(
            ConfigKey::new(FORMAT, ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .doc(
                    "A SimpleDateFormat-compatible format for the timestamp. Used to generate the \
                     output when type=string or used to parse the input if the input is a string.",
                ),
        )
        .define(
            ConfigKey::new(UNIX_PRECISION, ConfigType::String)
                .default_value("milliseconds")
                .validator(Validator::one_of(&[
                    "nanoseconds",
                    "microseconds",
                    "milliseconds",
                    "seconds",
                ]))
                .importance(Importance::Low)
                .doc(
                    "The desired Unix precision for the timestamp: seconds, milliseconds, \
                     microseconds, or nanoseconds. Used to generate the output when type=unix or \
                     used to parse the input if the input is a Long.Note: This SMT will cause \
                     precision loss during conversions from, and to, values with sub-millisecond \
                     components.",
                ),
        )
        .define(replace_null_key())
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let config = config_def().parse(props).map_err(|e| errors.extend(e)).ok();
    // The pattern is checked even when other keys are invalid, to report every problem at once.
    let pattern = props.get(FORMAT).map_or("", |f| f.trim());
    let format = match pattern {
        "" => None,
        _ => JavaDateFormat::new(pattern)
            .map_err(|e| {
                errors.add(
                    FORMAT,
                    format!(
                        "TimestampConverter requires a SimpleDateFormat-compatible pattern for \
                         string timestamps: {pattern} ({e})"
                    ),
                )
            })
            .ok(),
    };
    let Some(config) = config else {
        return Err(errors);
    };
    // The validator only lets Kafka's names through.
    let target = Kind::from_name(config.string(TARGET_TYPE).unwrap_or_default());
    let unix_unit = unix_unit(config.string(UNIX_PRECISION).unwrap_or_default());
    if target == Kind::String && pattern.is_empty() {
        errors.add(
            FORMAT,
            "TimestampConverter requires format option to be specified when using string timestamps",
        );
    }
    errors.into_result(())?;
    let field = config.string(FIELD).unwrap_or_default();
    Ok(Box::new(TimestampConverter {
        part,
        field: field.to_owned(),
        field_text: Text::from(field),
        target,
        format,
        unix_unit,
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        target_schemas: [
            Arc::new(target.schema(false)),
            Arc::new(target.schema(true)),
        ],
        cache: SchemaCache::default(),
    }))
}

/// A representation of a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    fn from_name(name: &str) -> Self {
        match name {
            "string" => Self::String,
            "unix" => Self::Unix,
            "Date" => Self::Date,
            "Time" => Self::Time,
            _ => Self::Timestamp,
        }
    }

    /// The schema of values of this kind.
    fn schema(self, optional: bool) -> Schema {
        let plain = |ty| Schema {
            optional,
            ..Schema::new(ty)
        };
        match self {
            Self::String => plain(SchemaType::String),
            Self::Unix => plain(SchemaType::Int64),
            Self::Date => logical_schema(SchemaType::Int32, logical::DATE, optional),
            Self::Time => logical_schema(SchemaType::Int32, logical::TIME, optional),
            Self::Timestamp => logical_schema(SchemaType::Int64, logical::TIMESTAMP, optional),
        }
    }

    /// The kind a schema says a timestamp is in: its logical type, else string or Unix.
    fn of_schema(schema: &Schema) -> Result<Self, String> {
        match (schema.name.as_deref(), &schema.kind) {
            (Some(logical::TIMESTAMP), _) => Ok(Self::Timestamp),
            (Some(logical::DATE), _) => Ok(Self::Date),
            (Some(logical::TIME), _) => Ok(Self::Time),
            (_, SchemaType::String) => Ok(Self::String),
            (_, SchemaType::Int64) => Ok(Self::Unix),
            _ => Err(format!(
                "schema {schema} does not correspond to a known timestamp type format"
            )),
        }
    }

    /// The kind of a value without a schema.
    fn of_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int64(_) => Ok(Self::Unix),
            Value::String(_) => Ok(Self::String),
            other => Err(format!(
                "expected an int64 Unix time or a string as timestamp, found {}",
                other.type_name()
            )),
        }
    }
}

/// The unit of Unix times as `(mul, div)`: milliseconds are `n * mul / div`. Like Java's
/// `TimeUnit`, conversions truncate toward zero and saturate.
fn unix_unit(name: &str) -> (i64, i64) {
    match name {
        "seconds" => (1000, 1),
        "microseconds" => (1, 1000),
        "nanoseconds" => (1, 1_000_000),
        _ => (1, 1), // milliseconds, the default
    }
}

/// Converts a timestamp in the key or the value.
#[derive(Debug)]
pub struct TimestampConverter {
    part: RecordPart,
    /// The field holding the timestamp; empty for the whole key or value.
    field: String,
    field_text: Text,
    target: Kind,
    format: Option<JavaDateFormat>,
    /// `unix.precision`, see [`unix_unit`].
    unix_unit: (i64, i64),
    replace_null_with_default: bool,
    /// The target type's required and optional schemas.
    target_schemas: [Arc<Schema>; 2],
    cache: SchemaCache,
}

impl Transformation for TimestampConverter {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema_slot, value) = record.part_mut(self.part);
        match schema_slot.as_ref() {
            Some(schema) => {
                let updated = self.apply_with_schema(schema, value)?;
                *schema_slot = Some(updated);
            }
            None => self.apply_schemaless(value)?,
        }
        Ok(Outcome::Keep)
    }
}

impl TimestampConverter {
    /// Converts in place and returns the new schema.
    fn apply_with_schema(
        &self,
        schema: &Arc<Schema>,
        value: &mut Value,
    ) -> Result<Arc<Schema>, ConnectError> {
        if self.field.is_empty() {
            let kind = Kind::of_schema(schema).map_err(|e| self.error(e))?;
            if !value.is_null() {
                *value = self.convert(kind, value, true)?;
            }
            return Ok(Arc::clone(
                &self.target_schemas[usize::from(schema.optional)],
            ));
        }
        match value {
            Value::Null => {}
            Value::Struct(st) => self.convert_struct(schema, st)?,
            other => return Err(self.not_a(other, "structs are", "")),
        }
        self.cache.get_or_insert(schema, |s| self.derive_schema(s))
    }

    fn apply_schemaless(&self, value: &mut Value) -> Result<(), ConnectError> {
        if value.is_null() {
            return Ok(());
        }
        if self.field.is_empty() {
            let kind = Kind::of_value(value).map_err(|e| self.error(e))?;
            *value = self.convert(kind, value, false)?;
            return Ok(());
        }
        let Value::Map(entries) = value else {
            return Err(self.not_a(value, "maps are", " in absence of schema"));
        };
        match entries
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some(&self.field))
        {
            Some((_, v)) if v.is_null() => {}
            Some((_, v)) => {
                let kind = Kind::of_value(v).map_err(|e| self.error(e))?;
                *v = self.convert(kind, v, false)?;
            }
            // Kafka puts the (null) result under the field even when it was absent.
            None => entries.push((Value::String(self.field_text.clone()), Value::Null)),
        }
        Ok(())
    }

    /// The schema of `schema`'s struct with the field's schema replaced by the target's.
    fn derive_schema(&self, schema: &Schema) -> Result<Schema, ConnectError> {
        let SchemaType::Struct(fields) = &schema.kind else {
            return Err(data_error(
                NAME,
                format!(
                    "the {} schema must be a struct to convert field \"{}\", found {schema}",
                    part_name(self.part),
                    self.field
                ),
            ));
        };
        let fields = fields
            .iter()
            .map(|f| {
                if f.name == self.field {
                    let target = &self.target_schemas[usize::from(f.schema.optional)];
                    Field::new(f.name.clone(), Arc::clone(target))
                } else {
                    f.clone()
                }
            })
            .collect();
        let mut derived = struct_like(schema, fields);
        if let Some(Value::Struct(default)) = &schema.default {
            let mut default = default.clone();
            self.convert_struct(schema, &mut default)?;
            derived.default = Some(Value::Struct(default));
        }
        Ok(derived)
    }

    /// Converts the field of a struct described by `schema` (the input schema).
    fn convert_struct(&self, schema: &Schema, st: &mut Struct) -> Result<(), ConnectError> {
        if self.replace_null_with_default {
            fill_null_defaults(schema, st);
        }
        // As Kafka, a schema without the field leaves the struct as it is.
        let Some(field) = schema.field(&self.field) else {
            return Ok(());
        };
        let kind = Kind::of_schema(&field.schema).map_err(|e| self.error(e))?;
        match st.get_mut(&self.field) {
            Some(v) if !v.is_null() => *v = self.convert(kind, v, true)?,
            _ if !field.schema.optional => {
                return Err(self.error("null used for a required field"));
            }
            _ => {}
        }
        Ok(())
    }

    /// Converts a non-null timestamp of kind `from` to the target kind.
    fn convert(&self, from: Kind, value: &Value, with_schema: bool) -> Result<Value, ConnectError> {
        let millis = self.to_millis(from, value).map_err(|e| self.error(e))?;
        self.to_target(millis, with_schema)
            .map_err(|e| self.error(e))
    }

    /// Milliseconds since the epoch of a timestamp of kind `from`.
    fn to_millis(&self, from: Kind, value: &Value) -> Result<i64, String> {
        let (mul, div) = self.unix_unit;
        match (from, value) {
            (Kind::String, Value::String(text)) => {
                let Some(format) = &self.format else {
                    return Err("cannot parse a string timestamp: no format is configured".into());
                };
                format.parse_millis(text).map_err(|e| {
                    format!(
                        "Could not parse timestamp: value ({text}) does not match pattern ({}): {e}",
                        format.pattern()
                    )
                })
            }
            (Kind::Unix, Value::Int64(n)) => Ok(n.saturating_mul(mul) / div),
            (Kind::Date, Value::Int32(days)) => Ok(i64::from(*days) * MILLIS_PER_DAY),
            (Kind::Time, Value::Int32(ms)) => Ok(i64::from(*ms)),
            (Kind::Timestamp, Value::Int64(ms)) => Ok(*ms),
            (kind, other) => Err(format!(
                "expected {}, found {}",
                match kind {
                    Kind::String => "a string timestamp",
                    Kind::Unix => "a Unix timestamp as int64",
                    Kind::Date => "a Date as int32 days",
                    Kind::Time => "a Time as int32 milliseconds",
                    Kind::Timestamp => "a Timestamp as int64 milliseconds",
                },
                other.type_name()
            )),
        }
    }

    /// The target representation of `millis`.
    fn to_target(&self, millis: i64, with_schema: bool) -> Result<Value, String> {
        let time_of_day = millis.rem_euclid(MILLIS_PER_DAY);
        let (mul, div) = self.unix_unit;
        Ok(match self.target {
            Kind::String => match &self.format {
                Some(format) => Value::String(format.format_millis(millis)?.into()),
                None => return Err("no format is configured".into()),
            },
            Kind::Unix => Value::Int64(millis.saturating_mul(div) / mul),
            Kind::Date if with_schema => Value::Int32(
                i32::try_from(millis.div_euclid(MILLIS_PER_DAY))
                    .map_err(|_| format!("timestamp {millis} is out of range for a Date"))?,
            ),
            Kind::Date => Value::Int64(millis - time_of_day),
            // A time of day is below 86,400,000, which fits an i32.
            Kind::Time if with_schema => Value::Int32(time_of_day as i32),
            Kind::Time => Value::Int64(time_of_day),
            Kind::Timestamp => Value::Int64(millis),
        })
    }

    /// An error naming the key or value, and the field when there is one.
    fn error(&self, message: impl std::fmt::Display) -> ConnectError {
        match self.field.as_str() {
            "" => data_error(NAME, format!("{}: {message}", part_name(self.part))),
            field => data_error(
                NAME,
                format!("{} field \"{field}\": {message}", part_name(self.part)),
            ),
        }
    }

    fn not_a(&self, found: &Value, supported: &str, qualifier: &str) -> ConnectError {
        data_error(
            NAME,
            format!(
                "only {supported} supported{qualifier} for [{PURPOSE}], found {} {}",
                found.type_name(),
                part_name(self.part)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MILLIS: i64 = 1_705_321_845_123; // 2024-01-15T12:30:45.123Z
    const MIDNIGHT: i64 = 1_705_276_800_000; // 2024-01-15T00:00:00Z
    const DAYS: i32 = 19_737; // 2024-01-15
    const TIME_OF_DAY: i32 = 45_045_123; // 12:30:45.123

    /// Settings written `key=value; key=value`.
    fn props(spec: &str) -> Props {
        let pairs = spec.split(';').filter_map(|kv| kv.split_once('='));
        pairs
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    }

    fn config_error(spec: &str) -> String {
        build(&props(spec), RecordPart::Value)
            .unwrap_err()
            .to_string()
    }

    fn schemaless(spec: &str, value: impl Into<Value>) -> Result<Value, String> {
        let mut record = ConnectRecord::new("t", value);
        let t = build(&props(spec), RecordPart::Value).unwrap();
        t.apply(&mut record).map_err(|e| e.to_string())?;
        Ok(record.value)
    }

    /// Applies to a key with a schema, checking that the result fits its new schema.
    fn keyed(spec: &str, schema: Schema, key: impl Into<Value>) -> Result<(Schema, Value), String> {
        let mut record = ConnectRecord::new("t", "untouched");
        (record.key_schema, record.key) = (Some(Arc::new(schema)), key.into());
        let t = build(&props(spec), RecordPart::Key).unwrap();
        t.apply(&mut record).map_err(|e| e.to_string())?;
        assert_eq!(record.value, Value::from("untouched"));
        let schema = Schema::clone(&record.key_schema.unwrap());
        assert_eq!(schema.validate(&record.key), Ok(()));
        Ok((schema, record.key))
    }

    fn date() -> Schema {
        logical_schema(SchemaType::Int32, logical::DATE, false)
    }

    fn time() -> Schema {
        logical_schema(SchemaType::Int32, logical::TIME, false)
    }

    fn timestamp(optional: bool) -> Schema {
        logical_schema(SchemaType::Int64, logical::TIMESTAMP, optional)
    }

    #[test]
    fn converts_whole_values_without_schema() {
        let to = |target: &str, v: Value| {
            let spec = format!("target.type={target}; format=yyyy-MM-dd'T'HH:mm:ss.SSSX");
            schemaless(&spec, v).unwrap()
        };
        let text = Value::from("2024-01-15T12:30:45.123Z");
        assert_eq!(to("unix", text.clone()), Value::Int64(MILLIS));
        assert_eq!(to("string", Value::Int64(MILLIS)), text);
        let plus_one = Value::from("2024-01-15T13:30:45.123+01");
        assert_eq!(to("Timestamp", plus_one), Value::Int64(MILLIS));
        assert_eq!(to("Date", Value::Int64(MILLIS)), Value::Int64(MIDNIGHT));
        assert_eq!(
            to("Time", Value::Int64(MILLIS)),
            Value::Int64(TIME_OF_DAY.into())
        );
        assert_eq!(to("unix", Value::Null), Value::Null);
    }

    #[test]
    fn unix_precision_applies_both_ways() {
        let unix = |spec: &str, n: i64| schemaless(spec, n).unwrap();
        let spec =
            |target: &str, unit: &str| format!("target.type={target}; unix.precision={unit}");
        let seconds = unix(&spec("Timestamp", "seconds"), 1_705_321_845);
        assert_eq!(seconds, Value::Int64(1_705_321_845_000));
        let micros = unix(&spec("Timestamp", "microseconds"), MILLIS * 1000 + 999);
        assert_eq!(micros, Value::Int64(MILLIS));
        let nanos = unix(&spec("unix", "nanoseconds"), MILLIS * 1_000_000 + 999);
        assert_eq!(nanos, Value::Int64(MILLIS * 1_000_000));
        assert_eq!(
            unix(&spec("unix", "microseconds"), -1500),
            Value::Int64(-1000)
        );
        let saturated = unix(&spec("unix", "nanoseconds"), i64::MAX);
        assert_eq!(saturated, Value::Int64(9_223_372_036_854_000_000));
    }

    #[test]
    fn converts_whole_values_with_schema() {
        let to_date = keyed("target.type=Date", timestamp(false), MILLIS);
        assert_eq!(to_date, Ok((date(), Value::Int32(DAYS))));
        let to_time = keyed("target.type=Time", timestamp(false), MILLIS);
        assert_eq!(to_time, Ok((time(), Value::Int32(TIME_OF_DAY))));
        let seconds = "target.type=unix; unix.precision=seconds";
        let from_date = keyed(seconds, date(), DAYS);
        let int64 = Schema::new(SchemaType::Int64);
        assert_eq!(from_date, Ok((int64, Value::Int64(MIDNIGHT / 1000))));
        let from_time = keyed(
            "target.type=string; format=HH:mm:ss.SSS",
            time(),
            TIME_OF_DAY,
        );
        let string = Schema::new(SchemaType::String);
        assert_eq!(from_time, Ok((string, Value::from("12:30:45.123"))));
        let parse = "target.type=Timestamp; format=yyyyMMdd";
        let optional_string = || Schema::new(SchemaType::String).optional();
        let from_text = keyed(parse, optional_string(), "20240115");
        assert_eq!(from_text, Ok((timestamp(true), Value::Int64(MIDNIGHT))));
        let null = keyed(parse, optional_string(), Value::Null);
        assert_eq!(null, Ok((timestamp(true), Value::Null)));
    }

    #[test]
    fn converts_a_struct_field_and_derives_the_schema() {
        let mut note = Schema::new(SchemaType::String).optional();
        note.default = Some("none".into());
        let fields = vec![
            Field::new("id", Schema::int32()),
            Field::new("ts", Schema::optional_string()),
            Field::new("note", note),
        ];
        let schema = Schema::structure(fields).named("rec");
        let value = Struct::new().with("id", 1i32).with("ts", "2024-01-15");
        let value = value.with("note", Value::Null);
        let spec = "field=ts; target.type=Timestamp; format=yyyy-MM-dd";
        let (derived, out) = keyed(spec, schema.clone(), value.clone()).unwrap();
        assert_eq!(derived.name.as_deref(), Some("rec"));
        let ts = derived.field("ts").map(|f| Schema::clone(&f.schema));
        assert_eq!(ts, Some(timestamp(true)));
        assert_eq!(derived.field("note"), schema.field("note"));
        let expected = Struct::new().with("id", 1i32).with("ts", MIDNIGHT);
        assert_eq!(out, Value::Struct(expected.with("note", "none")));
        let keep_null = format!("{spec}; replace.null.with.default=false");
        let (_, out) = keyed(&keep_null, schema, value).unwrap();
        assert_eq!(out.get("note"), Some(&Value::Null));
    }

    #[test]
    fn a_null_required_field_takes_its_default_or_fails() {
        let mut ts = Schema::new(SchemaType::Int64);
        ts.default = Some(Value::Int64(0));
        let schema = Schema::structure(vec![Field::new("ts", ts)]);
        let value = Struct::new().with("ts", Value::Null);
        let spec = "field=ts; target.type=string; format=yyyy";
        let (_, out) = keyed(spec, schema.clone(), value.clone()).unwrap();
        assert_eq!(out, Value::Struct(Struct::new().with("ts", "1970")));
        let keep_null = format!("{spec}; replace.null.with.default=false");
        assert_eq!(
            keyed(&keep_null, schema, value),
            Err("TimestampConverter: key field \"ts\": null used for a required field".to_owned())
        );
    }

    #[test]
    fn converts_a_map_field() {
        let spec = "field=ts; target.type=string; format=yyyy";
        let map = |ts: Value| Value::Map(vec![("ts".into(), ts), ("k".into(), "v".into())]);
        assert_eq!(schemaless(spec, map(MILLIS.into())), Ok(map("2024".into())));
        // As Kafka, an absent field is put as null.
        let absent = schemaless(spec, Value::Map(Vec::new()));
        assert_eq!(absent, Ok(Value::Map(vec![("ts".into(), Value::Null)])));
    }

    #[test]
    fn record_errors_name_the_field_and_what_was_found() {
        let spec = "field=ts; target.type=unix; format=yyyy-MM-dd";
        let err = |ts: Value| schemaless(spec, Value::Map(vec![("ts".into(), ts)])).unwrap_err();
        assert_eq!(
            err("15/01/2024".into()),
            "TimestampConverter: value field \"ts\": Could not parse timestamp: value (15/01/2024) \
             does not match pattern (yyyy-MM-dd): input contains invalid characters"
        );
        assert_eq!(
            err(Value::Int32(5)),
            "TimestampConverter: value field \"ts\": expected an int64 Unix time or a string as \
             timestamp, found int32"
        );
        assert_eq!(
            schemaless(spec, "text").unwrap_err(),
            "TimestampConverter: only maps are supported in absence of schema for \
             [converting timestamp formats], found string value"
        );
        let boolean = Schema::new(SchemaType::Boolean);
        assert_eq!(
            keyed("target.type=unix", boolean, true).unwrap_err(),
            "TimestampConverter: key: schema boolean does not correspond to a known timestamp \
             type format"
        );
        assert_eq!(
            keyed("target.type=unix", date(), "2024").unwrap_err(),
            "TimestampConverter: key: expected a Date as int32 days, found string"
        );
        assert_eq!(
            schemaless("target.type=unix", "2024").unwrap_err(),
            "TimestampConverter: value: cannot parse a string timestamp: no format is configured"
        );
        let struct_schema = Schema::structure(vec![Field::new("ts", Schema::int64())]);
        assert_eq!(
            keyed(spec, struct_schema, "2024").unwrap_err(),
            "TimestampConverter: only structs are supported for [converting timestamp formats], \
             found string key"
        );
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            config_error(""),
            "Missing required configuration \"target.type\" which has no default value."
        );
        assert_eq!(
            config_error("target.type=date"),
            "Invalid value date for configuration target.type: \
             String must be one of: string, unix, Date, Time, Timestamp"
        );
        assert_eq!(
            config_error("target.type=string; format= "),
            "TimestampConverter requires format option to be specified when using string timestamps"
        );
        assert_eq!(
            config_error("target.type=unix; unix.precision=minutes; format=yyyy-bb"),
            "Invalid value minutes for configuration unix.precision: \
             String must be one of: nanoseconds, microseconds, milliseconds, seconds\n\
             TimestampConverter requires a SimpleDateFormat-compatible pattern for string \
             timestamps: yyyy-bb (Illegal pattern character 'b' in yyyy-bb)"
        );
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        let prefix = "org.apache.kafka.connect.transforms.TimestampConverter";
        assert_eq!(names, [format!("{prefix}$Key"), format!("{prefix}$Value")]);
    }
}
