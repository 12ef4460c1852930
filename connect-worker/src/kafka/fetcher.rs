//! Per-partition fetchers: one task per assigned partition reads ahead into a bounded channel,
//! so an idle partition never delays a busy one, and a slow sink stops the reading instead of
//! growing memory.
//!
//! Two bounds hold what a task has read but not yet written: each partition has at most
//! [`FetchConfig::buffered_batches_per_partition`] fetches in flight or buffered, and all the
//! partitions of a task share a budget of [`FetchConfig::buffer_bytes`]: a fetch reserves
//! `max.partition.fetch.bytes` of it before it is sent, keeps what its records take and hands
//! that back only when the sink drops the batch. So the memory of a task does not grow with
//! the topic nor with the number of partitions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use connect_core::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props, Validator,
};
use connect_core::record::TopicPartition;

use super::api::{Fetched, KafkaClient, PartitionRead};
use super::client::{Kafka, KafkaError};

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

impl FetchedRecord {
    /// Roughly the bytes the record takes in memory.
    fn approximate_size(&self) -> usize {
        RECORD_OVERHEAD
            + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 48)
                .sum::<usize>()
    }
}

/// Memory of a decoded record besides its payloads (the struct and two allocations).
const RECORD_OVERHEAD: usize = 160;

/// Empty answers in a row, for an offset the broker says holds committed records, after which
/// the fetcher warns (it keeps asking: it never skips an offset no batch accounted for).
const EMPTY_ANSWERS_BEFORE_WARNING: u32 = 1000;

/// The wait before retrying a failed fetch; it doubles up to 5 s while fetches fail.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Consecutive records of one partition.
#[derive(Debug)]
pub struct FetchedBatch {
    pub partition: TopicPartition,
    pub records: Vec<FetchedRecord>,
    /// The partition's high watermark when the batch was read: lag = watermark - next offset.
    pub high_watermark: i64,
    /// The share of the read-ahead bounds the batch holds until it is dropped.
    budget: Budget,
}

impl FetchedBatch {
    /// Splits the batch into its records and what keeps its share of the read-ahead budget:
    /// keep the budget until the records are written, so reading ahead stays bounded.
    pub fn into_parts(self) -> (TopicPartition, Vec<FetchedRecord>, Budget) {
        (self.partition, self.records, self.budget)
    }
}

/// A fetched batch's share of the read-ahead bounds (one of its partition's batches, and the
/// bytes its records take); released when dropped.
#[derive(Debug)]
pub struct Budget {
    _batch: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// Fetch settings, with the Java consumer's names.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// The most bytes one fetch of a partition returns (`max.partition.fetch.bytes`). The
    /// records of a fetch take ~2-3 times their wire size once decoded.
    pub max_partition_bytes: i32,
    /// How long the broker may wait for data (`fetch.max.wait.ms`). At least 1 ms: tansu
    /// answers a zero wait with no topics at all.
    ///
    /// The worker asks for at least one byte (`fetch.min.bytes=1`), which a Kafka broker
    /// answers as soon as a record arrives, whatever this wait. tansu does not: a fetch that
    /// finds nothing is held for the whole wait (in steps) even when records arrive meanwhile,
    /// so with Kafka's default of 500 ms a sink's p99 latency at 10,000 records/s was ~270 ms.
    /// Hence a short default: 25 ms gives a p99 of ~10 ms there, and an idle partition costs
    /// ~40 small fetches a second.
    pub max_wait: Duration,
    /// Fetches of one partition in flight or buffered before its fetcher waits for the sink.
    pub buffered_batches_per_partition: usize,
    /// Bytes all the partitions of a task may hold in fetched records, in flight or buffered,
    /// before the fetchers wait for the sink: decoded records as they take memory (a fetch
    /// reserves `max_partition_bytes` before it is sent, then holds its records' size).
    pub buffer_bytes: usize,
    /// Where a partition the consumer group has no offset for starts
    /// (`auto.offset.reset`).
    pub auto_offset_reset: OffsetReset,
}

/// `auto.offset.reset`: where a sink task starts reading a partition its consumer group has
/// no committed offset for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// The partition's first offset (Kafka Connect's default for sinks).
    #[default]
    Earliest,
    /// The partition's end: only records written from now on.
    Latest,
    /// No start: the task fails, naming the partitions.
    None,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            max_partition_bytes: 256 * 1024,
            max_wait: Duration::from_millis(25),
            buffered_batches_per_partition: 3,
            buffer_bytes: 4 * 1024 * 1024,
            auto_offset_reset: OffsetReset::Earliest,
        }
    }
}

/// The consumer keys (Kafka's names) that tune fetching. Kafka's defaults differ: 500 ms and
/// 1 MiB; see [`FetchConfig::max_wait`] and [`FetchConfig::max_partition_bytes`] for why.
pub fn consumer_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FETCH_MAX_WAIT, ConfigType::Int)
                .default_value("25")
                .validator(Validator::between(1, 60_000))
                .importance(Importance::Low)
                .doc("How long a fetch may wait at the broker for records, in ms (Kafka's default is 500; a broker that holds a fetch for the whole wait, as tansu does, adds that much latency)."),
        )
        .define(
            ConfigKey::new(MAX_PARTITION_FETCH_BYTES, ConfigType::Int)
                .default_value("262144")
                .validator(Validator::between(1024, 64 * 1024 * 1024))
                .importance(Importance::Low)
                .doc("The most bytes one fetch of a partition returns (Kafka's default is 1 MiB; smaller fetches keep a task's memory low). A task holds at most 4 MiB of fetched records, or two fetches when they are larger."),
        )
        .define(
            ConfigKey::new(AUTO_OFFSET_RESET, ConfigType::String)
                .default_value("earliest")
                .validator(Validator::one_of(&["earliest", "latest", "none"]))
                .importance(Importance::Medium)
                .doc("Where a sink task starts reading a partition its consumer group has no committed offset for: earliest (the partition's first record, Kafka Connect's default for sinks), latest (only records written from now on) or none (the task fails)."),
        )
}

const FETCH_MAX_WAIT: &str = "fetch.max.wait.ms";
const MAX_PARTITION_FETCH_BYTES: &str = "max.partition.fetch.bytes";
const AUTO_OFFSET_RESET: &str = "auto.offset.reset";

impl FetchConfig {
    /// The settings given by consumer keys (no prefix; keys of [`consumer_def`] are read, the
    /// others ignored), the defaults otherwise.
    pub fn from_consumer_props(props: &Props) -> Result<Self, ConfigErrors> {
        let values = consumer_def().parse(props)?;
        let defaults = Self::default();
        let max_partition_bytes = values
            .int(MAX_PARTITION_FETCH_BYTES)
            .unwrap_or(defaults.max_partition_bytes);
        Ok(Self {
            max_partition_bytes,
            max_wait: Duration::from_millis(
                values.int(FETCH_MAX_WAIT).map_or(25, |ms| ms.max(1) as u64),
            ),
            // Room for two fetches of the largest size at least, so fetching never stalls.
            buffer_bytes: defaults
                .buffer_bytes
                .max(2 * max_partition_bytes.max(0) as usize),
            auto_offset_reset: match values.string(AUTO_OFFSET_RESET) {
                Some("latest") => OffsetReset::Latest,
                Some("none") => OffsetReset::None,
                _ => OffsetReset::Earliest,
            },
            ..defaults
        })
    }
}

/// Told when a fetch fails with a retriable error (the fetcher retries it after `retry_in`) and
/// when a fetch works again, so a task stalled on Kafka shows as such.
pub trait FetchObserver: Send + Sync + std::fmt::Debug {
    fn failed(&self, error: &KafkaError, retry_in: Duration);
    fn succeeded(&self);
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
    kafka: Arc<dyn KafkaClient>,
    config: FetchConfig,
    shared: Shared,
    rx: mpsc::Receiver<Event>,
    /// The running fetcher of each partition and its epoch: a batch from an older epoch
    /// (before a seek, pause or close) is dropped on arrival.
    running: HashMap<TopicPartition, (u64, JoinHandle<()>)>,
    next_epoch: u64,
}

/// What the fetchers of one task share: where they send what they read, the bytes budget, and
/// who hears of their retries.
#[derive(Debug, Clone)]
struct Shared {
    tx: mpsc::Sender<Event>,
    bytes: Arc<Semaphore>,
    observer: Option<Arc<dyn FetchObserver>>,
}

impl Fetchers {
    /// Fetchers on this rskafka connection for up to `max_partitions` partitions (sizes the
    /// buffer).
    pub fn new(kafka: Kafka, config: FetchConfig, max_partitions: usize) -> Self {
        Self::reading(Arc::new(kafka), config, max_partitions)
    }

    /// Fetchers reading through `kafka` for up to `max_partitions` partitions.
    pub fn reading(
        kafka: Arc<dyn KafkaClient>,
        config: FetchConfig,
        max_partitions: usize,
    ) -> Self {
        let capacity = (max_partitions.max(1) * config.buffered_batches_per_partition).max(2);
        let (tx, rx) = mpsc::channel(capacity);
        let bytes = Arc::new(Semaphore::new(config.buffer_bytes.max(1)));
        Self {
            kafka,
            config,
            shared: Shared {
                tx,
                bytes,
                observer: None,
            },
            rx,
            running: HashMap::new(),
            next_epoch: 0,
        }
    }

    /// Tells `observer` of every fetcher's retries from now on.
    pub fn observe_retries(mut self, observer: Arc<dyn FetchObserver>) -> Self {
        self.shared.observer = Some(observer);
        self
    }

    /// Starts reading `partition` at `offset`, replacing its fetcher if one runs (a seek).
    pub fn start(&mut self, partition: TopicPartition, offset: i64) {
        self.stop(&partition);
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let handle = tokio::spawn(fetch_loop(
            Arc::clone(&self.kafka),
            self.config.clone(),
            partition.clone(),
            offset,
            epoch,
            self.shared.clone(),
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
    kafka: Arc<dyn KafkaClient>,
    config: FetchConfig,
    partition: TopicPartition,
    mut offset: i64,
    epoch: u64,
    Shared {
        tx,
        bytes,
        observer,
    }: Shared,
) {
    let batches = Arc::new(Semaphore::new(config.buffered_batches_per_partition.max(1)));
    // What one fetch reserves of the shared budget: its largest answer.
    let reserve = usize::try_from(config.max_partition_bytes)
        .unwrap_or(0)
        .clamp(1, config.buffer_bytes.max(1));
    let reserve = u32::try_from(reserve).unwrap_or(u32::MAX);
    let mut backoff = FIRST_BACKOFF;
    // Answers in a row with no batch for an offset below the last stable offset.
    let mut empty_answers = 0u32;
    loop {
        // The semaphores are never closed.
        let Ok(batch_permit) = Arc::clone(&batches).acquire_owned().await else {
            return;
        };
        let Ok(mut bytes_permit) = Arc::clone(&bytes).acquire_many_owned(reserve).await else {
            return;
        };
        let result = kafka
            .fetch(
                &partition,
                offset,
                config.max_partition_bytes,
                config.max_wait,
            )
            .await;
        match result {
            Ok(Fetched::Read(PartitionRead {
                records,
                next_offset,
                high_watermark,
                readable_end,
            })) => {
                if backoff > FIRST_BACKOFF {
                    if let Some(observer) = &observer {
                        observer.succeeded();
                    }
                }
                backoff = FIRST_BACKOFF;
                if next_offset == offset {
                    // No batch at or past the offset: nothing is there yet, or the broker did not
                    // send it this time (tansu sometimes answers a fetch below the last stable
                    // offset with no records, and has them on the next one). Only a batch may
                    // move the offset, so ask again; a short pause keeps a broker that answers
                    // at once from being asked in a busy loop.
                    if offset < readable_end {
                        empty_answers += 1;
                        if empty_answers == EMPTY_ANSWERS_BEFORE_WARNING {
                            tracing::warn!(%partition, offset, last_stable_offset = readable_end, "the broker answered {empty_answers} fetches in a row with no records although the partition has committed records at this offset; still asking");
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    continue;
                }
                empty_answers = 0;
                offset = next_offset;
                if records.is_empty() {
                    // Only transaction markers or aborted records: nothing to hand out.
                    continue;
                }
                // Hold what the decoded records take: give back what the fetch reserved beyond
                // it, or take more if the budget has it (never wait for it: fetchers holding
                // their reservations while waiting for more could wait for each other).
                let size = records
                    .iter()
                    .map(FetchedRecord::approximate_size)
                    .sum::<usize>()
                    .max(1);
                let held = bytes_permit.num_permits();
                if size < held {
                    drop(bytes_permit.split(held - size));
                } else if let Ok(more) = Arc::clone(&bytes)
                    .try_acquire_many_owned(u32::try_from(size - held).unwrap_or(u32::MAX))
                {
                    bytes_permit.merge(more);
                }
                let batch = FetchedBatch {
                    partition: partition.clone(),
                    records,
                    high_watermark,
                    budget: Budget {
                        _batch: batch_permit,
                        _bytes: bytes_permit,
                    },
                };
                if tx.send(Event::Batch { epoch, batch }).await.is_err() {
                    return;
                }
            }
            Ok(Fetched::OutOfRange { earliest }) => {
                tracing::warn!(%partition, offset, earliest, "offset out of range; reading from the earliest offset");
                offset = earliest;
            }
            Err(error) if error.is_retriable() => {
                drop((batch_permit, bytes_permit));
                match &observer {
                    Some(observer) => observer.failed(&error, backoff),
                    None => {
                        tracing::warn!(%partition, %error, "fetch failed, retrying in {backoff:?}")
                    }
                }
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
