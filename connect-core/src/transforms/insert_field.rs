//! `InsertField$Key` / `InsertField$Value`: adds fields holding the record's topic, partition,
//! timestamp or a static string to the key or value, as Kafka's `InsertField`.
//!
//! A field name ending in `!` makes the field required in the derived schema, `?` (the
//! default) optional. Without a schema the key or value must be a map, with one a struct; a
//! null key or value passes through unchanged.
//!
//! `offset.field` is accepted, but a [`ConnectRecord`] carries no Kafka offset, so the
//! transform cannot know it: without a schema no entry is inserted, with one the field is
//! added to the schema as an optional `int64` (even with `!`) and left null.

use std::sync::Arc;

use super::extract_field::{
    field_slot, map_put, replace_null_key, require_map, require_struct, REPLACE_NULL_WITH_DEFAULT,
};
use super::registry;
use super::support::{data_error, part_name, struct_like, SchemaCache};
use super::{Outcome, Transformation};
use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props};
use crate::data::{logical, Field, Schema, SchemaType, Struct, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

const TOPIC_FIELD: &str = "topic.field";
const PARTITION_FIELD: &str = "partition.field";
const OFFSET_FIELD: &str = "offset.field";
const TIMESTAMP_FIELD: &str = "timestamp.field";
const STATIC_FIELD: &str = "static.field";
const STATIC_VALUE: &str = "static.value";
const PURPOSE: &str = "field insertion";

const OPTIONALITY_DOC: &str =
    "Suffix with <code>!</code> to make this a required field, or <code>?</code> to keep it \
     optional (the default).";

/// The `InsertField$Key` and `InsertField$Value` plugins.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value("InsertField", config_def(), build)
}

/// Kafka's keys: the five field names, `static.value` and `replace.null.with.default`.
fn config_def() -> ConfigDef {
    let field = |name: &str, doc: String| {
        ConfigKey::new(name, ConfigType::String)
            .optional()
            .importance(Importance::Medium)
            .doc(doc)
    };
    ConfigDef::new()
        .define(field(
            TOPIC_FIELD,
            format!("Field name for Kafka topic. {OPTIONALITY_DOC}"),
        ))
        .define(field(
            PARTITION_FIELD,
            format!("Field name for Kafka partition. {OPTIONALITY_DOC}"),
        ))
        .define(field(
            OFFSET_FIELD,
            format!(
                "Field name for Kafka offset - only applicable to sink connectors.<br/>\
                 {OPTIONALITY_DOC} Records seen by transforms here carry no offset, so the \
                 field is left null."
            ),
        ))
        .define(field(
            TIMESTAMP_FIELD,
            format!("Field name for record timestamp. {OPTIONALITY_DOC}"),
        ))
        .define(field(
            STATIC_FIELD,
            format!("Field name for static data field. {OPTIONALITY_DOC}"),
        ))
        .define(field(
            STATIC_VALUE,
            "Static field value, if field name configured.".to_owned(),
        ))
        .define(replace_null_key())
}

/// A field to insert: its name and whether the derived schema makes it optional.
#[derive(Debug, Clone)]
struct Spec {
    name: Text,
    optional: bool,
}

impl Spec {
    /// Kafka's `InsertionSpec.parse`: a `?` suffix is optional, `!` required, none optional.
    fn parse(spec: Option<&str>) -> Option<Spec> {
        let spec = spec?;
        let (name, optional) = if let Some(name) = spec.strip_suffix('?') {
            (name, true)
        } else if let Some(name) = spec.strip_suffix('!') {
            (name, false)
        } else {
            (spec, true)
        };
        Some(Spec {
            name: Text::from(name),
            optional,
        })
    }
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let parsed = config_def().parse(props);
    // The cross-key checks read the keys as given (trimmed, as string keys parse), so their
    // problems are reported together with any parse error.
    let raw = |key: &str| props.get(key).map(|v| v.trim());
    let mut errors = ConfigErrors::default();
    let fields = [
        TOPIC_FIELD,
        PARTITION_FIELD,
        OFFSET_FIELD,
        TIMESTAMP_FIELD,
        STATIC_FIELD,
    ];
    if fields.iter().all(|key| raw(key).is_none()) {
        errors.add(
            TOPIC_FIELD,
            "No field insertion configured: set at least one of topic.field, partition.field, \
             offset.field, timestamp.field or static.field",
        );
    }
    if let (Some(field), None) = (Spec::parse(raw(STATIC_FIELD)), raw(STATIC_VALUE)) {
        errors.add(
            STATIC_VALUE,
            format!(
                "Invalid value null for configuration {STATIC_VALUE}: No value specified for \
                 static field: {}",
                field.name
            ),
        );
    }
    let config = match parsed {
        Ok(config) if errors.is_empty() => config,
        Ok(_) => return Err(errors),
        Err(mut parse_errors) => {
            parse_errors.extend(errors);
            return Err(parse_errors);
        }
    };
    let spec = |key| Spec::parse(config.string(key));
    Ok(Box::new(InsertField {
        part,
        topic: spec(TOPIC_FIELD),
        partition: spec(PARTITION_FIELD),
        offset: spec(OFFSET_FIELD),
        timestamp: spec(TIMESTAMP_FIELD),
        static_field: spec(STATIC_FIELD),
        static_value: config.string(STATIC_VALUE).map(Text::from),
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        cache: SchemaCache::default(),
    }))
}

/// The value of an inserted field for one record.
enum Fill {
    Value(Value),
    /// The record lacks it (e.g. no partition); names what is missing.
    Missing(&'static str),
    /// Never known here: the offset.
    Unknown,
}

/// Inserts record metadata and a static value as fields.
#[derive(Debug)]
struct InsertField {
    part: RecordPart,
    topic: Option<Spec>,
    partition: Option<Spec>,
    offset: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<Spec>,
    static_value: Option<Text>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl InsertField {
    fn name(&self) -> &'static str {
        match self.part {
            RecordPart::Key => "InsertField$Key",
            RecordPart::Value => "InsertField$Value",
        }
    }

    /// The fields to insert, with their values for this record.
    fn insertions(
        &self,
        topic: &Text,
        partition: Option<i32>,
        timestamp: Option<i64>,
    ) -> [(Option<&Spec>, Fill); 5] {
        let fill = |value: Option<Value>, what| value.map_or(Fill::Missing(what), Fill::Value);
        [
            (
                self.topic.as_ref(),
                Fill::Value(Value::String(topic.clone())),
            ),
            (
                self.partition.as_ref(),
                fill(partition.map(Value::Int32), "partition"),
            ),
            (self.offset.as_ref(), Fill::Unknown),
            // Timestamps are int64 milliseconds with and without a schema.
            (
                self.timestamp.as_ref(),
                fill(timestamp.map(Value::Int64), "timestamp"),
            ),
            (
                self.static_field.as_ref(),
                fill(self.static_value.clone().map(Value::String), "static value"),
            ),
        ]
    }

    /// The input struct schema with the inserted fields appended.
    fn derive_schema(&self, schema: &Schema) -> Result<Schema, ConnectError> {
        let mut fields = schema.fields().to_vec();
        let timestamp = |optional: bool| {
            let mut s = Schema::new(SchemaType::Int64).named(logical::TIMESTAMP);
            s.version = Some(1);
            s.optional = optional;
            Arc::new(s)
        };
        let added = [
            (&self.topic, Schema::string(), Schema::optional_string()),
            (&self.partition, Schema::int32(), Schema::optional_int32()),
            // Always optional: the offset is never known here (see the module docs).
            (
                &self.offset,
                Schema::optional_int64(),
                Schema::optional_int64(),
            ),
            (&self.timestamp, timestamp(false), timestamp(true)),
            (
                &self.static_field,
                Schema::string(),
                Schema::optional_string(),
            ),
        ];
        for (spec, required, optional) in added {
            let Some(spec) = spec else { continue };
            if fields.iter().any(|f| f.name == *spec.name) {
                return Err(data_error(
                    self.name(),
                    format!(
                        "Cannot insert field {} into the {} schema: a field of that name exists",
                        spec.name,
                        part_name(self.part)
                    ),
                ));
            }
            let schema = if spec.optional { optional } else { required };
            fields.push(Field::new(&*spec.name, schema));
        }
        Ok(struct_like(schema, fields))
    }

    fn insert_into_struct(
        &self,
        schema: &Schema,
        s: &mut Struct,
        insertions: [(Option<&Spec>, Fill); 5],
    ) -> Result<(), ConnectError> {
        if self.replace_null_with_default {
            // Kafka copies every field with Struct.get, which reads defaults for nulls.
            for (i, field) in schema.fields().iter().enumerate() {
                let Some(default) = &field.schema.default else {
                    continue;
                };
                match field_slot(s, i, &field.name) {
                    Some(slot) if slot.is_null() => *slot = default.clone(),
                    Some(_) => {}
                    None => s.put(field.name.as_str(), default.clone()),
                }
            }
        }
        s.fields_mut()
            .reserve(insertions.iter().filter(|(spec, _)| spec.is_some()).count());
        for (spec, fill) in insertions {
            let Some(spec) = spec else { continue };
            let value = match fill {
                Fill::Value(value) => value,
                // A required field needs a value; an optional one stays null.
                Fill::Missing(what) if !spec.optional => {
                    return Err(data_error(
                        self.name(),
                        format!(
                            "The record has no {what} for required field {} of the {}",
                            spec.name,
                            part_name(self.part)
                        ),
                    ))
                }
                Fill::Missing(_) | Fill::Unknown => Value::Null,
            };
            s.put(spec.name.clone(), value);
        }
        Ok(())
    }
}

impl Transformation for InsertField {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        if record.part(self.part).1.is_null() {
            return Ok(Outcome::Keep);
        }
        let insertions = self.insertions(&record.topic, record.partition, record.timestamp);
        let (schema_slot, value) = record.part_mut(self.part);
        let Some(schema) = schema_slot.as_ref() else {
            let entries = require_map(self.name(), PURPOSE, self.part, value)?;
            entries.reserve(insertions.iter().filter(|(spec, _)| spec.is_some()).count());
            // Values the record lacks (no partition, no timestamp, the offset) are not inserted.
            for (spec, fill) in insertions {
                if let (Some(spec), Fill::Value(value)) = (spec, fill) {
                    map_put(entries, &spec.name, value);
                }
            }
            return Ok(Outcome::Keep);
        };
        let s = require_struct(self.name(), PURPOSE, self.part, schema, value)?;
        let updated = self
            .cache
            .get_or_insert(schema, |schema| self.derive_schema(schema))?;
        self.insert_into_struct(schema, s, insertions)?;
        *schema_slot = Some(updated);
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract_field::props;
    use super::*;

    fn insert(pairs: &[(&str, &str)], part: RecordPart) -> Box<dyn Transformation> {
        build(&props(pairs), part).unwrap()
    }

    fn record(value: Value) -> ConnectRecord {
        let mut r = ConnectRecord::new("orders", value);
        r.partition = Some(3);
        r.timestamp = Some(1_700_000_000_000);
        r
    }

    const ALL: &[(&str, &str)] = &[
        ("topic.field", "topic_field!"),
        ("partition.field", "partition_field"),
        ("offset.field", "offset_field!"),
        ("timestamp.field", "timestamp_field?"),
        ("static.field", "instance_id"),
        ("static.value", "my-instance-id"),
    ];

    #[test]
    fn schemaless_inserts_what_the_record_has() {
        let t = insert(ALL, RecordPart::Value);
        let mut r = record(Value::Map(vec![(Value::from("magic"), Value::Int64(42))]));
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            Value::Map(vec![
                (Value::from("magic"), Value::Int64(42)),
                (Value::from("topic_field"), Value::from("orders")),
                (Value::from("partition_field"), Value::Int32(3)),
                (
                    Value::from("timestamp_field"),
                    Value::Int64(1_700_000_000_000)
                ),
                (Value::from("instance_id"), Value::from("my-instance-id")),
            ])
        );
        assert_eq!(r.value_schema, None);

        // No partition, no timestamp: those entries are not inserted; existing keys replaced.
        let mut r = ConnectRecord::new("orders", Value::Null);
        r.key = Value::Map(vec![(Value::from("topic_field"), Value::Int8(1))]);
        insert(ALL, RecordPart::Key).apply(&mut r).unwrap();
        assert_eq!(
            r.key,
            Value::Map(vec![
                (Value::from("topic_field"), Value::from("orders")),
                (Value::from("instance_id"), Value::from("my-instance-id")),
            ])
        );
    }

    #[test]
    fn with_schema_derives_the_schema_and_fills_the_struct() {
        let t = insert(ALL, RecordPart::Value);
        let schema = Arc::new(
            Schema::structure(vec![Field::new("magic", Schema::int64())])
                .named("name")
                .optional(),
        );
        let mut r = record(Value::Struct(Struct::new().with("magic", 42i64)));
        r.value_schema = Some(schema.clone());
        t.apply(&mut r).unwrap();

        let out = r.value_schema.clone().unwrap();
        assert_eq!(out.name.as_deref(), Some("name"));
        let names: Vec<&str> = out.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "magic",
                "topic_field",
                "partition_field",
                "offset_field",
                "timestamp_field",
                "instance_id"
            ]
        );
        assert_eq!(out.field("topic_field").unwrap().schema, Schema::string());
        assert_eq!(
            out.field("partition_field").unwrap().schema,
            Schema::optional_int32()
        );
        assert_eq!(
            out.field("offset_field").unwrap().schema,
            Schema::optional_int64()
        );
        let ts = &out.field("timestamp_field").unwrap().schema;
        assert!(ts.is_logical(logical::TIMESTAMP) && ts.optional);
        assert_eq!(
            r.value,
            Value::Struct(
                Struct::new()
                    .with("magic", 42i64)
                    .with("topic_field", "orders")
                    .with("partition_field", 3i32)
                    .with("offset_field", Value::Null)
                    .with("timestamp_field", 1_700_000_000_000i64)
                    .with("instance_id", "my-instance-id")
            )
        );
        assert_eq!(out.validate(&r.value), Ok(()));

        // The derived schema is cached for equal inputs.
        let mut r2 = record(Value::Struct(Struct::new().with("magic", 1i64)));
        r2.value_schema = Some(Arc::new((*schema).clone()));
        t.apply(&mut r2).unwrap();
        assert!(Arc::ptr_eq(&out, r2.value_schema.as_ref().unwrap()));
    }

    #[test]
    fn defaults_replace_nulls_unless_disabled() {
        let mut with_default = Schema::new(SchemaType::Int32).optional();
        with_default.default = Some(Value::Int32(9));
        let schema = Arc::new(Schema::structure(vec![Field::new("n", with_default)]));
        for (flag, expected) in [("true", Value::Int32(9)), ("false", Value::Null)] {
            let t = insert(
                &[("topic.field", "t"), ("replace.null.with.default", flag)],
                RecordPart::Value,
            );
            let mut r = record(Value::Struct(Struct::new().with("n", Value::Null)));
            r.value_schema = Some(schema.clone());
            t.apply(&mut r).unwrap();
            assert_eq!(r.value.get("n"), Some(&expected));
        }
    }

    #[test]
    fn nulls_pass_and_wrong_types_fail() {
        let t = insert(&[("topic.field", "t")], RecordPart::Value);
        let mut r = record(Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Null);
        r.value = Value::Int32(1);
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "InsertField$Value: Only Map objects supported in absence of schema for [field \
             insertion], found int32 in the record value"
        );
        r.value_schema = Some(Schema::int32());
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "InsertField$Value: Only Struct objects supported for [field insertion], found \
             int32 with schema int32 in the record value"
        );
    }

    #[test]
    fn record_errors_name_the_field() {
        let schema = Arc::new(Schema::structure(vec![Field::new("t", Schema::string())]));
        let t = insert(&[("topic.field", "t")], RecordPart::Key);
        let mut r = record(Value::Null);
        r.key = Value::Struct(Struct::new().with("t", "x"));
        r.key_schema = Some(schema.clone());
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "InsertField$Key: Cannot insert field t into the key schema: a field of that name \
             exists"
        );
        let t = insert(&[("partition.field", "p!")], RecordPart::Key);
        r.partition = None;
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "InsertField$Key: The record has no partition for required field p of the key"
        );
    }

    #[test]
    fn config_errors() {
        let errors = build(&props(&[]), RecordPart::Value).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "No field insertion configured: set at least one of topic.field, partition.field, \
             offset.field, timestamp.field or static.field"
        );
        let errors = build(
            &props(&[
                ("static.field", "s!"),
                ("replace.null.with.default", "maybe"),
            ]),
            RecordPart::Value,
        )
        .unwrap_err();
        // Parse errors and cross-key errors come together.
        assert_eq!(
            errors.to_string(),
            "Invalid value maybe for configuration replace.null.with.default: Expected value to \
             be either true or false\n\
             Invalid value null for configuration static.value: No value specified for static \
             field: s"
        );
    }

    #[test]
    fn specs_parse_suffixes() {
        let s = Spec::parse(Some("a!")).unwrap();
        assert_eq!((&*s.name, s.optional), ("a", false));
        let s = Spec::parse(Some("a?")).unwrap();
        assert_eq!((&*s.name, s.optional), ("a", true));
        let s = Spec::parse(Some("a")).unwrap();
        assert_eq!((&*s.name, s.optional), ("a", true));
        assert!(Spec::parse(None).is_none());
    }
}
