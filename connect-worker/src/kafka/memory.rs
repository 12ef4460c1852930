//! An in-memory Kafka for unit tests: a test double of [`KafkaClient`] and [`KafkaProducer`],
//! so the herder and the task loops run without a broker. Topics have partitions holding
//! records; a produce appends and acknowledges with the offsets it gave, a fetch returns what
//! was appended from an offset. Failures can be injected into the next produces. It has no
//! transactions, retention, replication or request sizes: the end-to-end tests cover the real
//! client against a real broker.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rskafka::client::error::{Error as RsError, RequestError};

use connect_core::connector::RecordMetadata;
use connect_core::record::TopicPartition;

use super::api::{Fetched, KafkaClient, KafkaProducer, OffsetPosition, PartitionRead};
use super::fetcher::FetchedRecord;
use super::partitioner::partition_for_key;
use super::producer::{ProduceError, ProducerRecord, RequestFailed};
use super::KafkaError;

/// How an injected failure fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// As a broker that is away (connection reset): retriable.
    Retriable,
    /// As a broker answer that cannot be used: not retriable.
    Fatal,
}

impl Failure {
    fn error(self, context: &str) -> KafkaError {
        let source = match self {
            Failure::Retriable => RsError::Request(RequestError::IO(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected: connection reset",
            ))),
            Failure::Fatal => RsError::InvalidResponse("injected: invalid response".into()),
        };
        KafkaError::new(context, source)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Each topic's partitions, each partition's records at their offsets (index = offset).
    topics: BTreeMap<String, Vec<Vec<FetchedRecord>>>,
    /// What the next produce calls do, in order (one per call).
    produce_failures: VecDeque<Failure>,
    /// Produce calls so far, failed ones included.
    produce_calls: usize,
    /// Each consumer group's committed offsets.
    groups: BTreeMap<String, BTreeMap<TopicPartition, i64>>,
    /// What the next offset commits do, in order (one per call).
    commit_failures: VecDeque<Failure>,
    /// Offset commits so far, failed ones included.
    commit_calls: usize,
}

/// The in-memory cluster; share it as `Arc<MemoryKafka>` for both traits.
#[derive(Debug, Default)]
pub(crate) struct MemoryKafka {
    state: Mutex<State>,
}

impl MemoryKafka {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a topic (if missing) with `partitions` empty partitions.
    pub fn create(&self, topic: &str, partitions: usize) {
        self.state()
            .topics
            .entry(topic.to_owned())
            .or_insert_with(|| vec![Vec::new(); partitions]);
    }

    /// Appends a record with this value to a partition (which must exist); its offset.
    pub fn append(&self, topic: &str, partition: i32, value: &str) -> i64 {
        let mut state = self.state();
        let log = &mut state.topics.get_mut(topic).expect("the topic exists")
            [usize::try_from(partition).expect("a partition number")];
        let offset = log.len() as i64;
        log.push(FetchedRecord {
            offset,
            key: None,
            value: Some(value.as_bytes().to_vec().into()),
            headers: Vec::new(),
            timestamp: 0,
        });
        offset
    }

    /// The records of a partition, in offset order.
    pub fn records(&self, topic: &str, partition: i32) -> Vec<FetchedRecord> {
        self.state()
            .topics
            .get(topic)
            .and_then(|t| t.get(usize::try_from(partition).ok()?))
            .cloned()
            .unwrap_or_default()
    }

    /// The next `count` produce calls fail with `failure` (none of their records is written).
    pub fn fail_next_produces(&self, count: usize, failure: Failure) {
        self.state()
            .produce_failures
            .extend(std::iter::repeat_n(failure, count));
    }

    /// Produce calls so far, failed ones included.
    pub fn produce_calls(&self) -> usize {
        self.state().produce_calls
    }

    /// The next `count` offset commits fail with `failure` (nothing of them is committed).
    pub fn fail_next_commits(&self, count: usize, failure: Failure) {
        self.state()
            .commit_failures
            .extend(std::iter::repeat_n(failure, count));
    }

    /// Offset commits so far, failed ones included.
    pub fn commit_calls(&self) -> usize {
        self.state().commit_calls
    }

    /// The offsets `group` holds, as a Kafka tool would list them.
    pub fn group_offsets(&self, group: &str) -> BTreeMap<TopicPartition, i64> {
        self.state().groups.get(group).cloned().unwrap_or_default()
    }
}

#[async_trait]
impl KafkaClient for MemoryKafka {
    fn cluster_id(&self) -> Option<String> {
        Some("memory".into())
    }

    async fn topics(&self) -> Result<Vec<(String, Vec<i32>)>, KafkaError> {
        Ok(self
            .state()
            .topics
            .iter()
            .map(|(name, partitions)| (name.clone(), (0..partitions.len() as i32).collect()))
            .collect())
    }

    async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        _replication_factor: i16,
    ) -> Result<bool, KafkaError> {
        let mut state = self.state();
        if state.topics.contains_key(name) {
            return Ok(false);
        }
        let count = usize::try_from(partitions).unwrap_or(0).max(1);
        state
            .topics
            .insert(name.to_owned(), vec![Vec::new(); count]);
        Ok(true)
    }

    /// Everything from `offset` (no byte limit); when there is nothing yet, an empty answer
    /// after `max_wait`, as a broker answers a fetch that found nothing.
    async fn fetch(
        &self,
        partition: &TopicPartition,
        offset: i64,
        _max_bytes: i32,
        max_wait: Duration,
    ) -> Result<Fetched, KafkaError> {
        let log = self.records(&partition.topic, partition.partition);
        let end = log.len() as i64;
        if offset < 0 || offset > end {
            return Ok(Fetched::OutOfRange { earliest: 0 });
        }
        if offset == end {
            tokio::time::sleep(max_wait).await;
        }
        let records: Vec<FetchedRecord> = log.into_iter().skip(offset as usize).collect();
        Ok(Fetched::Read(PartitionRead {
            next_offset: offset + records.len() as i64,
            records,
            high_watermark: end,
            readable_end: end,
        }))
    }

    /// Nothing is removed by retention here: the earliest offset is always 0.
    async fn offsets_at(
        &self,
        partitions: &[TopicPartition],
        at: OffsetPosition,
    ) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
        let state = self.state();
        let mut offsets = BTreeMap::new();
        for p in partitions {
            let log = state
                .topics
                .get(&*p.topic)
                .and_then(|t| t.get(usize::try_from(p.partition).ok()?))
                .ok_or_else(|| Failure::Fatal.error(&format!("no partition {p}")))?;
            let offset = match at {
                OffsetPosition::Earliest => 0,
                OffsetPosition::Latest => log.len() as i64,
            };
            offsets.insert(p.clone(), offset);
        }
        Ok(offsets)
    }

    async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
        let state = self.state();
        let held = state.groups.get(group);
        Ok(partitions
            .iter()
            .filter_map(|p| Some((p.clone(), *held?.get(p)?)))
            .collect())
    }

    async fn commit_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<(), KafkaError> {
        let mut state = self.state();
        state.commit_calls += 1;
        if let Some(failure) = state.commit_failures.pop_front() {
            return Err(failure.error("cannot commit offsets to the memory cluster"));
        }
        let held = state.groups.entry(group.to_owned()).or_default();
        held.extend(offsets.iter().map(|(p, o)| (p.clone(), *o)));
        Ok(())
    }

    async fn delete_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<(), KafkaError> {
        if let Some(held) = self.state().groups.get_mut(group) {
            held.retain(|p, _| !partitions.contains(p));
        }
        Ok(())
    }
}

#[async_trait]
impl KafkaProducer for MemoryKafka {
    /// All or nothing: an injected failure or an unknown topic or partition writes nothing.
    async fn send_reporting(
        &self,
        records: &[ProducerRecord],
        _request_failed: &RequestFailed<'_>,
    ) -> Result<Vec<RecordMetadata>, ProduceError> {
        let mut state = self.state();
        state.produce_calls += 1;
        if let Some(failure) = state.produce_failures.pop_front() {
            return Err(failure.error("cannot write to the memory cluster").into());
        }
        let mut placed = Vec::with_capacity(records.len());
        for record in records {
            let topic: &str = &record.topic;
            let Some(partitions) = state.topics.get(topic) else {
                return Err(ProduceError::UnknownTopic(record.topic.to_string()));
            };
            let count = partitions.len() as i32;
            let partition = match (record.partition, &record.key) {
                (Some(p), _) if (0..count).contains(&p) => p,
                (Some(p), _) => {
                    return Err(ProduceError::UnknownPartition {
                        topic: record.topic.to_string(),
                        partition: p,
                        count: count as usize,
                    })
                }
                (None, Some(key)) => partition_for_key(key, count),
                (None, None) => 0,
            };
            placed.push(partition);
        }
        let mut metadata = Vec::with_capacity(records.len());
        for (record, partition) in records.iter().zip(placed) {
            let topic: &str = &record.topic;
            let log = &mut state.topics.get_mut(topic).expect("checked above")[partition as usize];
            let offset = log.len() as i64;
            log.push(FetchedRecord {
                offset,
                key: record.key.clone(),
                value: record.value.clone(),
                headers: record.headers.clone(),
                timestamp: record.timestamp.unwrap_or(0),
            });
            metadata.push(RecordMetadata {
                topic: record.topic.clone(),
                partition,
                offset,
                timestamp: record.timestamp,
            });
        }
        Ok(metadata)
    }
}
