//! `ValueToKey`: replaces the record key with a struct (with a schema) or map (without) of some
//! fields of the value, as Kafka's `ValueToKey`. The value is unchanged.
//!
//! Unlike Kafka, which fails on them, a record with a null value (a tombstone) passes through
//! with its key unchanged. A field named twice in `fields` is taken once.

use super::extract_field::{
    replace_null_key, require_map, require_struct, with_default, REPLACE_NULL_WITH_DEFAULT,
};
use super::mask_field::non_empty_list;
use super::registry;
use super::support::{data_error, SchemaCache};
use super::{Outcome, Transformation};
use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props};
use crate::data::{Field, Schema, Struct, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

const NAME: &str = "ValueToKey";
const FIELDS: &str = "fields";
const PURPOSE: &str = "copying fields from value to key";

/// The `ValueToKey` plugin.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    vec![registry::transform(NAME, config_def(), build)]
}

/// Kafka's keys: `fields` (a non-empty list) and `replace.null.with.default`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FIELDS, ConfigType::List)
                .validator(non_empty_list())
                .importance(Importance::High)
                .doc("Field names on the record value to extract as the record key."),
        )
        .define(replace_null_key())
}

fn build(props: &Props) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    let mut fields: Vec<Text> = Vec::new();
    for field in config.list(FIELDS) {
        if !fields.iter().any(|f| f == field) {
            fields.push(Text::from(field.as_str()));
        }
    }
    Ok(Box::new(ValueToKey {
        fields,
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        cache: SchemaCache::default(),
    }))
}

/// Copies value fields into a new key.
#[derive(Debug)]
struct ValueToKey {
    fields: Vec<Text>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl ValueToKey {
    /// A struct schema of the chosen fields of the value schema.
    fn derive_schema(&self, value_schema: &Schema) -> Result<Schema, ConnectError> {
        let fields = self
            .fields
            .iter()
            .map(|name| match value_schema.field(name) {
                Some(field) => Ok(Field::new(&**name, field.schema.clone())),
                None => Err(data_error(
                    NAME,
                    format!("Field does not exist: {name} in the value schema"),
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Schema::structure(fields))
    }
}

impl Transformation for ValueToKey {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        if record.value.is_null() {
            return Ok(Outcome::Keep);
        }
        let Some(schema) = &record.value_schema else {
            let entries = require_map(NAME, PURPOSE, RecordPart::Value, &mut record.value)?;
            let key = self
                .fields
                .iter()
                .map(|name| {
                    let value = entries
                        .iter()
                        .find(|(k, _)| k.as_str() == Some(name))
                        .map_or(Value::Null, |(_, v)| v.clone());
                    (Value::String(name.clone()), value)
                })
                .collect();
            record.key = Value::Map(key);
            record.key_schema = None;
            return Ok(Outcome::Keep);
        };
        let s = require_struct(NAME, PURPOSE, RecordPart::Value, schema, &mut record.value)?;
        let key_schema = self
            .cache
            .get_or_insert(schema, |schema| self.derive_schema(schema))?;
        let mut key = Struct::with_capacity(self.fields.len());
        for (name, field) in self.fields.iter().zip(key_schema.fields()) {
            let value = s.get(name).cloned().unwrap_or_default();
            let value = with_default(value, &field.schema, self.replace_null_with_default);
            key.fields_mut().push((name.clone(), value));
        }
        record.key = Value::Struct(key);
        record.key_schema = Some(key_schema);
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract_field::props;
    use super::*;
    use crate::data::SchemaType;
    use std::sync::Arc;

    fn value_to_key(pairs: &[(&str, &str)]) -> Box<dyn Transformation> {
        build(&props(pairs)).unwrap()
    }

    #[test]
    fn schemaless_key_is_a_map_of_the_fields() {
        let t = value_to_key(&[("fields", "a,b,missing")]);
        let value = Value::Map(vec![
            (Value::from("a"), Value::Int32(1)),
            (Value::from("b"), Value::Int32(2)),
            (Value::from("c"), Value::Int32(3)),
        ]);
        let mut r = ConnectRecord::new("t", value.clone());
        r.key = Value::from("old");
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.key,
            Value::Map(vec![
                (Value::from("a"), Value::Int32(1)),
                (Value::from("b"), Value::Int32(2)),
                (Value::from("missing"), Value::Null),
            ])
        );
        assert_eq!(r.key_schema, None);
        assert_eq!(r.value, value);
    }

    #[test]
    fn with_schema_key_is_a_struct_with_a_derived_schema() {
        let mut dflt = Schema::new(SchemaType::Int32).optional();
        dflt.default = Some(Value::Int32(9));
        let schema = Arc::new(Schema::structure(vec![
            Field::new("a", Schema::int32()),
            Field::new("b", dflt.clone()),
            Field::new("c", Schema::string()),
        ]));
        let value = Struct::new()
            .with("a", 1i32)
            .with("b", Value::Null)
            .with("c", "x");
        for (flag, b) in [("true", Value::Int32(9)), ("false", Value::Null)] {
            let t = value_to_key(&[("fields", "b,a,b"), ("replace.null.with.default", flag)]);
            let mut r = ConnectRecord::new("t", value.clone());
            r.value_schema = Some(schema.clone());
            t.apply(&mut r).unwrap();
            let key_schema = r.key_schema.clone().unwrap();
            assert_eq!(
                *key_schema,
                Schema::structure(vec![
                    Field::new("b", dflt.clone()),
                    Field::new("a", Schema::int32()),
                ])
            );
            assert_eq!(
                r.key,
                Value::Struct(Struct::new().with("b", b).with("a", 1i32))
            );
            assert_eq!(key_schema.validate(&r.key), Ok(()));
            assert_eq!(r.value, Value::Struct(value.clone()));
            assert_eq!(r.value_schema, Some(schema.clone()));
        }
    }

    #[test]
    fn record_errors() {
        let t = value_to_key(&[("fields", "nope")]);
        let mut r = ConnectRecord::new("t", Struct::new().with("a", 1i32));
        r.value_schema = Some(Arc::new(Schema::structure(vec![Field::new(
            "a",
            Schema::int32(),
        )])));
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "ValueToKey: Field does not exist: nope in the value schema"
        );
        let mut r = ConnectRecord::new("t", "text");
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "ValueToKey: Only Map objects supported in absence of schema for [copying fields \
             from value to key], found string in the record value"
        );
        // Tombstones pass through.
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key = Value::from("k");
        t.apply(&mut r).unwrap();
        assert_eq!(r.key, Value::from("k"));
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            build(&props(&[])).unwrap_err().to_string(),
            "Missing required configuration \"fields\" which has no default value."
        );
        assert_eq!(
            build(&props(&[("fields", " ")])).unwrap_err().to_string(),
            "Invalid value  for configuration fields: Empty list"
        );
    }

    #[test]
    fn registered_without_variants() {
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        assert_eq!(names, ["org.apache.kafka.connect.transforms.ValueToKey"]);
    }
}
