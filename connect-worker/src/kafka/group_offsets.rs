//! A consumer group's committed offsets, read, committed and deleted as a client outside the
//! group's membership, as Kafka's admin client does (and Kafka Connect for its sink tasks'
//! groups): OffsetFetch for named partitions, OffsetCommit with generation -1 and no member
//! id, OffsetDelete. Each request goes to the group's coordinator ([`Coordinators`]), which is
//! found again when it moved.
//!
//! Partitions are always named: tansu (the test broker) answers an OffsetFetch for all of a
//! group's topics with an answer Kafka's clients cannot read.
//!
//! Deleting: a coordinator that does not speak OffsetDelete (Kafka before 2.4, tansu 0.6) gets
//! the offsets committed as -1 instead, which is how OffsetFetch says "no offset": every Kafka
//! client then reads the group as having none for those partitions (kafka-python's admin client
//! reports offset -1, its consumer `committed()` None; so does this module). Kafka's tools
//! still list those partitions with no offset, where after an OffsetDelete they would not
//! list them.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse,
};
use kafka_protocol::protocol::StrBytes;
use rskafka::client::error::{ProtocolError, RequestContext};

use connect_core::record::TopicPartition;

use super::coordinator::Coordinators;
use super::raw_request::{self, answered_error};
use super::KafkaError;

/// OffsetFetch v1 to v7 ask for one group (v8 and later for a batch of groups); every broker
/// since Kafka 0.10.2 speaks v2, Kafka 4 still speaks v7.
const OFFSET_FETCH_VERSIONS: RangeInclusive<i16> = 1..=7;
/// OffsetCommit v2 to v9: the versions kafka-protocol writes, all with topic names (v10 has
/// topic ids).
const OFFSET_COMMIT_VERSIONS: RangeInclusive<i16> = 2..=9;
/// OffsetDelete has one version (Kafka 2.4 and later).
const OFFSET_DELETE_VERSIONS: RangeInclusive<i16> = 0..=0;
/// The offset OffsetFetch answers for a partition the group has none for.
const NO_OFFSET: i64 = -1;

/// The offsets `group` committed for `partitions`; those it has none for are absent.
pub(super) async fn committed_offsets(
    coordinators: &Coordinators,
    group: &str,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let request = offset_fetch_request(group, partitions);
    let context = || format!("cannot read the committed offsets of consumer group {group}");
    coordinators
        .call(group, |connection, limit| {
            let request = &request;
            async move {
                let (_, answer) =
                    raw_request::send(&connection, OFFSET_FETCH_VERSIONS, request, limit)
                        .await
                        .map_err(|e| KafkaError::new(context(), e))?;
                committed_in(group, partitions, answer)
            }
        })
        .await
}

/// Commits `offsets` to `group`, as a client outside its membership.
pub(super) async fn commit_offsets(
    coordinators: &Coordinators,
    group: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<(), KafkaError> {
    commit(coordinators, group, offsets, Purpose::Commit).await
}

/// Removes `group`'s offsets of `partitions`, with OffsetDelete, or by committing -1 where the
/// coordinator does not speak it (see the module's documentation).
pub(super) async fn delete_offsets(
    coordinators: &Coordinators,
    group: &str,
    partitions: &[TopicPartition],
) -> Result<(), KafkaError> {
    if partitions.is_empty() {
        return Ok(());
    }
    let request = offset_delete_request(group, partitions);
    let deleted = coordinators
        .call(group, |connection, limit| {
            let request = &request;
            async move {
                let (_, answer) =
                    raw_request::send(&connection, OFFSET_DELETE_VERSIONS, request, limit)
                        .await
                        .map_err(|e| KafkaError::new(Purpose::Delete.context(group), e))?;
                deletion_in(group, answer)
            }
        })
        .await;
    match deleted {
        Err(e) if raw_request::is_unsupported(&e.source) => {
            tracing::debug!(%group, "the group's coordinator does not speak OffsetDelete: committing offset -1 (no offset) instead");
            let none = partitions.iter().map(|p| (p.clone(), NO_OFFSET)).collect();
            commit(coordinators, group, &none, Purpose::Delete).await
        }
        deleted => deleted,
    }
}

/// Why offsets are committed, for the messages of a failure.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Commit,
    /// Committing -1 in place of an OffsetDelete.
    Delete,
}

impl Purpose {
    fn context(self, group: &str) -> String {
        match self {
            Purpose::Commit => format!("cannot commit offsets to consumer group {group}"),
            Purpose::Delete => format!("cannot delete the offsets of consumer group {group}"),
        }
    }

    fn partition_context(self, group: &str, partition: &TopicPartition) -> String {
        match self {
            Purpose::Commit => {
                format!("cannot commit the offset of {partition} to consumer group {group}")
            }
            Purpose::Delete => {
                format!("cannot delete the offset of {partition} from consumer group {group}")
            }
        }
    }
}

async fn commit(
    coordinators: &Coordinators,
    group: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
    purpose: Purpose,
) -> Result<(), KafkaError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let request = offset_commit_request(group, offsets);
    coordinators
        .call(group, |connection, limit| {
            let request = &request;
            async move {
                let (_, answer) =
                    raw_request::send(&connection, OFFSET_COMMIT_VERSIONS, request, limit)
                        .await
                        .map_err(|e| KafkaError::new(purpose.context(group), e))?;
                commit_refusal(group, answer, purpose)
            }
        })
        .await
}

/// The partitions by topic, each topic once, in order.
fn by_topic<'a>(
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
) -> BTreeMap<&'a str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for p in partitions {
        topics.entry(&p.topic).or_default().push(p.partition);
    }
    topics
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn offset_fetch_request(group: &str, partitions: &[TopicPartition]) -> OffsetFetchRequest {
    let topics = by_topic(partitions)
        .into_iter()
        .map(|(topic, partitions)| {
            OffsetFetchRequestTopic::default()
                .with_name(text(topic).into())
                .with_partition_indexes(partitions)
        })
        .collect();
    OffsetFetchRequest::default()
        .with_group_id(text(group).into())
        .with_topics(Some(topics))
}

/// A commit from outside the group's membership: generation -1, no member id, no group
/// instance id, the broker's retention, empty metadata (as Kafka's admin client sends it).
fn offset_commit_request(
    group: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> OffsetCommitRequest {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (p, offset) in offsets {
        topics.entry(&p.topic).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(p.partition)
                .with_committed_offset(*offset)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(Some(StrBytes::default())),
        );
    }
    OffsetCommitRequest::default()
        .with_group_id(text(group).into())
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(StrBytes::default())
        .with_group_instance_id(None)
        .with_retention_time_ms(-1)
        .with_topics(
            topics
                .into_iter()
                .map(|(topic, partitions)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(text(topic).into())
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

fn offset_delete_request(group: &str, partitions: &[TopicPartition]) -> OffsetDeleteRequest {
    let topics = by_topic(partitions)
        .into_iter()
        .map(|(topic, partitions)| {
            OffsetDeleteRequestTopic::default()
                .with_name(text(topic).into())
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|p| OffsetDeleteRequestPartition::default().with_partition_index(p))
                        .collect(),
                )
        })
        .collect();
    OffsetDeleteRequest::default()
        .with_group_id(text(group).into())
        .with_topics(topics)
}

fn group_context(group: &str) -> RequestContext {
    RequestContext::Group(group.to_owned())
}

fn partition_context(partition: &TopicPartition) -> RequestContext {
    RequestContext::Partition(partition.topic.to_string(), partition.partition)
}

/// The offsets an OffsetFetch answer holds for the partitions asked about; a group or
/// partition error fails the whole read.
fn committed_in(
    group: &str,
    asked: &[TopicPartition],
    answer: OffsetFetchResponse,
) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
    let context = || format!("cannot read the committed offsets of consumer group {group}");
    if let Some(error) = answered_error(answer.error_code, None, group_context(group)) {
        return Err(KafkaError::new(context(), error));
    }
    let asked: BTreeSet<&TopicPartition> = asked.iter().collect();
    let mut offsets = BTreeMap::new();
    for topic in answer.topics {
        for p in topic.partitions {
            let partition = TopicPartition::new(topic.name.0.as_str(), p.partition_index);
            if let Some(error) = answered_error(p.error_code, None, partition_context(&partition)) {
                return Err(KafkaError::new(
                    format!(
                        "cannot read the committed offset of {partition} in consumer group {group}"
                    ),
                    error,
                ));
            }
            if p.committed_offset >= 0 && asked.contains(&partition) {
                offsets.insert(partition, p.committed_offset);
            }
        }
    }
    Ok(offsets)
}

/// The first partition an OffsetCommit answer says was not committed, as the error.
fn commit_refusal(
    group: &str,
    answer: OffsetCommitResponse,
    purpose: Purpose,
) -> Result<(), KafkaError> {
    for topic in answer.topics {
        for p in topic.partitions {
            let partition = TopicPartition::new(topic.name.0.as_str(), p.partition_index);
            if let Some(error) = answered_error(p.error_code, None, partition_context(&partition)) {
                return Err(KafkaError::new(
                    purpose.partition_context(group, &partition),
                    error,
                ));
            }
        }
    }
    Ok(())
}

/// What an OffsetDelete answer says: a group that does not exist has no offsets to delete.
fn deletion_in(group: &str, answer: OffsetDeleteResponse) -> Result<(), KafkaError> {
    match answered_error(answer.error_code, None, group_context(group)) {
        None => {}
        Some(rskafka::client::error::Error::ServerError {
            protocol_error: ProtocolError::GroupIdNotFound,
            ..
        }) => return Ok(()),
        Some(error) => return Err(KafkaError::new(Purpose::Delete.context(group), error)),
    }
    for topic in answer.topics {
        for p in topic.partitions {
            let partition = TopicPartition::new(topic.name.0.as_str(), p.partition_index);
            if let Some(error) = answered_error(p.error_code, None, partition_context(&partition)) {
                return Err(KafkaError::new(
                    Purpose::Delete.partition_context(group, &partition),
                    error,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use kafka_protocol::messages::offset_delete_response::{
        OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
    };
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponsePartition, OffsetFetchResponseTopic,
    };
    use kafka_protocol::protocol::Encodable;

    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    /// Kafka's code of `error`.
    const NOT_COORDINATOR: i16 = 16;
    const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    const GROUP_ID_NOT_FOUND: i16 = 69;
    const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

    fn string(text: &str) -> Vec<u8> {
        let mut bytes = (text.len() as i16).to_be_bytes().to_vec();
        bytes.extend(text.as_bytes());
        bytes
    }

    #[test]
    fn a_commit_is_sent_as_a_client_outside_the_group() {
        let offsets = BTreeMap::from([(tp("t", 0), 5), (tp("t", 1), 7)]);
        let mut body = Vec::new();
        offset_commit_request("connect-s", &offsets)
            .encode(&mut body, 2)
            .expect("OffsetCommit v2 encodes");
        let mut expected = string("connect-s");
        expected.extend((-1i32).to_be_bytes()); // generation: none
        expected.extend(string("")); // member id: none
        expected.extend((-1i64).to_be_bytes()); // retention: the broker's
        expected.extend(1i32.to_be_bytes()); // one topic
        expected.extend(string("t"));
        expected.extend(2i32.to_be_bytes()); // two partitions
        for (partition, offset) in [(0i32, 5i64), (1, 7)] {
            expected.extend(partition.to_be_bytes());
            expected.extend(offset.to_be_bytes());
            expected.extend(string("")); // metadata
        }
        assert_eq!(body, expected);
        // The flexible versions encode too (group instance id null, leader epoch -1).
        for version in OFFSET_COMMIT_VERSIONS {
            offset_commit_request("connect-s", &offsets)
                .encode(&mut Vec::new(), version)
                .unwrap_or_else(|e| panic!("OffsetCommit v{version}: {e}"));
        }
    }

    #[test]
    fn reads_and_deletes_name_each_partition_once_per_topic() {
        let partitions = [tp("b", 1), tp("a", 0), tp("b", 0)];
        let fetch = offset_fetch_request("g", &partitions);
        let topics = fetch.topics.expect("named partitions, never all topics");
        let named: Vec<(&str, &[i32])> = topics
            .iter()
            .map(|t| (t.name.0.as_str(), t.partition_indexes.as_slice()))
            .collect();
        assert_eq!(named, [("a", &[0][..]), ("b", &[1, 0][..])]);
        for version in OFFSET_FETCH_VERSIONS {
            offset_fetch_request("g", &partitions)
                .encode(&mut Vec::new(), version)
                .unwrap_or_else(|e| panic!("OffsetFetch v{version}: {e}"));
        }
        let delete = offset_delete_request("g", &partitions);
        assert_eq!(delete.topics.len(), 2);
        delete
            .encode(&mut Vec::new(), 0)
            .expect("OffsetDelete v0 encodes");
    }

    fn fetched(topic: &str, partitions: &[(i32, i64, i16)]) -> OffsetFetchResponseTopic {
        OffsetFetchResponseTopic::default()
            .with_name(text(topic).into())
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(partition, offset, error)| {
                        OffsetFetchResponsePartition::default()
                            .with_partition_index(partition)
                            .with_committed_offset(offset)
                            .with_error_code(error)
                    })
                    .collect(),
            )
    }

    #[test]
    fn partitions_without_an_offset_are_absent_from_what_was_read() {
        let asked = [tp("t", 0), tp("t", 1)];
        let answer = OffsetFetchResponse::default().with_topics(vec![
            fetched("t", &[(0, 42, 0), (1, NO_OFFSET, 0), (2, 9, 0)]),
            fetched("other", &[(0, 3, 0)]),
        ]);
        let read = committed_in("g", &asked, answer).expect("no errors");
        // Partition 1 has none; partition 2 and topic `other` were not asked about.
        assert_eq!(read, BTreeMap::from([(tp("t", 0), 42)]));
    }

    #[test]
    fn an_error_of_the_group_or_a_partition_fails_the_read() {
        let asked = [tp("t", 0)];
        let moved = OffsetFetchResponse::default().with_error_code(NOT_COORDINATOR);
        let e = committed_in("g", &asked, moved).expect_err("group error");
        assert_eq!(e.protocol_error(), Some(ProtocolError::NotCoordinator));
        assert!(e.to_string().contains("consumer group g"), "{e}");

        let unknown = OffsetFetchResponse::default().with_topics(vec![fetched(
            "t",
            &[(0, NO_OFFSET, UNKNOWN_TOPIC_OR_PARTITION)],
        )]);
        let e = committed_in("g", &asked, unknown).expect_err("partition error");
        assert_eq!(
            e.protocol_error(),
            Some(ProtocolError::UnknownTopicOrPartition)
        );
        assert!(e.is_retriable(), "as Kafka says it is");
        assert!(e.to_string().contains("t-0"), "{e}");

        let denied = OffsetFetchResponse::default().with_error_code(GROUP_AUTHORIZATION_FAILED);
        let e = committed_in("g", &asked, denied).expect_err("denied");
        assert!(!e.is_retriable());
    }

    fn commit_answer(partitions: &[(i32, i16)]) -> OffsetCommitResponse {
        OffsetCommitResponse::default().with_topics(vec![OffsetCommitResponseTopic::default()
            .with_name(text("t").into())
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(partition, error)| {
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(partition)
                            .with_error_code(error)
                    })
                    .collect(),
            )])
    }

    #[test]
    fn a_partition_the_broker_refused_fails_the_commit_and_is_named() {
        assert!(commit_refusal("g", commit_answer(&[(0, 0), (1, 0)]), Purpose::Commit).is_ok());
        let e = commit_refusal(
            "g",
            commit_answer(&[(0, 0), (1, NOT_COORDINATOR)]),
            Purpose::Commit,
        )
        .expect_err("refused");
        assert_eq!(
            e.context,
            "cannot commit the offset of t-1 to consumer group g"
        );
        assert_eq!(e.protocol_error(), Some(ProtocolError::NotCoordinator));
        let e = commit_refusal(
            "g",
            commit_answer(&[(0, GROUP_AUTHORIZATION_FAILED)]),
            Purpose::Delete,
        )
        .expect_err("refused");
        assert_eq!(
            e.context,
            "cannot delete the offset of t-0 from consumer group g"
        );
    }

    #[test]
    fn deleting_from_a_group_that_does_not_exist_deletes_nothing() {
        let gone = OffsetDeleteResponse::default().with_error_code(GROUP_ID_NOT_FOUND);
        assert!(deletion_in("g", gone).is_ok());

        let subscribed =
            OffsetDeleteResponse::default().with_topics(vec![OffsetDeleteResponseTopic::default()
                .with_name(text("t").into())
                .with_partitions(vec![OffsetDeleteResponsePartition::default()
                    .with_partition_index(3)
                    .with_error_code(GROUP_SUBSCRIBED_TO_TOPIC)])]);
        let e = deletion_in("g", subscribed).expect_err("an active group's topic");
        assert_eq!(
            e.protocol_error(),
            Some(ProtocolError::GroupSubscribedToTopic)
        );
        assert!(e.to_string().contains("t-3"), "{e}");
    }
}
