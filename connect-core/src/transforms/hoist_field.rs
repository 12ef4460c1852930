//! `HoistField$Key` / `HoistField$Value`: wraps the key or value in a struct (with a schema)
//! or a map (without) with a single field, as Kafka's `HoistField`. A null is wrapped too.

use std::mem;

use super::registry;
use super::support::{data_error, part_name, SchemaCache};
use super::{Outcome, Transformation};
use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props};
use crate::data::{Field, Schema, Struct, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

const FIELD: &str = "field";

/// The `HoistField$Key` and `HoistField$Value` plugins.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value("HoistField", config_def(), build)
}

/// Kafka's key: `field`.
fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(FIELD, ConfigType::String)
            .importance(Importance::Medium)
            .doc(
                "Field name for the single field that will be created in the resulting Struct \
                 or Map.",
            ),
    )
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    Ok(Box::new(HoistField {
        part,
        field: Text::from(config.string(FIELD).unwrap_or_default()),
        cache: SchemaCache::default(),
    }))
}

/// Wraps the key or value in a one-field struct or map.
#[derive(Debug)]
struct HoistField {
    part: RecordPart,
    field: Text,
    cache: SchemaCache,
}

impl HoistField {
    fn name(&self) -> &'static str {
        match self.part {
            RecordPart::Key => "HoistField$Key",
            RecordPart::Value => "HoistField$Value",
        }
    }
}

impl Transformation for HoistField {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema_slot, value) = record.part_mut(self.part);
        let inner = mem::take(value);
        let Some(schema) = schema_slot else {
            *value = Value::Map(vec![(Value::String(self.field.clone()), inner)]);
            return Ok(Outcome::Keep);
        };
        if inner.is_null() && !schema.optional && schema.default.is_none() {
            // The struct would not fit its schema (Kafka's Struct.put refuses it too).
            return Err(data_error(
                self.name(),
                format!(
                    "Invalid value: null used for required field: \"{}\", schema type: {} (the \
                     record {} is null)",
                    self.field,
                    schema.kind.name(),
                    part_name(self.part)
                ),
            ));
        }
        let input: &std::sync::Arc<Schema> = schema;
        let updated = self.cache.get_or_insert(input, |_| {
            Ok(Schema::structure(vec![Field::new(
                &*self.field,
                input.clone(),
            )]))
        })?;
        let mut s = Struct::with_capacity(1);
        s.fields_mut().push((self.field.clone(), inner));
        *value = Value::Struct(s);
        *schema = updated;
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract_field::props;
    use super::*;
    use std::sync::Arc;

    fn hoist(part: RecordPart) -> Box<dyn Transformation> {
        build(&props(&[("field", "magic")]), part).unwrap()
    }

    #[test]
    fn schemaless_wraps_in_a_map() {
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key = Value::Int32(42);
        hoist(RecordPart::Key).apply(&mut r).unwrap();
        assert_eq!(
            r.key,
            Value::Map(vec![(Value::from("magic"), Value::Int32(42))])
        );
        assert_eq!(r.key_schema, None);
        // Nulls are wrapped too.
        hoist(RecordPart::Value).apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            Value::Map(vec![(Value::from("magic"), Value::Null)])
        );
    }

    #[test]
    fn with_schema_wraps_in_a_struct() {
        let t = hoist(RecordPart::Value);
        let mut r = ConnectRecord::new("t", 42i32);
        r.value_schema = Some(Schema::int32());
        t.apply(&mut r).unwrap();
        let schema = r.value_schema.clone().unwrap();
        assert_eq!(
            *schema,
            Schema::structure(vec![Field::new("magic", Schema::int32())])
        );
        assert_eq!(r.value, Value::Struct(Struct::new().with("magic", 42i32)));
        assert_eq!(schema.validate(&r.value), Ok(()));

        // An optional schema takes a null.
        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(Schema::optional_string());
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            Value::Struct(Struct::new().with("magic", Value::Null))
        );
        let schema = r.value_schema.clone().unwrap();
        assert_eq!(schema.validate(&r.value), Ok(()));
        assert!(Arc::ptr_eq(
            &schema.fields()[0].schema,
            &Schema::optional_string()
        ));
    }

    #[test]
    fn null_in_a_required_schema_is_an_error() {
        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(Schema::string());
        assert_eq!(
            hoist(RecordPart::Value)
                .apply(&mut r)
                .unwrap_err()
                .to_string(),
            "HoistField$Value: Invalid value: null used for required field: \"magic\", schema \
             type: string (the record value is null)"
        );
    }

    #[test]
    fn field_is_required() {
        assert_eq!(
            build(&props(&[]), RecordPart::Key).unwrap_err().to_string(),
            "Missing required configuration \"field\" which has no default value."
        );
    }
}
