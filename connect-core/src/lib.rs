//! `connect-core`: the connector SDK.
//!
//! Every connector crate, ours and third parties', depends on this crate only. It has the
//! connector and task traits ([`connector`]), records ([`record`]) and values with Kafka
//! Connect's types ([`data`]), configuration definitions ([`config`]), converters
//! ([`converter`]), transforms and predicates ([`transforms`]), the plugin descriptors a
//! worker registers ([`plugin`]) and a test kit ([`testing`]). It opens no sockets and runs no
//! runtime of its own.
//!
//! Errors ([`ConnectError`]) come in three kinds the worker treats differently: retriable
//! (back off, retry the same batch), fatal (the task fails, with the message as its trace) and
//! configuration errors (HTTP 400, every problem listed).
//!
//! # A minimal source task
//!
//! Counts from where it left off: the source offset it stores is the next number, so after a
//! restart it resumes without duplicates. Its configuration is declared once, where it is read
//! ([`config::Config`]); the task is built running from it ([`connector::SourceTask::start`]).
//!
//! ```
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use connect_core::config::{props, Config, ConfigKey, ConfigReader, ConfigType, Validator};
//! use connect_core::connector::{SourceTask, SourceTaskContext};
//! use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
//! use connect_core::testing::{self, TestSourceContext};
//! use connect_core::ConnectError;
//! use serde_json::json;
//!
//! #[derive(Debug)]
//! struct CounterConfig {
//!     topic: String,
//!     batch_size: i64,
//! }
//!
//! impl Config for CounterConfig {
//!     fn read(c: &mut ConfigReader<'_>) -> Self {
//!         Self {
//!             topic: c.string(ConfigKey::new("topic", ConfigType::String)
//!                 .validator(Validator::NonEmptyString)),
//!             batch_size: c.long(ConfigKey::new("batch.size", ConfigType::Long)
//!                 .default_value("100")
//!                 .validator(Validator::at_least(1))),
//!         }
//!     }
//! }
//!
//! struct CounterTask {
//!     config: CounterConfig,
//!     next: i64,
//! }
//!
//! fn partition() -> SourceMap {
//!     json!({"counter": "main"}).as_object().cloned().unwrap_or_default()
//! }
//!
//! #[async_trait]
//! impl SourceTask for CounterTask {
//!     type Config = CounterConfig;
//!
//!     async fn start(config: CounterConfig, ctx: Arc<dyn SourceTaskContext>)
//!         -> Result<Self, ConnectError> {
//!         let next = ctx
//!             .offset(&partition())
//!             .and_then(|offset| offset.get("next").and_then(|n| n.as_i64()))
//!             .unwrap_or(0);
//!         Ok(Self { config, next })
//!     }
//!
//!     async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
//!         let batch = (self.next..self.next + self.config.batch_size)
//!             .map(|n| {
//!                 let offset = json!({"next": n + 1}).as_object().cloned().unwrap_or_default();
//!                 let record = ConnectRecord::new(self.config.topic.as_str(), n);
//!                 SourceRecord::new(partition(), offset, record)
//!             })
//!             .collect();
//!         self.next += self.config.batch_size;
//!         Ok(batch)
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // What the worker does: give the task its stored offsets, then poll.
//! let ctx = TestSourceContext::new();
//! ctx.store_offset(partition(), json!({"next": 40}).as_object().cloned().unwrap());
//! let config = props(&[("topic", "numbers"), ("batch.size", "2")]);
//! let mut task: CounterTask = testing::start_source_task(&config, &ctx).await.unwrap();
//! let batch = task.poll().await.unwrap();
//! assert_eq!(batch.len(), 2);
//! assert_eq!(batch[0].value, 40i64.into()); // resumed after the stored offset
//! assert_eq!(batch[1].source_offset["next"], 42);
//!
//! let bad = props(&[("batch.size", "0")]);
//! let err = testing::start_source_task::<CounterTask>(&bad, &ctx).await.err().unwrap();
//! assert_eq!(err.to_string(),
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
//!     type Config = (); // no keys of its own
//!
//!     async fn start(_: (), _: Arc<dyn SinkTaskContext>) -> Result<Self, ConnectError> {
//!         Ok(Self::default())
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
//! }
//!
//! fn record(offset: i64, key: &str, value: Value) -> SinkRecord {
//!     let mut r = ConnectRecord::new("users", value);
//!     r.key = key.into();
//!     SinkRecord::new("users".into(), 0, offset, r)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let ctx = connect_core::testing::TestSinkContext::new();
//! let mut sink: LastValueSink =
//!     connect_core::testing::start_sink_task(&Default::default(), &ctx).await.unwrap();
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
pub mod running;
pub mod testing;
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
