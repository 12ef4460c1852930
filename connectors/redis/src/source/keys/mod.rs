//! `RedisKeysSourceConnector`: keys and their changes into Kafka, as the Java connector of that
//! name does: a `SCAN` snapshot (mode `LIVE`), then every change that keyspace notifications
//! report, each as the key's current value; deleted and expired keys as tombstones.
//! No delivery guarantee: see `docs/connectors/redis-keys-source.md`.

mod task;
mod value;

use async_trait::async_trait;
use connect_core::config::{
    Config, ConfigKey, ConfigReader, ConfigType, Importance, Props, Validator, Width,
};
use connect_core::connector::{Connector, ConnectorContext, SourceConnector};
use connect_core::ConnectError;

pub use task::RedisKeysSourceTask;
pub use value::{value_schema, STREAM_ENTRIES, VALUE_SCHEMA_NAME};

use super::count;
use super::stream::check_topic;
use crate::connection::{RedisSettings, CLUSTER_CONFIG};

/// The keys to read: a glob pattern.
pub const KEYS_PATTERN_CONFIG: &str = "redis.keys.pattern";
/// `LIVE` (snapshot, then changes) or `LIVEONLY` (changes).
pub const MODE_CONFIG: &str = "mode";
/// The topic.
pub const TOPIC_CONFIG: &str = "topic";
/// The Java connector's idle timeout; accepted, not used.
pub const KEYS_TIMEOUT_CONFIG: &str = "redis.keys.timeout";
/// The most keys one poll reads.
pub const BATCH_SIZE_CONFIG: &str = "batch.size";
/// Ours: notifications held between Redis and Kafka at most.
pub const KEYS_BUFFER_SIZE_CONFIG: &str = "redis.keys.buffer.size";

/// The keys source's configuration: its keys, then the connection keys.
#[derive(Debug, Clone)]
pub struct KeysSourceConfig {
    /// The key pattern.
    pub pattern: String,
    /// Snapshot first (`LIVE`).
    pub snapshot: bool,
    /// The topic.
    pub topic: String,
    /// `redis.keys.timeout`: accepted for compatibility, not used (the connector says so when
    /// it is set).
    pub idle_timeout_ms: i64,
    /// The most keys a poll reads.
    pub batch_size: usize,
    /// The notification buffer's capacity.
    pub buffer_size: usize,
    /// How to reach Redis.
    pub redis: RedisSettings,
}

impl Config for KeysSourceConfig {
    fn read(c: &mut ConfigReader<'_>) -> Self {
        let mut order = 0;
        let mut key = |name: &str, ty: ConfigType| {
            order += 1;
            ConfigKey::new(name, ty).group("Redis keys source", order)
        };
        let pattern = c.string(
            key(KEYS_PATTERN_CONFIG, ConfigType::String)
                .default_value("*")
                .validator(Validator::NonEmptyString)
                .importance(Importance::Medium)
                .width(Width::Long)
                .doc("Keyspace glob-style pattern of the keys to read and to subscribe to."),
        );
        let mode = c.string(
            key(MODE_CONFIG, ConfigType::String)
                .default_value("LIVE")
                .validator(Validator::one_of_ignore_case(&["LIVE", "LIVEONLY"]))
                .recommended(&["LIVE", "LIVEONLY"])
                .importance(Importance::Medium)
                .doc(
                    "LIVE: every matching key first (a SCAN snapshot), then the changes. \
                     LIVEONLY: the changes only. In LIVE mode a new snapshot is taken after the \
                     connection to Redis was lost or notifications were dropped, so that what \
                     was missed is caught up.",
                ),
        );
        let topic = c.string(
            key(TOPIC_CONFIG, ConfigType::String)
                .default_value("rediskeys")
                .validator(Validator::NonEmptyString)
                .importance(Importance::Medium)
                .doc("Name of the destination topic. The record key is the Redis key."),
        );
        let idle_timeout_ms = c.long(
            key(KEYS_TIMEOUT_CONFIG, ConfigType::Long)
                .default_value("0")
                .importance(Importance::Low)
                .doc(
                    "The Java connector's idle timeout (its reader stops after this many \
                     milliseconds without changes). Accepted for compatibility and not used: \
                     the task listens until it is stopped.",
                ),
        );
        let batch_size = c.int(
            key(BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value("500")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("The most keys one poll reads (and one SCAN page asks for)."),
        );
        let buffer_size = c.int(
            key(KEYS_BUFFER_SIZE_CONFIG, ConfigType::Int)
                .default_value("10000")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc(
                    "Ours. Keyspace notifications held between Redis and Kafka at most; when it \
                     is full, notifications are dropped, counted and reported (and in LIVE \
                     mode a new snapshot catches up).",
                ),
        );
        let redis = RedisSettings::read(c);

        if redis.is_cluster() {
            // Each node publishes the notifications of its own keys only; listening to one
            // node would silently miss the others' changes.
            c.error(
                CLUSTER_CONFIG,
                "the keys source does not support Redis Cluster: keyspace notifications are \
                 published by each node for its own keys only",
            );
        }
        if !c.has_error(TOPIC_CONFIG) {
            if let Err(m) = check_topic(&topic) {
                c.error(TOPIC_CONFIG, m);
            }
        }
        Self {
            pattern,
            snapshot: !mode.eq_ignore_ascii_case("LIVEONLY"),
            topic,
            idle_timeout_ms,
            batch_size: count(batch_size),
            buffer_size: count(buffer_size),
            redis,
        }
    }
}

/// Reads keys and their changes into Kafka; Redis Inc.'s
/// `com.redis.kafka.connect.RedisKeysSourceConnector` configurations run unchanged.
///
/// It runs one task: notifications reach every subscriber, so more tasks would only repeat
/// the same records.
#[derive(Debug)]
pub struct RedisKeysSourceConnector;

#[async_trait]
impl Connector for RedisKeysSourceConnector {
    type Config = KeysSourceConfig;
    const VERSION: &'static str = super::VERSION;

    async fn start(config: KeysSourceConfig, _ctx: ConnectorContext) -> Result<Self, ConnectError> {
        tracing::info!(
            uri = config.redis.shown_uri(),
            pattern = config.pattern,
            "Starting the Redis keys source connector"
        );
        if config.idle_timeout_ms > 0 {
            tracing::warn!("{KEYS_TIMEOUT_CONFIG} is not used: the task listens until stopped");
        }
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        if max_tasks > 1 {
            tracing::info!("the keys source runs one task (tasks.max={max_tasks})");
        }
        Ok(vec![Props::new(); max_tasks.min(1)])
    }
}

impl SourceConnector for RedisKeysSourceConnector {
    type Task = RedisKeysSourceTask;
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::props;
    use connect_core::testing::check_defaults;

    #[test]
    fn the_java_connectors_defaults() {
        let config = KeysSourceConfig::parse(&props(&[])).unwrap();
        assert_eq!(config.pattern, "*");
        assert!(config.snapshot);
        assert_eq!(config.topic, "rediskeys");
        assert_eq!(config.batch_size, 500);
        assert_eq!(config.buffer_size, 10_000);
        let live_only = KeysSourceConfig::parse(&props(&[("mode", "liveonly")])).unwrap();
        assert!(!live_only.snapshot);
    }

    #[test]
    fn served_defaults_are_the_ones_used() {
        let served = crate::source::tests::served(crate::KEYS_SOURCE_CLASS);
        check_defaults::<KeysSourceConfig>(&served, &props(&[])).unwrap();
    }

    #[test]
    fn cluster_bad_modes_and_bad_topics_are_refused_together() {
        let errors = KeysSourceConfig::parse(&props(&[
            ("redis.cluster", "true"),
            ("mode", "SNAPSHOT"),
            ("topic", "keys:eu"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["mode", "redis.cluster", "topic"]);
        let message = errors.to_string();
        assert!(
            message.contains("does not support Redis Cluster"),
            "{message}"
        );
        assert!(message.contains("contains ':'"), "{message}");
    }

    #[tokio::test]
    async fn one_task_whatever_tasks_max_says() {
        let config = KeysSourceConfig::parse(&props(&[])).unwrap();
        let connector = RedisKeysSourceConnector::start(config, ConnectorContext::new("keys"))
            .await
            .unwrap();
        assert_eq!(connector.task_configs(4).unwrap(), [Props::new()]);
        assert!(connector.task_configs(0).unwrap().is_empty());
    }
}
