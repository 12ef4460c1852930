//! Pieces the built-in transforms share.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::config::{ConfigKey, ConfigType, Importance};
use crate::data::{Field, Schema, SchemaType};
use crate::error::ConnectError;
use crate::record::RecordPart;

/// The name of the `replace.null.with.default` key.
pub(crate) const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

/// The `replace.null.with.default` key (default `true`), as Kafka defines it on several
/// transforms (KIP-1040).
pub(crate) fn replace_null_key() -> ConfigKey {
    ConfigKey::new(REPLACE_NULL_WITH_DEFAULT, ConfigType::Boolean)
        .default_value("true")
        .importance(Importance::Medium)
        .doc(
            "Whether to replace fields that have a default value and that are null to the \
             default value. When set to true, the default value is used, otherwise null is used.",
        )
}

/// The error a transform returns for a record it cannot handle, naming the transform.
pub(crate) fn data_error(transform: &str, message: impl fmt::Display) -> ConnectError {
    ConnectError::fatal(format!("{transform}: {message}"))
}

/// `key` or `value`, for messages.
pub(crate) fn part_name(part: RecordPart) -> &'static str {
    match part {
        RecordPart::Key => "key",
        RecordPart::Value => "value",
    }
}

/// A struct schema with `fields` and the other attributes (optional, name, version, doc,
/// parameters) of `base`, as Kafka's `SchemaUtil.copySchemaBasics` makes. The default is
/// dropped: it would not fit the new fields.
pub(crate) fn struct_like(base: &Schema, fields: Vec<Field>) -> Schema {
    Schema {
        kind: SchemaType::Struct(fields),
        optional: base.optional,
        default: None,
        name: base.name.clone(),
        version: base.version,
        doc: base.doc.clone(),
        parameters: base.parameters.clone(),
    }
}

/// Remembers the schema a transform derived from an input schema, so records sharing a
/// schema do not rebuild it (Kafka keeps a cache of 16 the same way). Inputs are compared by
/// pointer first, then by value, so schemas parsed anew per record still hit.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    entries: Mutex<Vec<(Arc<Schema>, Arc<Schema>)>>,
}

const SCHEMA_CACHE_SIZE: usize = 16;

impl SchemaCache {
    /// The derived schema of `input`, computed by `derive` on a miss.
    pub(crate) fn get_or_insert(
        &self,
        input: &Arc<Schema>,
        derive: impl FnOnce(&Schema) -> Result<Schema, ConnectError>,
    ) -> Result<Arc<Schema>, ConnectError> {
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, out)) = entries
                .iter()
                .find(|(k, _)| Arc::ptr_eq(k, input) || **k == **input)
            {
                return Ok(Arc::clone(out));
            }
        }
        let derived = Arc::new(derive(input)?);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SCHEMA_CACHE_SIZE {
            entries.remove(0);
        }
        entries.push((Arc::clone(input), Arc::clone(&derived)));
        Ok(derived)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_hits_equal_schemas_and_stays_bounded() {
        let cache = SchemaCache::default();
        let mut calls = 0;
        let input = Arc::new(Schema::structure(vec![Field::new("a", Schema::int32())]));
        for _ in 0..3 {
            let copy = Arc::new((*input).clone());
            cache
                .get_or_insert(&copy, |s| {
                    calls += 1;
                    Ok(s.clone().optional())
                })
                .unwrap();
        }
        assert_eq!(calls, 1);
        for i in 0..40 {
            let s = Arc::new(Schema::int32().as_ref().clone().named(format!("s{i}")));
            cache.get_or_insert(&s, |s| Ok(s.clone())).unwrap();
        }
        assert!(cache.entries.lock().unwrap().len() <= SCHEMA_CACHE_SIZE);
    }
}
