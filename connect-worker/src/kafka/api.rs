//! What the herder and the task loops ask of Kafka, as two small object-safe traits:
//! [`KafkaClient`] (metadata, topic creation, one fetch of one partition, partition offsets and
//! consumer groups' committed offsets) and
//! [`KafkaProducer`] (writing a batch of records). They hold them as `Arc<dyn ..>`:
//! [`Kafka`](super::Kafka) and [`Producer`](super::Producer) implement them on rskafka, and an
//! in-memory double (`memory.rs`, unit tests only) lets the herder and the loops be tested
//! without a broker.
//!
//! Both work a batch at a time (a produce of many records, a fetch answer of many records),
//! never a record at a time, and hand payloads over as `Bytes` without copying them.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use connect_core::connector::RecordMetadata;
use connect_core::record::TopicPartition;

use super::fetcher::FetchedRecord;
use super::producer::{ProduceError, ProducerRecord, RequestFailed};
use super::KafkaError;

/// Metadata, topic creation and reading: what the herder (topics for sink assignments, the
/// cluster id) and the task loops (topics to create, partitions to fetch) need.
#[async_trait]
pub trait KafkaClient: Send + Sync + std::fmt::Debug {
    /// The cluster's id, once a broker told it.
    fn cluster_id(&self) -> Option<String>;

    /// Every topic with its partitions.
    async fn topics(&self) -> Result<Vec<(String, Vec<i32>)>, KafkaError>;

    /// The partitions of a topic, or `None` when it does not exist.
    async fn partitions(&self, topic: &str) -> Result<Option<Vec<i32>>, KafkaError> {
        Ok(self
            .topics()
            .await?
            .into_iter()
            .find(|(name, _)| name == topic)
            .map(|(_, partitions)| partitions))
    }

    /// Creates a topic; `Ok(false)` when it already existed.
    async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<bool, KafkaError>;

    /// One fetch of `partition` from `offset`, as a `read_committed` consumer: at most about
    /// `max_bytes`, waiting up to `max_wait` for records when there are none yet. An error is
    /// retried by the caller when [`KafkaError::is_retriable`].
    async fn fetch(
        &self,
        partition: &TopicPartition,
        offset: i64,
        max_bytes: i32,
        max_wait: Duration,
    ) -> Result<Fetched, KafkaError>;
    /// Each partition's earliest or latest offset (ListOffsets); the latest is the offset the
    /// next record will get (the high watermark). Partitions the broker does not know fail
    /// the call.
    async fn offsets_at(
        &self,
        partitions: &[TopicPartition],
        at: OffsetPosition,
    ) -> Result<BTreeMap<TopicPartition, i64>, KafkaError>;

    /// The offsets `group` committed for `partitions` (each the next offset to read, as Kafka
    /// consumers commit them). Partitions the group has no offset for are absent. A
    /// coordinator that moved or is loading is found again and asked again.
    async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>, KafkaError>;

    /// Commits `offsets` to `group` as a client outside the group's membership does
    /// (generation -1, no member id), as Kafka's admin client alters a group's offsets and
    /// Kafka Connect's sink tasks commit theirs. A coordinator that moved or is loading is
    /// found again and the commit sent again; a partition the broker refused fails the call.
    async fn commit_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<(), KafkaError>;

    /// Removes `group`'s committed offsets of `partitions`: afterwards the group has no
    /// offset for them (as Kafka's admin client `deleteConsumerGroupOffsets`).
    async fn delete_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<(), KafkaError>;
}

/// Which end of a partition [`KafkaClient::offsets_at`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetPosition {
    /// The first offset still held (retention may have removed those before it).
    Earliest,
    /// The offset the next record will get.
    Latest,
}

/// What one fetch found.
#[derive(Debug)]
pub enum Fetched {
    /// The answer, possibly without records.
    Read(PartitionRead),
    /// The offset is not in the partition (removed by retention, or past its end): reading
    /// goes on at `earliest`, as `auto.offset.reset=earliest` (Kafka Connect's sink default).
    OutOfRange { earliest: i64 },
}

/// The records of one fetch answer and where the partition stands.
#[derive(Debug)]
pub struct PartitionRead {
    /// The committed records at or after the fetch offset, in offset order.
    pub records: Vec<FetchedRecord>,
    /// Where the next fetch starts: past the last batch the answer held (records or
    /// transaction markers), or the fetch offset when it held none (never skipped).
    pub next_offset: i64,
    /// The partition's high watermark: lag = watermark - next offset.
    pub high_watermark: i64,
    /// Below this offset the partition holds committed records (the last stable offset, or
    /// the high watermark when the broker sent none): an empty answer below it is the
    /// broker's, not the end of the partition.
    pub readable_end: i64,
}

/// Writes batches of records: source tasks' records and dead-letter queue records.
#[async_trait]
pub trait KafkaProducer: Send + Sync + std::fmt::Debug {
    /// Sends every record and waits for the broker's acknowledgements, telling
    /// `request_failed` about each request that failed and is retried. The metadata are in
    /// the order of `records`; records of one partition keep their order. The records are
    /// borrowed so the caller can send them again after a failure.
    async fn send_reporting(
        &self,
        records: &[ProducerRecord],
        request_failed: &RequestFailed<'_>,
    ) -> Result<Vec<RecordMetadata>, ProduceError>;

    /// [`send_reporting`](Self::send_reporting), logging the retried requests.
    async fn send(&self, records: &[ProducerRecord]) -> Result<Vec<RecordMetadata>, ProduceError> {
        self.send_reporting(records, &super::producer::log_request_failed)
            .await
    }
}
