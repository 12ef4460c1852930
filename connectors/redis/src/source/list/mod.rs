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
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValues, Importance, Props, Validator,
    Width,
};
use connect_core::connector::{Connector, SourceConnector, SourceTask};
use connect_core::ConnectError;

pub use task::RedisListSourceTask;

use super::stream::check_topic;
use super::{config_errors, numbered_task_configs, task_number, PayloadFormat};
use crate::connection::{connection_config_def, RedisSettings};

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

/// The list source's keys, the connection keys included.
pub fn list_source_config_def() -> ConfigDef {
    let mut order = 0;
    let mut key = |name: &str, ty: ConfigType| {
        order += 1;
        ConfigKey::new(name, ty).group("Redis list source", order)
    };
    ConfigDef::new()
        .define(
            key(LIST_NAME_CONFIG, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .width(Width::Long)
                .display_name("List")
                .doc("The list to consume as a queue. Items are removed from it."),
        )
        .define(
            key(TOPIC_CONFIG, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc("The topic the items are written to, one record each."),
        )
        .define(
            key(LIST_POP_CONFIG, ConfigType::String)
                .default_value("RIGHT")
                .validator(Validator::one_of_ignore_case(&["RIGHT", "LEFT"]))
                .recommended(&["RIGHT", "LEFT"])
                .importance(Importance::Medium)
                .doc(
                    "The end items are taken from. RIGHT for producers that LPUSH, LEFT for \
                     producers that RPUSH: either way the oldest item goes first.",
                ),
        )
        .define(
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
        )
        .define(
            key(LIST_BLOCK_CONFIG, ConfigType::Long)
                .default_value("100")
                .validator(Validator::between(1, 1000))
                .importance(Importance::Low)
                .doc("Milliseconds a poll waits (BLMOVE) for an item when the list is empty."),
        )
        .define(
            key(BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value("500")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("The most items one poll takes (and a task holds unacknowledged)."),
        )
        .define(
            key(VALUE_FORMAT_CONFIG, ConfigType::String)
                .default_value("STRING")
                .validator(Validator::one_of_ignore_case(&["STRING", "BYTES"]))
                .recommended(&["STRING", "BYTES"])
                .importance(Importance::Medium)
                .doc(
                    "STRING: a string value (an item that is not UTF-8 becomes bytes rather than \
                     be altered). BYTES: always bytes, for ByteArrayConverter.",
                ),
        )
        .merge(connection_config_def())
}

/// The list source's parsed configuration.
#[derive(Debug, Clone)]
pub struct ListSourceConfig {
    /// How to reach Redis.
    pub redis: RedisSettings,
    /// The list consumed.
    pub list: String,
    /// Take from the left end instead of the right.
    pub pop_left: bool,
    /// This task's processing list.
    pub processing: String,
    /// The processing list's name template (`${task}` not replaced), to find those of tasks
    /// that no longer exist.
    pub processing_template: String,
    /// How long a poll waits for an item.
    pub block: Duration,
    /// The topic.
    pub topic: String,
    /// The most items a poll takes.
    pub batch_size: usize,
    /// How payloads become values.
    pub format: PayloadFormat,
    /// This task's number and how many tasks there are.
    pub task: usize,
    /// How many tasks the connector runs.
    pub task_count: usize,
}

impl ListSourceConfig {
    /// Parses and checks a connector or task configuration.
    pub fn parse(props: &Props) -> Result<Self, ConnectError> {
        let values = list_source_config_def().parse(props)?;
        Self::from_values(&values, props)
    }

    fn from_values(values: &ConfigValues, props: &Props) -> Result<Self, ConnectError> {
        let redis = RedisSettings::parse(values)?;
        let text = |key: &str| values.string(key).unwrap_or_default().trim().to_owned();
        let list = text(LIST_NAME_CONFIG);
        let topic = text(TOPIC_CONFIG);
        check_topic(&topic).map_err(|m| ConnectError::config(TOPIC_CONFIG, m))?;
        let mut template = text(LIST_PROCESSING_CONFIG);
        if !template.contains("${task}") {
            return Err(ConnectError::config(
                LIST_PROCESSING_CONFIG,
                "must contain ${task}: each task needs a processing list of its own",
            ));
        }
        if redis.is_cluster() && template == DEFAULT_PROCESSING && !has_hash_tag(&list) {
            // BLMOVE needs both lists in one slot: the braces make the list's name the hash tag.
            template = format!("{{{list}}}:processing:${{task}}");
        }
        let template = template.replace("${list}", &list);
        let task = task_number(props, super::TASK_ID_CONFIG)?;
        let task_count = task_number(props, super::TASK_COUNT_CONFIG)?.max(1);
        Ok(Self {
            processing: template.replace("${task}", &task.to_string()),
            processing_template: template,
            redis,
            list,
            pop_left: text(LIST_POP_CONFIG).eq_ignore_ascii_case("LEFT"),
            block: Duration::from_millis(
                values.long(LIST_BLOCK_CONFIG).unwrap_or(100).clamp(1, 1000) as u64,
            ),
            topic,
            batch_size: values
                .int(BATCH_SIZE_CONFIG)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(500)
                .max(1),
            format: PayloadFormat::parse(&text(VALUE_FORMAT_CONFIG)),
            task,
            task_count,
        })
    }
}

/// Whether a key has a Redis Cluster hash tag: a `{...}` with something inside.
fn has_hash_tag(key: &str) -> bool {
    key.find('{')
        .and_then(|open| key[open + 1..].find('}'))
        .is_some_and(|len| len > 0)
}

/// Reads a list as a queue into Kafka, at-least-once.
#[derive(Debug, Default)]
pub struct RedisListSourceConnector {
    props: Props,
}

#[async_trait]
impl Connector for RedisListSourceConnector {
    fn version(&self) -> &str {
        crate::version()
    }

    fn config_def(&self) -> ConfigDef {
        list_source_config_def()
    }

    fn validate(&self, props: &Props) -> ConfigErrors {
        config_errors(ListSourceConfig::parse(props).map(|_| ()), LIST_NAME_CONFIG)
    }

    async fn start(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = ListSourceConfig::parse(props)?;
        tracing::info!(
            uri = config.redis.shown_uri(),
            list = config.list,
            "Starting the Redis list source connector"
        );
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(numbered_task_configs(&self.props, max_tasks))
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

impl SourceConnector for RedisListSourceConnector {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(RedisListSourceTask::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::props;

    #[test]
    fn defaults_and_processing_lists() {
        let config = ListSourceConfig::parse(&props(&[
            ("redis.list.name", "jobs"),
            ("topic", "jobs"),
            ("task.id", "2"),
            ("task.count", "3"),
        ]))
        .unwrap();
        assert_eq!(config.processing, "jobs:processing:2");
        assert_eq!(config.processing_template, "jobs:processing:${task}");
        assert!(!config.pop_left);
        assert_eq!(config.block, Duration::from_millis(100));
        assert_eq!(config.batch_size, 500);
        assert_eq!(config.format, PayloadFormat::String);
        assert_eq!((config.task, config.task_count), (2, 3));

        let cluster = ListSourceConfig::parse(&props(&[
            ("redis.list.name", "jobs"),
            ("topic", "jobs"),
            ("redis.cluster", "true"),
        ]))
        .unwrap();
        assert_eq!(cluster.processing, "{jobs}:processing:0");
        let tagged = ListSourceConfig::parse(&props(&[
            ("redis.list.name", "{q}jobs"),
            ("topic", "jobs"),
            ("redis.cluster", "true"),
        ]))
        .unwrap();
        assert_eq!(tagged.processing, "{q}jobs:processing:0");
    }

    #[test]
    fn errors() {
        let err = ListSourceConfig::parse(&props(&[
            ("redis.list.name", "jobs"),
            ("topic", "jobs"),
            ("redis.list.processing", "mine"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("${task}"), "{err}");
        assert!(ListSourceConfig::parse(&props(&[("redis.list.name", "jobs")])).is_err());
        assert!(
            ListSourceConfig::parse(&props(&[("redis.list.name", "jobs"), ("topic", "a:b")]))
                .is_err()
        );
    }

    #[test]
    fn hash_tags() {
        assert!(has_hash_tag("{a}b"));
        assert!(!has_hash_tag("{}b"));
        assert!(!has_hash_tag("ab"));
        assert!(!has_hash_tag("a{b"));
    }
}
