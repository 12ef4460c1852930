//! `HeaderFrom$Key` / `HeaderFrom$Value`: copies or moves fields of the key or value into
//! headers, as Kafka's transform of that name. The n-th field of `fields` goes to the n-th
//! header of `headers`.
//!
//! With a schema the key or value must be a struct; each header gets the field's schema,
//! and `move` removes the fields from the schema too. Without a schema it must be a map
//! and headers have no schema. A field that is absent gives a null header, as in Kafka;
//! with a schema, a field the schema lacks is an error (Kafka fails there too).

use std::fmt;
use std::sync::Arc;

use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props, Validator};
use crate::data::{Schema, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, Headers, RecordPart};

use super::drop_headers::non_empty_list;
use super::registry;
use super::set_schema_metadata::fill_null_defaults;
use super::support::{data_error, part_name, struct_like, SchemaCache};
use super::support::{replace_null_key, REPLACE_NULL_WITH_DEFAULT};
use super::{Outcome, Transformation};

const NAME: &str = "HeaderFrom";
const FIELDS: &str = "fields";
const HEADERS: &str = "headers";
const OPERATION: &str = "operation";

/// The plugins `HeaderFrom$Key` and `HeaderFrom$Value`.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value(NAME, config_def(), build)
}

/// Kafka's keys: `fields`, `headers`, `operation`, `replace.null.with.default`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FIELDS, ConfigType::List)
                .validator(non_empty_list())
                .importance(Importance::High)
                .doc(
                    "Field names in the record whose values are to be copied or moved to headers.",
                ),
        )
        .define(
            ConfigKey::new(HEADERS, ConfigType::List)
                .validator(non_empty_list())
                .importance(Importance::High)
                .doc(
                    "Header names, in the same order as the field names listed in the fields \
                     configuration property.",
                ),
        )
        .define(
            ConfigKey::new(OPERATION, ConfigType::String)
                .validator(Validator::one_of(&["move", "copy"]))
                .importance(Importance::High)
                .doc(
                    "Either <code>move</code> if the fields are to be moved to the headers \
                     (removed from the key/value), or <code>copy</code> if the fields are to be \
                     copied to the headers (retained in the key/value).",
                ),
        )
        .define(replace_null_key())
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    let fields = config.list(FIELDS).to_vec();
    let headers = config.list(HEADERS);
    if fields.len() != headers.len() {
        let mut errors = ConfigErrors::default();
        errors.add(
            HEADERS,
            format!(
                "'{FIELDS}' config must have the same number of elements as '{HEADERS}' config."
            ),
        );
        return Err(errors);
    }
    // A field listed twice is read once; its later headers repeat the first one's value.
    let first_index = fields
        .iter()
        .enumerate()
        .map(|(i, f)| fields[..i].iter().position(|g| g == f).unwrap_or(i))
        .collect();
    Ok(Box::new(HeaderFrom {
        part,
        headers: headers.iter().map(|h| Text::from(h.as_str())).collect(),
        fields,
        first_index,
        moving: config.string(OPERATION) == Some("move"),
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        cache: SchemaCache::default(),
    }))
}

/// Copies or moves fields of the key or value into headers.
#[derive(Debug)]
pub struct HeaderFrom {
    part: RecordPart,
    fields: Vec<String>,
    headers: Vec<Text>,
    /// For each field, the index of its first occurrence in `fields`.
    first_index: Vec<usize>,
    /// `move` rather than `copy`.
    moving: bool,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Transformation for HeaderFrom {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema_slot, value) = match self.part {
            RecordPart::Key => (&mut record.key_schema, &mut record.key),
            RecordPart::Value => (&mut record.value_schema, &mut record.value),
        };
        let headers = &mut record.headers;
        match schema_slot.as_ref() {
            Some(schema) => {
                if let Some(moved) = self.apply_with_schema(schema, value, headers)? {
                    *schema_slot = Some(moved);
                }
            }
            None => self.apply_schemaless(value, headers)?,
        }
        Ok(Outcome::Keep)
    }
}

impl HeaderFrom {
    /// Adds the headers; returns the schema without the moved fields when moving.
    fn apply_with_schema(
        &self,
        schema: &Arc<Schema>,
        value: &mut Value,
        headers: &mut Headers,
    ) -> Result<Option<Arc<Schema>>, ConnectError> {
        let Value::Struct(st) = value else {
            return Err(self.not_a(value, "structs are", ""));
        };
        // Checked first, so that a failing record is left as it was.
        if let Some(missing) = self.fields.iter().find(|f| schema.field(f).is_none()) {
            return Err(data_error(
                NAME,
                format!(
                    "field \"{missing}\" is not in the {} schema {schema}",
                    part_name(self.part)
                ),
            ));
        }
        let base = headers.len();
        for (i, field) in self.fields.iter().enumerate() {
            let field_schema = schema.field(field).map(|f| Arc::clone(&f.schema));
            let mut field_value = match self.first_index[i] {
                j if j < i => repeated(headers, base + j),
                _ if self.moving => st.remove(field).unwrap_or_default(),
                _ => st.get(field).cloned().unwrap_or_default(),
            };
            if field_value.is_null() && self.replace_null_with_default {
                if let Some(default) = field_schema.as_ref().and_then(|s| s.default.as_ref()) {
                    field_value = default.clone();
                }
            }
            headers.add_with_schema(self.headers[i].clone(), field_value, field_schema);
        }
        if !self.moving {
            return Ok(None);
        }
        let moved = self.cache.get_or_insert(schema, |s| {
            let kept = s.fields().iter().filter(|f| !self.fields.contains(&f.name));
            Ok(struct_like(s, kept.cloned().collect()))
        })?;
        if self.replace_null_with_default {
            fill_null_defaults(&moved, st);
        }
        Ok(Some(moved))
    }

    fn apply_schemaless(
        &self,
        value: &mut Value,
        headers: &mut Headers,
    ) -> Result<(), ConnectError> {
        let Value::Map(entries) = value else {
            return Err(self.not_a(value, "maps are", " in absence of schema"));
        };
        let base = headers.len();
        for (i, field) in self.fields.iter().enumerate() {
            let position = entries.iter().position(|(k, _)| k.as_str() == Some(field));
            let field_value = match (self.first_index[i], position) {
                (j, _) if j < i => repeated(headers, base + j),
                (_, Some(at)) if self.moving => entries.remove(at).1,
                (_, Some(at)) => entries[at].1.clone(),
                (_, None) => Value::Null,
            };
            headers.add_with_schema(self.headers[i].clone(), field_value, None);
        }
        Ok(())
    }

    fn not_a(&self, found: &Value, supported: &str, qualifier: &str) -> ConnectError {
        data_error(
            NAME,
            format!(
                "only {supported} supported{qualifier} for [header {self}], found {} {}",
                found.type_name(),
                part_name(self.part)
            ),
        )
    }
}

/// The value of the header at `index`, one this transform added for an earlier listing of
/// the same field.
fn repeated(headers: &Headers, index: usize) -> Value {
    headers
        .iter()
        .nth(index)
        .map(|h| h.value.clone())
        .unwrap_or_default()
}

impl fmt::Display for HeaderFrom {
    /// The operation, as Kafka names it in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.moving { "move" } else { "copy" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::{Field, SchemaType, Struct};
    use crate::record::Header;

    fn transform(operation: &str, extra: &[(&str, &str)]) -> Box<dyn Transformation> {
        let mut p = props(&[
            ("fields", "id,note"),
            ("headers", "h-id,h-note"),
            ("operation", operation),
        ]);
        p.extend(props(extra));
        build(&p, RecordPart::Value).unwrap()
    }

    fn schema() -> Arc<Schema> {
        let mut note = Schema::new(SchemaType::String).optional();
        note.default = Some(Value::from("none"));
        Arc::new(
            Schema::structure(vec![
                Field::new("id", Schema::int64()),
                Field::new("note", note),
                Field::new("body", Schema::optional_string()),
            ])
            .named("rec"),
        )
    }

    fn record() -> ConnectRecord {
        let value = Struct::new()
            .with("id", 7i64)
            .with("note", Value::Null)
            .with("body", Value::Null);
        let mut record = ConnectRecord::new("t", value);
        record.value_schema = Some(schema());
        record.headers.add("old", 1i32);
        record
    }

    fn header(key: &str, value: Value, schema: Option<Arc<Schema>>) -> Header {
        Header {
            key: key.into(),
            value,
            schema,
        }
    }

    #[test]
    fn copies_struct_fields_with_their_schemas() {
        let mut r = record();
        assert_eq!(transform("copy", &[]).apply(&mut r).unwrap(), Outcome::Keep);
        let headers: Vec<&Header> = r.headers.iter().collect();
        let note_schema = Arc::clone(&schema().fields()[1].schema);
        assert_eq!(
            headers[1],
            &header("h-id", Value::Int64(7), Some(Schema::int64()))
        );
        assert_eq!(
            headers[2],
            &header("h-note", Value::from("none"), Some(note_schema))
        );
        assert_eq!(r.value_schema, Some(schema()));
        assert_eq!(r.value.get("note"), Some(&Value::Null));
    }

    #[test]
    fn moves_struct_fields_and_derives_the_schema() {
        let mut r = record();
        transform("move", &[("replace.null.with.default", "false")])
            .apply(&mut r)
            .unwrap();
        let moved = r.value_schema.clone().unwrap();
        let expected =
            Schema::structure(vec![Field::new("body", Schema::optional_string())]).named("rec");
        assert_eq!(*moved, expected);
        assert_eq!(
            r.value,
            Value::Struct(Struct::new().with("body", Value::Null))
        );
        assert_eq!(moved.validate(&r.value), Ok(()));
        let values: Vec<&Value> = r.headers.iter().map(|h| &h.value).collect();
        assert_eq!(values, [&Value::Int32(1), &Value::Int64(7), &Value::Null]);
    }

    #[test]
    fn works_on_maps_without_schema() {
        let map = || {
            Value::Map(vec![
                ("id".into(), Value::Int64(7)),
                ("x".into(), "y".into()),
            ])
        };
        let mut r = ConnectRecord::new("t", map());
        transform("copy", &[]).apply(&mut r).unwrap();
        assert_eq!(r.value, map());
        let expected = [
            header("h-id", Value::Int64(7), None),
            header("h-note", Value::Null, None),
        ];
        assert_eq!(r.headers.iter().cloned().collect::<Vec<_>>(), expected);
        let mut r = ConnectRecord::new("t", map());
        transform("move", &[]).apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Map(vec![("x".into(), "y".into())]));
        assert_eq!(r.headers.iter().cloned().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_field_listed_twice_fills_both_headers() {
        let p = props(&[
            ("fields", "id,id"),
            ("headers", "a,b"),
            ("operation", "move"),
        ]);
        let t = build(&p, RecordPart::Key).unwrap();
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key = Value::Map(vec![("id".into(), Value::Int64(7))]);
        t.apply(&mut r).unwrap();
        assert_eq!(r.key, Value::Map(Vec::new()));
        let values: Vec<&Value> = r.headers.iter().map(|h| &h.value).collect();
        assert_eq!(values, [&Value::Int64(7), &Value::Int64(7)]);
    }

    #[test]
    fn record_errors() {
        let mut r = ConnectRecord::new("t", "text");
        assert_eq!(
            transform("move", &[]).apply(&mut r).unwrap_err().to_string(),
            "HeaderFrom: only maps are supported in absence of schema for [header move], found string value"
        );
        let mut r = record();
        r.value = Value::Null;
        assert_eq!(
            transform("copy", &[])
                .apply(&mut r)
                .unwrap_err()
                .to_string(),
            "HeaderFrom: only structs are supported for [header copy], found null value"
        );
        let mut r = record();
        r.value_schema = Some(Arc::new(Schema::structure(vec![Field::new(
            "id",
            Schema::int64(),
        )])));
        let before = r.clone();
        assert_eq!(
            transform("move", &[])
                .apply(&mut r)
                .unwrap_err()
                .to_string(),
            "HeaderFrom: field \"note\" is not in the value schema struct"
        );
        assert_eq!(r, before);
    }

    #[test]
    fn config_errors() {
        let err = |pairs: &[(&str, &str)]| {
            build(&props(pairs), RecordPart::Value)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&[]),
            "Missing required configuration \"fields\" which has no default value.\n\
             Missing required configuration \"headers\" which has no default value.\n\
             Missing required configuration \"operation\" which has no default value."
        );
        assert_eq!(
            err(&[("fields", ""), ("headers", "a"), ("operation", "cut")]),
            "Invalid value  for configuration fields: Empty list\n\
             Invalid value cut for configuration operation: String must be one of: move, copy"
        );
        assert_eq!(
            err(&[("fields", "a,b"), ("headers", "a"), ("operation", "copy")]),
            "'fields' config must have the same number of elements as 'headers' config."
        );
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        assert_eq!(
            names,
            [
                "org.apache.kafka.connect.transforms.HeaderFrom$Key",
                "org.apache.kafka.connect.transforms.HeaderFrom$Value"
            ]
        );
    }
}
