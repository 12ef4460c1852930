//! `ReplaceField$Key` / `ReplaceField$Value`: keeps, drops and renames fields of the key or
//! value, as Kafka's `ReplaceField`.
//!
//! `exclude` wins over `include`; an empty `include` keeps every field. `renames` is a list of
//! `old:new` pairs. Kafka 4.0 dropped the deprecated `blacklist` / `whitelist` keys; Kafka 3.x
//! read them as `exclude` / `include` when those are not set, and so do we, so that 3.x
//! configurations keep working. A null key or value passes through unchanged.

use super::extract_field::{
    replace_null_key, require_map, require_struct, REPLACE_NULL_WITH_DEFAULT,
};
use super::registry;
use super::support::{data_error, part_name, struct_like, SchemaCache};
use super::{Outcome, Transformation};
use crate::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValue, Importance, Props, Validator,
};
use crate::data::{Field, Schema, Struct, Text, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::{ConnectRecord, RecordPart};

const EXCLUDE: &str = "exclude";
const INCLUDE: &str = "include";
const RENAMES: &str = "renames";
/// Kafka 3.x's deprecated name of `exclude`.
const BLACKLIST: &str = "blacklist";
/// Kafka 3.x's deprecated name of `include`.
const WHITELIST: &str = "whitelist";
const PURPOSE: &str = "field replacement";

/// The `ReplaceField$Key` and `ReplaceField$Value` plugins.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    registry::key_and_value("ReplaceField", config_def(), build)
}

/// Kafka's keys: `exclude`, `include`, `renames`, `replace.null.with.default`, and Kafka 3.x's
/// deprecated `blacklist` / `whitelist`.
fn config_def() -> ConfigDef {
    let list = |name: &str, doc: &str| {
        ConfigKey::new(name, ConfigType::List)
            .default_value("")
            .importance(Importance::Medium)
            .doc(doc)
    };
    let deprecated = |name: &str, doc: &str| {
        ConfigKey::new(name, ConfigType::List)
            .optional()
            .importance(Importance::Low)
            .doc(doc)
    };
    ConfigDef::new()
        .define(list(
            EXCLUDE,
            "Fields to exclude. This takes precedence over the fields to include.",
        ))
        .define(deprecated(BLACKLIST, "Deprecated. Use exclude instead."))
        .define(list(
            INCLUDE,
            "Fields to include. If specified, only these fields will be used.",
        ))
        .define(deprecated(WHITELIST, "Deprecated. Use include instead."))
        .define(
            list(RENAMES, "Field rename mappings.").validator(Validator::Custom(
                std::sync::Arc::new(|value| match value {
                    ConfigValue::List(items) => parse_renames(items).map(|_| ()),
                    _ => Ok(()),
                }),
            )),
        )
        .define(replace_null_key())
}

/// Splits `s` at `sep` as Java's `String.split` does: text without `sep` is one part (even
/// when empty); otherwise trailing empty parts are dropped.
pub(super) fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    if parts.len() > 1 {
        while parts.last() == Some(&"") {
            parts.pop();
        }
    }
    parts
}

/// `old:new` pairs, as Kafka parses them (no trimming around the colon).
fn parse_renames(items: &[String]) -> Result<Vec<(String, Text)>, String> {
    items
        .iter()
        .map(|item| match java_split(item, ':').as_slice() {
            [old, new] => Ok(((*old).to_owned(), Text::from(*new))),
            _ => Err(format!("Invalid rename mapping: {item}")),
        })
        .collect()
}

fn build(props: &Props, part: RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors> {
    // Kafka 3.x's translation of deprecated keys: used only when the new key is not set.
    let mut props = props.clone();
    for (target, deprecated) in [(EXCLUDE, BLACKLIST), (INCLUDE, WHITELIST)] {
        if !props.contains_key(target) {
            if let Some(value) = props.get(deprecated).cloned() {
                props.insert(target.to_owned(), value);
            }
        }
    }
    let config = config_def().parse(&props)?;
    // The validator accepted the list, so this parses.
    let renames = parse_renames(config.list(RENAMES)).map_err(|message| {
        let mut errors = ConfigErrors::default();
        errors.add(RENAMES, message);
        errors
    })?;
    Ok(Box::new(ReplaceField {
        part,
        exclude: config.list(EXCLUDE).to_vec(),
        include: config.list(INCLUDE).to_vec(),
        renames,
        replace_null_with_default: config.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        cache: SchemaCache::default(),
    }))
}

/// Keeps, drops and renames fields.
#[derive(Debug)]
struct ReplaceField {
    part: RecordPart,
    exclude: Vec<String>,
    include: Vec<String>,
    /// `(old, new)`; for a repeated old name the last pair counts, as in Kafka's map.
    renames: Vec<(String, Text)>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl ReplaceField {
    fn name(&self) -> &'static str {
        match self.part {
            RecordPart::Key => "ReplaceField$Key",
            RecordPart::Value => "ReplaceField$Value",
        }
    }

    /// Whether a field is kept.
    fn keep(&self, field: &str) -> bool {
        !self.exclude.iter().any(|f| f == field)
            && (self.include.is_empty() || self.include.iter().any(|f| f == field))
    }

    /// The new name of a renamed field.
    fn renamed(&self, field: &str) -> Option<&Text> {
        self.renames
            .iter()
            .rev()
            .find(|(old, _)| old == field)
            .map(|(_, new)| new)
    }

    fn derive_schema(&self, schema: &Schema) -> Result<Schema, ConnectError> {
        let mut fields: Vec<Field> = Vec::with_capacity(schema.fields().len());
        for field in schema.fields().iter().filter(|f| self.keep(&f.name)) {
            let name = self.renamed(&field.name).map_or(&*field.name, |n| &**n);
            if fields.iter().any(|f| f.name == name) {
                return Err(data_error(
                    self.name(),
                    format!(
                        "Cannot create field because of field name duplication {name} in the {} \
                         schema",
                        part_name(self.part)
                    ),
                ));
            }
            fields.push(Field::new(name, field.schema.clone()));
        }
        Ok(struct_like(schema, fields))
    }

    /// Filters and renames map entries in place.
    fn apply_schemaless(&self, entries: &mut Vec<(Value, Value)>) {
        // Keys that are not strings cannot be named; they stay unless `include` is set.
        entries.retain(|(k, _)| k.as_str().map_or(self.include.is_empty(), |n| self.keep(n)));
        let mut renamed = false;
        for (key, _) in entries.iter_mut() {
            if let Some(new) = key.as_str().and_then(|n| self.renamed(n)) {
                *key = Value::String(new.clone());
                renamed = true;
            }
        }
        if !renamed {
            return;
        }
        // A rename may meet another key: one entry stays, at the first position with the
        // later value, as a map put does. Only keys that are rename targets can meet.
        let mut i = 0;
        while i < entries.len() {
            let is_target = |k: &Value| self.renames.iter().any(|(_, new)| k.as_str() == Some(new));
            let earlier = if is_target(&entries[i].0) {
                entries[..i].iter().position(|(k, _)| *k == entries[i].0)
            } else {
                None
            };
            match earlier {
                Some(first) => {
                    let (_, value) = entries.remove(i);
                    entries[first].1 = value;
                }
                None => i += 1,
            }
        }
    }

    /// Filters and renames struct fields in place, reading defaults for nulls when asked.
    fn apply_with_schema(&self, schema: &Schema, s: &mut Struct) {
        let fields = s.fields_mut();
        fields.retain(|(name, _)| self.keep(name));
        for (name, _) in fields.iter_mut() {
            if let Some(new) = self.renamed(name) {
                *name = new.clone();
            }
        }
        if !self.replace_null_with_default {
            return;
        }
        for field in schema.fields().iter().filter(|f| self.keep(&f.name)) {
            let Some(default) = &field.schema.default else {
                continue;
            };
            let name = self
                .renamed(&field.name)
                .map_or(field.name.as_str(), |n| &**n);
            match s.get_mut(name) {
                Some(slot) if slot.is_null() => *slot = default.clone(),
                Some(_) => {}
                None => s.put(name, default.clone()),
            }
        }
    }
}

impl Transformation for ReplaceField {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let (schema_slot, value) = record.part_mut(self.part);
        if value.is_null() {
            return Ok(Outcome::Keep);
        }
        match schema_slot {
            None => self.apply_schemaless(require_map(self.name(), PURPOSE, self.part, value)?),
            Some(schema) => {
                let s = require_struct(self.name(), PURPOSE, self.part, schema, value)?;
                let updated = self
                    .cache
                    .get_or_insert(schema, |schema| self.derive_schema(schema))?;
                self.apply_with_schema(schema, s);
                *schema = updated;
            }
        }
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract_field::props;
    use super::*;
    use crate::data::SchemaType;
    use std::sync::Arc;

    fn replace(pairs: &[(&str, &str)]) -> Box<dyn Transformation> {
        build(&props(pairs), RecordPart::Value).unwrap()
    }

    fn map(entries: &[(&str, i32)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (Value::from(*k), Value::Int32(*v)))
                .collect(),
        )
    }

    #[test]
    fn schemaless_filters_and_renames() {
        let t = replace(&[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")]);
        let mut r =
            ConnectRecord::new("t", map(&[("dont", 1), ("abc", 2), ("foo", 3), ("etc", 4)]));
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, map(&[("xyz", 2), ("bar", 3), ("etc", 4)]));

        let t = replace(&[("include", "abc,foo"), ("exclude", "foo")]);
        let mut r = ConnectRecord::new("t", map(&[("abc", 1), ("foo", 2), ("etc", 3)]));
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, map(&[("abc", 1)]));

        // A rename onto an existing key: the later entry wins.
        let t = replace(&[("renames", "a:b")]);
        let mut r = ConnectRecord::new("t", map(&[("a", 1), ("b", 2)]));
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, map(&[("b", 2)]));
    }

    #[test]
    fn deprecated_keys_are_read_when_the_new_ones_are_not_set() {
        let t = replace(&[("blacklist", "a"), ("whitelist", "a,b")]);
        let mut r = ConnectRecord::new("t", map(&[("a", 1), ("b", 2), ("c", 3)]));
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, map(&[("b", 2)]));

        let t = replace(&[("blacklist", "a"), ("exclude", "b")]);
        let mut r = ConnectRecord::new("t", map(&[("a", 1), ("b", 2)]));
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, map(&[("a", 1)]));
    }

    #[test]
    fn with_schema_derives_the_schema() {
        let mut defaulted = Schema::new(SchemaType::Int32).optional();
        defaulted.default = Some(Value::Int32(5));
        let schema = Arc::new(
            Schema::structure(vec![
                Field::new("dont", Schema::string()),
                Field::new("abc", Schema::int32()),
                Field::new("foo", Schema::boolean()),
                Field::new("etc", defaulted.clone()),
            ])
            .named("n"),
        );
        let t = replace(&[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")]);
        let mut r = ConnectRecord::new(
            "t",
            Struct::new()
                .with("dont", "whatever")
                .with("abc", 42i32)
                .with("foo", true)
                .with("etc", Value::Null),
        );
        r.value_schema = Some(schema.clone());
        t.apply(&mut r).unwrap();
        let out = r.value_schema.clone().unwrap();
        assert_eq!(
            *out,
            Schema::structure(vec![
                Field::new("xyz", Schema::int32()),
                Field::new("bar", Schema::boolean()),
                Field::new("etc", defaulted),
            ])
            .named("n")
        );
        assert_eq!(
            r.value,
            Value::Struct(
                Struct::new()
                    .with("xyz", 42i32)
                    .with("bar", true)
                    .with("etc", 5i32)
            )
        );
        assert_eq!(out.validate(&r.value), Ok(()));

        // Without defaults the null stays.
        let t = replace(&[("include", "etc"), ("replace.null.with.default", "false")]);
        let mut r = ConnectRecord::new("t", Struct::new().with("etc", Value::Null));
        r.value_schema = Some(schema);
        t.apply(&mut r).unwrap();
        assert_eq!(
            r.value,
            Value::Struct(Struct::new().with("etc", Value::Null))
        );
    }

    #[test]
    fn record_errors() {
        let t = replace(&[("renames", "a:b")]);
        let schema = Arc::new(Schema::structure(vec![
            Field::new("a", Schema::int32()),
            Field::new("b", Schema::int32()),
        ]));
        let mut r = ConnectRecord::new("t", Struct::new().with("a", 1i32).with("b", 2i32));
        r.value_schema = Some(schema);
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "ReplaceField$Value: Cannot create field because of field name duplication b in the \
             value schema"
        );
        let mut r = ConnectRecord::new("t", "text");
        assert_eq!(
            t.apply(&mut r).unwrap_err().to_string(),
            "ReplaceField$Value: Only Map objects supported in absence of schema for [field \
             replacement], found string in the record value"
        );
        let mut r = ConnectRecord::new("t", Value::Null);
        t.apply(&mut r).unwrap();
        assert_eq!(r.value, Value::Null);
    }

    #[test]
    fn config_errors() {
        for (renames, bad) in [("a", "a"), ("a:b,c:d:e", "c:d:e"), ("a:b,,c:d", "")] {
            let errors = build(&props(&[("renames", renames)]), RecordPart::Key).unwrap_err();
            assert_eq!(
                errors.to_string(),
                format!(
                    "Invalid value {renames} for configuration renames: Invalid rename mapping: \
                     {bad}"
                )
            );
        }
        let errors = build(
            &props(&[("renames", "x"), ("replace.null.with.default", "no")]),
            RecordPart::Key,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2);
        // Java's split drops trailing empty parts: `a:b:` is a valid pair.
        assert!(build(&props(&[("renames", "a:b:")]), RecordPart::Key).is_ok());
    }

    #[test]
    fn java_split_matches_java() {
        assert_eq!(java_split("", ':'), [""]);
        assert_eq!(java_split("a", ':'), ["a"]);
        assert_eq!(java_split("a:", ':'), ["a"]);
        assert_eq!(java_split(":b", ':'), ["", "b"]);
        assert_eq!(java_split("a::", ':'), ["a"]);
        assert!(java_split(":", ':').is_empty());
    }
}
