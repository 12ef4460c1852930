//! The stream source's keys: those of Redis Inc.'s Java `RedisStreamSourceConnector` with the
//! same defaults, and ours (marked so).

use std::time::Duration;

use connect_core::config::{
    Config, ConfigKey, ConfigReader, ConfigType, Importance, Validator, Width,
};
use connect_core::connector::TaskIdentity;

use crate::connection::RedisSettings;
use crate::source::{count, is_glob};

/// The streams: a name, a comma-separated list (ours) or glob patterns (ours).
pub const STREAM_NAME_CONFIG: &str = "redis.stream.name";
/// Where a new consumer group starts (`XGROUP CREATE ... <id>`).
pub const STREAM_OFFSET_CONFIG: &str = "redis.stream.offset";
/// Milliseconds `XREADGROUP` blocks waiting for entries.
pub const STREAM_BLOCK_CONFIG: &str = "redis.stream.block";
/// The consumer group the tasks share.
pub const STREAM_CONSUMER_GROUP_CONFIG: &str = "redis.stream.consumer.group";
/// The consumer name, with `${task}` for the task number.
pub const STREAM_CONSUMER_NAME_CONFIG: &str = "redis.stream.consumer.name";
/// `at-least-once` or `at-most-once`.
pub const STREAM_DELIVERY_CONFIG: &str = "redis.stream.delivery";
/// The topic, with `${stream}` for the stream's name.
pub const TOPIC_CONFIG: &str = "topic";
/// The most entries one poll returns.
pub const BATCH_SIZE_CONFIG: &str = "batch.size";
/// Ours: the body field whose value is the record key (default: the entry id).
pub const STREAM_KEY_FIELD_CONFIG: &str = "redis.stream.key.field";
/// Ours: `struct` (the Java connector's value) or `body` (the fields alone).
pub const STREAM_VALUE_FORMAT_CONFIG: &str = "redis.stream.value.format";
/// Ours: claim entries pending longer than this for another consumer (0: never).
pub const STREAM_CLAIM_IDLE_CONFIG: &str = "redis.stream.claim.idle.ms";
/// Ours: how often glob patterns are resolved again to find new streams.
pub const STREAM_PATTERN_REFRESH_CONFIG: &str = "redis.stream.pattern.refresh.ms";

/// The `${stream}` placeholder of `topic`.
pub const TOKEN_STREAM: &str = "${stream}";
/// The `${task}` placeholder of the consumer name.
pub const TOKEN_TASK: &str = "${task}";

const AT_LEAST_ONCE: &str = "at-least-once";
const AT_MOST_ONCE: &str = "at-most-once";

/// The longest one poll blocks, whatever `redis.stream.block` says, so that pause and stop
/// take effect promptly.
pub(crate) const MAX_BLOCK: Duration = Duration::from_secs(1);

/// What the value of a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// `com.redis.kafka.connect.stream.Value {id, body, stream}`.
    Struct,
    /// The body map alone.
    Body,
}

/// The stream source's configuration: its keys, then the connection keys.
#[derive(Debug, Clone)]
pub struct StreamSourceConfig {
    /// Stream names and glob patterns.
    pub streams: Vec<String>,
    /// The id a new group starts after.
    pub offset: String,
    /// How long a read blocks (at most [`MAX_BLOCK`]).
    pub block: Duration,
    /// The consumer group.
    pub group: String,
    /// The consumer name, with `${task}` for the task number (see
    /// [`consumer_for`](Self::consumer_for)).
    pub consumer_name: String,
    /// XACK after Kafka acknowledged (true) or NOACK reads (false).
    pub at_least_once: bool,
    /// The topic, with `${stream}` in it.
    pub topic: String,
    /// The most entries a poll returns.
    pub batch_size: usize,
    /// The body field that is the record key.
    pub key_field: Option<String>,
    /// The record value's form.
    pub value_format: ValueFormat,
    /// Claim entries idle this long; `None`: never.
    pub claim_idle: Option<Duration>,
    /// How often patterns are resolved again.
    pub pattern_refresh: Duration,
    /// How to reach Redis.
    pub redis: RedisSettings,
}

impl Config for StreamSourceConfig {
    fn read(c: &mut ConfigReader<'_>) -> Self {
        let mut order = 0;
        let mut key = |name: &str, ty: ConfigType| {
            order += 1;
            ConfigKey::new(name, ty).group("Redis stream source", order)
        };
        let names = c.string(
            key(STREAM_NAME_CONFIG, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .width(Width::Long)
                .display_name("Streams")
                .doc(
                    "Name of the Redis stream to read from. Ours: several comma-separated names, \
                     and glob patterns (orders:*) resolved with SCAN ... TYPE stream and again \
                     every redis.stream.pattern.refresh.ms.",
                ),
        );
        let offset = c.string(
            key(STREAM_OFFSET_CONFIG, ConfigType::String)
                .default_value("0-0")
                .importance(Importance::Medium)
                .doc(
                    "Where a consumer group that does not exist yet starts: 0-0 for the whole \
                     stream, $ for new entries only, or an entry id. An existing group goes on \
                     from its own position; a group created again goes on after the last entry \
                     the worker stored as delivered.",
                ),
        );
        let block = c.millis(
            key(STREAM_BLOCK_CONFIG, ConfigType::Long)
                .default_value("100")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc(
                    "The max amount of time in milliseconds to wait while polling for stream \
                     messages (XREADGROUP BLOCK). At most 1000 is used, so that pause and stop \
                     take effect promptly.",
                ),
        );
        let group = c.string(
            key(STREAM_CONSUMER_GROUP_CONFIG, ConfigType::String)
                .default_value("kafka-consumer-group")
                .validator(Validator::NonEmptyString)
                .importance(Importance::Medium)
                .doc("Stream consumer group. The tasks share it, so each entry goes to one task."),
        );
        let consumer_name = c.string(
            key(STREAM_CONSUMER_NAME_CONFIG, ConfigType::String)
                .default_value("consumer-${task}")
                .validator(Validator::NonEmptyString)
                .importance(Importance::Medium)
                .doc(
                    "The stream consumer's name; ${task} is the task number, e.g. consumer-0. \
                     A task that restarts under the same name first reads again the entries it \
                     had not acknowledged.",
                ),
        );
        let delivery = c.string(
            key(STREAM_DELIVERY_CONFIG, ConfigType::String)
                .default_value(AT_LEAST_ONCE)
                .validator(Validator::one_of_ignore_case(&[
                    AT_LEAST_ONCE,
                    AT_MOST_ONCE,
                ]))
                .recommended(&[AT_LEAST_ONCE, AT_MOST_ONCE])
                .importance(Importance::Medium)
                .doc(
                    "at-least-once: an entry is acknowledged (XACK) only once Kafka has its \
                     record. at-most-once: entries are read with NOACK, so a crash can lose the \
                     ones not yet in Kafka.",
                ),
        );
        let topic = c.string(
            key(TOPIC_CONFIG, ConfigType::String)
                .default_value(TOKEN_STREAM)
                .validator(Validator::NonEmptyString)
                .importance(Importance::Medium)
                .doc(
                    "Name of the destination topic, which may contain ${stream} as a placeholder \
                     for the originating stream name: redis_${stream} for the stream orders is \
                     the topic redis_orders.",
                ),
        );
        let batch_size = c.int(
            key(BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value("500")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc(
                    "Maximum number of entries one poll reads (XREADGROUP COUNT), which bounds \
                     what a task holds.",
                ),
        );
        let key_field = c.string(
            key(STREAM_KEY_FIELD_CONFIG, ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .doc(
                    "Ours. A body field whose value is the record key, so that entries with the \
                     same value go to the same Kafka partition in order. Empty: the key is the \
                     entry id, as in the Java connector. An entry without the field has no key.",
                ),
        );
        let value_format = c.string(
            key(STREAM_VALUE_FORMAT_CONFIG, ConfigType::String)
                .default_value("struct")
                .validator(Validator::one_of_ignore_case(&["struct", "body"]))
                .recommended(&["struct", "body"])
                .importance(Importance::Medium)
                .doc(
                    "Ours. struct: the Java connector's value, a struct \
                     com.redis.kafka.connect.stream.Value {id, body, stream}. body: the entry's \
                     fields alone, as a map of strings.",
                ),
        );
        let claim_idle = c.millis(
            key(STREAM_CLAIM_IDLE_CONFIG, ConfigType::Long)
                .default_value("60000")
                .validator(Validator::at_least(0))
                .importance(Importance::Medium)
                .doc(
                    "Ours. Entries of the group pending for longer than this many milliseconds \
                     (their consumer died or hung) are claimed with XAUTOCLAIM and delivered. 0: \
                     never. Keep it above the longest time Kafka may be unavailable, or entries \
                     another task is still delivering are claimed and delivered twice.",
                ),
        );
        let pattern_refresh = c.millis(
            key(STREAM_PATTERN_REFRESH_CONFIG, ConfigType::Long)
                .default_value("10000")
                .validator(Validator::at_least(100))
                .importance(Importance::Low)
                .doc(
                    "Ours. How often, in milliseconds, glob patterns in redis.stream.name are \
                     resolved again to pick up new streams.",
                ),
        );
        let redis = RedisSettings::read(c);

        let streams: Vec<String> = names
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if streams.is_empty() && !c.has_error(STREAM_NAME_CONFIG) {
            c.error(STREAM_NAME_CONFIG, "names no stream");
        }
        // A literal stream's topic can be checked now; a pattern's when it is resolved.
        if !c.has_error(TOPIC_CONFIG) {
            for stream in streams.iter().filter(|s| !is_glob(s)) {
                if let Err(m) = check_topic(&topic_for(&topic, stream)) {
                    c.error(TOPIC_CONFIG, format!("for the stream {stream}: {m}"));
                }
            }
        }
        Self {
            streams,
            offset,
            block: block.min(MAX_BLOCK),
            group,
            consumer_name,
            at_least_once: !delivery.eq_ignore_ascii_case(AT_MOST_ONCE),
            topic,
            batch_size: count(batch_size),
            key_field: Some(key_field).filter(|f| !f.is_empty()),
            value_format: if value_format.eq_ignore_ascii_case("body") {
                ValueFormat::Body
            } else {
                ValueFormat::Struct
            },
            claim_idle: Some(claim_idle).filter(|d| !d.is_zero()),
            pattern_refresh,
            redis,
        }
    }
}

impl StreamSourceConfig {
    /// The topic of a stream's records.
    pub fn topic_for(&self, stream: &str) -> String {
        topic_for(&self.topic, stream)
    }

    /// The consumer name of task `task` (the number the worker gave it).
    pub fn consumer_for(&self, task: &TaskIdentity) -> String {
        self.consumer_name.replace(TOKEN_TASK, &task.id.to_string())
    }
}

fn topic_for(template: &str, stream: &str) -> String {
    template.replace(TOKEN_STREAM, stream)
}

/// Kafka's rule for topic names, checked here so that a stream named `orders:eu` gets a clear
/// message instead of a broker error: up to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() || topic == "." || topic == ".." {
        return Err(format!("'{topic}' is not a valid topic name"));
    }
    if topic.len() > 249 {
        return Err(format!(
            "the topic name '{topic}' is longer than 249 characters"
        ));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "the topic name '{topic}' contains '{c}'; Kafka allows only letters, digits, '.', '_' \
             and '-' (set topic, e.g. redis_orders)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::{props, ConfigErrors};

    fn task(id: usize) -> TaskIdentity {
        TaskIdentity::new("orders-source", id, 4)
    }

    /// The keys with a problem, in order.
    fn keys(errors: &ConfigErrors) -> Vec<&str> {
        errors.iter().map(|(key, _)| key).collect()
    }

    #[test]
    fn defaults_are_the_java_connectors() {
        let config = StreamSourceConfig::parse(&props(&[("redis.stream.name", "orders")])).unwrap();
        assert_eq!(config.streams, ["orders"]);
        assert_eq!(config.offset, "0-0");
        assert_eq!(config.block, Duration::from_millis(100));
        assert_eq!(config.group, "kafka-consumer-group");
        assert_eq!(config.consumer_for(&task(0)), "consumer-0");
        assert!(config.at_least_once);
        assert_eq!(config.topic_for("orders"), "orders");
        assert_eq!(config.batch_size, 500);
        assert_eq!(config.key_field, None);
        assert_eq!(config.value_format, ValueFormat::Struct);
        assert_eq!(config.claim_idle, Some(Duration::from_secs(60)));
        assert_eq!(config.pattern_refresh, Duration::from_secs(10));
    }

    #[test]
    fn ours_and_task_numbers() {
        let config = StreamSourceConfig::parse(&props(&[
            ("redis.stream.name", " a, b:* ,"),
            ("topic", "redis_${stream}"),
            ("redis.stream.consumer.name", "reader-${task}-eu"),
            ("redis.stream.delivery", "AT-MOST-ONCE"),
            ("redis.stream.block", "5000"),
            ("redis.stream.claim.idle.ms", "0"),
            ("redis.stream.key.field", "user"),
            ("redis.stream.value.format", "BODY"),
        ]))
        .unwrap();
        assert_eq!(config.streams, ["a", "b:*"]);
        assert_eq!(config.consumer_for(&task(3)), "reader-3-eu");
        assert!(!config.at_least_once);
        assert_eq!(config.block, MAX_BLOCK);
        assert_eq!(config.claim_idle, None);
        assert_eq!(config.key_field.as_deref(), Some("user"));
        assert_eq!(config.value_format, ValueFormat::Body);
        assert_eq!(config.topic_for("a"), "redis_a");
    }

    #[test]
    fn every_problem_names_its_key() {
        let errors = StreamSourceConfig::parse(&props(&[])).unwrap_err();
        assert_eq!(keys(&errors), ["redis.stream.name"]);
        // A stream's topic is checked with the other keys, so /config/validate reports it.
        let errors = StreamSourceConfig::parse(&props(&[
            ("redis.stream.name", "orders:eu, orders:us, orders:*"),
            ("redis.stream.delivery", "exactly-once"),
        ]))
        .unwrap_err();
        assert_eq!(keys(&errors), ["redis.stream.delivery", "topic", "topic"]);
        let message = errors.to_string();
        assert!(message.contains("for the stream orders:eu"), "{message}");
        assert!(message.contains("contains ':'"), "{message}");
        let errors =
            StreamSourceConfig::parse(&props(&[("redis.stream.name", " , ")])).unwrap_err();
        assert_eq!(errors.to_string(), "names no stream");
    }

    #[test]
    fn topic_names() {
        assert!(check_topic("redis_orders-1.x").is_ok());
        assert!(check_topic("..").is_err());
        assert!(check_topic(&"a".repeat(250)).is_err());
    }
}
