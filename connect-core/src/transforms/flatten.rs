//! `Flatten$Key` / `Flatten$Value`: flattens nested structs (with a schema) or maps (without)
//! into one level, joining the names of each level with `delimiter` (default `.`), as Kafka's
//! `Flatten`. Arrays and their contents are left as they are.
//!
//! With a schema, a flattened field is optional when it or any struct above it is optional,
//! and takes its default from its own schema or else from the defaults of the structs above
//! it. Map fields cannot be flattened with a schema. Nulls in struct fields read the field's
//! default, as Kafka's `Struct.get` does; a null key or value passes through (with the
//! flattened schema when there is one).

use std::mem;
use std::sync::Arc;

use super::extract_field::{require_map, require_struct, take_field, with_default};
use super::registry;
use super::support::{data_error, part_name, struct_like, SchemaCache};
use super::{Outcome, Transformation};
use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props};
use crate::data::{Field, Schema, SchemaType, Struct, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

const DELIMITER: &str = "delimiter";
const PURPOSE: &str = "flattening";

/// The `Flatten$Key` and `Flatten$Value` plugins.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value("Flatten", config_def(), build)
}

/// Kafka's key: `delimiter`.
fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(DELIMITER, ConfigType::String)
            .default_value(".")
            .importance(Importance::Medium)
            .doc(
                "Delimiter to insert between field names from the input record when generating \
                 field names for the output record",
            ),
    )
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    Ok(Box::new(Flatten {
        part,
        delimiter: config.string(DELIMITER).unwrap_or(".").to_owned(),
        cache: SchemaCache::default(),
    }))
}

/// Flattens nested structs or maps.
#[derive(Debug)]
struct Flatten {
    part: RecordPart,
    delimiter: String,
    cache: SchemaCache,
}

impl Flatten {
    fn name(&self) -> &'static str {
        match self.part {
            RecordPart::Key => "Flatten$Key",
            RecordPart::Value => "Flatten$Value",
        }
    }

    /// `prefix<delimiter>name`, or `name` at the top level.
    fn join(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn unsupported(&self, kind: &str, with: &str, field: &str) -> ConnectError {
        data_error(
            self.name(),
            format!(
                "Flatten transformation does not support {kind} for record {with} schemas (for \
                 field {field} of the {})",
                part_name(self.part)
            ),
        )
    }

    /// Appends the flattened entries of a schemaless map to `out`; true when anything was
    /// nested (so names may collide).
    fn flatten_map(
        &self,
        prefix: &str,
        entries: Vec<(Value, Value)>,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<bool, ConnectError> {
        let mut nested = false;
        for (key, value) in entries {
            let Some(name) = key.as_str() else {
                return Err(data_error(
                    self.name(),
                    format!(
                        "Only string keys can be flattened, found a {} key under {prefix:?} in \
                         the record {}",
                        key.type_name(),
                        part_name(self.part)
                    ),
                ));
            };
            match value {
                Value::Map(inner) => {
                    self.flatten_map(&self.join(prefix, name), inner, out)?;
                    nested = true;
                }
                Value::Struct(_) => {
                    return Err(self.unsupported("struct", "without", &self.join(prefix, name)))
                }
                leaf => {
                    let key = if prefix.is_empty() {
                        key
                    } else {
                        Value::String(Text::from(self.join(prefix, name)))
                    };
                    out.push((key, leaf));
                }
            }
        }
        Ok(nested)
    }

    /// Appends the flattened fields of a struct schema to `out`.
    fn flatten_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        optional: bool,
        parent_default: Option<&Value>,
        out: &mut Vec<Field>,
    ) -> Result<(), ConnectError> {
        for field in schema.fields() {
            let name = self.join(prefix, &field.name);
            let optional = optional || field.schema.optional;
            let default = field.schema.default.as_ref().or_else(|| {
                parent_default
                    .and_then(|d| d.get(&field.name))
                    .filter(|v| !v.is_null())
            });
            match &field.schema.kind {
                SchemaType::Struct(_) => {
                    self.flatten_schema(&field.schema, &name, optional, default, out)?
                }
                SchemaType::Map { .. } => return Err(self.unsupported("map", "with", &name)),
                _ => {
                    if out.iter().any(|f| f.name == name) {
                        return Err(data_error(
                            self.name(),
                            format!(
                                "Cannot create field because of field name duplication {name} \
                                 in the {} schema",
                                part_name(self.part)
                            ),
                        ));
                    }
                    out.push(Field::new(
                        name,
                        leaf_schema(&field.schema, optional, default),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Moves the flattened fields of `s` (of struct schema `schema`) into `out`.
    fn flatten_struct(
        &self,
        schema: &Schema,
        prefix: &str,
        mut s: Struct,
        out: &mut Struct,
    ) -> Result<(), ConnectError> {
        for (i, field) in schema.fields().iter().enumerate() {
            let (name, value) = take_field(&mut s, i, &field.name).unwrap_or_default();
            let value = with_default(value, &field.schema, true);
            match (&field.schema.kind, value) {
                (SchemaType::Struct(_), Value::Struct(inner)) => {
                    self.flatten_struct(&field.schema, &self.join(prefix, &field.name), inner, out)?
                }
                // A null struct has no fields to give: they stay null.
                (SchemaType::Struct(_), Value::Null) => {}
                (SchemaType::Struct(_), other) => {
                    return Err(data_error(
                        self.name(),
                        format!(
                            "Expected a struct in field {} of the {}, found {}",
                            self.join(prefix, &field.name),
                            part_name(self.part),
                            other.type_name()
                        ),
                    ))
                }
                (_, value) => {
                    // Top-level fields keep their name; nested ones get a joined one.
                    let name = if prefix.is_empty() && !name.is_empty() {
                        name
                    } else {
                        Text::from(self.join(prefix, &field.name))
                    };
                    out.fields_mut().push((name, value));
                }
            }
        }
        Ok(())
    }
}

/// The schema of a flattened leaf: the original with the optionality and default it inherits.
fn leaf_schema(orig: &Arc<Schema>, optional: bool, default: Option<&Value>) -> Arc<Schema> {
    if orig.optional == optional && orig.default.as_ref() == default {
        return orig.clone();
    }
    let mut schema = Schema::clone(orig);
    schema.optional = optional;
    schema.default = default.cloned();
    Arc::new(schema)
}

/// Keeps one entry per key: the first position with the last value, as a map put does.
fn dedupe(entries: &mut Vec<(Value, Value)>) {
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
    for (key, value) in entries.drain(..) {
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => out.push((key, value)),
        }
    }
    *entries = out;
}

impl Transformation for Flatten {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema_slot, value) = record.part_mut(self.part);
        let Some(schema) = schema_slot else {
            if !value.is_null() {
                let entries = require_map(self.name(), PURPOSE, self.part, value)?;
                let old = mem::take(entries);
                entries.reserve(old.len());
                if self.flatten_map("", old, entries)? {
                    dedupe(entries);
                }
            }
            return Ok(Outcome::Keep);
        };
        if !value.is_null() {
            require_struct(self.name(), PURPOSE, self.part, schema, value)?;
        }
        let updated = self.cache.get_or_insert(schema, |schema| {
            let mut fields = Vec::new();
            self.flatten_schema(
                schema,
                "",
                schema.optional,
                schema.default.as_ref(),
                &mut fields,
            )?;
            Ok(struct_like(schema, fields))
        })?;
        if let Value::Struct(s) = value {
            let old = mem::take(s);
            s.fields_mut().reserve(updated.fields().len());
            self.flatten_struct(schema, "", old, s)?;
        }
        *schema = updated;
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract_field::props;
    use super::*;

    fn flatten(pairs: &[(&str, &str)]) -> Box<dyn Transformation> {
        build(&props(pairs), RecordPart::Value).unwrap()
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    #[test]
    fn schemaless_flattens_nested_maps() {
        let value = map(vec![
            ("a", Value::Int8(1)),
            (
                "b",
                map(vec![
                    ("c", Value::from("x")),
                    ("d", map(vec![("e", Value::Array(vec![Value::Int8(2)]))])),
                    ("empty", map(vec![])),
                    ("n", Value::Null),
                ]),
            ),
        ]);
        let mut r = ConnectRecord::new("t", value.clone());
        flatten(&[]).apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            map(vec![
                ("a", Value::Int8(1)),
                ("b.c", Value::from("x")),
                ("b.d.e", Value::Array(vec![Value::Int8(2)])),
                ("b.n", Value::Null),
            ])
        );
        let mut r = ConnectRecord::new("t", value);
        flatten(&[("delimiter", "_")]).apply(&mut r).unwrap();
        assert_eq!(
            r.value.get("b_d_e"),
            Some(&Value::Array(vec![Value::Int8(2)]))
        );

        // A flattened name meeting an existing key: first position, last value.
        let mut r = ConnectRecord::new(
            "t",
            map(vec![
                ("a.b", Value::Int8(1)),
                ("a", map(vec![("b", Value::Int8(2))])),
            ]),
        );
        flatten(&[]).apply(&mut r).unwrap();
        assert_eq!(r.value, map(vec![("a.b", Value::Int8(2))]));
    }

    #[test]
    fn schemaless_errors_and_nulls() {
        let t = flatten(&[]);
        let mut r = ConnectRecord::new("t", map(vec![("s", Value::Struct(Struct::new()))]));
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "Flatten$Value: Flatten transformation does not support struct for record without \
             schemas (for field s of the value)"
        );
        let mut r = ConnectRecord::new("t", "text");
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "Flatten$Value: Only Map objects supported in absence of schema for [flattening], \
             found string in the record value"
        );
        let mut r = ConnectRecord::new("t", Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Null);
    }

    fn nested_schema() -> Arc<Schema> {
        let mut dflt = Schema::new(SchemaType::Int32);
        dflt.default = Some(Value::Int32(3));
        let mut inner = Schema::structure(vec![
            Field::new("x", Schema::int32()),
            Field::new("y", Schema::string()),
            Field::new("z", dflt),
        ])
        .optional();
        inner.default = Some(Value::Struct(
            Struct::new()
                .with("x", 7i32)
                .with("y", "dy")
                .with("z", 3i32),
        ));
        Arc::new(
            Schema::structure(vec![
                Field::new("id", Schema::int64()),
                Field::new("inner", inner),
                Field::new("list", Schema::array(Schema::int8())),
            ])
            .named("outer"),
        )
    }

    #[test]
    fn with_schema_derives_optional_fields_with_inherited_defaults() {
        let schema = nested_schema();
        let value = Struct::new()
            .with("id", 1i64)
            .with(
                "inner",
                Struct::new()
                    .with("x", 5i32)
                    .with("y", "b")
                    .with("z", Value::Null),
            )
            .with("list", Value::Array(vec![Value::Int8(1)]));
        let mut r = ConnectRecord::new("t", value);
        r.value_schema = Some(schema.clone());
        flatten(&[]).apply(&mut r).unwrap();
        let out = r.value_schema.clone().unwrap();
        let with = |kind: SchemaType, default: Value| {
            let mut s = Schema::new(kind).optional();
            s.default = Some(default);
            s
        };
        assert_eq!(
            *out,
            Schema::structure(vec![
                Field::new("id", Schema::int64()),
                Field::new("inner.x", with(SchemaType::Int32, Value::Int32(7))),
                Field::new("inner.y", with(SchemaType::String, Value::from("dy"))),
                Field::new("inner.z", with(SchemaType::Int32, Value::Int32(3))),
                Field::new("list", Schema::array(Schema::int8())),
            ])
            .named("outer")
        );
        assert_eq!(
            r.value,
            Value::Struct(
                Struct::new()
                    .with("id", 1i64)
                    .with("inner.x", 5i32)
                    .with("inner.y", "b")
                    .with("inner.z", 3i32)
                    .with("list", Value::Array(vec![Value::Int8(1)]))
            )
        );
        assert_eq!(out.validate(&r.value), Ok(()));
        // The top-level field schemas are reused as they are.
        assert!(Arc::ptr_eq(
            &out.fields()[0].schema,
            &schema.fields()[0].schema
        ));
    }

    #[test]
    fn with_schema_null_nested_struct_and_null_value() {
        let t = flatten(&[("delimiter", "#")]);
        let mut r = ConnectRecord::new(
            "t",
            Struct::new()
                .with("id", 1i64)
                .with("list", Value::Array(vec![])),
        );
        r.value_schema = Some(nested_schema());
        t.apply(&mut r).unwrap();
        // A missing optional struct reads its default, whose fields flatten.
        assert_eq!(r.value.get("inner#x"), Some(&Value::Int32(7)));

        let mut optional = Schema::clone(&nested_schema());
        optional.optional = true;
        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(Arc::new(optional));
        t.apply(&mut r).unwrap();
        let out = r.value_schema.unwrap();
        assert_eq!(r.value, Value::Null);
        assert!(out.optional && out.fields().iter().all(|f| f.schema.optional));
    }

    #[test]
    fn with_schema_errors() {
        let t = flatten(&[]);
        let schema = Arc::new(Schema::structure(vec![Field::new(
            "m",
            Schema::map(Schema::string(), Schema::string()),
        )]));
        let mut r = ConnectRecord::new("t", Struct::new());
        r.value_schema = Some(schema);
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "Flatten$Value: Flatten transformation does not support map for record with schemas \
             (for field m of the value)"
        );
        let schema = Arc::new(Schema::structure(vec![
            Field::new("a.b", Schema::int8()),
            Field::new(
                "a",
                Schema::structure(vec![Field::new("b", Schema::int8())]),
            ),
        ]));
        let mut r = ConnectRecord::new("t", Struct::new());
        r.value_schema = Some(schema);
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "Flatten$Value: Cannot create field because of field name duplication a.b in the \
             value schema"
        );
        let mut r = ConnectRecord::new("t", Value::Map(vec![]));
        r.value_schema = Some(nested_schema());
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "Flatten$Value: Only Struct objects supported for [flattening], found map with \
             schema struct (outer) in the record value"
        );
    }

    #[test]
    fn delimiter_defaults_to_a_dot() {
        let def = config_def();
        let key = def.key("delimiter").unwrap();
        assert_eq!(key.default, crate::config::DefaultValue::Value(".".into()));
    }
}
