//! `connect-redis`: the Redis sink connector and the Redis source connectors, built on
//! `connect-core` and fred.
//!
//! - [`RedisSinkConnector`] (`com.redis.kafka.connect.RedisSinkConnector`, also
//!   `RedisSinkConnector` and `RedisSink`): Kafka records into any Redis data type,
//!   exactly-once by default. Reference: `docs/connectors/redis-sink.md`.
//!
//! - [`RedisStreamSourceConnector`] (`com.redis.kafka.connect.RedisStreamSourceConnector`, also
//!   `RedisStreamSource`): streams through a consumer group, at-least-once, with `XAUTOCLAIM`
//!   of entries dead consumers left pending. Reference: `docs/connectors/redis-stream-source.md`.
//! - [`RedisKeysSourceConnector`] (`com.redis.kafka.connect.RedisKeysSourceConnector`, also
//!   `RedisKeysSource`): a snapshot of keys, then their changes from keyspace notifications.
//!   Reference: `docs/connectors/redis-keys-source.md`.
//! - [`RedisListSourceConnector`] (`com.redis.kafka.connect.RedisListSourceConnector`, also
//!   `RedisListSource`): a list as a reliable queue (`BLMOVE`), at-least-once. Reference:
//!   `docs/connectors/redis-list-source.md`.
//! - [`RedisPubSubSourceConnector`] (`com.redis.kafka.connect.RedisPubSubSourceConnector`, also
//!   `RedisPubSubSource`): channels and patterns, at-most-once. Reference:
//!   `docs/connectors/redis-pubsub-source.md`.
//!
//! The connection keys (`redis.uri`, `redis.cluster`, TLS, ...) are shared by every connector:
//! [`connection`].
//!
//! ```
//! let plugins = connect_redis::plugins();
//! let names: Vec<&str> = plugins.iter().flat_map(|p| p.names()).collect();
//! assert!(names.contains(&"RedisSink"));
//! assert!(names.contains(&"com.redis.kafka.connect.RedisSinkConnector"));
//! assert!(names.contains(&"RedisStreamSource"));
//! assert!(names.contains(&"RedisKeysSource"));
//! assert!(names.contains(&"RedisListSource"));
//! assert!(names.contains(&"RedisPubSubSource"));
//! ```

#![warn(missing_docs)]

pub mod connection;
pub mod sink;
pub mod source;
mod tls;

use connect_core::plugin::PluginDescriptor;

pub use sink::{RedisSinkConnector, RedisSinkTask};
pub use source::{
    RedisKeysSourceConnector, RedisListSourceConnector, RedisPubSubSourceConnector,
    RedisStreamSourceConnector,
};

/// The sink's class name, as in Redis Inc.'s Java connector.
pub const SINK_CLASS: &str = "com.redis.kafka.connect.RedisSinkConnector";
/// The stream source's class name, as in Redis Inc.'s Java connector.
pub const STREAM_SOURCE_CLASS: &str = "com.redis.kafka.connect.RedisStreamSourceConnector";
/// The keys source's class name, as in Redis Inc.'s Java connector.
pub const KEYS_SOURCE_CLASS: &str = "com.redis.kafka.connect.RedisKeysSourceConnector";
/// The list source's class name (ours, in the same package as the others).
pub const LIST_SOURCE_CLASS: &str = "com.redis.kafka.connect.RedisListSourceConnector";
/// The pub/sub source's class name (ours, in the same package as the others).
pub const PUBSUB_SOURCE_CLASS: &str = "com.redis.kafka.connect.RedisPubSubSourceConnector";

/// The version of these connectors: the crate's.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Every Redis connector, for the worker to register. Their short names
/// (`RedisSinkConnector`, `RedisSink`) follow from the class names by Kafka Connect's alias
/// rule.
pub fn plugins() -> Vec<PluginDescriptor> {
    vec![
        PluginDescriptor::sink::<RedisSinkConnector>(SINK_CLASS),
        PluginDescriptor::source::<RedisStreamSourceConnector>(STREAM_SOURCE_CLASS),
        PluginDescriptor::source::<RedisKeysSourceConnector>(KEYS_SOURCE_CLASS),
        PluginDescriptor::source::<RedisListSourceConnector>(LIST_SOURCE_CLASS),
        PluginDescriptor::source::<RedisPubSubSourceConnector>(PUBSUB_SOURCE_CLASS),
    ]
}
