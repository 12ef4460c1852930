//! `RedisStreamSourceConnector`: Redis streams into Kafka through a consumer group,
//! at-least-once by default. See `docs/connectors/redis-stream-source.md`.

mod config;
mod record;
mod task;

use async_trait::async_trait;
use connect_core::config::{ConfigDef, ConfigErrors, Props};
use connect_core::connector::{Connector, SourceConnector, SourceTask};
use connect_core::ConnectError;

pub(crate) use config::check_topic;
pub use config::{stream_source_config_def, StreamSourceConfig, ValueFormat, STREAM_NAME_CONFIG};
pub use record::{body_schema, source_partition, value_schema, VALUE_SCHEMA_NAME};
pub use task::RedisStreamSourceTask;

use super::{config_errors, numbered_task_configs};

/// Reads Redis streams into Kafka; Redis Inc.'s
/// `com.redis.kafka.connect.RedisStreamSourceConnector` configurations run unchanged.
///
/// Every task joins the same consumer group under its own consumer name, so Redis spreads the
/// entries over the tasks.
#[derive(Debug, Default)]
pub struct RedisStreamSourceConnector {
    props: Props,
}

#[async_trait]
impl Connector for RedisStreamSourceConnector {
    fn version(&self) -> &str {
        crate::version()
    }

    fn config_def(&self) -> ConfigDef {
        stream_source_config_def()
    }

    fn validate(&self, props: &Props) -> ConfigErrors {
        config_errors(
            StreamSourceConfig::parse(props).map(|_| ()),
            STREAM_NAME_CONFIG,
        )
    }

    async fn start(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = StreamSourceConfig::parse(props)?;
        tracing::info!(
            uri = config.redis.shown_uri(),
            streams = ?config.streams,
            group = config.group,
            "Starting the Redis stream source connector"
        );
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(numbered_task_configs(&self.props, max_tasks))
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

impl SourceConnector for RedisStreamSourceConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(RedisStreamSourceTask::default())
    }
}
