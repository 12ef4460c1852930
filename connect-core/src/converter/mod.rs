//! Converters: between the bytes of Kafka keys and values and Connect data.
//!
//! | class | aliases | |
//! |---|---|---|
//! | `org.apache.kafka.connect.json.JsonConverter` | `JsonConverter` | JSON, with or without the `{"schema","payload"}` envelope (`schemas.enable`, default true) |
//! | `org.apache.kafka.connect.storage.StringConverter` | `StringConverter` | UTF-8 text |
//! | `org.apache.kafka.connect.converters.ByteArrayConverter` | `ByteArrayConverter` | bytes as they are |

mod byte_array;
mod json;
mod json_schema;
mod string;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::config::{ConfigDef, ConfigErrors, Props};
use crate::data::{Schema, Value};
use crate::error::ConnectError;
use crate::plugin::{ConverterFactory, PluginDescriptor, PluginFactory};

/// A key or value with its optional schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaAndValue {
    /// The schema of the value; `None` for schemaless data.
    pub schema: Option<Arc<Schema>>,
    /// The key or value itself.
    pub value: Value,
}

impl SchemaAndValue {
    /// A value without a schema.
    pub fn schemaless(value: Value) -> Self {
        Self {
            schema: None,
            value,
        }
    }
}

/// Turns Kafka bytes into Connect data and back. A converter is built for either keys or
/// values (`is_key` in its factory) and is used from one task at a time.
pub trait Converter: Send + Sync + fmt::Debug {
    /// Connect data from the bytes of a Kafka key or value (`None`: absent key or tombstone).
    fn to_connect(&self, topic: &str, data: Option<Bytes>) -> Result<SchemaAndValue, ConnectError>;

    /// The bytes to write to Kafka for a key or value (`None` for `Null`).
    /// (Kafka Connect's `fromConnectData`; the name is kept for familiarity.)
    #[allow(clippy::wrong_self_convention)]
    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Bytes>, ConnectError>;
}

/// Builds a converter from its settings (keys and values are converted alike).
pub(crate) type ConverterBuilder = fn(&Props) -> Result<Box<dyn Converter>, ConfigErrors>;

/// A converter class as both a converter and a header converter plugin (Kafka's built-in
/// converters are both).
pub(crate) fn converter_plugins(
    class: &str,
    config_def: ConfigDef,
    build: ConverterBuilder,
) -> Vec<PluginDescriptor> {
    let version = env!("CARGO_PKG_VERSION");
    let factory =
        || -> ConverterFactory { Arc::new(move |props: &Props, _is_key: bool| build(props)) };
    vec![
        PluginDescriptor::new(
            class,
            version,
            config_def.clone(),
            PluginFactory::Converter(factory()),
        ),
        PluginDescriptor::new(
            class,
            version,
            config_def,
            PluginFactory::HeaderConverter(factory()),
        ),
    ]
}

/// A header read from Kafka: text when it is UTF-8 (shared, not copied), bytes otherwise.
pub fn header_value(bytes: Bytes) -> Value {
    match crate::data::Text::try_from(bytes.clone()) {
        Ok(text) => Value::String(text),
        Err(_) => Value::Bytes(bytes),
    }
}

/// A header to write to Kafka: text and bytes as they are, other values in their text form,
/// null headers left out (a Kafka client need not be able to write a null header value).
pub fn header_bytes(value: &Value) -> Option<Bytes> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().clone()),
        Value::Bytes(b) => Some(b.clone()),
        other => Some(Bytes::from(other.to_string())),
    }
}

/// The headers of a record read from Kafka, as Connect headers ([`header_value`] each).
pub fn headers_from_kafka(headers: &[(String, Bytes)]) -> crate::record::Headers {
    let mut connect = crate::record::Headers::new();
    for (name, bytes) in headers {
        connect.add(name.as_str(), header_value(bytes.clone()));
    }
    connect
}

/// The headers to write to Kafka for a record's Connect headers ([`header_bytes`] each; null
/// headers left out).
pub fn headers_to_kafka(headers: &crate::record::Headers) -> Vec<(String, Bytes)> {
    headers
        .iter()
        .filter_map(|h| header_bytes(&h.value).map(|b| (h.key.to_string(), b)))
        .collect()
}

/// The built-in converters, as plugins.
pub fn builtin_plugins() -> Vec<PluginDescriptor> {
    [json::plugins(), string::plugins(), byte_array::plugins()]
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_as_text_or_bytes() {
        assert_eq!(header_value(Bytes::from_static(b"abc")), Value::from("abc"));
        let binary = Bytes::from_static(&[0xff, 0x00]);
        assert_eq!(header_value(binary.clone()), Value::Bytes(binary.clone()));
        assert_eq!(header_bytes(&Value::Bytes(binary.clone())), Some(binary));
        assert_eq!(
            header_bytes(&Value::Int32(7)),
            Some(Bytes::from_static(b"7"))
        );
        assert_eq!(header_bytes(&Value::Null), None);
    }
}
