//! A keyed Kafka topic read whole and followed (what Kafka Connect's `KafkaBasedLog` is to its
//! config, status and offset stores): every partition is read from its beginning, each record
//! handed in offset order (per partition) to the owner's `apply`, which keeps the last value
//! per key; then new records keep arriving in the background. Records are written with their
//! key's partition (Kafka's murmur2, as Java's default partitioner), so every record of a key
//! is in one partition and later ones win.
//!
//! "The end" of a partition is taken from a fetch answer (its last stable offset, which is the
//! high watermark when the broker has no open transaction), never from ListOffsets: the test
//! broker answers ListOffsets(latest) with the base offset of the last batch + 1, short of the
//! end when that batch holds several records.
//!
//! The partitions are those of the topic when the log starts: Kafka Connect's internal topics
//! do not grow.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use connect_core::record::TopicPartition;

use crate::kafka::api::{Fetched, KafkaClient, KafkaProducer};
use crate::kafka::partitioner::partition_for_key;
use crate::kafka::{KafkaError, ProduceError, ProducerRecord};

/// How long a fetch of a partition with nothing new waits at the broker. New records reach
/// `apply` within about this long (the test broker holds an empty fetch for the whole wait,
/// even when records arrive meanwhile); each idle partition costs a fetch this often.
const MAX_WAIT: Duration = Duration::from_millis(200);
/// The most bytes one fetch of a partition returns (Kafka's `max.partition.fetch.bytes`
/// default); a larger first batch still comes whole.
const MAX_PARTITION_BYTES: i32 = 1024 * 1024;
/// The wait of the fetch that asks where a partition ends: none to speak of (at least 1 ms:
/// the test broker answers a zero wait with no topics at all).
const END_PROBE_WAIT: Duration = Duration::from_millis(1);
/// The pauses after a failed fetch: 100 ms, doubling up to 5 s while fetches fail.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const LAST_BACKOFF: Duration = Duration::from_secs(5);

/// A record of the topic, as `apply` gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Bytes>,
    /// `None`: a tombstone (the key's value is removed).
    pub value: Option<Bytes>,
}

/// For each partition, the offset of the next record to apply: every record below it has
/// gone to `apply`.
type Positions = BTreeMap<i32, i64>;

/// A topic read to its end and followed in the background; see the module docs.
#[derive(Debug)]
pub struct TopicLog {
    topic: String,
    /// Sorted.
    partitions: Vec<i32>,
    kafka: Arc<dyn KafkaClient>,
    producer: Arc<dyn KafkaProducer>,
    /// Shared with the reader, which moves it after each `apply`.
    applied: Arc<watch::Sender<Positions>>,
    /// Set to stop the reader (which also stops when this is dropped).
    stop: watch::Sender<bool>,
    reader: Mutex<Option<JoinHandle<()>>>,
    /// Held while a write is under way, so that writes go out in the order they were asked
    /// for (records of one key keep their order).
    sending: tokio::sync::Mutex<()>,
}

impl TopicLog {
    /// Reads every partition of `topic` from the beginning to its end as of now, calling
    /// `apply` for each record in order (per partition), then keeps reading in the background
    /// (new records reach `apply` within about [`MAX_WAIT`]). Waits up to `within` for the
    /// topic's partitions to be known and for the reading to reach the end.
    pub async fn start(
        kafka: Arc<dyn KafkaClient>,
        producer: Arc<dyn KafkaProducer>,
        topic: &str,
        apply: impl FnMut(LogRecord) + Send + 'static,
        within: Duration,
    ) -> Result<TopicLog, KafkaError> {
        let deadline = Instant::now() + within;
        let partitions = partitions_of(&*kafka, topic, within).await?;
        let (applied, _) = watch::channel(partitions.iter().map(|p| (*p, 0)).collect());
        let applied = Arc::new(applied);
        let (stop, stopped) = watch::channel(false);
        let reader = tokio::spawn(read(
            Arc::clone(&kafka),
            topic.to_owned(),
            partitions.clone(),
            apply,
            Arc::clone(&applied),
            stopped,
        ));
        let log = TopicLog {
            topic: topic.to_owned(),
            partitions,
            kafka,
            producer,
            applied,
            stop,
            reader: Mutex::new(Some(reader)),
            sending: tokio::sync::Mutex::new(()),
        };
        if let Err(e) = log
            .read_to_end(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            log.stop().await;
            return Err(e);
        }
        Ok(log)
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's partitions, sorted.
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }

    /// Waits until every record that was in the topic when called has gone to `apply`; fails
    /// when that takes longer than `within` (retriable) or the end cannot be read.
    pub async fn read_to_end(&self, within: Duration) -> Result<(), KafkaError> {
        let deadline = Instant::now() + within;
        let ends = futures::future::try_join_all(
            self.partitions
                .iter()
                .map(|p| async move { Ok::<_, KafkaError>((*p, self.end_of(*p).await?)) }),
        );
        let ends: Positions = match tokio::time::timeout_at(deadline, ends).await {
            Ok(ends) => ends?.into_iter().collect(),
            Err(_) => {
                return Err(KafkaError::timed_out(
                    format!("cannot read where topic {} ends", self.topic),
                    within,
                ))
            }
        };
        let reached = |at: &Positions| {
            ends.iter()
                .all(|(p, end)| at.get(p).is_some_and(|next| next >= end))
        };
        let mut applied = self.applied.subscribe();
        if let Ok(Ok(_)) = tokio::time::timeout_at(deadline, applied.wait_for(reached)).await {
            return Ok(());
        }
        let at = self.applied.borrow().clone();
        let behind: Vec<String> = ends
            .iter()
            .filter(|(p, end)| at.get(p).is_none_or(|next| next < end))
            .map(|(p, end)| format!("{p} at {} of {end}", at.get(p).copied().unwrap_or(0)))
            .collect();
        let reader_ended = self
            .lock_reader()
            .as_ref()
            .is_none_or(JoinHandle::is_finished);
        Err(KafkaError::timed_out(
            format!(
                "cannot read topic {} to its end (partition {}){}",
                self.topic,
                behind.join(", partition "),
                if reader_ended {
                    "; its reading has stopped"
                } else {
                    ""
                }
            ),
            within,
        ))
    }

    /// Writes one record to its key's partition and waits for the broker's acknowledgement;
    /// returns the partition and offset. A `None` value is a tombstone.
    pub async fn send(&self, key: Bytes, value: Option<Bytes>) -> Result<(i32, i64), ProduceError> {
        let mut sent = self.send_all(vec![(key, value)]).await?;
        sent.pop().ok_or_else(|| ProduceError::MissingAcks {
            topic: self.topic.clone(),
            sent: 1,
            acked: 0,
        })
    }

    /// Writes records, each to its key's partition, and waits for every acknowledgement
    /// (all or an error; records of one key keep their order, also across calls). Returns
    /// each record's partition and offset, in order.
    pub async fn send_all(
        &self,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<Vec<(i32, i64)>, ProduceError> {
        let count = i32::try_from(self.partitions.len()).unwrap_or(i32::MAX);
        let records: Vec<ProducerRecord> = records
            .into_iter()
            .map(|(key, value)| ProducerRecord {
                topic: self.topic.as_str().into(),
                partition: Some(partition_for_key(&key, count)),
                key: Some(key),
                value,
                ..ProducerRecord::default()
            })
            .collect();
        let _in_order = self.sending.lock().await;
        let acked = self.producer.send(&records).await?;
        if acked.len() != records.len() {
            return Err(ProduceError::MissingAcks {
                topic: self.topic.clone(),
                sent: records.len(),
                acked: acked.len(),
            });
        }
        Ok(acked.into_iter().map(|m| (m.partition, m.offset)).collect())
    }

    /// Stops the background reading and waits for it to end (`apply` is not called any
    /// more). Dropping the log stops it too, without waiting.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let reader = self.lock_reader().take();
        if let Some(reader) = reader {
            if let Err(e) = reader.await {
                tracing::error!(topic = %self.topic, error = %e, "the reading of the topic ended abnormally");
            }
        }
    }

    /// Where `partition` ends now: the end of the committed records, from a fetch answer.
    /// Failures the broker may get over are asked again (the caller bounds the time).
    async fn end_of(&self, partition: i32) -> Result<i64, KafkaError> {
        let tp = TopicPartition::new(self.topic.as_str(), partition);
        let mut offset = self.applied.borrow().get(&partition).copied().unwrap_or(0);
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.kafka.fetch(&tp, offset, 1, END_PROBE_WAIT).await {
                Ok(Fetched::Read(read)) => return Ok(read.readable_end),
                // The position is gone or past the end (the topic was recreated): the end is
                // asked from the first offset the partition holds.
                Ok(Fetched::OutOfRange { earliest }) => offset = earliest,
                Err(e) if e.is_retriable() => {
                    tracing::debug!(partition = %tp, error = %e, "cannot read where the partition ends; asking again in {backoff:?}");
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(LAST_BACKOFF);
        }
    }

    fn lock_reader(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        // A poisoned lock only means a panic elsewhere; the handle is still valid.
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The partitions of `topic`, sorted, waiting up to `within` for the topic's metadata (a
/// topic just created may not be known yet by every broker).
pub(crate) async fn partitions_of(
    kafka: &dyn KafkaClient,
    topic: &str,
    within: Duration,
) -> Result<Vec<i32>, KafkaError> {
    let deadline = Instant::now() + within;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let last_error = match kafka.partitions(topic).await {
            Ok(Some(mut partitions)) if !partitions.is_empty() => {
                partitions.sort_unstable();
                return Ok(partitions);
            }
            Ok(_) => None,
            Err(e) if e.is_retriable() => Some(e),
            Err(e) => return Err(e),
        };
        if Instant::now() + backoff > deadline {
            let context = format!(
                "Could not look up partition metadata for topic '{topic}' in the allotted period ({within:?}). This could indicate a connectivity issue, unavailable topic partitions, or if this is your first use of the topic it may have taken too long to create."
            );
            return Err(match last_error {
                Some(e) => KafkaError::new(format!("{context} Last: {}", e.context), e.source),
                None => KafkaError::unknown_topic(context, topic),
            });
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(LAST_BACKOFF);
    }
}

/// One fetch of a partition under way: the partition, the offset asked for and the answer.
type PendingFetch =
    Pin<Box<dyn Future<Output = (i32, i64, Result<Fetched, KafkaError>)> + Send + 'static>>;

/// A fetch of `partition` from `offset`, after `pause`.
fn fetch(
    kafka: &Arc<dyn KafkaClient>,
    topic: &str,
    partition: i32,
    offset: i64,
    pause: Duration,
) -> PendingFetch {
    let kafka = Arc::clone(kafka);
    let tp = TopicPartition::new(topic, partition);
    Box::pin(async move {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let answer = kafka
            .fetch(&tp, offset, MAX_PARTITION_BYTES, MAX_WAIT)
            .await;
        (partition, offset, answer)
    })
}

/// The background reading: one fetch per partition at a time, all partitions at once; each
/// answer's records go to `apply` before the partition's position moves past them.
async fn read(
    kafka: Arc<dyn KafkaClient>,
    topic: String,
    partitions: Vec<i32>,
    mut apply: impl FnMut(LogRecord) + Send + 'static,
    applied: Arc<watch::Sender<Positions>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut fetches: FuturesUnordered<PendingFetch> = partitions
        .iter()
        .map(|p| fetch(&kafka, &topic, *p, 0, Duration::ZERO))
        .collect();
    let mut backoffs: HashMap<i32, Duration> = HashMap::new();
    loop {
        let (partition, offset, answer) = tokio::select! {
            // Stopped, or the log was dropped.
            _ = stop.changed() => return,
            done = fetches.next() => match done {
                Some(done) => done,
                None => return, // no partitions
            },
        };
        let next = match answer {
            Ok(Fetched::Read(read)) => {
                backoffs.remove(&partition);
                for record in read.records {
                    apply(LogRecord {
                        partition,
                        offset: record.offset,
                        key: record.key,
                        value: record.value,
                    });
                }
                read.next_offset
            }
            Ok(Fetched::OutOfRange { earliest }) => {
                tracing::info!(%topic, partition, offset, earliest, "offset out of range; reading on from the partition's first offset");
                earliest
            }
            Err(e) => {
                let backoff = backoffs
                    .get(&partition)
                    .map_or(FIRST_BACKOFF, |b| (*b * 2).min(LAST_BACKOFF));
                backoffs.insert(partition, backoff);
                if e.is_retriable() {
                    tracing::debug!(%topic, partition, error = %e, "cannot fetch; trying again in {backoff:?}");
                } else {
                    tracing::error!(%topic, partition, error = %e, "cannot fetch; trying again in {backoff:?}");
                }
                fetches.push(fetch(&kafka, &topic, partition, offset, backoff));
                continue;
            }
        };
        if next != offset {
            applied.send_modify(|at| {
                at.insert(partition, next);
            });
        }
        fetches.push(fetch(&kafka, &topic, partition, next, Duration::ZERO));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::memory::{Failure, MemoryKafka};

    const LIMIT: Duration = Duration::from_secs(10);

    /// What `apply` was given, shared with the test.
    #[derive(Clone, Default)]
    struct Applied(Arc<Mutex<Vec<LogRecord>>>);

    impl Applied {
        fn apply(&self) -> impl FnMut(LogRecord) + Send + 'static {
            let seen = Arc::clone(&self.0);
            move |record| seen.lock().unwrap().push(record)
        }

        /// `partition@offset key=value` of each record, in the order applied.
        fn lines(&self) -> Vec<String> {
            let text = |b: &Option<Bytes>| match b {
                Some(b) => String::from_utf8_lossy(b).into_owned(),
                None => "null".into(),
            };
            self.0
                .lock()
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{}@{} {}={}",
                        r.partition,
                        r.offset,
                        text(&r.key),
                        text(&r.value)
                    )
                })
                .collect()
        }

        fn of_partition(&self, partition: i32) -> Vec<String> {
            let prefix = format!("{partition}@");
            self.lines()
                .into_iter()
                .filter(|l| l.starts_with(&prefix))
                .collect()
        }
    }

    async fn start(kafka: &Arc<MemoryKafka>, topic: &str, applied: &Applied) -> TopicLog {
        TopicLog::start(
            Arc::clone(kafka) as _,
            Arc::clone(kafka) as _,
            topic,
            applied.apply(),
            LIMIT,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn reads_what_was_there_before_it_returns_then_follows_what_is_written() {
        let kafka = MemoryKafka::new();
        kafka.create("log", 3);
        for (p, v) in [(0, "a"), (1, "b"), (0, "c"), (2, "d")] {
            kafka.append("log", p, v);
        }
        let applied = Applied::default();
        let log = start(&kafka, "log", &applied).await;
        assert_eq!(log.partitions(), [0, 1, 2]);
        // Everything written before the start, in offset order per partition.
        assert_eq!(applied.of_partition(0), ["0@0 null=a", "0@1 null=c"]);
        assert_eq!(applied.of_partition(1), ["1@0 null=b"]);
        assert_eq!(applied.of_partition(2), ["2@0 null=d"]);

        // Written by someone else after the start: there after read_to_end.
        kafka.append("log", 1, "e");
        kafka.append("log", 2, "f");
        log.read_to_end(LIMIT).await.unwrap();
        assert_eq!(applied.of_partition(1), ["1@0 null=b", "1@1 null=e"]);
        assert_eq!(applied.of_partition(2), ["2@0 null=d", "2@1 null=f"]);
        log.stop().await;

        // Stopped: nothing more is applied.
        kafka.append("log", 0, "g");
        tokio::time::sleep(MAX_WAIT * 3).await;
        assert_eq!(applied.lines().len(), 6);
    }

    #[tokio::test]
    async fn sends_each_key_to_its_murmur2_partition_and_reads_its_own_records_back() {
        let kafka = MemoryKafka::new();
        kafka.create("keyed", 4);
        let applied = Applied::default();
        let log = start(&kafka, "keyed", &applied).await;
        // Partitions of 4 as Kafka's default partitioner puts these keys (partitioner.rs).
        let (partition, offset) = log
            .send(Bytes::from("foobar"), Some(Bytes::from("1")))
            .await
            .unwrap();
        assert_eq!((partition, offset), (2, 0));
        let sent = log
            .send_all(vec![
                (Bytes::from("abc"), Some(Bytes::from("2"))),
                (Bytes::from("foobar"), None),
                (Bytes::from("abc"), Some(Bytes::from("3"))),
            ])
            .await
            .unwrap();
        assert_eq!(sent, [(3, 0), (2, 1), (3, 1)]);
        log.read_to_end(LIMIT).await.unwrap();
        assert_eq!(
            applied.of_partition(2),
            ["2@0 foobar=1", "2@1 foobar=null"],
            "a None value is a tombstone"
        );
        assert_eq!(applied.of_partition(3), ["3@0 abc=2", "3@1 abc=3"]);
        let stored = kafka.records("keyed", 2);
        assert_eq!(stored[1].key.as_deref(), Some(&b"foobar"[..]));
        assert_eq!(stored[1].value, None);
        log.stop().await;
    }

    #[tokio::test]
    async fn a_missing_topic_fails_the_start_with_kafka_connects_message() {
        let kafka = MemoryKafka::new();
        let applied = Applied::default();
        let started = TopicLog::start(
            Arc::clone(&kafka) as _,
            Arc::clone(&kafka) as _,
            "absent",
            applied.apply(),
            Duration::from_millis(300),
        )
        .await;
        let message = started.unwrap_err().to_string();
        assert!(
            message.starts_with(
                "Could not look up partition metadata for topic 'absent' in the allotted period"
            ),
            "{message}"
        );
    }

    // Multi-threaded: the slow `apply` gives its thread's other work away while it sleeps.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_to_end_is_bounded_when_the_reading_cannot_keep_up() {
        let kafka = MemoryKafka::new();
        kafka.create("slow", 1);
        let applied = Applied::default();
        // An apply that takes long: the reading is behind when read_to_end gives up.
        let mut seen = applied.apply();
        let log = TopicLog::start(
            Arc::clone(&kafka) as _,
            Arc::clone(&kafka) as _,
            "slow",
            move |record| {
                tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(300)));
                seen(record);
            },
            LIMIT,
        )
        .await
        .unwrap();
        for i in 0..5 {
            kafka.append("slow", 0, &format!("v{i}"));
        }
        let asked = Instant::now();
        let error = log
            .read_to_end(Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
        assert!(error.is_retriable());
        let message = error.to_string();
        assert!(
            message.contains("cannot read topic slow to its end (partition 0 at ")
                && message.contains(" of 5)"),
            "{message}"
        );
        log.read_to_end(LIMIT).await.unwrap();
        assert_eq!(applied.lines().len(), 5);
        log.stop().await;
    }

    #[tokio::test]
    async fn a_failed_produce_is_an_error_and_writes_nothing() {
        let kafka = MemoryKafka::new();
        kafka.create("failing", 1);
        let applied = Applied::default();
        let log = start(&kafka, "failing", &applied).await;
        kafka.fail_next_produces(1, Failure::Fatal);
        let error = log
            .send(Bytes::from("k"), Some(Bytes::from("v")))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("injected"), "{error}");
        assert!(kafka.records("failing", 0).is_empty());
        log.stop().await;
    }
}
