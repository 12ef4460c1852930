//! Between Kafka records and Connect records: the connector's key and value converters, and
//! headers (text when they are UTF-8, bytes otherwise).

use connect_core::config::Props;
use connect_core::converter::{headers_from_kafka, headers_to_kafka, Converter};
use connect_core::data::Text;
use connect_core::plugin::Plugins;
use connect_core::record::{ConnectRecord, SinkRecord, TimestampType};
use connect_core::ConnectError;

use crate::config::WorkerConfig;
use crate::kafka::fetcher::FetchedRecord;
use crate::kafka::ProducerRecord;
use crate::task::Stage;

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
            plugins.converter(&name, &settings, is_key).map_err(|e| {
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
        let headers = headers_from_kafka(&fetched.headers);
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
            headers: headers_to_kafka(&record.headers),
            timestamp: record.timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use connect_core::data::Value;

    use super::*;

    #[test]
    fn a_conversion_failure_names_the_failed_stage() {
        let plugins = connect_core::builtin_plugins();
        let json = |is_key| {
            plugins
                .converter(
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
}
