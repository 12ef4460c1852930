//! The configurations of both connectors: each key is declared where it is read.
//!
//! A connector and its tasks share one configuration type, so a configuration the connector
//! accepted is one its tasks accept, and `/config/validate` reports every problem at once.

use std::sync::Arc;

use connect_core::config::{
    Config, ConfigKey, ConfigReader, ConfigType, ConfigValue, Importance, Validator, Width,
};

/// The file to read (source) or append to (sink).
pub const FILE_CONFIG: &str = "file";
/// The topic the source connector publishes to.
pub const TOPIC_CONFIG: &str = "topic";
/// The most records one poll of the source task returns.
pub const TASK_BATCH_SIZE_CONFIG: &str = "batch.size";
/// The default of [`TASK_BATCH_SIZE_CONFIG`], as in Kafka.
pub const DEFAULT_TASK_BATCH_SIZE: i32 = 2000;

/// The message Kafka's `FileStreamSourceConnector` gave (up to 2.x, when `topic` was a list)
/// for a `topic` holding several comma-separated topics.
pub(crate) const SINGLE_TOPIC_MESSAGE: &str =
    "'topic' in FileStreamSourceConnector configuration requires definition of a single topic";

/// A non-empty topic name without commas: one topic, as Kafka required when `topic` was a
/// list and is still the only thing that makes sense for a single output topic.
fn single_topic(value: &ConfigValue) -> Result<(), String> {
    let topic = value.to_string();
    if topic.is_empty() {
        Err("String must be non-empty".to_owned())
    } else if topic.contains(',') {
        Err(SINGLE_TOPIC_MESSAGE.to_owned())
    } else {
        Ok(())
    }
}

/// The configuration of [`FileStreamSourceConnector`](crate::FileStreamSourceConnector) and
/// its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub(crate) file: String,
    pub(crate) topic: String,
    pub(crate) batch_size: usize,
}

impl Config for SourceConfig {
    fn read(c: &mut ConfigReader<'_>) -> Self {
        let file = c.string(
            ConfigKey::new(FILE_CONFIG, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .width(Width::Long)
                .display_name("File")
                .doc(
                    "Source filename. Unlike Kafka's connector, which reads the standard input \
                     when this is not set, this worker requires a file.",
                ),
        );
        let topic = c.string(
            ConfigKey::new(TOPIC_CONFIG, ConfigType::String)
                .validator(Validator::Custom(Arc::new(single_topic)))
                .importance(Importance::High)
                .width(Width::Medium)
                .display_name("Topic")
                .doc("The topic to publish data to"),
        );
        let batch_size = c.int(
            ConfigKey::new(TASK_BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value(DEFAULT_TASK_BATCH_SIZE.to_string())
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .width(Width::Short)
                .display_name("Batch size")
                .doc(
                    "The maximum number of records the source task can read from the file each \
                     time it is polled",
                ),
        );
        Self {
            file,
            topic,
            // At least 1 once valid; an invalid value fails the parse before anyone sees 0.
            batch_size: usize::try_from(batch_size).unwrap_or_default(),
        }
    }
}

/// The configuration of [`FileStreamSinkConnector`](crate::FileStreamSinkConnector) and its
/// task. `topics` and `topics.regex` are the worker's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    pub(crate) file: String,
}

impl Config for SinkConfig {
    fn read(c: &mut ConfigReader<'_>) -> Self {
        Self {
            file: c.string(
                ConfigKey::new(FILE_CONFIG, ConfigType::String)
                    .validator(Validator::NonEmptyString)
                    .importance(Importance::High)
                    .width(Width::Long)
                    .display_name("File")
                    .doc(
                        "Destination filename, created if missing and appended to. Unlike \
                         Kafka's connector, which writes to the standard output when this is \
                         not set, this worker requires a file.",
                    ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::{props, Props};

    #[test]
    fn source_defaults_and_trimming() {
        let config =
            SourceConfig::parse(&props(&[("file", " in.txt "), ("topic", " lines ")])).unwrap();
        assert_eq!(
            config,
            SourceConfig {
                file: "in.txt".into(),
                topic: "lines".into(),
                batch_size: 2000,
            }
        );
    }

    #[test]
    fn source_errors_are_all_reported_with_exact_messages() {
        let messages = |p: &Props| -> Vec<String> {
            SourceConfig::parse(p)
                .unwrap_err()
                .iter()
                .map(|(_, m)| m.to_owned())
                .collect()
        };
        assert_eq!(
            messages(&props(&[("batch.size", "0")])),
            [
                "Missing required configuration \"file\" which has no default value.",
                "Missing required configuration \"topic\" which has no default value.",
                "Invalid value 0 for configuration batch.size: Value must be at least 1",
            ]
        );
        assert_eq!(
            messages(&props(&[
                ("file", "a"),
                ("topic", "a,b"),
                ("batch.size", "x")
            ])),
            [
                "Invalid value a,b for configuration topic: 'topic' in \
                 FileStreamSourceConnector configuration requires definition of a single topic",
                "Invalid value x for configuration batch.size: Not a number of type INT",
            ]
        );
        assert_eq!(
            messages(&props(&[("file", ""), ("topic", "  ")])),
            [
                "Invalid value  for configuration file: String must be non-empty",
                "Invalid value  for configuration topic: String must be non-empty",
            ]
        );
    }

    #[test]
    fn sink_requires_a_file() {
        let errors = SinkConfig::parse(&props(&[("topics", "t")])).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Missing required configuration \"file\" which has no default value."
        );
        let config = SinkConfig::parse(&props(&[("file", "/tmp/out.txt")])).unwrap();
        assert_eq!(config.file, "/tmp/out.txt");
    }
}
