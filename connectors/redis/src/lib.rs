//! `connect-redis`: the Redis sink connector and the Redis source connectors, built on
//! `connect-core` and fred.
//!
//! - [`RedisSinkConnector`] (`com.redis.kafka.connect.RedisSinkConnector`, also
//!   `RedisSinkConnector` and `RedisSink`): Kafka records into any Redis data type,
//!   exactly-once by default. Reference: `docs/connectors/redis-sink.md`.
//!
//! The connection keys (`redis.uri`, `redis.cluster`, TLS, ...) are shared by every connector:
//! [`connection`].
//!
//! ```
//! let plugins = connect_redis::plugins();
//! let names: Vec<&str> = plugins.iter().flat_map(|p| p.names()).collect();
//! assert!(names.contains(&"RedisSink"));
//! assert!(names.contains(&"com.redis.kafka.connect.RedisSinkConnector"));
//! ```

#![warn(missing_docs)]

pub mod connection;
pub mod sink;
mod tls;

use connect_core::plugin::PluginDescriptor;

pub use sink::{RedisSinkConnector, RedisSinkTask};

/// The sink's class name, as in Redis Inc.'s Java connector.
pub const SINK_CLASS: &str = "com.redis.kafka.connect.RedisSinkConnector";

/// The version of these connectors: the crate's.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Every Redis connector, for the worker to register. Their short names
/// (`RedisSinkConnector`, `RedisSink`) follow from the class names by Kafka Connect's alias
/// rule.
pub fn plugins() -> Vec<PluginDescriptor> {
    vec![PluginDescriptor::sink(SINK_CLASS, || {
        Box::new(RedisSinkConnector::default())
    })]
}
