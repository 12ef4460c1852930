//! The sink's keys: those of Redis Inc.'s Java `RedisSinkConnector`, and ours (marked so).

use std::sync::Arc;
use std::time::Duration;

use connect_core::config::{
    Config, ConfigKey, ConfigReader, ConfigType, ConfigValue, Importance, Validator, Width,
};

use super::template::Template;
use crate::connection::RedisSettings;

/// The Redis data type written (`redis.type`).
pub const TYPE_CONFIG: &str = "redis.type";
/// The key prefix, or the key itself for collection types (`redis.keyspace`).
pub const KEYSPACE_CONFIG: &str = "redis.keyspace";
/// Between the keyspace and the record key (`redis.separator`).
pub const SEPARATOR_CONFIG: &str = "redis.separator";
/// Ours: the key from record fields, e.g. `user:${value.id}`.
pub const KEY_TEMPLATE_CONFIG: &str = "redis.key.template";
/// Ours: `right` (RPUSH) or `left` (LPUSH) for LIST.
pub const LIST_DIRECTION_CONFIG: &str = "redis.list.direction";
/// Ours: the hash field COUNTER increments (HINCRBYFLOAT); empty: INCRBYFLOAT on the key.
pub const COUNTER_FIELD_CONFIG: &str = "redis.counter.field";
/// Seconds to live of written keys; -1 for none. Also a per-record header of this name.
pub const KEY_TTL_CONFIG: &str = "redis.key.ttl";
/// The character set of keys and values; UTF-8 only.
pub const CHARSET_CONFIG: &str = "redis.charset";
/// The Java connector's MULTI/EXEC switch.
pub const MULTIEXEC_CONFIG: &str = "redis.multiexec";
/// Replicas that must acknowledge each batch (WAIT).
pub const WAIT_REPLICAS_CONFIG: &str = "redis.wait.replicas";
/// Milliseconds WAIT waits for them.
pub const WAIT_TIMEOUT_CONFIG: &str = "redis.wait.timeout";
/// Ours: batch and Kafka offsets in one MULTI/EXEC.
pub const EXACTLY_ONCE_CONFIG: &str = "redis.exactly.once";
/// Where the Kafka offsets live in Redis: the hash `connect:offsets:<namespace>`.
pub const OFFSET_NAMESPACE_CONFIG: &str = "redis.offset.namespace";

/// The header that overrides `redis.key.ttl` for one record.
pub const TTL_HEADER: &str = KEY_TTL_CONFIG;

const TYPES: &[&str] = &[
    "HASH",
    "JSON",
    "TIMESERIES",
    "STRING",
    "STREAM",
    "LIST",
    "SET",
    "ZSET",
    "COUNTER",
    "PUBSUB",
];

/// What the sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisType {
    /// `SET key value`.
    String,
    /// `HSET key field value ...`.
    Hash,
    /// `JSON.SET key $ json` (RedisJSON).
    Json,
    /// `XADD keyspace * field value ...`.
    Stream,
    /// `RPUSH|LPUSH keyspace member`.
    List,
    /// `SADD keyspace member`.
    Set,
    /// `ZADD keyspace score member`.
    SortedSet,
    /// `TS.ADD keyspace timestamp value` (RedisTimeSeries).
    TimeSeries,
    /// Ours: `INCRBYFLOAT key n` or `HINCRBYFLOAT key field n`.
    Counter,
    /// Ours: `PUBLISH keyspace value`.
    PubSub,
}

impl RedisType {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "STRING" => Self::String,
            "HASH" => Self::Hash,
            "JSON" => Self::Json,
            "STREAM" => Self::Stream,
            "LIST" => Self::List,
            "SET" => Self::Set,
            "ZSET" => Self::SortedSet,
            "TIMESERIES" => Self::TimeSeries,
            "COUNTER" => Self::Counter,
            "PUBSUB" => Self::PubSub,
            _ => return None,
        })
    }

    /// The name as configured.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "STRING",
            Self::Hash => "HASH",
            Self::Json => "JSON",
            Self::Stream => "STREAM",
            Self::List => "LIST",
            Self::Set => "SET",
            Self::SortedSet => "ZSET",
            Self::TimeSeries => "TIMESERIES",
            Self::Counter => "COUNTER",
            Self::PubSub => "PUBSUB",
        }
    }

    /// True when each record has a key of its own (keyspace + separator + record key); false
    /// when the keyspace is the key and the record key, if used, is a member.
    pub fn key_per_record(self) -> bool {
        matches!(self, Self::String | Self::Hash | Self::Json | Self::Counter)
    }

    /// The module command the type needs, to check for at start.
    pub fn module_command(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Json => Some(("JSON.SET", "RedisJSON")),
            Self::TimeSeries => Some(("TS.ADD", "RedisTimeSeries")),
            _ => None,
        }
    }
}

/// The sink's configuration: its keys and the connection keys, declared where they are read.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// How to reach Redis.
    pub redis: RedisSettings,
    /// What to write.
    pub ty: RedisType,
    /// `redis.keyspace`, with `${topic}` in it.
    pub keyspace: Template,
    /// `redis.separator`.
    pub separator: String,
    /// `redis.key.template`, replacing the keyspace rule when set.
    pub key_template: Option<Template>,
    /// LPUSH instead of RPUSH.
    pub push_left: bool,
    /// The hash field of COUNTER, if any.
    pub counter_field: Option<String>,
    /// Seconds to live; `None` for none.
    pub ttl: Option<i64>,
    /// WAIT for this many replicas after each batch (0: no WAIT).
    pub wait_replicas: i64,
    /// WAIT's timeout.
    pub wait_timeout: Duration,
    /// Batch and offsets in one transaction (not with a cluster).
    pub exactly_once: bool,
    /// Each batch in MULTI/EXEC even without offsets (the Java connector's `redis.multiexec`).
    pub multiexec: bool,
    /// The hash that holds the Kafka offsets; `None` when the worker alone keeps them.
    pub offsets_key: Option<String>,
}

impl Config for SinkConfig {
    /// The sink's keys in the group "Redis sink", then the connection keys.
    fn read(c: &mut ConfigReader<'_>) -> Self {
        let mut order = 0;
        let mut key = |name: &str, ty: ConfigType| {
            order += 1;
            ConfigKey::new(name, ty).group("Redis sink", order)
        };
        let type_name = c.string(
            key(TYPE_CONFIG, ConfigType::String)
                .default_value("STREAM")
                .validator(Validator::one_of_ignore_case(TYPES))
                .recommended(TYPES)
                .importance(Importance::High)
                .width(Width::Short)
                .display_name("Redis data type")
                .doc(
                    "What each record becomes: STRING (SET), HASH (HSET), JSON (JSON.SET, needs \
                     RedisJSON), STREAM (XADD), LIST (RPUSH/LPUSH of the record key), SET (SADD of \
                     the record key), ZSET (ZADD, value = score, record key = member), TIMESERIES \
                     (TS.ADD, needs RedisTimeSeries); ours: COUNTER (INCRBYFLOAT/HINCRBYFLOAT) and \
                     PUBSUB (PUBLISH).",
                ),
        );
        let keyspace = c.string(
            key(KEYSPACE_CONFIG, ConfigType::String)
                .default_value("${topic}")
                .importance(Importance::Medium)
                .doc(
                    "Key prefix for STRING, HASH, JSON and COUNTER (key = keyspace + separator + \
                     record key; empty: the record key alone), the key itself for STREAM, LIST, \
                     SET, ZSET, TIMESERIES and the channel for PUBSUB. ${topic} is the record's topic.",
                ),
        );
        let separator = c.string(
            key(SEPARATOR_CONFIG, ConfigType::String)
                .default_value(":")
                .importance(Importance::Low)
                .doc("Between the keyspace and the record key."),
        );
        let key_template = c.string(
            key(KEY_TEMPLATE_CONFIG, ConfigType::String)
                .default_value("")
                .validator(Validator::Custom(Arc::new(check_template)))
                .importance(Importance::Medium)
                .doc(
                    "Ours. The Redis key (or channel) from record fields, replacing the keyspace \
                     rule: ${topic}, ${partition}, ${offset}, ${timestamp}, ${key}, ${key.f}, \
                     ${value.f} (f may be a dotted path), e.g. user:${value.id}. A record lacking a \
                     field the template needs is an errant record.",
                ),
        );
        let list_direction = c.string(
            key(LIST_DIRECTION_CONFIG, ConfigType::String)
                .default_value("right")
                .validator(Validator::one_of_ignore_case(&["right", "left"]))
                .importance(Importance::Low)
                .doc("Ours. LIST: 'right' appends (RPUSH), 'left' prepends (LPUSH)."),
        );
        let counter_field = c.string(
            key(COUNTER_FIELD_CONFIG, ConfigType::String)
                .default_value("")
                .importance(Importance::Low)
                .doc(
                    "Ours. COUNTER: increment this field of the hash at the key (HINCRBYFLOAT) \
                     instead of the key itself (INCRBYFLOAT).",
                ),
        );
        let ttl = c.long(
            key(KEY_TTL_CONFIG, ConfigType::Long)
                .default_value("-1")
                .importance(Importance::Low)
                .doc(
                    "Seconds to live of each written key (EXPIRE with the write); -1 for none. A \
                     record header of the same name overrides it for that record.",
                ),
        );
        // Only UTF-8 is accepted, which is what the sink writes anyway.
        c.string(
            key(CHARSET_CONFIG, ConfigType::String)
                .default_value("UTF-8")
                .validator(Validator::one_of_ignore_case(&["UTF-8", "UTF8"]))
                .importance(Importance::Low)
                .doc("Character set of keys and text values. Only UTF-8 is supported."),
        );
        let multiexec = c.boolean(
            key(MULTIEXEC_CONFIG, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Low)
                .doc(
                    "Write each batch in one MULTI/EXEC transaction. Exactly-once mode (the \
                     default) always does.",
                ),
        );
        let wait_replicas = c.int(
            key(WAIT_REPLICAS_CONFIG, ConfigType::Int)
                .default_value("0")
                .validator(Validator::at_least(0))
                .importance(Importance::Low)
                .doc(
                    "After each batch, WAIT until this many replicas have it; fewer within \
                     redis.wait.timeout is a retriable error.",
                ),
        );
        let wait_timeout = c.millis(
            key(WAIT_TIMEOUT_CONFIG, ConfigType::Long)
                .default_value("1000")
                .validator(Validator::at_least(0))
                .importance(Importance::Low)
                .doc("Milliseconds WAIT waits for the replicas."),
        );
        let exactly_once = c.boolean(
            key(EXACTLY_ONCE_CONFIG, ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Medium)
                .doc(
                    "Ours. Write each batch and its Kafka offsets in one MULTI/EXEC and resume \
                     from the offsets found in Redis: every record applied exactly once, even \
                     across crashes. With redis.cluster=true the offsets are written after the \
                     batch instead (at-least-once). false: the worker alone keeps the offsets \
                     (at-least-once).",
                ),
        );
        let namespace = c.string(
            key(OFFSET_NAMESPACE_CONFIG, ConfigType::String)
                .default_value("")
                .importance(Importance::Low)
                .doc(
                    "The Kafka offsets live in the hash connect:offsets:<namespace>; empty: the \
                     connector's name.",
                ),
        );
        let redis = RedisSettings::read(c);

        // Checks across keys, skipped where a key they need is invalid (reported already).
        let ty = RedisType::parse(&type_name).unwrap_or_else(|| {
            if !c.has_error(TYPE_CONFIG) {
                c.error(TYPE_CONFIG, "unknown Redis type");
            }
            // Never seen: the configuration does not parse. STRING makes no check below fire.
            RedisType::String
        });
        let keyspace = Template::parse(&keyspace).unwrap_or_else(|m| {
            c.error(KEYSPACE_CONFIG, m);
            Template::default()
        });
        // check_template reported a template that does not parse.
        let key_template = Some(key_template)
            .filter(|t| !t.is_empty())
            .and_then(|t| Template::parse(&t).ok());
        if !ty.key_per_record()
            && key_template.is_none()
            && keyspace.is_empty()
            && !c.has_error(KEY_TEMPLATE_CONFIG)
            && !c.has_error(KEYSPACE_CONFIG)
        {
            c.error(
                KEYSPACE_CONFIG,
                format!(
                    "redis.type={} writes to the key named by redis.keyspace, which is empty",
                    ty.name()
                ),
            );
        }
        let offsets_key = if exactly_once {
            // The worker's `name` key, as written.
            match Some(namespace)
                .filter(|n| !n.is_empty())
                .or_else(|| c.raw("name").filter(|n| !n.is_empty()).map(str::to_owned))
            {
                Some(namespace) => Some(format!("connect:offsets:{namespace}")),
                None => {
                    c.error(
                        OFFSET_NAMESPACE_CONFIG,
                        "exactly-once needs a namespace for the offsets: set redis.offset.namespace or name",
                    );
                    None
                }
            }
        } else {
            None
        };
        Self {
            ty,
            keyspace,
            separator,
            key_template,
            push_left: list_direction.eq_ignore_ascii_case("left"),
            counter_field: Some(counter_field).filter(|f| !f.is_empty()),
            ttl: Some(ttl).filter(|t| *t > 0),
            wait_replicas: i64::from(wait_replicas),
            wait_timeout,
            // A cluster cannot hold the batch and the offsets in one transaction.
            exactly_once: exactly_once && !redis.is_cluster(),
            multiexec: multiexec && !redis.is_cluster(),
            offsets_key,
            redis,
        }
    }
}

fn check_template(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::String(s) if !s.is_empty() => Template::parse(s).map(|_| ()),
        _ => Ok(()),
    }
}

impl SinkConfig {
    /// Whether each batch goes in one MULTI/EXEC.
    pub fn transactional(&self) -> bool {
        self.exactly_once || self.multiexec
    }
}
