//! PLACEHOLDER on branch `groups` only (being written): consumer-group offsets and ListOffsets
//! on rskafka's connections. Never merged to main in this form.

use std::collections::BTreeMap;

use rskafka::client::error::Error as RsError;

use connect_core::record::TopicPartition;

use super::api::OffsetPosition;
use super::{Kafka, KafkaError};

fn unwritten(what: &str) -> KafkaError {
    KafkaError::new(what, RsError::InvalidResponse("not written yet".into()))
}

pub(super) async fn offsets_at(
    _kafka: &Kafka,
    _partitions: &[TopicPartition],
    _at: OffsetPosition,
) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
    Err(unwritten("offsets_at"))
}

pub(super) async fn committed_offsets(
    _kafka: &Kafka,
    _group: &str,
    _partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
    Err(unwritten("committed_offsets"))
}

pub(super) async fn commit_offsets(
    _kafka: &Kafka,
    _group: &str,
    _offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<(), KafkaError> {
    Err(unwritten("commit_offsets"))
}

pub(super) async fn delete_offsets(
    _kafka: &Kafka,
    _group: &str,
    _partitions: &[TopicPartition],
) -> Result<(), KafkaError> {
    Err(unwritten("delete_offsets"))
}
