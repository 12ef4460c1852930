//! `RedisSinkConnector`: Kafka records into any Redis data type, exactly-once by default.
//! See `docs/connectors/redis-sink.md`.

mod config;
mod encode;
mod offsets;
mod task;
mod template;
mod window;

use std::collections::BTreeMap;

use async_trait::async_trait;
use connect_core::config::Props;
use connect_core::connector::{Connector, ConnectorContext, SinkConnector};
use connect_core::record::TopicPartition;
use connect_core::ConnectError;
use fred::prelude::ClientLike;

pub use config::{RedisType, SinkConfig};
pub use encode::{Command, Encoder};
pub use task::RedisSinkTask;
pub use template::Template;

/// Writes Kafka records into Redis; Redis Inc.'s `com.redis.kafka.connect.RedisSinkConnector`
/// configurations run unchanged.
#[derive(Debug)]
pub struct RedisSinkConnector;

#[async_trait]
impl Connector for RedisSinkConnector {
    type Config = SinkConfig;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    async fn start(config: SinkConfig, _ctx: ConnectorContext) -> Result<Self, ConnectError> {
        tracing::info!(
            uri = config.redis.shown_uri(),
            r#type = config.ty.name(),
            "Starting the Redis sink connector"
        );
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        // Every task takes the connector's configuration (the worker adds it under these
        // empty maps); the worker splits the partitions.
        Ok(vec![Props::new(); max_tasks])
    }
}

#[async_trait]
impl SinkConnector for RedisSinkConnector {
    type Task = RedisSinkTask;

    async fn alter_offsets(
        config: &SinkConfig,
        offsets: &BTreeMap<TopicPartition, Option<i64>>,
    ) -> Result<(), ConnectError> {
        let Some(key) = &config.offsets_key else {
            return Ok(());
        };
        let client = config.redis.connect().await?;
        let result = offsets::alter(&client, key, offsets).await;
        let _ = client.quit().await;
        result
    }

    async fn reset_offsets(config: &SinkConfig) -> Result<(), ConnectError> {
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
    use std::time::{Duration, Instant};

    use connect_core::config::{check_generated_section, props, Config};
    use connect_core::plugin::{PluginDescriptor, PluginFactory, PluginKind, Plugins};
    use connect_core::running::SinkPlugin;
    use connect_core::testing::{self, check_defaults, TestSinkContext};

    use super::*;

    /// The sink as the worker registers it.
    fn descriptor() -> PluginDescriptor {
        crate::plugins()
            .into_iter()
            .find(|p| p.class == crate::SINK_CLASS)
            .expect("the sink is registered")
    }

    fn plugin() -> SinkPlugin {
        match descriptor().factory {
            PluginFactory::Sink(plugin) => plugin,
            other => panic!("not a sink: {other:?}"),
        }
    }

    /// Every problem `/config/validate` reports, as (key, message).
    fn problems(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        (plugin().validate)(&props(pairs))
            .iter()
            .map(|(k, m)| (k.to_owned(), m.to_owned()))
            .collect()
    }

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
        check_generated_section(&doc, &descriptor().config_def.to_markdown()).unwrap();
    }

    #[test]
    fn served_defaults_are_the_ones_used() {
        // `name` has no default of the sink's; exactly-once (the default) needs it.
        check_defaults::<SinkConfig>(&descriptor().config_def, &props(&[("name", "orders")]))
            .unwrap();
    }

    #[test]
    fn the_defaults_are_exactly_once_streams_named_after_the_connector() {
        let config = SinkConfig::parse(&props(&[("name", "orders")])).unwrap();
        assert_eq!(config.ty, RedisType::Stream);
        assert!(config.exactly_once && config.transactional());
        assert_eq!(
            config.offsets_key.as_deref(),
            Some("connect:offsets:orders")
        );
        assert_eq!(config.redis.shown_uri(), "redis://localhost:6379");
        assert_eq!(config.wait_timeout, Duration::from_secs(1));
        assert_eq!(config.ttl, None);

        let config = SinkConfig::parse(&props(&[
            ("name", "orders"),
            ("redis.offset.namespace", "shared"),
            ("redis.cluster", "true"),
        ]))
        .unwrap();
        // A cluster keeps the offsets in Redis, after each batch rather than with it.
        assert_eq!(
            config.offsets_key.as_deref(),
            Some("connect:offsets:shared")
        );
        assert!(!config.exactly_once && !config.transactional());
    }

    #[test]
    fn validate_reports_cross_key_problems_with_the_others() {
        assert_eq!(
            problems(&[
                ("name", "x"),
                ("redis.type", "LIST"),
                ("redis.keyspace", ""),
                ("redis.wait.replicas", "-1"),
            ]),
            [
                (
                    "redis.wait.replicas".to_owned(),
                    "Invalid value -1 for configuration redis.wait.replicas: Value must be at least 0"
                        .to_owned()
                ),
                (
                    "redis.keyspace".to_owned(),
                    "redis.type=LIST writes to the key named by redis.keyspace, which is empty"
                        .to_owned()
                ),
            ]
        );
        // Without `name` (a request to /config/validate may leave it out) exactly-once has no
        // namespace for its offsets.
        assert_eq!(
            problems(&[]),
            [(
                "redis.offset.namespace".to_owned(),
                "exactly-once needs a namespace for the offsets: set redis.offset.namespace or name"
                    .to_owned()
            )]
        );
        assert!(problems(&[("redis.exactly.once", "false")]).is_empty());
        assert!(problems(&[("redis.offset.namespace", "orders")]).is_empty());
    }

    #[test]
    fn an_invalid_key_brings_no_second_error_from_the_checks_that_need_it() {
        // An unknown type: no keyspace check, whose answer depends on the type.
        let found = problems(&[
            ("name", "x"),
            ("redis.type", "GRAPH"),
            ("redis.keyspace", ""),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "redis.type");
        // A bad template: reported once, and the empty keyspace it would replace is no error.
        let found = problems(&[
            ("name", "x"),
            ("redis.type", "LIST"),
            ("redis.keyspace", ""),
            ("redis.key.template", "${nope}"),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "redis.key.template");
        assert!(found[0].1.contains("unknown field '${nope}'"), "{found:?}");
        // A keyspace that is not a template.
        let found = problems(&[("name", "x"), ("redis.keyspace", "a${topic")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "redis.keyspace");
    }

    #[tokio::test]
    async fn the_connector_gives_every_task_its_configuration() {
        let config = SinkConfig::parse(&props(&[("name", "orders")])).unwrap();
        let connector = RedisSinkConnector::start(config, ConnectorContext::new("orders"))
            .await
            .unwrap();
        // The worker puts the connector's keys under each (empty) task configuration.
        assert_eq!(
            connector.task_configs(2).unwrap(),
            [Props::new(), Props::new()]
        );
        assert!(connector.task_configs(0).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_task_with_a_bad_configuration_does_not_start() {
        let ctx = TestSinkContext::new();
        let err =
            testing::start_sink_task::<RedisSinkTask>(&props(&[("redis.type", "GRAPH")]), &ctx)
                .await
                .unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)), "{err}");
        assert!(err.to_string().contains("redis.type"), "{err}");
    }

    #[tokio::test]
    async fn a_task_that_cannot_reach_redis_fails_naming_the_server_but_not_the_password() {
        // Nothing listens on port 1; redis.timeout bounds the connection attempts.
        let ctx = TestSinkContext::new();
        let config = props(&[
            ("name", "orders"),
            ("redis.uri", "redis://user:s3cret@127.0.0.1:1"),
            ("redis.timeout", "1"),
        ]);
        let before = Instant::now();
        let err = testing::start_sink_task::<RedisSinkTask>(&config, &ctx)
            .await
            .unwrap_err();
        assert!(
            before.elapsed() < Duration::from_secs(10),
            "{:?}",
            before.elapsed()
        );
        assert!(matches!(err, ConnectError::Fatal { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.starts_with("cannot connect to Redis at redis://user:********@127.0.0.1:1"),
            "{message}"
        );
        assert!(!err.trace().contains("s3cret"), "{}", err.trace());
    }

    #[tokio::test]
    async fn changing_offsets_of_a_sink_that_keeps_none_needs_no_redis() {
        // With exactly-once off the worker alone keeps the offsets: nothing to connect to
        // (the URI points nowhere).
        let config = SinkConfig::parse(&props(&[
            ("redis.exactly.once", "false"),
            ("redis.uri", "redis://127.0.0.1:1"),
            ("redis.timeout", "1"),
        ]))
        .unwrap();
        let changes = BTreeMap::from([(TopicPartition::new("orders", 0), Some(5))]);
        RedisSinkConnector::alter_offsets(&config, &changes)
            .await
            .unwrap();
        RedisSinkConnector::reset_offsets(&config).await.unwrap();
        // With them in Redis, an unreachable server is an error that cancels the change.
        let config = SinkConfig::parse(&props(&[
            ("name", "orders"),
            ("redis.uri", "redis://127.0.0.1:1"),
            ("redis.timeout", "1"),
        ]))
        .unwrap();
        let err = RedisSinkConnector::alter_offsets(&config, &changes)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cannot connect to Redis"), "{err}");
    }
}
