//! Between Kafka records and Connect records: the connector's key and value converters, and
//! headers (text when they are UTF-8, bytes otherwise).

use bytes::Bytes;

use connect_core::config::{ConfigErrors, Props};
use connect_core::converter::Converter;
use connect_core::data::{Text, Value};
use connect_core::plugin::{PluginFactory, PluginKind, Plugins};
use connect_core::record::{ConnectRecord, Headers, SinkRecord, TimestampType};
use connect_core::ConnectError;

use crate::config::WorkerConfig;
use crate::kafka::fetcher::FetchedRecord;
use crate::kafka::ProducerRecord;
use crate::task::Stage;

/// Builds a converter by name; the error says why it could not be built.
pub fn build_converter(
    plugins: &Plugins,
    name: &str,
    settings: &Props,
    is_key: bool,
) -> Result<Box<dyn Converter>, String> {
    let plugin = plugins
        .find(name, &[PluginKind::Converter])
        .map_err(|e| e.to_string())?;
    match &plugin.factory {
        PluginFactory::Converter(make) => {
            make(settings, is_key).map_err(|e: ConfigErrors| e.to_string())
        }
        _ => Err(format!("{name} is not a converter")),
    }
}

/// The key and value converters of a connector: its own `key.converter` / `value.converter`
/// with their settings, else the worker's.
#[derive(Debug)]
pub struct Converters {
    pub key: Box<dyn Converter>,
    pub value: Box<dyn Converter>,
}

impl Converters {
    /// The converters for a connector configuration.
    pub fn for_connector(
        plugins: &Plugins,
        worker: &WorkerConfig,
        connector: &Props,
    ) -> Result<Self, ConnectError> {
        let build = |key: &str, worker_default: &str, is_key: bool| {
            let (name, settings) = match connector
                .get(key)
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
            {
                Some(name) => (
                    name.to_owned(),
                    connect_core::config::strip_prefix(connector, &format!("{key}.")),
                ),
                None => (
                    worker_default.to_owned(),
                    worker.with_prefix(&format!("{key}.")),
                ),
            };
            build_converter(plugins, &name, &settings, is_key).map_err(|e| {
                ConnectError::config(
                    key,
                    format!("Invalid value {name} for configuration {key}: {e}"),
                )
            })
        };
        Ok(Self {
            key: build("key.converter", &worker.key_converter, true)?,
            value: build("value.converter", &worker.value_converter, false)?,
        })
    }

    /// A record read from Kafka as the sink task sees it (before transforms). Payloads are
    /// shared with `fetched`, not copied, so it stays available for a dead-letter queue. An
    /// error comes with the stage that failed (the key or the value converter).
    pub fn to_sink_record(
        &self,
        topic: &Text,
        partition: i32,
        fetched: &FetchedRecord,
    ) -> Result<SinkRecord, (Stage, ConnectError)> {
        let key = self
            .key
            .to_connect(topic, fetched.key.clone())
            .map_err(|e| (Stage::KeyConverter, e))?;
        let value = self
            .value
            .to_connect(topic, fetched.value.clone())
            .map_err(|e| (Stage::ValueConverter, e))?;
        let mut headers = Headers::new();
        for (name, bytes) in &fetched.headers {
            headers.add(name.as_str(), header_value(bytes.clone()));
        }
        let record = ConnectRecord {
            topic: topic.clone(),
            partition: Some(partition),
            key_schema: key.schema,
            key: key.value,
            value_schema: value.schema,
            value: value.value,
            timestamp: Some(fetched.timestamp),
            headers,
        };
        let mut sink = SinkRecord::new(topic.clone(), partition, fetched.offset, record);
        sink.timestamp_type = TimestampType::CreateTime;
        Ok(sink)
    }

    /// The Kafka record for a (transformed) source record.
    pub fn to_producer_record(
        &self,
        record: &ConnectRecord,
    ) -> Result<ProducerRecord, (Stage, ConnectError)> {
        let topic: &str = &record.topic;
        let key = self
            .key
            .from_connect(topic, record.key_schema.as_deref(), &record.key)
            .map_err(|e| (Stage::KeyConverter, e))?;
        let value = self
            .value
            .from_connect(topic, record.value_schema.as_deref(), &record.value)
            .map_err(|e| (Stage::ValueConverter, e))?;
        Ok(ProducerRecord {
            topic: record.topic.clone(),
            partition: record.partition,
            key,
            value,
            headers: record
                .headers
                .iter()
                .filter_map(|h| header_bytes(&h.value).map(|b| (h.key.to_string(), b)))
                .collect(),
            timestamp: record.timestamp,
        })
    }
}

/// A header read from Kafka: text when it is UTF-8 (shared, not copied), bytes otherwise.
pub fn header_value(bytes: Bytes) -> Value {
    match Text::try_from(bytes.clone()) {
        Ok(text) => Value::String(text),
        Err(_) => Value::Bytes(bytes),
    }
}

/// A header to write to Kafka: text and bytes as they are, other values in their text form,
/// null headers left out (rskafka cannot write a null header value).
pub fn header_bytes(value: &Value) -> Option<Bytes> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().clone()),
        Value::Bytes(b) => Some(b.clone()),
        other => Some(Bytes::from(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversion_failure_names_the_failed_stage() {
        let plugins = connect_core::builtin_plugins();
        let json = |is_key| {
            build_converter(
                &plugins,
                "JsonConverter",
                &connect_core::config::props(&[("schemas.enable", "false")]),
                is_key,
            )
            .unwrap()
        };
        let converters = Converters {
            key: json(true),
            value: json(false),
        };
        let record = |key: &'static [u8], value: &'static [u8]| FetchedRecord {
            offset: 7,
            key: Some(Bytes::from_static(key)),
            value: Some(Bytes::from_static(value)),
            headers: vec![("h".into(), Bytes::from_static(b"x"))],
            timestamp: 1,
        };
        let topic = Text::from("t");
        let ok = converters
            .to_sink_record(&topic, 2, &record(b"1", b"{\"a\":1}"))
            .unwrap();
        assert_eq!((ok.kafka_offset, ok.kafka_partition()), (7, 2));
        assert_eq!(ok.key, Value::Int64(1));
        assert_eq!(
            ok.headers.last("h").map(|h| &h.value),
            Some(&Value::from("x"))
        );
        let (stage, _) = converters
            .to_sink_record(&topic, 0, &record(b"{bad", b"1"))
            .unwrap_err();
        assert_eq!(stage, Stage::KeyConverter);
        let (stage, _) = converters
            .to_sink_record(&topic, 0, &record(b"1", b"{bad"))
            .unwrap_err();
        assert_eq!(stage, Stage::ValueConverter);
    }

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
