//! `RedisPubSubSourceConnector` (ours): messages published on channels and patterns into
//! Kafka, at-most-once: Redis pub/sub keeps nothing for a subscriber that is away or slow.
//! See `docs/connectors/redis-pubsub-source.md`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connect_core::config::{
    Config, ConfigKey, ConfigReader, ConfigType, ConfigValue, Importance, Props, Validator, Width,
};
use connect_core::connector::{
    Connector, ConnectorContext, SourceConnector, SourceTask, SourceTaskContext,
};
use connect_core::data::Schema;
use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
use connect_core::ConnectError;
use fred::prelude::{Client, ClientLike, EventInterface};
use fred::types::Message;

use super::stream::check_topic;
use super::subscription::{
    subscriber_client, Channels, Subscription, DROPPED_HELP, DROPPED_METRIC,
};
use super::{count, is_glob, lossy_text, now_millis, PayloadFormat};
use crate::connection::{redis_error, RedisSettings};

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

/// The pub/sub source's configuration: its keys, then the connection keys.
#[derive(Debug, Clone)]
pub struct PubSubSourceConfig {
    channels: Channels,
    /// The topic, with `${channel}` in it.
    pub topic: String,
    /// The buffer's capacity.
    pub buffer_size: usize,
    /// The most messages a poll returns.
    pub batch_size: usize,
    /// How payloads become values.
    pub format: PayloadFormat,
    /// How to reach Redis.
    pub redis: RedisSettings,
}

impl Config for PubSubSourceConfig {
    fn read(c: &mut ConfigReader<'_>) -> Self {
        let mut order = 0;
        let mut key = |name: &str, ty: ConfigType| {
            order += 1;
            ConfigKey::new(name, ty).group("Redis pub/sub source", order)
        };
        let names = c.list(
            key(CHANNELS_CONFIG, ConfigType::List)
                .importance(Importance::High)
                .width(Width::Long)
                .display_name("Channels")
                .doc(
                    "Channels to subscribe to, comma-separated. A name with glob characters \
                     (news.*, user:?, [ab]) is a pattern (PSUBSCRIBE) unless \
                     redis.channels.patterns.enabled says otherwise.",
                ),
        );
        // An optional boolean: unset means something of its own here.
        let patterns_enabled = match c.value(
            key(PATTERNS_ENABLED_CONFIG, ConfigType::Boolean)
                .optional()
                .importance(Importance::Low)
                .doc(
                    "true: every name in redis.channels is a pattern; false: none is. Unset: \
                     the names with glob characters are.",
                ),
            ConfigType::Boolean,
        ) {
            Some(ConfigValue::Boolean(enabled)) => Some(enabled),
            _ => None,
        };
        let topic = c.string(
            key(TOPIC_CONFIG, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc(
                    "The topic; ${channel} is the message's channel (which must then be a valid \
                     topic name). The record key is the channel.",
                ),
        );
        let buffer_size = c.int(
            key(BUFFER_SIZE_CONFIG, ConfigType::Int)
                .default_value("10000")
                .validator(Validator::at_least(1))
                .importance(Importance::Medium)
                .doc(
                    "Messages held between Redis and Kafka at most. When it is full (Kafka slower \
                     than the publishers, or away), new messages are dropped, counted and \
                     reported in the log.",
                ),
        );
        let batch_size = c.int(
            key(BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value("500")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("The most messages one poll returns."),
        );
        let format = c.string(
            key(VALUE_FORMAT_CONFIG, ConfigType::String)
                .default_value("STRING")
                .validator(Validator::one_of_ignore_case(&["STRING", "BYTES"]))
                .recommended(&["STRING", "BYTES"])
                .importance(Importance::Medium)
                .doc(
                    "STRING: a string value (a message that is not UTF-8 becomes bytes rather \
                     than be altered). BYTES: always bytes, for ByteArrayConverter.",
                ),
        );
        let redis = RedisSettings::read(c);

        let mut channels = Channels::default();
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            if patterns_enabled.unwrap_or_else(|| is_glob(&name)) {
                channels.patterns.push(name);
            } else {
                channels.channels.push(name);
            }
        }
        if channels.channels.is_empty()
            && channels.patterns.is_empty()
            && !c.has_error(CHANNELS_CONFIG)
        {
            c.error(CHANNELS_CONFIG, "names no channel");
        }
        if !topic.contains(TOKEN_CHANNEL) && !c.has_error(TOPIC_CONFIG) {
            if let Err(m) = check_topic(&topic) {
                c.error(TOPIC_CONFIG, m);
            }
        }
        Self {
            channels,
            topic,
            buffer_size: count(buffer_size),
            batch_size: count(batch_size),
            format: PayloadFormat::parse(&format),
            redis,
        }
    }
}

/// Subscribes to channels and patterns and writes their messages to Kafka, at-most-once.
///
/// It runs one task: every subscriber gets every message, so more tasks would only repeat
/// them.
#[derive(Debug)]
pub struct RedisPubSubSourceConnector;

#[async_trait]
impl Connector for RedisPubSubSourceConnector {
    type Config = PubSubSourceConfig;
    const VERSION: &'static str = super::VERSION;

    async fn start(
        config: PubSubSourceConfig,
        _ctx: ConnectorContext,
    ) -> Result<Self, ConnectError> {
        tracing::info!(
            uri = config.redis.shown_uri(),
            channels = ?config.channels.channels,
            patterns = ?config.channels.patterns,
            "Starting the Redis pub/sub source connector"
        );
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        // Every subscriber gets every message: a second task would only duplicate them.
        if max_tasks > 1 {
            tracing::info!("the pub/sub source runs one task (tasks.max={max_tasks})");
        }
        Ok(vec![Props::new(); max_tasks.min(1)])
    }
}

impl SourceConnector for RedisPubSubSourceConnector {
    type Task = RedisPubSubSourceTask;
}

/// The task of [`RedisPubSubSourceConnector`].
pub struct RedisPubSubSourceTask {
    config: PubSubSourceConfig,
    client: Client,
    subscription: Subscription<Message>,
}

impl std::fmt::Debug for RedisPubSubSourceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPubSubSourceTask")
            .field("channels", &self.config.channels)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SourceTask for RedisPubSubSourceTask {
    type Config = PubSubSourceConfig;

    async fn start(
        config: PubSubSourceConfig,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<Self, ConnectError> {
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
        Ok(Self {
            config,
            client,
            subscription,
        })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let messages = self
            .subscription
            .next_batch(self.config.batch_size, POLL_WAIT)
            .await;
        self.subscription.report_drops("pub/sub messages");
        messages
            .into_iter()
            .map(|m| record(&self.config, m))
            .collect()
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        if self.subscription.dropped() > 0 {
            tracing::warn!(
                total = self.subscription.dropped(),
                "pub/sub messages were dropped while this task ran"
            );
        }
        self.subscription.stop();
        let _ = self.client.quit().await;
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
    use connect_core::testing::check_defaults;

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
        let patterns = PubSubSourceConfig::parse(&props(&[
            ("redis.channels", "news,x*"),
            ("redis.channels.patterns.enabled", "true"),
            ("topic", "events"),
        ]))
        .unwrap();
        assert_eq!(patterns.channels.patterns, ["news", "x*"]);
        assert!(patterns.channels.channels.is_empty());
    }

    #[test]
    fn served_defaults_are_the_ones_used() {
        let served = crate::source::tests::served(crate::PUBSUB_SOURCE_CLASS);
        check_defaults::<PubSubSourceConfig>(
            &served,
            &props(&[(CHANNELS_CONFIG, "news"), (TOPIC_CONFIG, "events")]),
        )
        .unwrap();
    }

    #[test]
    fn every_problem_names_its_key() {
        let keys = |pairs: &[(&str, &str)]| -> Vec<String> {
            let errors = PubSubSourceConfig::parse(&props(pairs)).unwrap_err();
            errors.iter().map(|(key, _)| key.to_owned()).collect()
        };
        assert_eq!(keys(&[("topic", "t")]), ["redis.channels"]);
        assert_eq!(
            keys(&[("redis.channels", " , "), ("topic", "a:b")]),
            ["redis.channels", "topic"]
        );
        assert_eq!(
            keys(&[
                ("redis.channels", "a"),
                ("redis.channels.patterns.enabled", "maybe"),
                ("topic", "t")
            ]),
            ["redis.channels.patterns.enabled"]
        );
        let errors = PubSubSourceConfig::parse(&props(&[("redis.channels", ""), ("topic", "t")]))
            .unwrap_err();
        assert_eq!(errors.to_string(), "names no channel");
    }

    #[tokio::test]
    async fn one_task_whatever_tasks_max_says() {
        let config =
            PubSubSourceConfig::parse(&props(&[("redis.channels", "news"), ("topic", "events")]))
                .unwrap();
        let connector = RedisPubSubSourceConnector::start(config, ConnectorContext::new("news"))
            .await
            .unwrap();
        assert_eq!(connector.task_configs(4).unwrap(), [Props::new()]);
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
