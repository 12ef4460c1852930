//! `connect-core`: the connector SDK.
//!
//! Every connector crate, ours and third parties', depends on this crate only. It has the
//! connector and task traits ([`connector`]), records ([`record`]) and values with Kafka
//! Connect's types ([`data`]), configuration definitions ([`config`]), converters
//! ([`converter`]), transforms and predicates ([`transforms`]), and the plugin descriptors a
//! worker registers ([`plugin`]). It opens no sockets and runs no runtime of its own.
//!
//! Errors ([`ConnectError`]) come in three kinds the worker treats differently: retriable
//! (back off, retry the same batch), fatal (the task fails, with the message as its trace) and
//! configuration errors (HTTP 400, every problem listed).
//!
//! # A minimal source task
//!
//! Counts from where it left off: the source offset it stores is the next number, so after a
//! restart it resumes without duplicates.
//!
//! ```
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use connect_core::config::{ConfigDef, ConfigKey, ConfigType, Props, Validator};
//! use connect_core::connector::{SourceTask, SourceTaskContext};
//! use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
//! use connect_core::ConnectError;
//! use serde_json::json;
//!
//! fn config_def() -> ConfigDef {
//!     ConfigDef::new()
//!         .define(ConfigKey::new("topic", ConfigType::String).validator(Validator::NonEmptyString))
//!         .define(ConfigKey::new("batch.size", ConfigType::Int).default_value("100")
//!             .validator(Validator::at_least(1)))
//! }
//!
//! #[derive(Default)]
//! struct CounterTask {
//!     topic: String,
//!     batch_size: i64,
//!     next: i64,
//! }
//!
//! fn partition() -> SourceMap {
//!     json!({"counter": "main"}).as_object().cloned().unwrap_or_default()
//! }
//!
//! #[async_trait]
//! impl SourceTask for CounterTask {
//!     async fn start(&mut self, props: &Props, ctx: Arc<dyn SourceTaskContext>)
//!         -> Result<(), ConnectError> {
//!         let config = config_def().parse(props)?; // every problem at once, as a config error
//!         self.topic = config.string("topic").unwrap_or_default().to_owned();
//!         self.batch_size = config.long("batch.size").unwrap_or(100);
//!         self.next = ctx
//!             .offset(&partition())
//!             .and_then(|offset| offset.get("next").and_then(|n| n.as_i64()))
//!             .unwrap_or(0);
//!         Ok(())
//!     }
//!
//!     async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
//!         let batch = (self.next..self.next + self.batch_size)
//!             .map(|n| {
//!                 let offset = json!({"next": n + 1}).as_object().cloned().unwrap_or_default();
//!                 let record = ConnectRecord::new(self.topic.as_str(), n);
//!                 SourceRecord::new(partition(), offset, record)
//!             })
//!             .collect();
//!         self.next += self.batch_size;
//!         Ok(batch)
//!     }
//!
//!     async fn stop(&mut self) -> Result<(), ConnectError> {
//!         Ok(())
//!     }
//! }
//!
//! // What the worker does: give the task its stored offsets, then poll.
//! struct StoredOffsets(Props);
//! impl SourceTaskContext for StoredOffsets {
//!     fn offset(&self, _: &SourceMap) -> Option<SourceMap> {
//!         json!({"next": 40}).as_object().cloned()
//!     }
//!     fn config(&self) -> &Props {
//!         &self.0
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let props = Props::from([("topic".into(), "numbers".into()), ("batch.size".into(), "2".into())]);
//! let mut task = CounterTask::default();
//! task.start(&props, Arc::new(StoredOffsets(props.clone()))).await.unwrap();
//! let batch = task.poll().await.unwrap();
//! assert_eq!(batch.len(), 2);
//! assert_eq!(batch[0].value, 40i64.into()); // resumed after the stored offset
//! assert_eq!(batch[1].source_offset["next"], 42);
//!
//! let bad = Props::from([("batch.size".into(), "0".into())]);
//! let err = CounterTask::default().start(&bad, Arc::new(StoredOffsets(bad.clone()))).await;
//! assert_eq!(err.unwrap_err().to_string(),
//!     "Missing required configuration \"topic\" which has no default value.\n\
//!      Invalid value 0 for configuration batch.size: Value must be at least 1");
//! # });
//! ```
//!
//! # A minimal sink task
//!
//! Keeps the last value of every key in memory; a real sink writes to its system in `put` and
//! makes the writes durable in `flush`, after which the worker commits the offsets.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use connect_core::config::Props;
//! use connect_core::connector::{Offsets, SinkTask, SinkTaskContext};
//! use connect_core::data::Value;
//! use connect_core::record::{ConnectRecord, SinkRecord, TopicPartition};
//! use connect_core::ConnectError;
//!
//! #[derive(Default)]
//! struct LastValueSink {
//!     table: HashMap<String, Value>,
//! }
//!
//! #[async_trait]
//! impl SinkTask for LastValueSink {
//!     async fn start(&mut self, _: &Props, _: Arc<dyn SinkTaskContext>)
//!         -> Result<(), ConnectError> {
//!         Ok(())
//!     }
//!
//!     async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
//!         for record in records {
//!             let Some(key) = record.key.as_str().map(str::to_owned) else {
//!                 return Err(ConnectError::fatal(format!(
//!                     "record at {}@{} has no string key", record.original, record.kafka_offset)));
//!             };
//!             match &record.value {
//!                 Value::Null => self.table.remove(&key), // a tombstone deletes
//!                 value => self.table.insert(key, value.clone()),
//!             };
//!         }
//!         Ok(())
//!     }
//!
//!     async fn flush(&mut self, _: &Offsets) -> Result<(), ConnectError> {
//!         Ok(()) // nothing to make durable in memory
//!     }
//!
//!     async fn stop(&mut self) -> Result<(), ConnectError> {
//!         Ok(())
//!     }
//! }
//!
//! fn record(offset: i64, key: &str, value: Value) -> SinkRecord {
//!     let mut r = ConnectRecord::new("users", value);
//!     r.key = key.into();
//!     SinkRecord::new("users".into(), 0, offset, r)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let mut sink = LastValueSink::default();
//! sink.put(&[record(0, "a", 1i64.into()), record(1, "b", 2i64.into()),
//!             record(2, "a", Value::Null)]).await.unwrap();
//! assert_eq!(sink.table.len(), 1);
//! assert_eq!(sink.table["b"], Value::Int64(2));
//!
//! // The worker asks which offsets are safe to commit: by default, all of them after flush.
//! let offsets = Offsets::from([(TopicPartition::new("users", 0), 3)]);
//! assert_eq!(sink.pre_commit(offsets.clone()).await.unwrap(), offsets);
//! # });
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod connector;
pub mod converter;
pub mod data;
mod error;
pub mod metrics;
pub mod plugin;
pub mod record;
pub mod transforms;

pub use error::{BoxError, ConnectError};

/// Every plugin this crate ships: Kafka's converters, transforms and predicates.
pub fn builtin_plugins() -> plugin::Plugins {
    let mut plugins = plugin::Plugins::new();
    for p in converter::builtin_plugins()
        .into_iter()
        .chain(transforms::builtin_plugins())
    {
        plugins.add(p);
    }
    plugins
}
