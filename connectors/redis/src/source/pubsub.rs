//! `RedisPubSubSourceConnector` (ours): messages published on channels and patterns into
//! Kafka, at-most-once: Redis pub/sub keeps nothing for a subscriber that is away or slow.
//! See `docs/connectors/redis-pubsub-source.md`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connect_core::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValues, Importance, Props, Validator,
    Width,
};
use connect_core::connector::{Connector, SourceConnector, SourceTask, SourceTaskContext};
use connect_core::data::Schema;
use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
use connect_core::ConnectError;
use fred::prelude::{Client, ClientLike, EventInterface};
use fred::types::Message;

use super::stream::check_topic;
use super::subscription::{
    subscriber_client, Channels, Subscription, DROPPED_HELP, DROPPED_METRIC,
};
use super::{config_errors, is_glob, lossy_text, now_millis, PayloadFormat};
use crate::connection::redis_error;
use crate::connection::{connection_config_def, RedisSettings};

/// The channels (and patterns) to subscribe to.
pub const CHANNELS_CONFIG: &str = "redis.channels";
/// Whether the names are patterns: unset, names with glob characters are; true: all; false:
/// none (jaredpetersen's connector's key).
pub const PATTERNS_ENABLED_CONFIG: &str = "redis.channels.patterns.enabled";
/// The topic, with `${channel}` for the message's channel.
pub const TOPIC_CONFIG: &str = "topic";
/// The most messages buffered between Redis and Kafka.
pub const BUFFER_SIZE_CONFIG: &str = "redis.pubsub.buffer.size";
/// The most messages one poll returns.
pub const BATCH_SIZE_CONFIG: &str = "batch.size";
/// `STRING` or `BYTES`.
pub const VALUE_FORMAT_CONFIG: &str = "redis.value.format";
/// The `${channel}` placeholder of `topic`.
pub const TOKEN_CHANNEL: &str = "${channel}";

/// The longest a poll waits for a message.
const POLL_WAIT: Duration = Duration::from_secs(1);

/// The pub/sub source's keys, the connection keys included.
pub fn pubsub_source_config_def() -> ConfigDef {
    let mut order = 0;
    let mut key = |name: &str, ty: ConfigType| {
        order += 1;
        ConfigKey::new(name, ty).group("Redis pub/sub source", order)
    };
    ConfigDef::new()
        .define(
            key(CHANNELS_CONFIG, ConfigType::List)
                .importance(Importance::High)
                .width(Width::Long)
                .display_name("Channels")
                .doc(
                    "Channels to subscribe to, comma-separated. A name with glob characters \
                     (news.*, user:?, [ab]) is a pattern (PSUBSCRIBE) unless \
                     redis.channels.patterns.enabled says otherwise.",
                ),
        )
        .define(
            key(PATTERNS_ENABLED_CONFIG, ConfigType::Boolean)
                .optional()
                .importance(Importance::Low)
                .doc(
                    "true: every name in redis.channels is a pattern; false: none is. Unset: \
                     the names with glob characters are.",
                ),
        )
        .define(
            key(TOPIC_CONFIG, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc(
                    "The topic; ${channel} is the message's channel (which must then be a valid \
                     topic name). The record key is the channel.",
                ),
        )
        .define(
            key(BUFFER_SIZE_CONFIG, ConfigType::Int)
                .default_value("10000")
                .validator(Validator::at_least(1))
                .importance(Importance::Medium)
                .doc(
                    "Messages held between Redis and Kafka at most. When it is full (Kafka slower \
                     than the publishers, or away), new messages are dropped, counted and \
                     reported in the log.",
                ),
        )
        .define(
            key(BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value("500")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("The most messages one poll returns."),
        )
        .define(
            key(VALUE_FORMAT_CONFIG, ConfigType::String)
                .default_value("STRING")
                .validator(Validator::one_of_ignore_case(&["STRING", "BYTES"]))
                .recommended(&["STRING", "BYTES"])
                .importance(Importance::Medium)
                .doc(
                    "STRING: a string value (a message that is not UTF-8 becomes bytes rather \
                     than be altered). BYTES: always bytes, for ByteArrayConverter.",
                ),
        )
        .merge(connection_config_def())
}

/// The pub/sub source's parsed configuration.
#[derive(Debug, Clone)]
pub struct PubSubSourceConfig {
    /// How to reach Redis.
    pub redis: RedisSettings,
    channels: Channels,
    /// The topic, with `${channel}` in it.
    pub topic: String,
    /// The buffer's capacity.
    pub buffer_size: usize,
    /// The most messages a poll returns.
    pub batch_size: usize,
    /// How payloads become values.
    pub format: PayloadFormat,
}

impl PubSubSourceConfig {
    /// Parses and checks a connector or task configuration.
    pub fn parse(props: &Props) -> Result<Self, ConnectError> {
        let values = pubsub_source_config_def().parse(props)?;
        Self::from_values(&values)
    }

    fn from_values(values: &ConfigValues) -> Result<Self, ConnectError> {
        let redis = RedisSettings::parse(values)?;
        let names: Vec<String> = values
            .list(CHANNELS_CONFIG)
            .iter()
            .filter(|n| !n.is_empty())
            .cloned()
            .collect();
        if names.is_empty() {
            return Err(ConnectError::config(CHANNELS_CONFIG, "names no channel"));
        }
        let patterns_enabled = values.boolean(PATTERNS_ENABLED_CONFIG);
        let mut channels = Channels::default();
        for name in names {
            if patterns_enabled.unwrap_or_else(|| is_glob(&name)) {
                channels.patterns.push(name);
            } else {
                channels.channels.push(name);
            }
        }
        let topic = values
            .string(TOPIC_CONFIG)
            .unwrap_or_default()
            .trim()
            .to_owned();
        if !topic.contains(TOKEN_CHANNEL) {
            check_topic(&topic).map_err(|m| ConnectError::config(TOPIC_CONFIG, m))?;
        }
        let size = |key: &str, default: usize| {
            values
                .int(key)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(default)
                .max(1)
        };
        Ok(Self {
            redis,
            channels,
            topic,
            buffer_size: size(BUFFER_SIZE_CONFIG, 10_000),
            batch_size: size(BATCH_SIZE_CONFIG, 500),
            format: PayloadFormat::parse(values.string(VALUE_FORMAT_CONFIG).unwrap_or_default()),
        })
    }
}

/// Subscribes to channels and patterns and writes their messages to Kafka, at-most-once.
#[derive(Debug, Default)]
pub struct RedisPubSubSourceConnector {
    props: Props,
}

#[async_trait]
impl Connector for RedisPubSubSourceConnector {
    fn version(&self) -> &str {
        crate::version()
    }

    fn config_def(&self) -> ConfigDef {
        pubsub_source_config_def()
    }

    fn validate(&self, props: &Props) -> ConfigErrors {
        config_errors(
            PubSubSourceConfig::parse(props).map(|_| ()),
            CHANNELS_CONFIG,
        )
    }

    async fn start(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = PubSubSourceConfig::parse(props)?;
        tracing::info!(
            uri = config.redis.shown_uri(),
            channels = ?config.channels.channels,
            patterns = ?config.channels.patterns,
            "Starting the Redis pub/sub source connector"
        );
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        // Every subscriber gets every message: a second task would only duplicate them.
        if max_tasks > 1 {
            tracing::info!("the pub/sub source runs one task (tasks.max={max_tasks})");
        }
        Ok(std::iter::repeat_n(self.props.clone(), max_tasks.min(1)).collect())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

impl SourceConnector for RedisPubSubSourceConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(RedisPubSubSourceTask::default())
    }
}

/// The task of [`RedisPubSubSourceConnector`].
#[derive(Default)]
pub struct RedisPubSubSourceTask {
    running: Option<(PubSubSourceConfig, Client, Subscription<Message>)>,
}

impl std::fmt::Debug for RedisPubSubSourceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPubSubSourceTask")
            .field("started", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SourceTask for RedisPubSubSourceTask {
    async fn start(
        &mut self,
        props: &Props,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<(), ConnectError> {
        let config = PubSubSourceConfig::parse(props)?;
        let dropped = ctx.counter(DROPPED_METRIC, DROPPED_HELP);
        let client = subscriber_client(&config.redis, config.buffer_size).await?;
        let subscription = Subscription::start(
            client.clone(),
            client.message_rx(),
            config.channels.clone(),
            config.buffer_size,
            dropped,
        )
        .await
        .map_err(|e| redis_error(e, "subscribing"))?;
        self.running = Some((config, client, subscription));
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let Some((config, _, subscription)) = self.running.as_mut() else {
            return Err(ConnectError::fatal(
                "the Redis pub/sub source task was polled before it was started",
            ));
        };
        let messages = subscription.next_batch(config.batch_size, POLL_WAIT).await;
        subscription.report_drops("pub/sub messages");
        messages.into_iter().map(|m| record(config, m)).collect()
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        if let Some((_, client, subscription)) = self.running.take() {
            if subscription.dropped() > 0 {
                tracing::warn!(
                    total = subscription.dropped(),
                    "pub/sub messages were dropped while this task ran"
                );
            }
            subscription.stop();
            let _ = client.quit().await;
        }
        Ok(())
    }
}

/// A message's record: key the channel, value the payload. Offsets mean nothing here (nothing
/// can be read again), so partition and offset are empty and the worker stores one entry.
fn record(config: &PubSubSourceConfig, message: Message) -> Result<SourceRecord, ConnectError> {
    let channel = lossy_text(message.channel.into_inner());
    let topic = config.topic.replace(TOKEN_CHANNEL, &channel);
    check_topic(&topic)
        .map_err(|m| ConnectError::fatal(format!("a message on the channel {channel}: {m}")))?;
    let payload = super::reply::bytes(message.value).unwrap_or_default();
    let (value, schema) = config.format.value(payload);
    let mut record = ConnectRecord::new(topic, value);
    record.value_schema = Some(schema);
    record.key = channel.into();
    record.key_schema = Some(Schema::string());
    record.timestamp = now_millis();
    Ok(SourceRecord::new(
        SourceMap::new(),
        SourceMap::new(),
        record,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::props;

    #[test]
    fn channels_and_patterns() {
        let config = PubSubSourceConfig::parse(&props(&[
            ("redis.channels", "news, user:*,a?"),
            ("topic", "events"),
        ]))
        .unwrap();
        assert_eq!(config.channels.channels, ["news"]);
        assert_eq!(config.channels.patterns, ["user:*", "a?"]);
        assert_eq!(config.buffer_size, 10_000);
        let all = PubSubSourceConfig::parse(&props(&[
            ("redis.channels", "news,x*"),
            ("redis.channels.patterns.enabled", "false"),
            ("topic", "${channel}"),
        ]))
        .unwrap();
        assert_eq!(all.channels.channels, ["news", "x*"]);
        assert!(
            PubSubSourceConfig::parse(&props(&[("redis.channels", ""), ("topic", "t")])).is_err()
        );
        assert!(
            PubSubSourceConfig::parse(&props(&[("redis.channels", "a"), ("topic", "a:b")]))
                .is_err()
        );
    }

    #[test]
    fn records() {
        let config = PubSubSourceConfig::parse(&props(&[
            ("redis.channels", "n.*"),
            ("topic", "redis-${channel}"),
        ]))
        .unwrap();
        let message = Message {
            channel: "n.eu".into(),
            value: fred::types::Value::String("hello".into()),
            kind: fred::types::MessageKind::PMessage,
            server: fred::types::config::Server::new("localhost", 6379),
        };
        let r = record(&config, message.clone()).unwrap();
        assert_eq!(r.topic, "redis-n.eu");
        assert_eq!(r.key, connect_core::data::Value::from("n.eu"));
        assert_eq!(r.value, connect_core::data::Value::from("hello"));
        let bad = Message {
            channel: "n:eu".into(),
            ..message
        };
        assert!(record(&config, bad).is_err());
    }
}
