//! `RedisKeysSourceConnector`: keys and their changes into Kafka, as the Java connector of that
//! name does: a `SCAN` snapshot (mode `LIVE`), then every change that keyspace notifications
//! report, each as the key's current value; deleted and expired keys as tombstones.
//! No delivery guarantee: see `docs/connectors/redis-keys-source.md`.

mod task;
mod value;

use async_trait::async_trait;
use connect_core::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValues, Importance, Props, Validator,
    Width,
};
use connect_core::connector::{Connector, SourceConnector, SourceTask};
use connect_core::ConnectError;

pub use task::RedisKeysSourceTask;
pub use value::{value_schema, STREAM_ENTRIES, VALUE_SCHEMA_NAME};

use super::config_errors;
use super::stream::check_topic;
use crate::connection::{connection_config_def, RedisSettings, CLUSTER_CONFIG};

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

/// The keys source's keys, the connection keys included.
pub fn keys_source_config_def() -> ConfigDef {
    let mut order = 0;
    let mut key = |name: &str, ty: ConfigType| {
        order += 1;
        ConfigKey::new(name, ty).group("Redis keys source", order)
    };
    ConfigDef::new()
        .define(
            key(KEYS_PATTERN_CONFIG, ConfigType::String)
                .default_value("*")
                .validator(Validator::NonEmptyString)
                .importance(Importance::Medium)
                .width(Width::Long)
                .doc("Keyspace glob-style pattern of the keys to read and to subscribe to."),
        )
        .define(
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
        )
        .define(
            key(TOPIC_CONFIG, ConfigType::String)
                .default_value("rediskeys")
                .validator(Validator::NonEmptyString)
                .importance(Importance::Medium)
                .doc("Name of the destination topic. The record key is the Redis key."),
        )
        .define(
            key(KEYS_TIMEOUT_CONFIG, ConfigType::Long)
                .default_value("0")
                .importance(Importance::Low)
                .doc(
                    "The Java connector's idle timeout (its reader stops after this many \
                     milliseconds without changes). Accepted for compatibility and not used: \
                     the task listens until it is stopped.",
                ),
        )
        .define(
            key(BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value("500")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("The most keys one poll reads (and one SCAN page asks for)."),
        )
        .define(
            key(KEYS_BUFFER_SIZE_CONFIG, ConfigType::Int)
                .default_value("10000")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc(
                    "Ours. Keyspace notifications held between Redis and Kafka at most; when it \
                     is full, notifications are dropped, counted and reported (and in LIVE \
                     mode a new snapshot catches up).",
                ),
        )
        .merge(connection_config_def())
}

/// The keys source's parsed configuration.
#[derive(Debug, Clone)]
pub struct KeysSourceConfig {
    /// How to reach Redis.
    pub redis: RedisSettings,
    /// The key pattern.
    pub pattern: String,
    /// Snapshot first (`LIVE`).
    pub snapshot: bool,
    /// The topic.
    pub topic: String,
    /// The most keys a poll reads.
    pub batch_size: usize,
    /// The notification buffer's capacity.
    pub buffer_size: usize,
}

impl KeysSourceConfig {
    /// Parses and checks a connector or task configuration.
    pub fn parse(props: &Props) -> Result<Self, ConnectError> {
        let values = keys_source_config_def().parse(props)?;
        Self::from_values(&values)
    }

    fn from_values(values: &ConfigValues) -> Result<Self, ConnectError> {
        let redis = RedisSettings::parse(values)?;
        if redis.is_cluster() {
            // Each node publishes the notifications of its own keys only; listening to one
            // node would silently miss the others' changes.
            return Err(ConnectError::config(
                CLUSTER_CONFIG,
                "the keys source does not support Redis Cluster: keyspace notifications are \
                 published by each node for its own keys only",
            ));
        }
        let text = |key: &str| values.string(key).unwrap_or_default().trim().to_owned();
        let topic = text(TOPIC_CONFIG);
        check_topic(&topic).map_err(|m| ConnectError::config(TOPIC_CONFIG, m))?;
        let size = |key: &str, default: usize| {
            values
                .int(key)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(default)
                .max(1)
        };
        if values.long(KEYS_TIMEOUT_CONFIG).unwrap_or(0) > 0 {
            tracing::warn!("{KEYS_TIMEOUT_CONFIG} is not used: the task listens until stopped");
        }
        Ok(Self {
            redis,
            pattern: text(KEYS_PATTERN_CONFIG),
            snapshot: !text(MODE_CONFIG).eq_ignore_ascii_case("LIVEONLY"),
            topic,
            batch_size: size(BATCH_SIZE_CONFIG, 500),
            buffer_size: size(KEYS_BUFFER_SIZE_CONFIG, 10_000),
        })
    }
}

/// Reads keys and their changes into Kafka; Redis Inc.'s
/// `com.redis.kafka.connect.RedisKeysSourceConnector` configurations run unchanged.
///
/// It runs one task: notifications reach every subscriber, so more tasks would only repeat
/// the same records.
#[derive(Debug, Default)]
pub struct RedisKeysSourceConnector {
    props: Props,
}

#[async_trait]
impl Connector for RedisKeysSourceConnector {
    fn version(&self) -> &str {
        crate::version()
    }

    fn config_def(&self) -> ConfigDef {
        keys_source_config_def()
    }

    fn validate(&self, props: &Props) -> ConfigErrors {
        config_errors(
            KeysSourceConfig::parse(props).map(|_| ()),
            KEYS_PATTERN_CONFIG,
        )
    }

    async fn start(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = KeysSourceConfig::parse(props)?;
        tracing::info!(
            uri = config.redis.shown_uri(),
            pattern = config.pattern,
            "Starting the Redis keys source connector"
        );
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        if max_tasks > 1 {
            tracing::info!("the keys source runs one task (tasks.max={max_tasks})");
        }
        Ok(std::iter::repeat_n(self.props.clone(), max_tasks.min(1)).collect())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

impl SourceConnector for RedisKeysSourceConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(RedisKeysSourceTask::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::props;

    #[test]
    fn the_java_connectors_defaults() {
        let config = KeysSourceConfig::parse(&props(&[])).unwrap();
        assert_eq!(config.pattern, "*");
        assert!(config.snapshot);
        assert_eq!(config.topic, "rediskeys");
        assert_eq!(config.batch_size, 500);
        let live_only = KeysSourceConfig::parse(&props(&[("mode", "liveonly")])).unwrap();
        assert!(!live_only.snapshot);
    }

    #[test]
    fn cluster_and_bad_modes_are_refused() {
        let err = KeysSourceConfig::parse(&props(&[("redis.cluster", "true")])).unwrap_err();
        assert!(err.to_string().contains("Redis Cluster"), "{err}");
        assert!(KeysSourceConfig::parse(&props(&[("mode", "SNAPSHOT")])).is_err());
    }
}
