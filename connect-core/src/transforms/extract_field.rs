//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value with one of its fields,
//! as Kafka's `ExtractField`. With `field.syntax.version=V2` the field is a dotted path into
//! nested structs or maps (backticks wrap names containing dots), as Kafka's `SingleFieldPath`.
//!
//! This file also holds the small helpers the field transforms share (checking that a part is
//! a struct or a map, moving a field out of a struct, map lookups, the
//! `replace.null.with.default` key).

use std::mem;
use std::sync::Arc;

use super::registry;
use super::support::{data_error, part_name};
use super::{Outcome, Transformation};
use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props, Validator};
use crate::data::{Schema, SchemaType, Struct, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

// ---------------------------------------------------------------------------------------------
// Helpers shared by the field transforms.
// ---------------------------------------------------------------------------------------------

pub(super) use super::support::{replace_null_key, REPLACE_NULL_WITH_DEFAULT};

/// The entries of a schemaless key or value, or the error naming what was found instead.
pub(super) fn require_map<'a>(
    transform: &str,
    purpose: &str,
    part: RecordPart,
    value: &'a mut Value,
) -> Result<&'a mut Vec<(Value, Value)>, ConnectError> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(data_error(
            transform,
            format!(
                "Only Map objects supported in absence of schema for [{purpose}], found {} in \
                 the record {}",
                other.type_name(),
                part_name(part)
            ),
        )),
    }
}

/// The struct of a key or value with a struct schema, or the error naming what was found.
pub(super) fn require_struct<'a>(
    transform: &str,
    purpose: &str,
    part: RecordPart,
    schema: &Schema,
    value: &'a mut Value,
) -> Result<&'a mut Struct, ConnectError> {
    match (value, &schema.kind) {
        (Value::Struct(s), SchemaType::Struct(_)) => Ok(s),
        (other, _) => Err(data_error(
            transform,
            format!(
                "Only Struct objects supported for [{purpose}], found {} with schema {schema} in \
                 the record {}",
                other.type_name(),
                part_name(part)
            ),
        )),
    }
}

/// Moves the name and value of field `name` out of `s`, looking at position `hint` first
/// (structs usually hold their fields in schema order). `None` when the struct lacks it.
pub(super) fn take_field(s: &mut Struct, hint: usize, name: &str) -> Option<(Text, Value)> {
    let fields = s.fields_mut();
    let slot = match fields.get_mut(hint) {
        Some(slot) if slot.0 == name => slot,
        _ => fields.iter_mut().find(|(n, _)| n == name)?,
    };
    Some((mem::take(&mut slot.0), mem::take(&mut slot.1)))
}

/// Mutable access to field `name` of `s`, looking at position `hint` first.
pub(super) fn field_slot<'a>(s: &'a mut Struct, hint: usize, name: &str) -> Option<&'a mut Value> {
    let fields = s.fields_mut();
    let at_hint = fields.get(hint).is_some_and(|(n, _)| n == name);
    let slot = if at_hint {
        fields.get_mut(hint)
    } else {
        fields.iter_mut().find(|(n, _)| n == name)
    };
    slot.map(|(_, v)| v)
}

/// `value`, or the schema's default when `value` is null and `replace` is set (Kafka's
/// `Struct.get` versus `Struct.getWithoutDefault`).
pub(super) fn with_default(value: Value, schema: &Schema, replace: bool) -> Value {
    match &schema.default {
        Some(default) if replace && value.is_null() => default.clone(),
        _ => value,
    }
}

/// Mutable access to the value under string key `key` of a schemaless map.
pub(super) fn map_get_mut<'a>(
    entries: &'a mut [(Value, Value)],
    key: &str,
) -> Option<&'a mut Value> {
    entries
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Sets `key` in a schemaless map: replaces its value when present, appends it otherwise.
pub(super) fn map_put(entries: &mut Vec<(Value, Value)>, key: &Text, value: Value) {
    match map_get_mut(entries, key) {
        Some(slot) => *slot = value,
        None => entries.push((Value::String(key.clone()), value)),
    }
}

/// A flat string map from pairs, for the transforms' tests.
#[cfg(test)]
pub(super) use crate::config::props;

// ---------------------------------------------------------------------------------------------
// Field paths (Kafka's FieldSyntaxVersion and SingleFieldPath, KIP-821).
// ---------------------------------------------------------------------------------------------

const FIELD_SYNTAX_VERSION: &str = "field.syntax.version";

/// The steps of a V2 field path: dot-separated names; a name starting with a backtick runs to
/// the next backtick followed by a dot (or ending the path), and `` \` `` before such a backtick
/// escapes it. The error is Kafka's message for an unclosed backtick.
fn parse_path_v2(path: &str) -> Result<Vec<String>, String> {
    let b = path.as_bytes();
    let mut steps = Vec::new();
    let mut idx = 0;
    while idx < b.len() {
        if b[idx] != b'`' {
            // A plain step runs to the next dot.
            match path[idx..].find('.') {
                Some(off) => {
                    steps.push(path[idx..idx + off].to_owned());
                    idx += off + 1;
                }
                None => {
                    steps.push(path[idx..].to_owned());
                    idx = b.len();
                }
            }
            continue;
        }
        let backtick_at = idx;
        let incomplete = || {
            format!(
                "Incomplete backtick pair in path: [{path}], consider adding a backslash before \
                 backtick at position {} to escape it",
                path[..backtick_at].chars().count()
            )
        };
        idx += 1;
        let mut start = idx;
        let mut field = String::new();
        loop {
            idx += path[idx..].find('`').ok_or_else(incomplete)?;
            // idx > backtick_at, so idx - 1 is in range.
            let escaped = b[idx - 1] == b'\\';
            if idx + 1 >= b.len() {
                // The closing backtick ends the path.
                if escaped {
                    return Err(incomplete());
                }
                field.push_str(&path[start..idx]);
                steps.push(field);
                idx += 1;
                break;
            }
            if b[idx + 1] != b'.' {
                // Not followed by a dot: part of the name; look further.
                idx += 1;
                continue;
            }
            if escaped {
                // `\`` followed by a dot: a backtick in the name, without the backslash.
                field.push_str(&path[start..idx - 1]);
                field.push('`');
                idx += 1;
                start = idx;
                continue;
            }
            field.push_str(&path[start..idx]);
            steps.push(field);
            idx += 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

// ---------------------------------------------------------------------------------------------
// ExtractField.
// ---------------------------------------------------------------------------------------------

const FIELD: &str = "field";
const PURPOSE: &str = "field extraction";

/// The `ExtractField$Key` and `ExtractField$Value` plugins.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value("ExtractField", config_def(), build)
}

/// Kafka's keys: `field`, `field.syntax.version` and `replace.null.with.default`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FIELD, ConfigType::String)
                .importance(Importance::Medium)
                .doc("Field name to extract."),
        )
        .define(replace_null_key())
        .define(
            ConfigKey::new(FIELD_SYNTAX_VERSION, ConfigType::String)
                .default_value("V1")
                .validator(Validator::one_of_ignore_case(&["V1", "V2"]))
                .importance(Importance::High)
                .doc(
                    "Defines the version of the syntax to access fields. If set to `V1`, then \
                     the field paths are limited to access the elements at the root level of the \
                     struct or map. If set to `V2`, the syntax will support accessing nested \
                     elements. To access nested elements, dotted notation is used. If dots are \
                     already included in the field name, then backtick pairs can be used to wrap \
                     field names containing dots. E.g. to access the subfield `baz` from a field \
                     named \"foo.bar\" in a struct/map the following format can be used to \
                     access its elements: \"`foo.bar`.baz\".",
                ),
        )
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let parsed = config_def().parse(props);
    // The path is checked as given (trimmed, as string keys parse), so that its problem is
    // reported together with any parse error.
    let raw = |key: &str| props.get(key).map(|v| v.trim());
    let path = raw(FIELD).unwrap_or_default();
    let v2 = raw(FIELD_SYNTAX_VERSION).is_some_and(|v| v.eq_ignore_ascii_case("V2"));
    let steps = if v2 {
        parse_path_v2(path)
    } else {
        Ok(vec![path.to_owned()])
    };
    let (config, mut steps) = match (parsed, steps) {
        (Ok(config), Ok(steps)) => (config, steps),
        (parsed, steps) => {
            let mut errors = parsed.err().unwrap_or_default();
            if let Err(message) = steps {
                errors.add(FIELD, message);
            }
            return Err(errors);
        }
    };
    if steps.is_empty() {
        // An empty V2 path has no steps; look up the field named "" as V1 does.
        steps.push(String::new());
    }
    Ok(Box::new(ExtractField {
        part,
        path: path.to_owned(),
        steps,
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
    }))
}

/// Replaces the key or value with the field at a path.
#[derive(Debug)]
struct ExtractField {
    part: RecordPart,
    /// The path as configured, for messages.
    path: String,
    /// The path's steps; never empty.
    steps: Vec<String>,
    replace_null_with_default: bool,
}

impl ExtractField {
    fn name(&self) -> &'static str {
        match self.part {
            RecordPart::Key => "ExtractField$Key",
            RecordPart::Value => "ExtractField$Value",
        }
    }

    /// The schema of the field at the path, if every step names a field of a struct schema.
    fn field_schema<'a>(&self, mut schema: &'a Arc<Schema>) -> Option<&'a Arc<Schema>> {
        for step in &self.steps {
            schema = &schema.field(step)?.schema;
        }
        Some(schema)
    }

    /// Moves the value at the path out of a schemaless map; null when a step is missing.
    fn take_from_map(&self, entries: &mut [(Value, Value)]) -> Result<Value, ConnectError> {
        let (last, parents) = self.split_steps();
        let mut current = entries;
        for step in parents {
            current = match map_get_mut(current, step) {
                Some(Value::Map(inner)) => inner,
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(other) => return Err(self.nested_error("Map", step, other)),
            };
        }
        Ok(map_get_mut(current, last).map_or(Value::Null, mem::take))
    }

    /// Moves the value at the path out of a struct whose schema has the path.
    fn take_from_struct(&self, schema: &Schema, root: &mut Struct) -> Result<Value, ConnectError> {
        let (last, parents) = self.split_steps();
        let mut schema = schema;
        let mut current = root;
        for step in parents {
            let Some(field) = schema.field(step) else {
                return Ok(Value::Null);
            };
            let Some(slot) = current.get_mut(step) else {
                return Ok(Value::Null);
            };
            // Kafka reads intermediate structs with their defaults.
            if slot.is_null() {
                *slot = field.schema.default.clone().unwrap_or_default();
            }
            current = match slot {
                Value::Struct(inner) => inner,
                Value::Null => return Ok(Value::Null),
                other => return Err(self.nested_error("Struct", step, other)),
            };
            schema = &field.schema;
        }
        let Some(field) = schema.field(last) else {
            return Ok(Value::Null);
        };
        let value = current.get_mut(last).map_or(Value::Null, mem::take);
        Ok(with_default(
            value,
            &field.schema,
            self.replace_null_with_default,
        ))
    }

    /// The last step and the ones before it.
    fn split_steps(&self) -> (&str, &[String]) {
        match self.steps.split_last() {
            Some((last, parents)) => (last, parents),
            None => ("", &[]),
        }
    }

    fn nested_error(&self, expected: &str, step: &str, found: &Value) -> ConnectError {
        data_error(
            self.name(),
            format!(
                "Only {expected} objects supported for [nested field access], found {} at \
                 field {step} of path {} in the record {}",
                found.type_name(),
                self.path,
                part_name(self.part)
            ),
        )
    }
}

impl Transformation for ExtractField {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema_slot, value) = record.part_mut(self.part);
        let Some(schema) = schema_slot.as_ref() else {
            // Without a schema a null part passes through.
            if !value.is_null() {
                let entries = require_map(self.name(), PURPOSE, self.part, value)?;
                let extracted = self.take_from_map(entries)?;
                *value = extracted;
            }
            return Ok(Outcome::Keep);
        };
        if !value.is_null() {
            require_struct(self.name(), PURPOSE, self.part, schema, value)?;
        }
        let field_schema = self.field_schema(schema).cloned().ok_or_else(|| {
            data_error(
                self.name(),
                format!(
                    "Unknown field: {} in the {} schema {schema}",
                    self.path,
                    part_name(self.part)
                ),
            )
        })?;
        if let Value::Struct(s) = value {
            let extracted = self.take_from_struct(schema, s)?;
            *value = extracted;
        }
        *schema_slot = Some(field_schema);
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Field;

    fn extract(pairs: &[(&str, &str)], part: RecordPart) -> Box<dyn Transformation> {
        build(&props(pairs), part).unwrap()
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (Value::from(*k), v.clone()))
                .collect(),
        )
    }

    fn steps(path: &str) -> Vec<String> {
        parse_path_v2(path).unwrap()
    }

    #[test]
    fn v2_paths_parse_as_kafka_parses_them() {
        let cases: &[(&str, &[&str])] = &[
            ("..", &["", "", ""]),
            ("foo..", &["foo", "", ""]),
            (".bar.", &["", "bar", ""]),
            ("..baz", &["", "", "baz"]),
            ("", &[]),
            ("foo.bar.baz", &["foo", "bar", "baz"]),
            ("foo`bar`baz", &["foo`bar`baz"]),
            ("`foo.bar.baz`", &["foo.bar.baz"]),
            ("`foo.bar`.baz", &["foo.bar", "baz"]),
            ("foo.``bar.baz`", &["foo", "`bar.baz"]),
            ("foo.`bar.baz``", &["foo", "bar.baz`"]),
            ("foo.`ba`r.baz`", &["foo", "ba`r.baz"]),
            ("foo.ba`r.baz", &["foo", "ba`r", "baz"]),
            ("foo.``bar``.baz", &["foo", "`bar`", "baz"]),
            ("foo.`bar\\`.baz`", &["foo", "bar`.baz"]),
            ("foo.`bar\\`.`baz`", &["foo", "bar`.`baz"]),
            ("foo.`bar\\\\`.\\`baz`", &["foo", "bar\\`.\\`baz"]),
        ];
        for (path, expected) in cases {
            assert_eq!(steps(path), *expected, "path {path}");
        }
    }

    #[test]
    fn unclosed_backticks_are_config_errors() {
        for (path, at) in [("`foo.bar.baz", 0), ("foo.bar.`baz\\`", 8)] {
            assert_eq!(
                parse_path_v2(path).unwrap_err(),
                format!(
                    "Incomplete backtick pair in path: [{path}], consider adding a backslash \
                     before backtick at position {at} to escape it"
                )
            );
        }
        let errors = build(
            &props(&[
                ("field", "a.`b"),
                ("field.syntax.version", "v2"),
                ("replace.null.with.default", "x"),
            ]),
            RecordPart::Value,
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Invalid value x for configuration replace.null.with.default: Expected value to be \
             either true or false\n\
             Incomplete backtick pair in path: [a.`b], consider adding a backslash before \
             backtick at position 2 to escape it"
        );
        // V1 takes the same text as a plain field name.
        assert!(build(&props(&[("field", "a.`b")]), RecordPart::Value).is_ok());
    }

    #[test]
    fn config_errors_are_reported() {
        let errors = build(
            &props(&[
                ("field.syntax.version", "V3"),
                ("replace.null.with.default", "x"),
            ]),
            RecordPart::Key,
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Missing required configuration \"field\" which has no default value.\n\
             Invalid value x for configuration replace.null.with.default: Expected value to be \
             either true or false\n\
             Invalid value V3 for configuration field.syntax.version: String must be one of \
             (case insensitive): V1, V2"
        );
    }

    #[test]
    fn schemaless_extracts_a_top_level_or_nested_field() {
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key = map(&[("id", Value::Int64(7)), ("x", Value::from("y"))]);
        extract(&[("field", "id")], RecordPart::Key)
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.key, Value::Int64(7));
        assert_eq!(r.key_schema, None);

        let t = extract(
            &[("field", "a.`b.c`"), ("field.syntax.version", "V2")],
            RecordPart::Value,
        );
        r.value = map(&[("a", map(&[("b.c", Value::from("deep"))]))]);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::from("deep"));
        // Missing steps give null; a non-map step is an error.
        r.value = map(&[("z", Value::Int8(1))]);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Null);
        r.value = map(&[("a", Value::Int8(1))]);
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "ExtractField$Value: Only Map objects supported for [nested field access], found \
             int8 at field a of path a.`b.c` in the record value"
        );
    }

    #[test]
    fn schemaless_null_passes_and_wrong_type_fails() {
        let t = extract(&[("field", "id")], RecordPart::Value);
        let mut r = ConnectRecord::new("t", Value::Null);
        assert_eq!(t.apply(&mut r).unwrap(), Outcome::Keep);
        assert_eq!(r.value, Value::Null);
        r.value = Value::Int32(3);
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "ExtractField$Value: Only Map objects supported in absence of schema for [field \
             extraction], found int32 in the record value"
        );
    }

    fn nested_schema() -> Arc<Schema> {
        let inner = Schema::structure(vec![
            Field::new("n", Schema::int32()),
            Field::new("d", {
                let mut s = Schema::new(SchemaType::String).optional();
                s.default = Some(Value::from("dflt"));
                s
            }),
        ]);
        Arc::new(Schema::structure(vec![
            Field::new("id", Schema::int64()),
            Field::new("inner", inner.optional()),
        ]))
    }

    #[test]
    fn with_schema_extracts_value_and_schema() {
        let schema = nested_schema();
        let t = extract(
            &[("field", "inner.d"), ("field.syntax.version", "V2")],
            RecordPart::Value,
        );
        let inner = Struct::new().with("n", 1i32).with("d", Value::Null);
        let mut r = ConnectRecord::new(
            "t",
            Struct::new().with("id", 1i64).with("inner", inner.clone()),
        );
        r.value_schema = Some(schema.clone());
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::from("dflt"));
        let out_schema = r.value_schema.clone().unwrap();
        assert_eq!(out_schema.kind, SchemaType::String);
        assert_eq!(out_schema.validate(&r.value), Ok(()));

        // Without defaults, the null stays null.
        let t = extract(
            &[
                ("field", "inner.d"),
                ("field.syntax.version", "V2"),
                ("replace.null.with.default", "false"),
            ],
            RecordPart::Value,
        );
        r.value = Value::Struct(Struct::new().with("id", 1i64).with("inner", inner));
        r.value_schema = Some(schema.clone());
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Null);

        // Top level, V1.
        r.value = Value::Struct(Struct::new().with("id", 5i64));
        r.value_schema = Some(schema.clone());
        extract(&[("field", "id")], RecordPart::Value)
            .apply(&mut r)
            .unwrap();
        assert_eq!(r.value, Value::Int64(5));
        assert_eq!(r.value_schema, Some(Schema::int64()));
    }

    #[test]
    fn with_schema_null_value_gets_the_field_schema() {
        let t = extract(&[("field", "id")], RecordPart::Key);
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key_schema = Some(nested_schema());
        t.apply(&mut r).unwrap();
        assert_eq!(r.key, Value::Null);
        assert_eq!(r.key_schema, Some(Schema::int64()));
    }

    #[test]
    fn with_schema_errors_name_the_field() {
        let t = extract(&[("field", "nope")], RecordPart::Value);
        let mut r = ConnectRecord::new("t", Struct::new().with("id", 1i64));
        r.value_schema = Some(nested_schema());
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "ExtractField$Value: Unknown field: nope in the value schema struct"
        );
        r.value = Value::Int64(1);
        r.value_schema = Some(Schema::int64());
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "ExtractField$Value: Only Struct objects supported for [field extraction], found \
             int64 with schema int64 in the record value"
        );
    }

    #[test]
    fn helpers_move_fields_out() {
        let mut s = Struct::new().with("a", 1i32).with("b", 2i32);
        assert_eq!(
            take_field(&mut s, 5, "b"),
            Some((Text::from("b"), Value::Int32(2)))
        );
        assert_eq!(take_field(&mut s, 0, "zz"), None);
        assert_eq!(field_slot(&mut s, 0, "a"), Some(&mut Value::Int32(1)));
        let mut m = vec![(Value::from("k"), Value::Int8(1))];
        map_put(&mut m, &Text::from("k"), Value::Int8(2));
        map_put(&mut m, &Text::from("j"), Value::Int8(3));
        assert_eq!(
            m,
            vec![
                (Value::from("k"), Value::Int8(2)),
                (Value::from("j"), Value::Int8(3))
            ]
        );
    }
}
