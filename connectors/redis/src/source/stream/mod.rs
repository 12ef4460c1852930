//! `RedisStreamSourceConnector`: Redis streams into Kafka through a consumer group,
//! at-least-once by default. See `docs/connectors/redis-stream-source.md`.

mod config;
mod record;
mod task;

use async_trait::async_trait;
use connect_core::config::Props;
use connect_core::connector::{Connector, ConnectorContext, SourceConnector};
use connect_core::ConnectError;

pub(crate) use config::check_topic;
pub use config::{StreamSourceConfig, ValueFormat, STREAM_NAME_CONFIG};
pub use record::{body_schema, source_partition, value_schema, VALUE_SCHEMA_NAME};
pub use task::RedisStreamSourceTask;

use config::TOKEN_STREAM;

/// Reads Redis streams into Kafka; Redis Inc.'s
/// `com.redis.kafka.connect.RedisStreamSourceConnector` configurations run unchanged.
///
/// Every task joins the same consumer group under its own consumer name (from its task
/// number), so Redis spreads the entries over the tasks.
#[derive(Debug)]
pub struct RedisStreamSourceConnector;

#[async_trait]
impl Connector for RedisStreamSourceConnector {
    type Config = StreamSourceConfig;
    const VERSION: &'static str = super::VERSION;

    async fn start(
        config: StreamSourceConfig,
        _ctx: ConnectorContext,
    ) -> Result<Self, ConnectError> {
        tracing::info!(
            uri = config.redis.shown_uri(),
            streams = ?config.streams,
            group = config.group,
            "Starting the Redis stream source connector"
        );
        if config.streams.len() > 1 && !config.topic.contains(TOKEN_STREAM) {
            tracing::debug!("several streams go to the one topic {}", config.topic);
        }
        Ok(Self)
    }

    /// As many tasks as allowed, all alike: the consumer group shares the entries out.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(vec![Props::new(); max_tasks])
    }
}

impl SourceConnector for RedisStreamSourceConnector {
    type Task = RedisStreamSourceTask;
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::{props, Config};
    use connect_core::testing::check_defaults;

    #[test]
    fn served_defaults_are_the_ones_used() {
        let served = crate::source::tests::served(crate::STREAM_SOURCE_CLASS);
        check_defaults::<StreamSourceConfig>(&served, &props(&[(STREAM_NAME_CONFIG, "orders")]))
            .unwrap();
    }

    #[tokio::test]
    async fn every_task_gets_an_empty_configuration() {
        let config = StreamSourceConfig::parse(&props(&[(STREAM_NAME_CONFIG, "orders")])).unwrap();
        let connector = RedisStreamSourceConnector::start(config, ConnectorContext::new("c"))
            .await
            .unwrap();
        let configs = connector.task_configs(3).unwrap();
        assert_eq!(configs, vec![Props::new(); 3]);
    }
}
