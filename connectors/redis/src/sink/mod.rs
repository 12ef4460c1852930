//! `RedisSinkConnector`: Kafka records into any Redis data type, exactly-once by default.
//! See `docs/connectors/redis-sink.md`.

mod config;
mod encode;
mod offsets;
mod task;
mod template;

use std::collections::BTreeMap;

use async_trait::async_trait;
use connect_core::config::{ConfigDef, ConfigErrors, Props};
use connect_core::connector::{Connector, SinkConnector, SinkTask};
use connect_core::record::TopicPartition;
use connect_core::ConnectError;
use fred::prelude::ClientLike;

pub use config::{sink_config_def, RedisType, SinkConfig};
pub use encode::{Command, Encoder};
pub use task::RedisSinkTask;
pub use template::Template;

/// Writes Kafka records into Redis; Redis Inc.'s `com.redis.kafka.connect.RedisSinkConnector`
/// configurations run unchanged.
#[derive(Debug, Default)]
pub struct RedisSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for RedisSinkConnector {
    fn version(&self) -> &str {
        crate::version()
    }

    fn config_def(&self) -> ConfigDef {
        sink_config_def()
    }

    fn validate(&self, props: &Props) -> ConfigErrors {
        match SinkConfig::parse(props) {
            Ok(_) => ConfigErrors::default(),
            Err(ConnectError::Config(errors)) => errors,
            Err(other) => {
                let mut errors = ConfigErrors::default();
                errors.add(config::TYPE_CONFIG, other.to_string());
                errors
            }
        }
    }

    async fn start(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = SinkConfig::parse(props)?;
        tracing::info!(
            uri = config.redis.shown_uri(),
            r#type = config.ty.name(),
            "Starting the Redis sink connector"
        );
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        // Every task takes the same configuration; the worker splits the partitions.
        Ok(vec![self.props.clone(); max_tasks])
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

#[async_trait]
impl SinkConnector for RedisSinkConnector {
    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(RedisSinkTask::default())
    }

    async fn alter_offsets(
        &self,
        props: &Props,
        offsets: &BTreeMap<TopicPartition, Option<i64>>,
    ) -> Result<(), ConnectError> {
        let config = SinkConfig::parse(props)?;
        let Some(key) = &config.offsets_key else {
            return Ok(());
        };
        let client = config.redis.connect().await?;
        let result = offsets::alter(&client, key, offsets).await;
        let _ = client.quit().await;
        result
    }

    async fn reset_offsets(&self, props: &Props) -> Result<(), ConnectError> {
        let config = SinkConfig::parse(props)?;
        let Some(key) = &config.offsets_key else {
            return Ok(());
        };
        let client = config.redis.connect().await?;
        let result = offsets::reset(&client, key).await;
        let _ = client.quit().await;
        tracing::info!(key, "removed the Kafka offsets kept in Redis");
        result
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use connect_core::config::check_generated_section;
    use connect_core::plugin::{PluginKind, Plugins};

    use super::*;

    #[test]
    fn every_name_of_the_java_connector_resolves() {
        let mut plugins = Plugins::new();
        for p in crate::plugins() {
            plugins.add(p);
        }
        for name in [
            "com.redis.kafka.connect.RedisSinkConnector",
            "RedisSinkConnector",
            "RedisSink",
        ] {
            let plugin = plugins.find(name, &[PluginKind::Sink]).unwrap();
            assert_eq!(plugin.class, crate::SINK_CLASS);
        }
    }

    #[test]
    fn the_reference_in_the_docs_is_current() {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/connectors/redis-sink.md");
        check_generated_section(&doc, &sink_config_def().to_markdown()).unwrap();
    }

    #[test]
    fn validate_reports_cross_key_problems() {
        let connector = RedisSinkConnector::default();
        let errors = connector.validate(&connect_core::config::props(&[
            ("name", "x"),
            ("redis.type", "LIST"),
            ("redis.keyspace", ""),
        ]));
        let messages: Vec<(&str, &str)> = errors.iter().collect();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0].0, "redis.keyspace");
    }
}
