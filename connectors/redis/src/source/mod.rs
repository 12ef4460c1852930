//! The Redis source connectors: Redis data into Kafka, each with the strongest guarantee its
//! Redis mechanism allows.
//!
//! | Connector | Reads | Guarantee |
//! |---|---|---|
//! | [`RedisStreamSourceConnector`] | streams, through a consumer group (`XREADGROUP`, `XAUTOCLAIM`) | at-least-once (or at-most-once) |
//! | [`RedisKeysSourceConnector`] | a `SCAN` snapshot, then keyspace notifications | none: pub/sub is lossy, the snapshot bounds it |
//! | [`RedisListSourceConnector`] | a list as a queue (`BLMOVE` into a processing list) | at-least-once |
//! | [`RedisPubSubSourceConnector`] | channels and patterns (`SUBSCRIBE`, `PSUBSCRIBE`) | at-most-once |
//!
//! References: `docs/connectors/redis-{stream,keys,list,pubsub}-source.md`.

pub mod keys;
pub mod list;
pub mod pubsub;
mod reply;
mod scan;
pub mod stream;
mod subscription;

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use connect_core::data::{Schema, Text, Value};
use fred::types::{ClusterHash, CustomCommand};

pub use keys::{RedisKeysSourceConnector, RedisKeysSourceTask};
pub use list::{RedisListSourceConnector, RedisListSourceTask};
pub use pubsub::{RedisPubSubSourceConnector, RedisPubSubSourceTask};
pub use stream::{RedisStreamSourceConnector, RedisStreamSourceTask};

/// The version of the source connectors: the crate's.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A count a key's validator keeps at 1 or more (`batch.size`, buffer sizes), as a `usize`.
pub(crate) fn count(n: i32) -> usize {
    usize::try_from(n).map_or(1, |n| n.max(1))
}

/// Milliseconds since the Unix epoch: the timestamp of the records, as the Java connectors set.
pub(crate) fn now_millis() -> Option<i64> {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// True when a name is a glob pattern (as `SCAN MATCH` and `PSUBSCRIBE` read them).
pub(crate) fn is_glob(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

/// `name` as a glob pattern matching only itself.
pub(crate) fn escape_glob(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A command fred has no typed call for, or whose reply we parse ourselves (deleted stream
/// entries come back as nil bodies, which fred's typed stream replies reject), with no key or
/// with its key first.
pub(crate) fn command(name: &'static str, blocking: bool) -> CustomCommand {
    CustomCommand::new_static(name, ClusterHash::FirstKey, blocking)
}

/// A command routed, in a cluster, to the node that owns `key`. fred routes a custom command
/// by its first string argument otherwise, which for `XGROUP CREATE` or `XREADGROUP GROUP` is
/// not the key (the command then meets a MOVED it may not follow).
pub(crate) fn keyed(name: &'static str, key: &[u8], blocking: bool) -> CustomCommand {
    CustomCommand::new_static(
        name,
        ClusterHash::Custom(fred::util::redis_keyslot(key)),
        blocking,
    )
}

/// Text as a command argument, without a copy.
pub(crate) fn arg(text: &Text) -> fred::types::Value {
    fred::types::Value::Bytes(text.as_bytes().clone())
}

/// Bytes from Redis as text: without a copy when they are UTF-8 (they nearly always are),
/// else with invalid sequences replaced, as the Java connectors' UTF-8 codec reads them.
pub(crate) fn lossy_text(bytes: Bytes) -> Text {
    // Cloning `Bytes` only counts a reference; the failed conversion drops its copy.
    match Text::try_from(bytes.clone()) {
        Ok(text) => text,
        Err(_) => Text::from(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// How the list and pub/sub sources hand over a payload (`redis.value.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// A string when the payload is UTF-8, else bytes: nothing is altered.
    String,
    /// Always bytes, for `ByteArrayConverter` and binary payloads.
    Bytes,
}

impl PayloadFormat {
    /// The format named in a configuration (`STRING` or `BYTES`, any case).
    pub(crate) fn parse(name: &str) -> Self {
        if name.eq_ignore_ascii_case("bytes") {
            Self::Bytes
        } else {
            Self::String
        }
    }

    /// The value and schema of a payload.
    pub(crate) fn value(self, payload: Bytes) -> (Value, std::sync::Arc<Schema>) {
        match self {
            Self::Bytes => (Value::Bytes(payload), Schema::bytes()),
            Self::String => match Text::try_from(payload.clone()) {
                Ok(text) => (Value::String(text), Schema::string()),
                // Binary data is kept whole rather than mangled into text.
                Err(_) => (Value::Bytes(payload), Schema::bytes()),
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use connect_core::config::{check_generated_section, ConfigDef};
    use connect_core::plugin::{PluginKind, Plugins};

    /// The keys the worker serves for the connector `class` (its plugin descriptor's).
    pub(crate) fn served(class: &str) -> ConfigDef {
        crate::plugins()
            .into_iter()
            .find(|p| p.class == class)
            .unwrap_or_else(|| panic!("no plugin {class}"))
            .config_def
    }

    #[test]
    fn the_references_in_the_docs_are_current() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/connectors");
        for (file, class) in [
            ("redis-stream-source.md", crate::STREAM_SOURCE_CLASS),
            ("redis-keys-source.md", crate::KEYS_SOURCE_CLASS),
            ("redis-list-source.md", crate::LIST_SOURCE_CLASS),
            ("redis-pubsub-source.md", crate::PUBSUB_SOURCE_CLASS),
        ] {
            check_generated_section(&docs.join(file), &served(class).to_markdown()).unwrap();
        }
    }

    #[test]
    fn every_name_resolves() {
        let mut plugins = Plugins::new();
        for p in crate::plugins() {
            plugins.add(p);
        }
        for (class, names) in [
            (
                crate::STREAM_SOURCE_CLASS,
                ["RedisStreamSourceConnector", "RedisStreamSource"],
            ),
            (
                crate::KEYS_SOURCE_CLASS,
                ["RedisKeysSourceConnector", "RedisKeysSource"],
            ),
            (
                crate::LIST_SOURCE_CLASS,
                ["RedisListSourceConnector", "RedisListSource"],
            ),
            (
                crate::PUBSUB_SOURCE_CLASS,
                ["RedisPubSubSourceConnector", "RedisPubSubSource"],
            ),
        ] {
            for name in names.into_iter().chain([class]) {
                let plugin = plugins.find(name, &[PluginKind::Source]).unwrap();
                assert_eq!(plugin.class, class);
                assert_eq!(plugin.version, VERSION);
            }
        }
    }

    #[test]
    fn counts() {
        assert_eq!(count(500), 500);
        assert_eq!(count(0), 1);
        assert_eq!(count(-3), 1);
    }

    #[test]
    fn globs() {
        assert!(is_glob("orders:*"));
        assert!(is_glob("a?c"));
        assert!(is_glob("h[ae]llo"));
        assert!(!is_glob("orders:eu"));
        assert_eq!(escape_glob("q*[1]\\"), "q\\*\\[1\\]\\\\");
    }

    #[test]
    fn payloads() {
        let (v, s) = PayloadFormat::String.value(Bytes::from_static(b"hi"));
        assert_eq!(v, Value::from("hi"));
        assert_eq!(s, Schema::string());
        let (v, s) = PayloadFormat::String.value(Bytes::from_static(&[0xff, 0]));
        assert_eq!(v, Value::Bytes(Bytes::from_static(&[0xff, 0])));
        assert_eq!(s, Schema::bytes());
        let (v, _) = PayloadFormat::Bytes.value(Bytes::from_static(b"hi"));
        assert_eq!(v, Value::Bytes(Bytes::from_static(b"hi")));
        assert_eq!(PayloadFormat::parse("BYTES"), PayloadFormat::Bytes);
        assert_eq!(PayloadFormat::parse("string"), PayloadFormat::String);
        assert_eq!(lossy_text(Bytes::from_static(b"a\xffb")), "a\u{fffd}b");
    }
}
