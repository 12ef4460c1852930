//! A stream entry as a source record: the Java connector's key, value schema and offset.

use std::sync::{Arc, OnceLock};

use connect_core::data::{Field, Schema, Struct, Text, Value};
use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};

use super::config::ValueFormat;

/// The source partition's key: the stream's name. (The Java connector's partition is `{}`,
/// which cannot tell several streams apart.)
pub const STREAM_FIELD: &str = "stream";
/// The source offset's key: the entry id, as in the Java connector.
pub const OFFSET_FIELD: &str = "offset";
/// The name of the value's struct schema, as in the Java connector.
pub const VALUE_SCHEMA_NAME: &str = "com.redis.kafka.connect.stream.Value";

/// `map<string, string>`: an entry's fields.
pub fn body_schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Arc::new(Schema::map(Schema::string(), Schema::string())))
        .clone()
}

/// `com.redis.kafka.connect.stream.Value {id: string, body: map<string,string>, stream: string}`,
/// fields in the Java connector's order.
pub fn value_schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(
                Schema::structure(vec![
                    Field::new("id", Schema::string()),
                    Field::new("body", body_schema()),
                    Field::new("stream", Schema::string()),
                ])
                .named(VALUE_SCHEMA_NAME),
            )
        })
        .clone()
}

/// The source partition of a stream.
pub fn source_partition(stream: &str) -> SourceMap {
    let mut partition = SourceMap::new();
    partition.insert(STREAM_FIELD.to_owned(), stream.into());
    partition
}

/// Turns one stream's entries into records.
#[derive(Debug, Clone)]
pub(crate) struct Converter {
    pub(crate) stream: Text,
    pub(crate) topic: Text,
    pub(crate) partition: SourceMap,
    pub(crate) key_field: Option<String>,
    pub(crate) format: ValueFormat,
}

impl Converter {
    /// The record of the entry `id` with these fields (names and values `Value::String`s),
    /// read at `timestamp` (ms since the epoch; one clock reading serves a whole read).
    pub(crate) fn record(
        &self,
        id: Text,
        fields: Vec<(Value, Value)>,
        timestamp: Option<i64>,
    ) -> SourceRecord {
        let (key_schema, key) = match &self.key_field {
            None => (Schema::string(), Value::String(id.clone())),
            Some(field) => (
                Schema::optional_string(),
                fields
                    .iter()
                    .find(|(name, _)| matches!(name, Value::String(n) if n == field.as_str()))
                    .map_or(Value::Null, |(_, v)| v.clone()),
            ),
        };
        let body = Value::Map(fields);
        let (value_schema, value) = match self.format {
            ValueFormat::Body => (body_schema(), body),
            ValueFormat::Struct => (
                value_schema(),
                Value::Struct(
                    // Static field names: no allocation per record.
                    Struct::with_capacity(3)
                        .with(Text::from_static("id"), id.clone())
                        .with(Text::from_static("body"), body)
                        .with(Text::from_static("stream"), self.stream.clone()),
                ),
            ),
        };
        let mut offset = SourceMap::new();
        offset.insert(OFFSET_FIELD.to_owned(), String::from(&*id).into());
        SourceRecord::new(
            self.partition.clone(),
            offset,
            ConnectRecord {
                topic: self.topic.clone(),
                partition: None,
                key_schema: Some(key_schema),
                key,
                value_schema: Some(value_schema),
                value,
                timestamp,
                headers: Default::default(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn converter(key_field: Option<&str>, format: ValueFormat) -> Converter {
        Converter {
            stream: "orders".into(),
            topic: "t".into(),
            partition: source_partition("orders"),
            key_field: key_field.map(str::to_owned),
            format,
        }
    }

    fn fields() -> Vec<(Value, Value)> {
        vec![("user".into(), "u1".into()), ("n".into(), "2".into())]
    }

    #[test]
    fn the_java_connectors_record() {
        let r = converter(None, ValueFormat::Struct).record("1-0".into(), fields(), Some(7));
        assert_eq!(r.topic, "t");
        assert_eq!(r.timestamp, Some(7));
        assert_eq!(r.key, Value::from("1-0"));
        assert_eq!(r.source_partition["stream"], "orders");
        assert_eq!(r.source_offset["offset"], "1-0");
        let schema = r.value_schema.clone().unwrap();
        assert_eq!(schema.name.as_deref(), Some(VALUE_SCHEMA_NAME));
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "body", "stream"]);
        assert!(schema.validate(&r.value).is_ok());
        assert_eq!(r.value.get("stream"), Some(&Value::from("orders")));
        assert_eq!(
            r.value.get("body").and_then(|b| b.get("user")),
            Some(&Value::from("u1"))
        );
    }

    #[test]
    fn key_field_and_plain_body() {
        let c = converter(Some("user"), ValueFormat::Body);
        let r = c.record("1-0".into(), fields(), Some(7));
        assert_eq!(r.key, Value::from("u1"));
        assert_eq!(r.value.get("n"), Some(&Value::from("2")));
        assert!(body_schema().validate(&r.value).is_ok());
        let r = c.record("2-0".into(), vec![], None);
        assert_eq!(r.key, Value::Null);
        assert!(r
            .key_schema
            .as_ref()
            .unwrap()
            .validate(&Value::Null)
            .is_ok());
    }
}
