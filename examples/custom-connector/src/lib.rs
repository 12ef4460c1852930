//! A custom connector written against `connect-core` only: **CounterSource**, a source that
//! writes a counter to a topic at a steady rate. Useful as a heartbeat (is the pipeline
//! alive?) and as a load generator.
//!
//! ```properties
//! name=heartbeat
//! connector.class=com.example.CounterSourceConnector   # or CounterSource
//! topic=heartbeats
//! interval.ms=1000
//! batch.size=1
//! ```
//!
//! Each record's value is `{"count": n, "task": t}` and its key the counter as text; the source
//! offset `{"next": n + 1}` lets a restarted task continue where it stopped, without gaps or
//! repeats. With `tasks.max` > 1, each task counts on its own partition of the source
//! (`{"counter": "<name>-<task>"}`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connect_core::config::{
    Config, ConfigKey, ConfigReader, ConfigType, Importance, Props, Validator,
};
use connect_core::connector::SourceTaskContext;
use connect_core::connector::{Connector, ConnectorContext, SourceConnector, SourceTask};
use connect_core::data::{Field, Schema, Struct, Value};
use connect_core::plugin::PluginDescriptor;
use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
use connect_core::ConnectError;
use serde_json::json;
use tokio::time::Instant;

/// The connector's class name; `CounterSourceConnector` and `CounterSource` resolve too.
pub const CLASS: &str = "com.example.CounterSourceConnector";

/// The longest a `poll` waits for the next batch: the worker asks tasks to return within about
/// a second so that pause and stop take effect promptly, whatever `interval.ms` says.
const MAX_POLL_WAIT: Duration = Duration::from_secs(1);

/// The plugin to register with `Worker::builder().plugin(..)`.
pub fn plugin() -> PluginDescriptor {
    PluginDescriptor::source::<CounterSourceConnector>(CLASS)
}

/// The connector's keys, declared once: the REST API serves these definitions, and the
/// connector and its tasks get the parsed values.
#[derive(Debug, Clone)]
pub struct CounterConfig {
    /// The topic to write the counter to.
    pub topic: String,
    /// The time between two batches.
    pub interval: Duration,
    /// Records per batch.
    pub batch_size: i64,
}

impl Config for CounterConfig {
    fn read(c: &mut ConfigReader<'_>) -> Self {
        Self {
            topic: c.string(
                ConfigKey::new("topic", ConfigType::String)
                    .validator(Validator::NonEmptyString)
                    .importance(Importance::High)
                    .doc("The topic to write the counter to.")
                    .group("Counter", 1),
            ),
            interval: c.millis(
                ConfigKey::new("interval.ms", ConfigType::Long)
                    .default_value("1000")
                    .validator(Validator::between(1, 3_600_000))
                    .importance(Importance::Medium)
                    .doc("Time between two batches.")
                    .group("Counter", 2),
            ),
            batch_size: c.long(
                ConfigKey::new("batch.size", ConfigType::Int)
                    .default_value("1")
                    .validator(Validator::between(1, 100_000))
                    .importance(Importance::Medium)
                    .doc("Records per batch: the rate is batch.size per interval.ms.")
                    .group("Counter", 3),
            ),
        }
    }
}

/// The connector: every task counts on its own, so their configurations are all alike (the
/// worker tells each task its number).
#[derive(Debug)]
pub struct CounterSourceConnector;

#[async_trait]
impl Connector for CounterSourceConnector {
    type Config = CounterConfig;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    async fn start(_: CounterConfig, _: ConnectorContext) -> Result<Self, ConnectError> {
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(vec![Props::new(); max_tasks])
    }
}

impl SourceConnector for CounterSourceConnector {
    type Task = CounterTask;
}

/// Counts, one batch per interval.
#[derive(Debug)]
pub struct CounterTask {
    config: CounterConfig,
    task: i32,
    partition: SourceMap,
    next: i64,
    schema: Arc<Schema>,
    /// When the next batch is due.
    due: Instant,
}

#[async_trait]
impl SourceTask for CounterTask {
    type Config = CounterConfig;

    async fn start(
        config: CounterConfig,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<Self, ConnectError> {
        let identity = ctx.task();
        let task = i32::try_from(identity.id).map_err(|_| {
            ConnectError::fatal(format!("task number {} is too large", identity.id))
        })?;
        let partition = json!({"counter": identity.to_string()})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let next = ctx
            .offset(&partition)
            .and_then(|o| o.get("next").and_then(|n| n.as_i64()))
            .unwrap_or(0);
        Ok(Self {
            due: Instant::now() + config.interval,
            config,
            task,
            partition,
            next,
            schema: Arc::new(Schema::structure(vec![
                Field::new("count", Schema::int64()),
                Field::new("task", Schema::int32()),
            ])),
        })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        // Wait for the batch at most MAX_POLL_WAIT; the rest of a long interval is waited
        // out by the next polls.
        let now = Instant::now();
        if now < self.due {
            tokio::time::sleep((self.due - now).min(MAX_POLL_WAIT)).await;
            if Instant::now() < self.due {
                return Ok(Vec::new());
            }
        }
        // Steady rate, without a burst to catch up after a pause.
        self.due = (self.due + self.config.interval).max(Instant::now());
        let batch = (self.next..self.next + self.config.batch_size)
            .map(|n| {
                let offset = json!({"next": n + 1})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                let mut record = ConnectRecord::new(
                    self.config.topic.as_str(),
                    Value::Struct(Struct::new().with("count", n).with("task", self.task)),
                );
                record.value_schema = Some(Arc::clone(&self.schema));
                record.key = Value::from(n.to_string());
                SourceRecord::new(self.partition.clone(), offset, record)
            })
            .collect();
        self.next += self.config.batch_size;
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use connect_core::config::props;
    use connect_core::connector::TaskIdentity;
    use connect_core::testing::{self, Pipeline, TestSourceContext};

    use super::*;

    fn config(interval_ms: &str) -> Props {
        props(&[
            ("name", "hb"),
            ("topic", "beats"),
            ("interval.ms", interval_ms),
            ("batch.size", "3"),
        ])
    }

    fn offset(next: i64) -> SourceMap {
        json!({"next": next})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn counts_on_from_the_stored_offset_of_its_own_partition() {
        let ctx = TestSourceContext::for_task(TaskIdentity::new("hb", 1, 2));
        let partition = json!({"counter": "hb-1"}).as_object().cloned().unwrap();
        ctx.store_offset(partition.clone(), offset(7));
        let mut task: CounterTask = testing::start_source_task(&config("1"), &ctx)
            .await
            .unwrap();
        let batch = task.poll().await.unwrap();
        let counts: Vec<&Value> = batch
            .iter()
            .map(|r| r.value.get("count").unwrap())
            .collect();
        assert_eq!(
            counts,
            [&Value::Int64(7), &Value::Int64(8), &Value::Int64(9)]
        );
        assert_eq!(batch[0].value.get("task"), Some(&Value::Int32(1)));
        assert_eq!(batch[2].source_offset["next"], 10);
        assert_eq!(batch[0].source_partition, partition);
        let schema = batch[0].value_schema.as_ref().unwrap();
        assert_eq!(schema.validate(&batch[0].value), Ok(()));
    }

    #[tokio::test]
    async fn records_reach_kafka_as_json_with_their_schema() {
        let ctx = TestSourceContext::new();
        let mut task: CounterTask = testing::start_source_task(&config("1"), &ctx)
            .await
            .unwrap();
        let pipeline = Pipeline::new(&props(&[
            ("key.converter", "StringConverter"),
            ("value.converter", "JsonConverter"),
        ]))
        .unwrap();
        let written = pipeline.to_kafka(task.poll().await.unwrap()).unwrap();
        assert_eq!(written.len(), 3);
        assert_eq!(written[1].topic, "beats");
        assert_eq!(written[1].key.as_deref(), Some(&b"1"[..]));
        let value: serde_json::Value =
            serde_json::from_slice(written[1].value.as_deref().unwrap()).unwrap();
        assert_eq!(value["payload"], json!({"count": 1, "task": 0}));
        assert_eq!(value["schema"]["type"], "struct");
    }

    #[tokio::test]
    async fn a_long_interval_never_holds_a_poll_longer_than_a_second() {
        let ctx = TestSourceContext::new();
        let mut task: CounterTask = testing::start_source_task(&config("3600000"), &ctx)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let batch = task.poll().await.unwrap();
        let waited = started.elapsed();
        assert!(batch.is_empty());
        assert!(
            waited >= MAX_POLL_WAIT && waited < MAX_POLL_WAIT + Duration::from_millis(500),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn every_task_gets_the_same_configuration_and_bad_settings_are_refused() {
        let connector = CounterSourceConnector::start(
            CounterConfig::parse(&config("1")).unwrap(),
            ConnectorContext::new("hb"),
        )
        .await
        .unwrap();
        assert_eq!(connector.task_configs(2).unwrap(), vec![Props::new(); 2]);
        let mut bad = config("1");
        bad.insert("batch.size".into(), "0".into());
        bad.remove("topic");
        let errors = CounterConfig::parse(&bad).unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["topic", "batch.size"]);
    }

    #[test]
    fn served_defaults_are_the_ones_used() {
        let required = props(&[("topic", "beats")]);
        testing::check_defaults::<CounterConfig>(&plugin().config_def, &required).unwrap();
    }

    #[test]
    fn resolves_by_every_alias() {
        let p = plugin();
        for name in [CLASS, "CounterSourceConnector", "CounterSource"] {
            assert!(p.matches(name), "{name}");
        }
    }
}
