//! What the herder and the task loops ask of Kafka, as two small object-safe traits:
//! [`KafkaClient`] (metadata, topic creation, one fetch of one partition) and
//! [`KafkaProducer`] (writing a batch of records). They hold them as `Arc<dyn ..>`:
//! [`Kafka`](super::Kafka) and [`Producer`](super::Producer) implement them on rskafka, and an
//! in-memory double (`memory.rs`, unit tests only) lets the herder and the loops be tested
//! without a broker.
//!
//! Both work a batch at a time (a produce of many records, a fetch answer of many records),
//! never a record at a time, and hand payloads over as `Bytes` without copying them.

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
