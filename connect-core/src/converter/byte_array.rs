//! Kafka Connect's `ByteArrayConverter`: keys and values as the bytes they are, both ways,
//! without copying.

use bytes::Bytes;

use super::json_schema::kafka_type;
use super::{Converter, SchemaAndValue};
use crate::config::{ConfigDef, ConfigErrors, Props};
use crate::data::{Schema, SchemaType, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;

const CLASS: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

/// The byte array converter, as a converter and a header converter (Kafka's is both).
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    super::converter_plugins(CLASS, ConfigDef::new(), |props| {
        Ok(Box::new(ByteArrayConverter::new(props)?) as Box<dyn Converter>)
    })
}

/// Kafka Connect's `org.apache.kafka.connect.converters.ByteArrayConverter`. It has no
/// settings.
#[derive(Debug)]
pub struct ByteArrayConverter {
    _private: (),
}

impl ByteArrayConverter {
    /// A converter; any settings are ignored, as Kafka does.
    pub fn new(_props: &Props) -> Result<Self, ConfigErrors> {
        Ok(Self { _private: () })
    }
}

impl Converter for ByteArrayConverter {
    /// The bytes themselves with the optional bytes schema; `None` gives null.
    fn to_connect(
        &self,
        _topic: &str,
        data: Option<Bytes>,
    ) -> Result<SchemaAndValue, ConnectError> {
        Ok(SchemaAndValue {
            schema: Some(Schema::optional_bytes()),
            value: data.map_or(Value::Null, Value::Bytes),
        })
    }

    /// The same bytes (shared, not copied); null gives none. The schema, when given, must be
    /// a bytes schema, as Kafka requires.
    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Bytes>, ConnectError> {
        if let Some(schema) = schema.filter(|s| !matches!(s.kind, SchemaType::Bytes)) {
            return Err(ConnectError::fatal(format!(
                "Invalid schema type for ByteArrayConverter: {}",
                kafka_type(&schema.kind)
            )));
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes.clone())),
            other => Err(ConnectError::fatal(format!(
                "ByteArrayConverter is not compatible with objects of type {}",
                other.type_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn converter() -> ByteArrayConverter {
        ByteArrayConverter::new(&Props::new()).unwrap()
    }

    #[test]
    fn round_trip_shares_the_buffer() {
        let data = Bytes::from(vec![0u8, 1, 2, 255]);
        let sv = converter().to_connect("t", Some(data.clone())).unwrap();
        assert_eq!(sv.schema, Some(Schema::optional_bytes()));
        assert_eq!(sv.value, Value::Bytes(data.clone()));
        let out = converter()
            .from_connect("t", sv.schema.as_deref(), &sv.value)
            .unwrap()
            .unwrap();
        assert_eq!(out, data);
        assert_eq!(out.as_ptr(), data.as_ptr(), "the bytes were copied");
    }

    #[test]
    fn null_both_ways() {
        let sv = converter().to_connect("t", None).unwrap();
        assert_eq!(sv.schema, Some(Schema::optional_bytes()));
        assert_eq!(sv.value, Value::Null);
        assert_eq!(
            converter().from_connect("t", None, &Value::Null).unwrap(),
            None
        );
        let bytes = Schema::bytes();
        assert_eq!(
            converter()
                .from_connect("t", Some(&bytes), &Value::Null)
                .unwrap(),
            None
        );
    }

    #[test]
    fn rejects_other_schemas_and_values_as_kafka_does() {
        let err = converter()
            .from_connect("t", Some(&Schema::int32()), &Value::Int32(1))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid schema type for ByteArrayConverter: INT32"
        );
        let err = converter()
            .from_connect("t", None, &Value::from("x"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ByteArrayConverter is not compatible with objects of type string"
        );
        assert!(!err.is_retriable());
    }

    #[test]
    fn registered_under_kafkas_names() {
        let plugins = plugins();
        assert!(plugins.iter().all(|p| p.matches("ByteArrayConverter")));
        assert_eq!(plugins[0].kind(), crate::plugin::PluginKind::Converter);
        assert_eq!(
            plugins[1].kind(),
            crate::plugin::PluginKind::HeaderConverter
        );
    }
}
