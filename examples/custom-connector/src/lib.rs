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
use connect_core::config::{ConfigDef, ConfigKey, ConfigType, Importance, Props, Validator};
use connect_core::connector::{Connector, SourceConnector, SourceTask, SourceTaskContext};
use connect_core::data::{Schema, Struct, Value};
use connect_core::plugin::PluginDescriptor;
use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
use connect_core::ConnectError;
use serde_json::json;

/// The connector's class name; `CounterSourceConnector` and `CounterSource` resolve too.
pub const CLASS: &str = "com.example.CounterSourceConnector";

/// The plugin to register with `Worker::builder().plugin(..)`.
pub fn plugin() -> PluginDescriptor {
    PluginDescriptor::source(CLASS, || Box::new(CounterSourceConnector::default()))
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("topic", ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc("The topic to write the counter to.")
                .group("Counter", 1),
        )
        .define(
            ConfigKey::new("interval.ms", ConfigType::Long)
                .default_value("1000")
                .validator(Validator::between(1, 3_600_000))
                .importance(Importance::Medium)
                .doc("Time between two batches.")
                .group("Counter", 2),
        )
        .define(
            ConfigKey::new("batch.size", ConfigType::Int)
                .default_value("1")
                .validator(Validator::between(1, 100_000))
                .importance(Importance::Medium)
                .doc("Records per batch: the rate is batch.size per interval.ms.")
                .group("Counter", 3),
        )
}

/// The connector: checks the configuration and gives every task the same settings plus its
/// number.
#[derive(Debug, Default)]
pub struct CounterSourceConnector {
    props: Props,
}

#[async_trait]
impl Connector for CounterSourceConnector {
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    async fn start(&mut self, props: &Props) -> Result<(), ConnectError> {
        config_def().parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok((0..max_tasks)
            .map(|task| {
                let mut props = self.props.clone();
                props.insert("task.number".into(), task.to_string());
                props
            })
            .collect())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

impl SourceConnector for CounterSourceConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(CounterTask::default())
    }
}

/// Counts, one batch per interval.
#[derive(Debug, Default)]
pub struct CounterTask {
    topic: String,
    interval: Duration,
    batch_size: i64,
    task: i32,
    partition: SourceMap,
    next: i64,
    schema: Option<Arc<Schema>>,
}

#[async_trait]
impl SourceTask for CounterTask {
    async fn start(
        &mut self,
        props: &Props,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<(), ConnectError> {
        let config = config_def().parse(props)?;
        self.topic = config.string("topic").unwrap_or_default().to_owned();
        self.interval = Duration::from_millis(config.long("interval.ms").unwrap_or(1000) as u64);
        self.batch_size = config.long("batch.size").unwrap_or(1);
        self.task = props
            .get("task.number")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let name = props.get("name").cloned().unwrap_or_default();
        self.partition = json!({"counter": format!("{name}-{}", self.task)})
            .as_object()
            .cloned()
            .unwrap_or_default();
        self.next = ctx
            .offset(&self.partition)
            .and_then(|o| o.get("next").and_then(|n| n.as_i64()))
            .unwrap_or(0);
        self.schema = Some(Arc::new(Schema::structure(vec![
            connect_core::data::Field::new("count", Schema::int64()),
            connect_core::data::Field::new("task", Schema::int32()),
        ])));
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        tokio::time::sleep(self.interval).await;
        let batch = (self.next..self.next + self.batch_size)
            .map(|n| {
                let offset = json!({"next": n + 1})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                let mut record = ConnectRecord::new(
                    self.topic.as_str(),
                    Value::Struct(Struct::new().with("count", n).with("task", self.task)),
                );
                record.value_schema = self.schema.clone();
                record.key = Value::from(n.to_string());
                SourceRecord::new(self.partition.clone(), offset, record)
            })
            .collect();
        self.next += self.batch_size;
        Ok(batch)
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stored(Props);
    impl SourceTaskContext for Stored {
        fn offset(&self, _: &SourceMap) -> Option<SourceMap> {
            json!({"next": 7}).as_object().cloned()
        }
        fn config(&self) -> &Props {
            &self.0
        }
    }

    fn props() -> Props {
        Props::from([
            ("name".into(), "hb".into()),
            ("topic".into(), "beats".into()),
            ("interval.ms".into(), "1".into()),
            ("batch.size".into(), "3".into()),
        ])
    }

    #[tokio::test]
    async fn counts_on_from_the_stored_offset() {
        let mut task = CounterTask::default();
        task.start(&props(), Arc::new(Stored(props())))
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
        assert_eq!(batch[2].source_offset["next"], 10);
        assert_eq!(batch[0].source_partition["counter"], "hb-0");
        let schema = batch[0].value_schema.as_ref().unwrap();
        assert_eq!(schema.validate(&batch[0].value), Ok(()));
    }

    #[tokio::test]
    async fn tasks_get_their_number_and_bad_settings_are_refused() {
        let mut connector = CounterSourceConnector::default();
        connector.start(&props()).await.unwrap();
        let configs = connector.task_configs(2).unwrap();
        assert_eq!(configs[1]["task.number"], "1");
        let mut bad = props();
        bad.insert("batch.size".into(), "0".into());
        bad.remove("topic");
        let errors = connector.validate(&bad);
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn resolves_by_every_alias() {
        let p = plugin();
        for name in [CLASS, "CounterSourceConnector", "CounterSource"] {
            assert!(p.matches(name), "{name}");
        }
    }
}
