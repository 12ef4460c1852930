//! `RedisListSourceConnector` (ours): a Redis list consumed as a reliable queue, at-least-once.
//! See `docs/connectors/redis-list-source.md`.
//!
//! Each task moves items with `BLMOVE`/`LMOVE` into a processing list of its own and removes
//! them from it (`LREM`) only once Kafka has their records; a task that starts sends what its
//! processing list holds first.

mod task;

use std::time::Duration;

use async_trait::async_trait;
use connect_core::config::{
    Config, ConfigKey, ConfigReader, ConfigType, Importance, Props, Validator, Width,
};
use connect_core::connector::{Connector, ConnectorContext, SourceConnector, TaskIdentity};
use connect_core::ConnectError;

pub use task::RedisListSourceTask;

use super::stream::check_topic;
use super::{count, PayloadFormat};
use crate::connection::RedisSettings;

/// The list to consume.
pub const LIST_NAME_CONFIG: &str = "redis.list.name";
/// The end items are taken from: `RIGHT` (for producers that `LPUSH`) or `LEFT`.
pub const LIST_POP_CONFIG: &str = "redis.list.pop";
/// The processing list's name, with `${list}` and `${task}`.
pub const LIST_PROCESSING_CONFIG: &str = "redis.list.processing";
/// Milliseconds `BLMOVE` waits for an item.
pub const LIST_BLOCK_CONFIG: &str = "redis.list.block";
/// The topic.
pub const TOPIC_CONFIG: &str = "topic";
/// The most items one poll takes.
pub const BATCH_SIZE_CONFIG: &str = "batch.size";
/// `STRING` or `BYTES`.
pub const VALUE_FORMAT_CONFIG: &str = "redis.value.format";

/// The default processing list: per task, next to the list.
pub const DEFAULT_PROCESSING: &str = "${list}:processing:${task}";
/// The `${task}` placeholder of the processing list's name.
pub const TOKEN_TASK: &str = "${task}";

/// The list source's configuration: its keys, then the connection keys.
#[derive(Debug, Clone)]
pub struct ListSourceConfig {
    /// The list consumed.
    pub list: String,
    /// The topic.
    pub topic: String,
    /// Take from the left end instead of the right.
    pub pop_left: bool,
    /// The processing lists' name, `${list}` replaced, with `${task}` for the task number (see
    /// [`processing_for`](Self::processing_for)).
    pub processing_template: String,
    /// How long a poll waits for an item.
    pub block: Duration,
    /// The most items a poll takes.
    pub batch_size: usize,
    /// How payloads become values.
    pub format: PayloadFormat,
    /// How to reach Redis.
    pub redis: RedisSettings,
}

impl Config for ListSourceConfig {
    fn read(c: &mut ConfigReader<'_>) -> Self {
        let mut order = 0;
        let mut key = |name: &str, ty: ConfigType| {
            order += 1;
            ConfigKey::new(name, ty).group("Redis list source", order)
        };
        let list = c.string(
            key(LIST_NAME_CONFIG, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .width(Width::Long)
                .display_name("List")
                .doc("The list to consume as a queue. Items are removed from it."),
        );
        let topic = c.string(
            key(TOPIC_CONFIG, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc("The topic the items are written to, one record each."),
        );
        let pop = c.string(
            key(LIST_POP_CONFIG, ConfigType::String)
                .default_value("RIGHT")
                .validator(Validator::one_of_ignore_case(&["RIGHT", "LEFT"]))
                .recommended(&["RIGHT", "LEFT"])
                .importance(Importance::Medium)
                .doc(
                    "The end items are taken from. RIGHT for producers that LPUSH, LEFT for \
                     producers that RPUSH: either way the oldest item goes first.",
                ),
        );
        let processing = c.string(
            key(LIST_PROCESSING_CONFIG, ConfigType::String)
                .default_value(DEFAULT_PROCESSING)
                .validator(Validator::NonEmptyString)
                .importance(Importance::Low)
                .doc(
                    "The list that holds a task's items until Kafka has them; ${list} is the \
                     list's name and ${task} the task number, which the name must contain. With \
                     redis.cluster=true and no hash tag in the list's name, the default puts \
                     the list's name in braces so both lists live in the same slot.",
                ),
        );
        let block = c.millis(
            key(LIST_BLOCK_CONFIG, ConfigType::Long)
                .default_value("100")
                .validator(Validator::between(1, 1000))
                .importance(Importance::Low)
                .doc("Milliseconds a poll waits (BLMOVE) for an item when the list is empty."),
        );
        let batch_size = c.int(
            key(BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value("500")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("The most items one poll takes (and a task holds unacknowledged)."),
        );
        let format = c.string(
            key(VALUE_FORMAT_CONFIG, ConfigType::String)
                .default_value("STRING")
                .validator(Validator::one_of_ignore_case(&["STRING", "BYTES"]))
                .recommended(&["STRING", "BYTES"])
                .importance(Importance::Medium)
                .doc(
                    "STRING: a string value (an item that is not UTF-8 becomes bytes rather than \
                     be altered). BYTES: always bytes, for ByteArrayConverter.",
                ),
        );
        let redis = RedisSettings::read(c);

        if !c.has_error(TOPIC_CONFIG) {
            if let Err(m) = check_topic(&topic) {
                c.error(TOPIC_CONFIG, m);
            }
        }
        if !processing.contains(TOKEN_TASK) && !c.has_error(LIST_PROCESSING_CONFIG) {
            c.error(
                LIST_PROCESSING_CONFIG,
                "must contain ${task}: each task needs a processing list of its own",
            );
        }
        let processing =
            if redis.is_cluster() && processing == DEFAULT_PROCESSING && !has_hash_tag(&list) {
                // BLMOVE needs both lists in one slot: the braces make the list's name the hash
                // tag.
                format!("{{{list}}}:processing:${{task}}")
            } else {
                processing
            };
        Self {
            processing_template: processing.replace("${list}", &list),
            list,
            topic,
            pop_left: pop.eq_ignore_ascii_case("LEFT"),
            block,
            batch_size: count(batch_size),
            format: PayloadFormat::parse(&format),
            redis,
        }
    }
}

impl ListSourceConfig {
    /// The processing list of task `task` (the number the worker gave it).
    pub fn processing_for(&self, task: &TaskIdentity) -> String {
        self.processing_template
            .replace(TOKEN_TASK, &task.id.to_string())
    }
}

/// Whether a key has a Redis Cluster hash tag: a `{...}` with something inside.
fn has_hash_tag(key: &str) -> bool {
    key.find('{')
        .and_then(|open| key[open + 1..].find('}'))
        .is_some_and(|len| len > 0)
}

/// Reads a list as a queue into Kafka, at-least-once.
///
/// Every task moves items into a processing list of its own (named by its task number), so
/// tasks share the list's items out.
#[derive(Debug)]
pub struct RedisListSourceConnector;

#[async_trait]
impl Connector for RedisListSourceConnector {
    type Config = ListSourceConfig;
    const VERSION: &'static str = super::VERSION;

    async fn start(config: ListSourceConfig, _ctx: ConnectorContext) -> Result<Self, ConnectError> {
        tracing::info!(
            uri = config.redis.shown_uri(),
            list = config.list,
            "Starting the Redis list source connector"
        );
        Ok(Self)
    }

    /// As many tasks as allowed, all alike: each takes items into its own processing list.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(vec![Props::new(); max_tasks])
    }
}

impl SourceConnector for RedisListSourceConnector {
    type Task = RedisListSourceTask;
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::props;
    use connect_core::testing::check_defaults;

    fn task(id: usize) -> TaskIdentity {
        TaskIdentity::new("jobs-source", id, 3)
    }

    #[test]
    fn defaults_and_processing_lists() {
        let config =
            ListSourceConfig::parse(&props(&[("redis.list.name", "jobs"), ("topic", "jobs")]))
                .unwrap();
        assert_eq!(config.processing_for(&task(2)), "jobs:processing:2");
        assert_eq!(config.processing_template, "jobs:processing:${task}");
        assert!(!config.pop_left);
        assert_eq!(config.block, Duration::from_millis(100));
        assert_eq!(config.batch_size, 500);
        assert_eq!(config.format, PayloadFormat::String);

        let cluster = ListSourceConfig::parse(&props(&[
            ("redis.list.name", "jobs"),
            ("topic", "jobs"),
            ("redis.cluster", "true"),
        ]))
        .unwrap();
        assert_eq!(cluster.processing_for(&task(0)), "{jobs}:processing:0");
        let tagged = ListSourceConfig::parse(&props(&[
            ("redis.list.name", "{q}jobs"),
            ("topic", "jobs"),
            ("redis.cluster", "true"),
        ]))
        .unwrap();
        assert_eq!(tagged.processing_for(&task(0)), "{q}jobs:processing:0");
    }

    #[test]
    fn served_defaults_are_the_ones_used() {
        let served = crate::source::tests::served(crate::LIST_SOURCE_CLASS);
        check_defaults::<ListSourceConfig>(
            &served,
            &props(&[(LIST_NAME_CONFIG, "jobs"), (TOPIC_CONFIG, "jobs")]),
        )
        .unwrap();
    }

    #[test]
    fn errors() {
        let errors = ListSourceConfig::parse(&props(&[
            ("redis.list.name", "jobs"),
            ("topic", "a:b"),
            ("redis.list.processing", "mine"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["topic", "redis.list.processing"]);
        assert!(errors.to_string().contains("${task}"), "{errors}");
        let errors = ListSourceConfig::parse(&props(&[("redis.list.name", "jobs")])).unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["topic"]);
    }

    #[tokio::test]
    async fn every_task_gets_an_empty_configuration() {
        let config =
            ListSourceConfig::parse(&props(&[("redis.list.name", "jobs"), ("topic", "jobs")]))
                .unwrap();
        let connector = RedisListSourceConnector::start(config, ConnectorContext::new("jobs"))
            .await
            .unwrap();
        assert_eq!(connector.task_configs(3).unwrap(), vec![Props::new(); 3]);
    }

    #[test]
    fn hash_tags() {
        assert!(has_hash_tag("{a}b"));
        assert!(!has_hash_tag("{}b"));
        assert!(!has_hash_tag("ab"));
        assert!(!has_hash_tag("a{b"));
    }
}
