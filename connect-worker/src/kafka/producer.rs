//! The batching producer: partitions records as Kafka's Java client does, sends one request
//! per partition at a time (partitions in parallel) and retries what may succeed later.
//!
//! Request sizes steer around a property of rskafka 0.6: it does not set `TCP_NODELAY` and
//! writes each request as a 4-byte length and then the body through an 8 KiB buffer. A body
//! between ~8 KiB and one TCP segment (64 KiB on loopback) then waits ~40 ms for the broker's
//! delayed ACK. So a partition's records go out in one request when they are small, in
//! requests of at least [`LARGE_REQUEST`] bytes when there are many, and the size in between
//! is cut into requests under [`SMALL_REQUEST`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use futures::future::try_join_all;
use rskafka::client::partition::Compression;
use rskafka::record::Record;

use connect_core::connector::RecordMetadata;
use connect_core::data::Text;

use super::api::{KafkaClient, KafkaProducer};
use super::client::{is_retriable, Kafka, KafkaError};
use super::partitioner::{partition_for_key, StickyPartitioner};

/// A request body below this many bytes goes out in one write (rskafka's buffer is 8 KiB).
pub const SMALL_REQUEST: usize = 7 * 1024;
/// A request body above this many bytes is larger than a loopback TCP segment.
pub const LARGE_REQUEST: usize = 72 * 1024;
/// Per-record framing in a record batch (lengths, attributes, deltas), roughly.
const RECORD_OVERHEAD: usize = 24;

/// A record to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProducerRecord {
    pub topic: Text,
    /// `None`: by key (murmur2, as the Java client), or sticky for unkeyed records.
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Bytes)>,
    /// Milliseconds since the Unix epoch; `None` = now.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    fn approximate_size(&self) -> usize {
        RECORD_OVERHEAD
            + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>()
    }
}

/// The compression of a `compression.type` setting (`none`, `gzip`, `snappy`, `lz4`, `zstd`;
/// the worker config refuses any other value).
pub fn compression(setting: Option<&str>) -> Compression {
    match setting.map(str::trim) {
        Some("gzip") => Compression::Gzip,
        Some("snappy") => Compression::Snappy,
        Some("lz4") => Compression::Lz4,
        Some("zstd") => Compression::Zstd,
        _ => Compression::NoCompression,
    }
}

/// Producer settings.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub compression: Compression,
    /// The largest request body to send (`max.request.size`).
    pub max_request_bytes: usize,
    /// How long a batch may keep retrying before it fails (`delivery.timeout.ms`).
    pub delivery_timeout: Duration,
    /// How long partition counts are trusted before being read again (`metadata.max.age.ms`).
    pub metadata_max_age: Duration,
    /// How long one produce request may go unanswered before it is retried
    /// (`request.timeout.ms`): rskafka itself waits forever for a broker that holds the
    /// connection open without answering (frozen, overloaded).
    pub request_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            compression: Compression::NoCompression,
            max_request_bytes: 1024 * 1024,
            delivery_timeout: Duration::from_secs(120),
            metadata_max_age: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Told about a produce request that failed and is retried: the error and the delay before
/// the next try.
pub type RequestFailed<'a> = dyn Fn(&dyn std::fmt::Display, Duration) + Sync + 'a;

/// Logs a produce request that failed and is retried.
pub(crate) fn log_request_failed(error: &dyn std::fmt::Display, retry_in: Duration) {
    tracing::warn!(%error, "produce failed, retrying in {retry_in:?}");
}

/// Why records could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProduceError {
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    #[error("partition {partition} of topic {topic} does not exist (it has {count})")]
    UnknownPartition {
        topic: String,
        partition: i32,
        count: usize,
    },
    #[error("the broker acknowledged {acked} of the {sent} records written to topic {topic}")]
    MissingAcks {
        topic: String,
        sent: usize,
        acked: usize,
    },
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// One topic's records of a batch, by partition.
struct TopicRecords<'a> {
    topic: &'a Text,
    count: i32,
    /// The partition of its unkeyed records (sticky for the batch, as the Java client's).
    sticky: Option<i32>,
    /// (index in the batch, record), by partition.
    by_partition: Vec<Vec<(usize, &'a ProducerRecord)>>,
}

impl<'a> TopicRecords<'a> {
    fn new(topic: &'a Text, count: i32) -> Self {
        Self {
            topic,
            count,
            sticky: None,
            by_partition: (0..count).map(|_| Vec::new()).collect(),
        }
    }
}

/// Sends batches of records to Kafka.
#[derive(Debug)]
pub struct Producer {
    kafka: Kafka,
    config: ProducerConfig,
    sticky: StickyPartitioner,
    partition_counts: Mutex<HashMap<Text, (i32, Instant)>>,
}

impl Producer {
    /// A producer on this connection.
    pub fn new(kafka: Kafka, config: ProducerConfig) -> Self {
        Self {
            kafka,
            config,
            sticky: StickyPartitioner::default(),
            partition_counts: Mutex::default(),
        }
    }

    /// Sends every record and waits for the broker's acknowledgements. The metadata are in the
    /// order of `records`. Records of one partition keep their order; a retried request may
    /// write some records twice (rskafka has no idempotent producer): at-least-once.
    ///
    /// The records are borrowed so the caller can send them again after a failure; each
    /// attempt copies the payloads once into rskafka's owned records.
    pub async fn send(
        &self,
        records: &[ProducerRecord],
    ) -> Result<Vec<RecordMetadata>, ProduceError> {
        self.send_reporting(records, &log_request_failed).await
    }

    /// [`send`](Self::send), telling `request_failed` about each request that failed and is
    /// retried (the error, naming the partition, and the delay before the next try) instead
    /// of logging it.
    pub async fn send_reporting(
        &self,
        records: &[ProducerRecord],
        request_failed: &RequestFailed<'_>,
    ) -> Result<Vec<RecordMetadata>, ProduceError> {
        // A batch's records nearly all go to one topic: the topic is looked up once per batch
        // (not per record) and its records grouped in a vector indexed by partition.
        let mut topics: Vec<TopicRecords<'_>> = Vec::new();
        let mut topic_index: HashMap<&str, usize> = HashMap::new();
        let mut last: Option<usize> = None;
        for (index, record) in records.iter().enumerate() {
            let at = match last {
                Some(at) if *topics[at].topic == record.topic => at,
                _ => match topic_index.get(&*record.topic) {
                    Some(&at) => at,
                    None => {
                        let count = self.partition_count(&record.topic).await?;
                        topic_index.insert(&record.topic, topics.len());
                        topics.push(TopicRecords::new(&record.topic, count));
                        topics.len() - 1
                    }
                },
            };
            last = Some(at);
            let topic = &mut topics[at];
            let count = topic.count;
            let partition = match (record.partition, &record.key) {
                (Some(p), _) if p >= 0 && p < count => p,
                (Some(p), _) => {
                    return Err(ProduceError::UnknownPartition {
                        topic: record.topic.to_string(),
                        partition: p,
                        count: count as usize,
                    })
                }
                (None, Some(key)) => partition_for_key(key, count),
                (None, None) => *topic
                    .sticky
                    .get_or_insert_with(|| self.sticky.next_batch_partition(count)),
            };
            // Out of range only for a topic the broker lists with no partitions.
            let Some(group) = usize::try_from(partition)
                .ok()
                .and_then(|p| topic.by_partition.get_mut(p))
            else {
                return Err(ProduceError::UnknownPartition {
                    topic: record.topic.to_string(),
                    partition,
                    count: count as usize,
                });
            };
            group.push((index, record));
        }
        let total = records.len();
        let sends = topics.into_iter().flat_map(|topic| {
            let name = topic.topic;
            (0..)
                .zip(topic.by_partition)
                .filter(|(_, records)| !records.is_empty())
                .map(move |(partition, records)| (name.clone(), partition, records))
        });
        let sent = try_join_all(sends.map(|(topic, partition, records)| {
            self.send_partition(topic, partition, records, request_failed)
        }))
        .await;
        let sent = match sent {
            Ok(sent) => sent,
            Err(e) => {
                if matches!(&e, ProduceError::Kafka(k) if k.protocol_error().is_some()) {
                    self.forget_partition_counts();
                }
                return Err(e);
            }
        };
        let mut metadata: Vec<Option<RecordMetadata>> = vec![None; total];
        for (index, meta) in sent.into_iter().flatten() {
            metadata[index] = Some(meta);
        }
        Ok(metadata.into_iter().flatten().collect())
    }

    async fn send_partition(
        &self,
        topic: Text,
        partition: i32,
        records: Vec<(usize, &ProducerRecord)>,
        request_failed: &RequestFailed<'_>,
    ) -> Result<Vec<(usize, RecordMetadata)>, ProduceError> {
        let client = self.kafka.partition(&topic, partition).await?;
        let mut acked = Vec::with_capacity(records.len());
        let sizes: Vec<usize> = records.iter().map(|(_, r)| r.approximate_size()).collect();
        let mut records = records.into_iter();
        for chunk_len in chunk_lengths(&sizes, self.config.max_request_bytes) {
            let chunk: Vec<(usize, &ProducerRecord)> = records.by_ref().take(chunk_len).collect();
            let timestamps: Vec<Option<i64>> = chunk.iter().map(|(_, r)| r.timestamp).collect();
            let indexes: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
            let batch: Vec<&ProducerRecord> = chunk.into_iter().map(|(_, r)| r).collect();
            let offsets = self
                .produce_with_retries(&client, batch, request_failed)
                .await
                .map_err(|e| KafkaError::new(format!("cannot write to {topic}-{partition}"), e))?;
            for ((index, offset), timestamp) in indexes.into_iter().zip(offsets).zip(timestamps) {
                acked.push((
                    index,
                    RecordMetadata {
                        topic: topic.clone(),
                        partition,
                        offset,
                        timestamp,
                    },
                ));
            }
        }
        Ok(acked)
    }

    async fn produce_with_retries(
        &self,
        client: &rskafka::client::partition::PartitionClient,
        batch: Vec<&ProducerRecord>,
        request_failed: &RequestFailed<'_>,
    ) -> Result<Vec<i64>, rskafka::client::error::Error> {
        let deadline = Instant::now() + self.config.delivery_timeout;
        let mut backoff = Duration::from_millis(100);
        loop {
            let records = batch.iter().map(|r| to_rskafka(r)).collect();
            let answer = tokio::time::timeout(
                self.config.request_timeout,
                client.produce(records, self.config.compression),
            )
            .await
            .unwrap_or_else(|_| Err(no_answer(self.config.request_timeout)));
            match answer {
                Ok(offsets) => return Ok(offsets),
                Err(e) if is_retriable(&e) && Instant::now() + backoff <= deadline => {
                    request_failed(
                        &format_args!(
                            "cannot write to {}-{}: {e}",
                            client.topic(),
                            client.partition()
                        ),
                        backoff,
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn partition_count(&self, topic: &Text) -> Result<i32, ProduceError> {
        if let Some((count, read_at)) = self.lock_counts().get(topic) {
            if read_at.elapsed() < self.config.metadata_max_age {
                return Ok(*count);
            }
        }
        let partitions = self
            .kafka
            .partitions(topic)
            .await?
            .ok_or_else(|| ProduceError::UnknownTopic(topic.to_string()))?;
        let count = i32::try_from(partitions.len()).unwrap_or(i32::MAX);
        self.lock_counts()
            .insert(topic.clone(), (count, Instant::now()));
        Ok(count)
    }

    fn forget_partition_counts(&self) {
        self.lock_counts().clear();
    }

    fn lock_counts(&self) -> std::sync::MutexGuard<'_, HashMap<Text, (i32, Instant)>> {
        self.partition_counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl KafkaProducer for Producer {
    async fn send_reporting(
        &self,
        records: &[ProducerRecord],
        request_failed: &RequestFailed<'_>,
    ) -> Result<Vec<RecordMetadata>, ProduceError> {
        Producer::send_reporting(self, records, request_failed).await
    }
}

fn to_rskafka(record: &ProducerRecord) -> Record {
    let timestamp = record
        .timestamp
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .unwrap_or_else(Utc::now);
    Record {
        key: record.key.as_deref().map(<[u8]>::to_vec),
        value: record.value.as_deref().map(<[u8]>::to_vec),
        headers: record
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.to_vec()))
            .collect(),
        timestamp,
    }
}

/// Cuts records of these sizes into request lengths that avoid the delayed-ACK window (see the
/// module docs) and stay under `max_bytes` (a single larger record goes alone).
fn chunk_lengths(sizes: &[usize], max_bytes: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    if total <= SMALL_REQUEST {
        return if sizes.is_empty() {
            Vec::new()
        } else {
            vec![sizes.len()]
        };
    }
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < sizes.len() {
        let remaining: usize = sizes[start..].iter().sum();
        // Large enough to leave the window: fill up to max_bytes, but never leave a remainder
        // that falls into the window.
        let limit = if remaining >= LARGE_REQUEST {
            if remaining > max_bytes && remaining - max_bytes < LARGE_REQUEST {
                remaining.saturating_sub(LARGE_REQUEST).max(LARGE_REQUEST)
            } else {
                max_bytes
            }
        } else {
            SMALL_REQUEST
        };
        let mut len = 0;
        let mut bytes = 0;
        while start + len < sizes.len() && (len == 0 || bytes + sizes[start + len] <= limit) {
            bytes += sizes[start + len];
            len += 1;
        }
        chunks.push(len);
        start += len;
    }
    chunks
}

/// The error of a produce request the broker did not answer in time: retriable (an I/O
/// timeout), so the batch is sent again (at-least-once) until `delivery.timeout.ms`.
fn no_answer(after: Duration) -> rskafka::client::error::Error {
    rskafka::client::error::Error::Request(rskafka::client::error::RequestError::IO(
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer from the broker within {after:?} (request.timeout.ms)"),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes_of(chunks: &[usize], sizes: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut start = 0;
        for len in chunks {
            out.push(sizes[start..start + len].iter().sum());
            start += len;
        }
        out
    }

    #[test]
    fn small_batches_go_in_one_request() {
        let sizes = vec![100; 50];
        assert_eq!(chunk_lengths(&sizes, 1 << 20), [50]);
        assert!(chunk_lengths(&[], 1 << 20).is_empty());
    }

    #[test]
    fn no_request_falls_into_the_delayed_ack_window() {
        for count in [80, 200, 700, 1500, 5000, 12_000, 20_000] {
            let sizes = vec![100; count];
            let chunks = chunk_lengths(&sizes, 1 << 20);
            assert_eq!(chunks.iter().sum::<usize>(), count);
            for bytes in sizes_of(&chunks, &sizes) {
                assert!(
                    bytes <= SMALL_REQUEST || bytes >= LARGE_REQUEST,
                    "{count} records: a request of {bytes} bytes"
                );
                assert!(bytes <= (1 << 20) + LARGE_REQUEST, "{bytes}");
            }
        }
    }

    #[test]
    fn a_record_larger_than_the_limit_goes_alone() {
        let sizes = [10, 5_000_000, 10];
        let chunks = chunk_lengths(&sizes, 1 << 20);
        assert_eq!(chunks.iter().sum::<usize>(), 3);
        assert!(chunks.iter().all(|l| *l >= 1));
    }
}
