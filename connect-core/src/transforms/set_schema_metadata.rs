//! `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`: sets the name, the version or both
//! of the key or value schema, as Kafka's transform of that name.
//!
//! Also home of the `replace.null.with.default` key and its behaviour, which `HeaderFrom`
//! and `TimestampConverter` share.

use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props};
use crate::data::{Schema, Struct, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

use super::registry;
use super::support::{
    data_error, part_name, replace_null_key, SchemaCache, REPLACE_NULL_WITH_DEFAULT,
};
use super::{Outcome, Transformation};

const NAME: &str = "SetSchemaMetadata";
const SCHEMA_NAME: &str = "schema.name";
const SCHEMA_VERSION: &str = "schema.version";

/// The plugins `SetSchemaMetadata$Key` and `SetSchemaMetadata$Value`.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value(NAME, config_def(), build)
}

/// Sets the fields of `value` that are null (or absent) and have a default in `schema` to
/// that default, as reading them through Kafka's `Struct.get` does.
pub(super) fn fill_null_defaults(schema: &Schema, value: &mut Struct) {
    for field in schema.fields() {
        let Some(default) = &field.schema.default else {
            continue;
        };
        match value.get_mut(&field.name) {
            Some(v) if v.is_null() => *v = default.clone(),
            Some(_) => {}
            None => value.put(field.name.as_str(), default.clone()),
        }
    }
}

/// Kafka's keys: `schema.name`, `schema.version`, `replace.null.with.default`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(SCHEMA_NAME, ConfigType::String)
                .optional()
                .importance(Importance::High)
                .doc("Schema name to set."),
        )
        .define(
            ConfigKey::new(SCHEMA_VERSION, ConfigType::Int)
                .optional()
                .importance(Importance::High)
                .doc("Schema version to set."),
        )
        .define(replace_null_key())
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    let schema_name = config.string(SCHEMA_NAME).map(str::to_owned);
    let schema_version = config.int(SCHEMA_VERSION);
    if schema_name.is_none() && schema_version.is_none() {
        let mut errors = ConfigErrors::default();
        errors.add(SCHEMA_NAME, "Neither schema name nor version configured");
        return Err(errors);
    }
    Ok(Box::new(SetSchemaMetadata {
        part,
        schema_name,
        schema_version,
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        cache: SchemaCache::default(),
    }))
}

/// Sets the schema name and/or version of the key or the value.
#[derive(Debug)]
pub struct SetSchemaMetadata {
    part: RecordPart,
    schema_name: Option<String>,
    schema_version: Option<i32>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Transformation for SetSchemaMetadata {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema_slot, value) = record.part_mut(self.part);
        let Some(schema) = schema_slot.as_ref() else {
            if value.is_null() {
                return Ok(Outcome::Keep);
            }
            return Err(data_error(
                NAME,
                format!(
                    "Schema required for [updating schema metadata], but the {} has none",
                    part_name(self.part)
                ),
            ));
        };
        let updated = self.cache.get_or_insert(schema, |s| {
            let mut s = s.clone();
            if let Some(name) = &self.schema_name {
                s.name = Some(name.clone());
            }
            if self.schema_version.is_some() {
                s.version = self.schema_version;
            }
            Ok(s)
        })?;
        if self.replace_null_with_default {
            if let Value::Struct(st) = value {
                fill_null_defaults(&updated, st);
            }
        }
        *schema_slot = Some(updated);
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::props;
    use crate::data::Field;

    fn transform(pairs: &[(&str, &str)], part: RecordPart) -> Box<dyn Transformation> {
        build(&props(pairs), part).unwrap()
    }

    fn struct_schema() -> Arc<Schema> {
        let mut with_default = Schema::new(crate::data::SchemaType::Int32).optional();
        with_default.default = Some(Value::Int32(7));
        Arc::new(Schema::structure(vec![
            Field::new("id", Schema::int64()),
            Field::new("n", with_default),
        ]))
    }

    #[test]
    fn registers_key_and_value() {
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        assert_eq!(
            names,
            [
                "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
                "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value"
            ]
        );
    }

    #[test]
    fn sets_name_and_version_and_fills_defaults() {
        let t = transform(
            &[
                ("schema.name", "com.example.Order"),
                ("schema.version", "3"),
            ],
            RecordPart::Value,
        );
        let mut record =
            ConnectRecord::new("t", Struct::new().with("id", 1i64).with("n", Value::Null));
        record.value_schema = Some(struct_schema());
        assert_eq!(t.apply(&mut record).unwrap(), Outcome::Keep);
        let schema = record.value_schema.clone().unwrap();
        assert_eq!(schema.name.as_deref(), Some("com.example.Order"));
        assert_eq!(schema.version, Some(3));
        assert_eq!(schema.fields(), struct_schema().fields());
        assert_eq!(
            record.value,
            Value::Struct(Struct::new().with("id", 1i64).with("n", 7i32))
        );
        assert_eq!(schema.validate(&record.value), Ok(()));
    }

    #[test]
    fn keeps_nulls_when_asked_and_leaves_unset_attributes() {
        let t = transform(
            &[
                ("schema.version", "2"),
                ("replace.null.with.default", "false"),
            ],
            RecordPart::Key,
        );
        let mut record = ConnectRecord::new("t", Value::Null);
        record.key = Value::Struct(Struct::new().with("id", 1i64).with("n", Value::Null));
        record.key_schema = Some(Arc::new((*struct_schema()).clone().named("keep.me")));
        t.apply(&mut record).unwrap();
        let schema = record.key_schema.clone().unwrap();
        assert_eq!(schema.name.as_deref(), Some("keep.me"));
        assert_eq!(schema.version, Some(2));
        assert_eq!(record.key.get("n"), Some(&Value::Null));
        assert_eq!(record.value_schema, None);
    }

    #[test]
    fn renames_primitive_schemas() {
        let t = transform(&[("schema.name", "my.Int")], RecordPart::Value);
        let mut record = ConnectRecord::new("t", 5i64);
        record.value_schema = Some(Schema::optional_int64());
        t.apply(&mut record).unwrap();
        let expected = Schema::new(crate::data::SchemaType::Int64)
            .optional()
            .named("my.Int");
        assert_eq!(record.value_schema.as_deref(), Some(&expected));
        assert_eq!(record.value, Value::Int64(5));
    }

    #[test]
    fn needs_a_schema_unless_null() {
        let t = transform(&[("schema.name", "x")], RecordPart::Value);
        let mut tombstone = ConnectRecord::new("t", Value::Null);
        assert_eq!(t.apply(&mut tombstone).unwrap(), Outcome::Keep);
        assert_eq!(tombstone.value_schema, None);
        let mut record = ConnectRecord::new("t", "text");
        assert_eq!(
            t.apply(&mut record).unwrap_err().to_string(),
            "SetSchemaMetadata: Schema required for [updating schema metadata], but the value has none"
        );
    }

    #[test]
    fn config_errors() {
        let err = |pairs: &[(&str, &str)]| {
            build(&props(pairs), RecordPart::Value)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err(&[]), "Neither schema name nor version configured");
        assert_eq!(
            err(&[
                ("schema.version", "two"),
                ("replace.null.with.default", "maybe")
            ]),
            "Invalid value two for configuration schema.version: Not a number of type INT\n\
             Invalid value maybe for configuration replace.null.with.default: \
             Expected value to be either true or false"
        );
    }
}
