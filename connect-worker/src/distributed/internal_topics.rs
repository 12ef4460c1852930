//! The three internal topics of a Kafka Connect cluster (configs, offsets, statuses): created
//! when missing, compacted, with the configured partitions and replication factor; checked
//! when they exist, as Kafka Connect checks them, with its messages:
//!
//! - the config topic must have exactly one partition (its records' order is the order of
//!   the cluster's configuration changes);
//! - a topic that existed must be `cleanup.policy=compact` and nothing else (else the latest
//!   value of a key is eventually deleted), when the broker tells its configs; when it does
//!   not (no DescribeConfigs, no permission, no `cleanup.policy` in the answer) that is
//!   logged and the worker carries on.
//!
//! A topic this worker created is not checked for its cleanup policy: it was created
//! compacted.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::kafka::{Kafka, KafkaError};

use super::topic_log::partitions_of;

/// The worker setting that names the config topic.
pub const CONFIG_TOPIC: &str = "config.storage.topic";
/// The worker setting that names the offsets topic.
pub const OFFSET_TOPIC: &str = "offset.storage.topic";
/// The worker setting that names the status topic.
pub const STATUS_TOPIC: &str = "status.storage.topic";

const CLEANUP_POLICY: &str = "cleanup.policy";
const COMPACT: &str = "compact";

/// An internal topic and how to create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopic {
    /// The worker setting that names it ([`CONFIG_TOPIC`], [`OFFSET_TOPIC`] or
    /// [`STATUS_TOPIC`]): the messages name it.
    pub key: &'static str,
    pub name: String,
    /// Positive, or -1 for the broker's default.
    pub partitions: i32,
    /// Positive, or -1 for the broker's default.
    pub replication_factor: i16,
    /// What the topic holds, in Kafka Connect's words ("connector configurations", ...).
    pub purpose: &'static str,
    /// Other topic configs to create it with (the worker's `<prefix>.*` settings);
    /// `cleanup.policy` is always `compact`.
    pub configs: BTreeMap<String, String>,
}

impl InternalTopic {
    /// The config topic (`config.storage.topic`): always one partition.
    pub fn config(name: impl Into<String>, replication_factor: i16) -> Self {
        Self::new(
            CONFIG_TOPIC,
            name,
            1,
            replication_factor,
            "connector configurations",
        )
    }

    /// The offsets topic (`offset.storage.topic`).
    pub fn offsets(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        Self::new(
            OFFSET_TOPIC,
            name,
            partitions,
            replication_factor,
            "source connector offsets",
        )
    }

    /// The status topic (`status.storage.topic`).
    pub fn status(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        Self::new(
            STATUS_TOPIC,
            name,
            partitions,
            replication_factor,
            "connector and task statuses",
        )
    }

    fn new(
        key: &'static str,
        name: impl Into<String>,
        partitions: i32,
        replication_factor: i16,
        purpose: &'static str,
    ) -> Self {
        Self {
            key,
            name: name.into(),
            partitions,
            replication_factor,
            purpose,
            configs: BTreeMap::new(),
        }
    }

    /// The configs to create the topic with: [`configs`](Self::configs) with
    /// `cleanup.policy=compact` (another cleanup policy given is ignored, with a warning, as
    /// Kafka Connect does).
    fn creation_configs(&self) -> BTreeMap<String, String> {
        let mut configs = self.configs.clone();
        if let Some(policy) = configs.insert(CLEANUP_POLICY.to_owned(), COMPACT.to_owned()) {
            if policy != COMPACT {
                tracing::warn!(
                    topic = %self.name,
                    "ignoring cleanup.policy={policy} for the topic of '{}': internal topics are always compacted",
                    self.key
                );
            }
        }
        configs
    }
}

/// Why an internal topic cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InternalTopicError {
    /// The topic, or its settings, do not fit (Kafka Connect's message).
    #[error("{0}")]
    Unfit(String),
    /// The broker could not be asked, or refused to create the topic.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// Creates `topic` when missing, or checks it when it exists (module docs). `within` bounds
/// the wait for a created topic's partitions to be known; each request is bounded by
/// `request.timeout.ms`.
pub async fn ensure_topic(
    kafka: &Kafka,
    topic: &InternalTopic,
    within: Duration,
) -> Result<(), InternalTopicError> {
    check_settings(topic)?;
    let created = match kafka
        .create_topic_with_configs(
            &topic.name,
            topic.partitions,
            topic.replication_factor,
            &topic.creation_configs(),
        )
        .await
    {
        Ok(created) => created,
        // As Kafka Connect: a broker that does not let this worker create topics (or cannot)
        // may have the topic; reading it tells.
        Err(e) if e.is_unauthorized() || e.is_unsupported() => {
            tracing::warn!(topic = %topic.name, error = %e, "cannot create the internal topic; assuming it exists");
            false
        }
        Err(e) => return Err(creation_refused(topic, e).into()),
    };
    if created {
        tracing::info!(
            topic = %topic.name,
            partitions = topic.partitions,
            replication_factor = topic.replication_factor,
            "created the internal topic for {}",
            topic.purpose
        );
    }
    let partitions = partitions_of(kafka, &topic.name, within).await?;
    if topic.key == CONFIG_TOPIC && partitions.len() != 1 {
        return Err(InternalTopicError::Unfit(format!(
            "Topic '{}' supplied via the '{CONFIG_TOPIC}' property is required to have a single partition in order to guarantee consistency of connector configurations, but found {} partitions.",
            topic.name,
            partitions.len()
        )));
    }
    if !created {
        check_cleanup_policy(kafka, topic).await?;
    }
    Ok(())
}

/// Partitions and replication factor are positive or -1 (Kafka Connect's validators).
fn check_settings(topic: &InternalTopic) -> Result<(), InternalTopicError> {
    let prefix = topic.key.trim_end_matches(".topic");
    if topic.partitions < 1 && topic.partitions != -1 {
        return Err(InternalTopicError::Unfit(format!(
            "Invalid value {} for configuration {prefix}.partitions: Number of partitions must be positive, or -1 to use the broker's default",
            topic.partitions
        )));
    }
    if topic.replication_factor < 1 && topic.replication_factor != -1 {
        return Err(InternalTopicError::Unfit(format!(
            "Invalid value {} for configuration {prefix}.replication.factor: Replication factor must be positive and not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default",
            topic.replication_factor
        )));
    }
    Ok(())
}

/// The broker's refusal to create `topic`, saying which topic of the worker's and how it
/// was asked for.
fn creation_refused(topic: &InternalTopic, e: KafkaError) -> KafkaError {
    let partitions = match topic.partitions {
        -1 => "the broker's default number of partitions".to_owned(),
        1 => "1 partition".to_owned(),
        n => format!("{n} partitions"),
    };
    let replication = match topic.replication_factor {
        -1 => "the broker's default replication factor".to_owned(),
        n => format!("replication factor {n}"),
    };
    KafkaError {
        context: format!(
            "Cannot create topic '{}' supplied via the '{}' property (with {partitions} and {replication}): {}",
            topic.name,
            topic.key,
            e.context
        ),
        source: e.source,
    }
}

/// Fails when the broker says the topic's cleanup policy is other than `compact` alone.
async fn check_cleanup_policy(
    kafka: &Kafka,
    topic: &InternalTopic,
) -> Result<(), InternalTopicError> {
    let policy = kafka
        .topic_configs(&topic.name)
        .await?
        .and_then(|mut configs| configs.remove(CLEANUP_POLICY));
    let Some(policy) = policy else {
        tracing::info!(
            topic = %topic.name,
            "cannot verify that the cleanup policy of the topic is '{COMPACT}': the broker does not describe it (an older broker, or no permission to describe topic configurations)"
        );
        return Ok(());
    };
    match unfit_cleanup_policy(topic, &policy) {
        Some(message) => Err(InternalTopicError::Unfit(message)),
        None => {
            tracing::debug!(topic = %topic.name, "cleanup.policy={policy}");
            Ok(())
        }
    }
}

/// Kafka Connect's message for a topic whose `cleanup.policy` (as the broker gave it) is not
/// exactly `compact`; `None` when it is. The policies are a comma-separated list, compared
/// trimmed and lower-cased; `compact,delete` is unfit too. An empty value says nothing.
fn unfit_cleanup_policy(topic: &InternalTopic, policy: &str) -> Option<String> {
    let mut policies: Vec<String> = Vec::new();
    for p in policy.split(',').map(|p| p.trim().to_lowercase()) {
        if !p.is_empty() && !policies.contains(&p) {
            policies.push(p);
        }
    }
    if policies.is_empty() || policies == [COMPACT] {
        return None;
    }
    let found = policies.join(",");
    Some(format!(
        "Topic '{name}' supplied via the '{key}' property is required to have '{CLEANUP_POLICY}={COMPACT}' to guarantee consistency and durability of {purpose}, but found the topic currently has '{CLEANUP_POLICY}={found}'. Continuing would likely result in eventually losing {purpose} and problems restarting this Connect cluster in the future. Change the '{key}' property in the Connect worker configurations to use a topic with '{CLEANUP_POLICY}={COMPACT}'.",
        name = topic.name,
        key = topic.key,
        purpose = topic.purpose,
    ))
}

#[cfg(test)]
mod tests {
    use rskafka::client::error::{Error as RsError, ProtocolError, RequestContext};

    use super::*;

    #[test]
    fn a_policy_other_than_compact_alone_is_refused_with_kafka_connects_message() {
        let topic = InternalTopic::offsets("connect-offsets", 25, 3);
        assert_eq!(
            unfit_cleanup_policy(&topic, "delete").as_deref(),
            Some("Topic 'connect-offsets' supplied via the 'offset.storage.topic' property is required to have 'cleanup.policy=compact' to guarantee consistency and durability of source connector offsets, but found the topic currently has 'cleanup.policy=delete'. Continuing would likely result in eventually losing source connector offsets and problems restarting this Connect cluster in the future. Change the 'offset.storage.topic' property in the Connect worker configurations to use a topic with 'cleanup.policy=compact'.")
        );
        let both = unfit_cleanup_policy(&topic, "compact, Delete").unwrap();
        assert!(
            both.contains("currently has 'cleanup.policy=compact,delete'"),
            "{both}"
        );
        for fit in ["compact", " COMPACT ", "compact,compact", "", " , "] {
            assert_eq!(unfit_cleanup_policy(&topic, fit), None, "{fit:?}");
        }
        let status = unfit_cleanup_policy(&InternalTopic::status("s", 5, 1), "delete").unwrap();
        assert!(
            status.contains("durability of connector and task statuses"),
            "{status}"
        );
        let config = unfit_cleanup_policy(&InternalTopic::config("c", 1), "delete").unwrap();
        assert!(
            config.starts_with("Topic 'c' supplied via the 'config.storage.topic' property")
                && config.contains("durability of connector configurations"),
            "{config}"
        );
    }

    #[test]
    fn the_topic_is_created_compacted_whatever_policy_was_given() {
        let mut topic = InternalTopic::status("connect-status", 5, -1);
        topic
            .configs
            .insert("cleanup.policy".into(), "delete".into());
        topic
            .configs
            .insert("min.insync.replicas".into(), "2".into());
        assert_eq!(
            topic.creation_configs(),
            BTreeMap::from([
                ("cleanup.policy".to_owned(), "compact".to_owned()),
                ("min.insync.replicas".to_owned(), "2".to_owned()),
            ])
        );
        assert_eq!(InternalTopic::config("c", 3).partitions, 1);
    }

    #[test]
    fn partitions_and_replication_factor_are_positive_or_minus_one() {
        for (partitions, rf) in [(1, 1), (-1, -1), (25, 3)] {
            assert!(
                check_settings(&InternalTopic::offsets("o", partitions, rf)).is_ok(),
                "{partitions} {rf}"
            );
        }
        let zero = check_settings(&InternalTopic::offsets("o", 0, 1))
            .unwrap_err()
            .to_string();
        assert_eq!(zero, "Invalid value 0 for configuration offset.storage.partitions: Number of partitions must be positive, or -1 to use the broker's default");
        let rf = check_settings(&InternalTopic::status("s", 5, -2))
            .unwrap_err()
            .to_string();
        assert!(
            rf.starts_with(
                "Invalid value -2 for configuration status.storage.replication.factor: Replication factor must be positive"
            ),
            "{rf}"
        );
    }

    #[test]
    fn a_refused_creation_names_the_topic_its_setting_and_the_brokers_answer() {
        let refused = KafkaError::new(
            "cannot create topic connect-configs",
            RsError::ServerError {
                protocol_error: ProtocolError::PolicyViolation,
                error_message: Some("topics must be created by the platform team".into()),
                request: RequestContext::Topic("connect-configs".into()),
                response: None,
                is_virtual: false,
            },
        );
        let message =
            creation_refused(&InternalTopic::config("connect-configs", 3), refused).to_string();
        assert!(
            message.starts_with("Cannot create topic 'connect-configs' supplied via the 'config.storage.topic' property (with 1 partition and replication factor 3): cannot create topic connect-configs: "),
            "{message}"
        );
        assert!(
            message.contains("topics must be created by the platform team"),
            "{message}"
        );
        let defaults = creation_refused(
            &InternalTopic::offsets("o", -1, -1),
            KafkaError::new("x", RsError::Timeout),
        )
        .to_string();
        assert!(
            defaults.contains("(with the broker's default number of partitions and the broker's default replication factor)"),
            "{defaults}"
        );
    }
}
