//! Per-partition fetchers: one task per assigned partition reads ahead into a bounded channel,
//! so an idle partition never delays a busy one, and a slow sink stops the reading (the channel
//! fills) instead of growing memory.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use rskafka::client::error::{Error as RsError, ProtocolError};
use rskafka::client::partition::OffsetAt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use connect_core::record::TopicPartition;

use super::client::{is_retriable, Kafka, KafkaError};

/// A record read from a partition.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedRecord {
    pub offset: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Bytes)>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// Consecutive records of one partition.
#[derive(Debug)]
pub struct FetchedBatch {
    pub partition: TopicPartition,
    pub records: Vec<FetchedRecord>,
    /// The partition's high watermark when the batch was read: lag = watermark - next offset.
    pub high_watermark: i64,
}

/// Fetch settings, with the Java consumer's names.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// The most bytes one fetch of a partition returns (`max.partition.fetch.bytes`).
    pub max_partition_bytes: i32,
    /// How long the broker may wait for data (`fetch.max.wait.ms`). At least 1 ms: tansu
    /// answers a zero wait with no topics at all.
    pub max_wait: Duration,
    /// Fetched batches buffered per partition before its fetcher waits for the sink.
    pub buffered_batches_per_partition: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            max_partition_bytes: 1024 * 1024,
            max_wait: Duration::from_millis(500),
            buffered_batches_per_partition: 2,
        }
    }
}

/// What a fetcher reports.
#[derive(Debug)]
enum Event {
    Batch { epoch: u64, batch: FetchedBatch },
    Failed { epoch: u64, error: KafkaError },
}

/// The fetchers of one sink task.
#[derive(Debug)]
pub struct Fetchers {
    kafka: Kafka,
    config: FetchConfig,
    tx: mpsc::Sender<Event>,
    rx: mpsc::Receiver<Event>,
    /// The running fetcher of each partition and its epoch: a batch from an older epoch
    /// (before a seek, pause or close) is dropped on arrival.
    running: HashMap<TopicPartition, (u64, JoinHandle<()>)>,
    next_epoch: u64,
}

impl Fetchers {
    /// Fetchers for up to `max_partitions` partitions (sizes the buffer).
    pub fn new(kafka: Kafka, config: FetchConfig, max_partitions: usize) -> Self {
        let capacity = (max_partitions.max(1) * config.buffered_batches_per_partition).max(2);
        let (tx, rx) = mpsc::channel(capacity);
        Self {
            kafka,
            config,
            tx,
            rx,
            running: HashMap::new(),
            next_epoch: 0,
        }
    }

    /// Starts reading `partition` at `offset`, replacing its fetcher if one runs (a seek).
    pub fn start(&mut self, partition: TopicPartition, offset: i64) {
        self.stop(&partition);
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let handle = tokio::spawn(fetch_loop(
            self.kafka.clone(),
            self.config.clone(),
            partition.clone(),
            offset,
            epoch,
            self.tx.clone(),
        ));
        self.running.insert(partition, (epoch, handle));
    }

    /// Stops reading `partition` (pause or close); batches already read are dropped.
    pub fn stop(&mut self, partition: &TopicPartition) {
        if let Some((_, handle)) = self.running.remove(partition) {
            handle.abort();
        }
    }

    /// The partitions being read.
    pub fn partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.running.keys()
    }

    /// Waits up to `wait` for data, then takes what is ready, up to about `max_records`
    /// records. Empty when nothing arrived in time.
    pub async fn next(
        &mut self,
        max_records: usize,
        wait: Duration,
    ) -> Result<Vec<FetchedBatch>, KafkaError> {
        let mut batches = Vec::new();
        let mut count = 0;
        let first = match tokio::time::timeout(wait, self.rx.recv()).await {
            Ok(Some(event)) => event,
            // No sender can be gone (we hold one); a timeout means nothing arrived.
            Ok(None) | Err(_) => return Ok(batches),
        };
        let mut next = Some(first);
        while let Some(event) = next {
            match event {
                Event::Batch { epoch, batch } if self.is_current(&batch.partition, epoch) => {
                    count += batch.records.len();
                    batches.push(batch);
                }
                Event::Failed { epoch, error }
                    if self.running.values().any(|(e, _)| *e == epoch) =>
                {
                    return Err(error);
                }
                _ => {} // from a fetcher that was stopped or restarted since
            }
            if count >= max_records {
                break;
            }
            next = self.rx.try_recv().ok();
        }
        Ok(batches)
    }

    fn is_current(&self, partition: &TopicPartition, epoch: u64) -> bool {
        self.running
            .get(partition)
            .is_some_and(|(e, _)| *e == epoch)
    }

    /// Stops every fetcher.
    pub fn stop_all(&mut self) {
        for (_, (_, handle)) in self.running.drain() {
            handle.abort();
        }
    }
}

impl Drop for Fetchers {
    fn drop(&mut self) {
        self.stop_all();
    }
}

async fn fetch_loop(
    kafka: Kafka,
    config: FetchConfig,
    partition: TopicPartition,
    mut offset: i64,
    epoch: u64,
    tx: mpsc::Sender<Event>,
) {
    let max_wait_ms = i32::try_from(config.max_wait.as_millis())
        .unwrap_or(i32::MAX)
        .max(1);
    let mut backoff = Duration::from_millis(100);
    loop {
        let result = async {
            let client = kafka
                .partition(&partition.topic, partition.partition)
                .await?;
            match client
                .fetch_records(offset, 1..config.max_partition_bytes, max_wait_ms)
                .await
            {
                Ok(fetched) => Ok(Ok(fetched)),
                Err(RsError::ServerError {
                    protocol_error: ProtocolError::OffsetOutOfRange,
                    ..
                }) => {
                    // auto.offset.reset=earliest, as Kafka Connect sets for sink consumers.
                    let earliest = client.get_offset(OffsetAt::Earliest).await.map_err(|e| {
                        KafkaError::new(
                            format!("cannot read the earliest offset of {partition}"),
                            e,
                        )
                    })?;
                    Ok(Err(earliest))
                }
                Err(e) => Err(KafkaError::new(format!("cannot fetch from {partition}"), e)),
            }
        }
        .await;
        match result {
            Ok(Ok((records, high_watermark))) => {
                backoff = Duration::from_millis(100);
                let records: Vec<FetchedRecord> = records
                    .into_iter()
                    .filter(|r| r.offset >= offset)
                    .map(|r| FetchedRecord {
                        offset: r.offset,
                        key: r.record.key.map(Bytes::from),
                        value: r.record.value.map(Bytes::from),
                        headers: r
                            .record
                            .headers
                            .into_iter()
                            .map(|(k, v)| (k, Bytes::from(v)))
                            .collect(),
                        timestamp: r.record.timestamp.timestamp_millis(),
                    })
                    .collect();
                let Some(last) = records.last() else {
                    if high_watermark > offset {
                        // Data is there but no record came back: a transaction marker (rskafka
                        // drops control batches, which hold one record each). Step over it
                        // instead of asking for the same offset again and again.
                        offset += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    continue;
                };
                offset = last.offset + 1;
                let batch = FetchedBatch {
                    partition: partition.clone(),
                    records,
                    high_watermark,
                };
                if tx.send(Event::Batch { epoch, batch }).await.is_err() {
                    return;
                }
            }
            Ok(Err(earliest)) => {
                tracing::warn!(%partition, offset, earliest, "offset out of range; reading from the earliest offset");
                offset = earliest;
            }
            Err(error) if is_retriable(&error.source) => {
                tracing::warn!(%partition, %error, "fetch failed, retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                let _ = tx.send(Event::Failed { epoch, error }).await;
                return;
            }
        }
    }
}
