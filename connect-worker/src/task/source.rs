//! The source task loop: poll -> transforms -> converters -> producer -> acknowledgements ->
//! `commit_record` (`commit_dropped` for what the worker does not send), and every
//! `offset.flush.interval.ms` the offsets are stored and the task's `commit` is called.
//!
//! At most two batches are in flight: while one is being produced (its future is driven
//! together with the task's `poll`; the broker works meanwhile), the next is polled,
//! transformed and converted. The next one is sent only once the previous one is acknowledged
//! and its records committed, so memory stays bounded by two batches, `commit_record` /
//! `commit_dropped` come in the order the records were polled, and every stored offset
//! belongs to a record Kafka acknowledged or the worker dropped. A batch's records are
//! committed after the next `poll` returned (a task's calls never overlap), so that `poll`
//! delays them by up to its wait when there is nothing new.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connect_core::config::Props;
use connect_core::connector::{RecordMetadata, SourceTaskContext, TaskIdentity};
use connect_core::record::{SourceMap, SourceRecord};
use connect_core::running::{RunningSourceTask, StartSourceTask};
use connect_core::transforms::{Outcome, TransformChain};
use connect_core::ConnectError;
use tokio::sync::watch;

use super::retries::one_line;
use super::{
    count_startup, finish, next_backoff, Operation, RecordErrors, Retries, Stage, TaskEnv,
    TaskTarget,
};
use crate::convert::Converters;
use crate::kafka::{KafkaProducer, ProduceError, ProducerRecord};
use crate::metrics::{CustomFactory, TaskMetrics};
use crate::status::State;
use prometheus::{IntCounter, IntGauge};

/// What a source task reads its committed offsets from: the connector's stored offsets, read
/// from the store when the task starts, plus those the task stored since. The SDK's
/// `offset` answers at once while the store may have to read a Kafka topic (distributed
/// mode), and nobody but the task writes its partitions' offsets while it runs (the offsets
/// API changes them only while the connector is STOPPED, so with no task running).
struct Context {
    task: TaskIdentity,
    /// By [`partition_key`].
    offsets: Mutex<HashMap<String, SourceMap>>,
    config: Props,
    metrics: CustomFactory,
}

impl Context {
    fn offsets(&self) -> std::sync::MutexGuard<'_, HashMap<String, SourceMap>> {
        self.offsets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SourceTaskContext for Context {
    fn task(&self) -> &TaskIdentity {
        &self.task
    }

    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        self.offsets().get(&partition_key(partition)).cloned()
    }

    fn config(&self) -> &Props {
        &self.config
    }

    fn counter(&self, name: &str, help: &str) -> connect_core::metrics::Counter {
        self.metrics.counter(name, help)
    }

    fn gauge(&self, name: &str, help: &str) -> connect_core::metrics::Gauge {
        self.metrics.gauge(name, help)
    }
}

/// Starts a source task with `start` and runs it until it is stopped or fails; the status
/// tells which.
pub async fn run(mut env: TaskEnv, start: StartSourceTask) {
    let mut task = None;
    let result = run_inner(&mut env, start, &mut task).await;
    let stop = async {
        match task.as_mut() {
            Some(task) => task.stop().await,
            None => Ok(()),
        }
    };
    finish(&env, result, stop).await;
}

async fn run_inner(
    env: &mut TaskEnv,
    start: StartSourceTask,
    started_task: &mut Option<Box<dyn RunningSourceTask>>,
) -> Result<(), ConnectError> {
    // The task's configuration: the connector's, with config-provider variables resolved.
    let converters = Converters::for_connector(&env.plugins, &env.worker, &env.task_props)?;
    let chain = TransformChain::from_config(&env.task_props, &env.plugins)?;
    let mut metrics = env
        .metrics
        .task(&env.id.connector, env.id.task)
        .with_source();
    let mut errors = RecordErrors::new(
        env.connector.errors.clone(),
        env.id.to_string(),
        metrics.errors.clone(),
    );
    let stored = env.offsets.all(&env.id.connector).await.map_err(|e| {
        ConnectError::retriable(format!(
            "cannot read the stored offsets of connector {}",
            env.id.connector
        ))
        .with_source(e)
    })?;
    let context = Arc::new(Context {
        task: env.identity(),
        offsets: Mutex::new(
            stored
                .into_iter()
                .map(|(partition, offset)| (partition_key(&partition), offset))
                .collect(),
        ),
        config: env.task_props.clone(),
        metrics: metrics.custom_factory(),
    });
    let started = start(env.task_props.clone(), Arc::clone(&context) as _).await;
    count_startup(env, started.is_ok());
    let task = started_task.insert(started?).as_mut();
    env.status.set(State::Running);
    tracing::info!(task = %env.id, "source task started");

    let mut pending: HashMap<String, (SourceMap, SourceMap)> = HashMap::new();
    let mut known_topics: HashSet<String> = HashSet::new();
    let mut last_flush = Instant::now();
    let mut backoff = Duration::ZERO;
    // The batch being produced, if any.
    let mut in_flight: Option<InFlight> = None;
    loop {
        match env.target() {
            TaskTarget::Stop => break,
            TaskTarget::Pause => {
                if !settle(task, in_flight.take(), &mut pending, &mut metrics).await? {
                    break; // stopped while Kafka was unreachable
                }
                commit_offsets(env, &context, task, &mut pending, &mut metrics).await?;
                env.status.set(State::Paused);
                if env.wait_while_paused().await == TaskTarget::Stop {
                    break;
                }
                env.status.set(State::Running);
            }
            TaskTarget::Run => {}
        }
        let polled_at = Instant::now();
        let producing = in_flight.as_mut().and_then(|b| b.producing.as_mut());
        let records = match poll_while_producing(task, producing).await {
            Ok(records) => {
                backoff = Duration::ZERO;
                env.retries.succeeded(Operation::Poll);
                if let Some(m) = metrics.source.as_mut() {
                    m.poll_time.record_time(polled_at.elapsed());
                    m.poll_total.inc_by(records.len() as u64);
                }
                records
            }
            Err(e) if e.is_retriable() => {
                backoff = next_backoff(backoff, env.connector.errors.retry_delay_max);
                env.retries.failed(Operation::Poll, &one_line(&e), backoff);
                env.back_off(backoff).await;
                continue;
            }
            Err(e) => {
                // What Kafka acknowledged meanwhile is committed before the task fails.
                settle(task, in_flight.take(), &mut pending, &mut metrics).await?;
                return Err(e);
            }
        };
        let batch = if records.is_empty() {
            None
        } else {
            metrics.batch_size.record(records.len() as f64);
            if let Some(m) = &metrics.source {
                m.active.add(records.len() as i64);
            }
            Some(
                prepare(
                    env,
                    &chain,
                    &converters,
                    &mut errors,
                    records,
                    &mut known_topics,
                )
                .await,
            )
        };
        // The previous batch is committed before this one is sent: commits stay in order.
        if !settle(task, in_flight.take(), &mut pending, &mut metrics).await? {
            break; // stopped while Kafka was unreachable
        }
        if let Some(batch) = batch {
            let batch = start_producing(env, batch?, &metrics);
            if batch.producing.is_some() {
                in_flight = Some(batch);
            } else {
                // Nothing to send: the task learns at once that its records were dropped.
                settle(task, Some(batch), &mut pending, &mut metrics).await?;
            }
        }
        if last_flush.elapsed() >= env.worker.offset_flush_interval {
            commit_offsets(env, &context, task, &mut pending, &mut metrics).await?;
            last_flush = Instant::now();
        }
    }
    // The batch in flight finishes (or is abandoned when Kafka is unreachable and the task is
    // stopped: its offsets are not stored, so it is polled again after a restart).
    settle(task, in_flight.take(), &mut pending, &mut metrics).await?;
    commit_offsets(env, &context, task, &mut pending, &mut metrics).await
}

/// A polled batch, transformed and converted.
struct Batch {
    records: Vec<SourceRecord>,
    /// Per record: sent (the next of `to_send`) or dropped (a transform dropped it, or a
    /// tolerated error skipped it).
    sent: Vec<bool>,
    to_send: Vec<ProducerRecord>,
}

/// A batch being produced.
struct InFlight {
    records: Vec<SourceRecord>,
    sent: Vec<bool>,
    /// `None` when none of its records is sent.
    producing: Option<Producing>,
}

/// What producing a batch ends with: the metadata of its records in order, or `None` when the
/// task was stopped before Kafka took the batch.
type Produced = Result<Option<Vec<RecordMetadata>>, ConnectError>;

/// Producing a batch: driven by the loop while it polls the next batch, then until it ends.
/// Dropped before it ended (the loop failed), it is cancelled.
struct Producing {
    future: Pin<Box<dyn Future<Output = Produced> + Send>>,
    /// What it ended with, once it ended during a poll.
    ended: Option<Produced>,
}

impl Producing {
    fn new(future: impl Future<Output = Produced> + Send + 'static) -> Self {
        Self {
            future: Box::pin(future),
            ended: None,
        }
    }

    /// Waits until it ends.
    async fn end(&mut self) -> Produced {
        match self.ended.take() {
            Some(ended) => ended,
            None => (&mut self.future).await,
        }
    }
}

/// Polls the task while the batch in flight (if any) is being produced.
async fn poll_while_producing(
    task: &mut dyn RunningSourceTask,
    producing: Option<&mut Producing>,
) -> Result<Vec<SourceRecord>, ConnectError> {
    let poll = task.poll();
    let Some(producing) = producing.filter(|p| p.ended.is_none()) else {
        return poll.await;
    };
    tokio::pin!(poll);
    tokio::select! {
        polled = &mut poll => return polled,
        ended = &mut producing.future => producing.ended = Some(ended),
    }
    poll.await
}

/// Transforms and converts a batch, and makes sure its topics exist.
async fn prepare(
    env: &TaskEnv,
    chain: &TransformChain,
    converters: &Converters,
    errors: &mut RecordErrors,
    mut records: Vec<SourceRecord>,
    known_topics: &mut HashSet<String>,
) -> Result<Batch, ConnectError> {
    let mut to_send = Vec::with_capacity(records.len());
    let mut sent = Vec::with_capacity(records.len());
    for record in &mut records {
        let outcome = errors.retry(|| chain.apply(&mut record.record)).await;
        match outcome {
            Ok(Outcome::Keep) => {}
            Ok(Outcome::Drop) => {
                sent.push(false);
                continue;
            }
            Err(e) => {
                errors.tolerate(Stage::Transformation, || describe(record), e)?;
                sent.push(false);
                continue;
            }
        }
        let mut failed_stage = Stage::ValueConverter;
        let converted = errors
            .retry(|| {
                converters
                    .to_producer_record(&record.record)
                    .map_err(|(stage, e)| {
                        failed_stage = stage;
                        e
                    })
            })
            .await;
        match converted {
            Ok(kafka_record) => {
                to_send.push(kafka_record);
                sent.push(true);
            }
            Err(e) => {
                errors.tolerate(failed_stage, || describe(record), e)?;
                sent.push(false);
            }
        }
    }
    // Records of one topic come in runs: a topic is looked up once per run, and only one not
    // seen before costs more than that.
    let mut previous: Option<&str> = None;
    for record in &to_send {
        let topic: &str = &record.topic;
        if previous.replace(topic) == Some(topic) {
            continue;
        }
        if !known_topics.contains(topic) {
            ensure_topic(env, topic).await?;
            env.active_topics.add(topic);
            known_topics.insert(topic.to_owned());
        }
    }
    Ok(Batch {
        records,
        sent,
        to_send,
    })
}

/// Starts producing a batch (the loop drives it while it polls, then until it ends). A future
/// in the loop's own task rather than a spawned one: measured, a spawned producer cost ~10%
/// more CPU per record (wake-ups across the runtime's threads) and was slower on 2 cores.
fn start_producing(env: &TaskEnv, batch: Batch, metrics: &TaskMetrics) -> InFlight {
    let producing = (!batch.to_send.is_empty()).then(|| {
        // The metrics count the batch as written as soon as Kafka acknowledged it, not when
        // the loop commits it (after the next poll returned).
        let written = metrics.source.as_ref().map(|m| Written {
            total: m.write_total.clone(),
            active: m.active.clone(),
            polled: batch.records.len(),
        });
        Producing::new(produce(
            Arc::clone(&env.producer),
            env.target.clone(),
            env.connector.errors.retry_delay_max,
            env.retries.clone(),
            batch.to_send,
            written,
        ))
    });
    InFlight {
        records: batch.records,
        sent: batch.sent,
        producing,
    }
}

/// The source metrics a batch updates once Kafka acknowledged it.
struct Written {
    total: IntCounter,
    active: IntGauge,
    /// The records polled in the batch (sent or dropped).
    polled: usize,
}

/// Sends records until Kafka acknowledges them, retrying what may succeed later; gives up
/// (`None`) when the task is stopped while Kafka is unreachable.
async fn produce(
    producer: Arc<dyn KafkaProducer>,
    mut target: watch::Receiver<TaskTarget>,
    retry_delay_max: Duration,
    retries: Retries,
    records: Vec<ProducerRecord>,
    written: Option<Written>,
) -> Produced {
    let mut backoff = Duration::ZERO;
    // The producer retries a request itself (until delivery.timeout.ms) before it gives up
    // on the batch: the task is stalled from that request's first failure.
    let request_failed = |error: &dyn std::fmt::Display, retry_in| {
        retries.failed(Operation::Produce, error, retry_in)
    };
    loop {
        match producer.send_reporting(&records, &request_failed).await {
            Ok(metadata) => {
                retries.succeeded(Operation::Produce);
                if let Some(w) = written {
                    w.total.inc_by(metadata.len() as u64);
                    w.active.sub(w.polled as i64);
                }
                return Ok(Some(metadata));
            }
            Err(ProduceError::Kafka(e)) if e.is_retriable() => {
                backoff = next_backoff(backoff, retry_delay_max);
                retries.failed(Operation::Produce, &e, backoff);
                // Sleeps unless the target changes first (so stop is prompt).
                let changed = tokio::time::timeout(backoff, target.changed()).await;
                if matches!(changed, Ok(Err(_))) || *target.borrow() == TaskTarget::Stop {
                    // Not written, so their offsets are not stored: polled again after a restart.
                    return Ok(None);
                }
            }
            Err(e) => {
                return Err(ConnectError::fatal("cannot write records to Kafka").with_source(e))
            }
        }
    }
}

/// Waits until the batch in flight (if any) is produced, then tells the task which records
/// Kafka has (`commit_record`) and which the worker dropped (`commit_dropped`), in the batch's
/// order, and makes their offsets pending. False when the task was stopped before Kafka took
/// the batch: it is abandoned, neither committed nor its offsets stored.
async fn settle(
    task: &mut dyn RunningSourceTask,
    in_flight: Option<InFlight>,
    pending: &mut HashMap<String, (SourceMap, SourceMap)>,
    metrics: &mut TaskMetrics,
) -> Result<bool, ConnectError> {
    let Some(mut batch) = in_flight else {
        return Ok(true);
    };
    let metadata = match batch.producing.as_mut() {
        None => {
            if let Some(m) = &metrics.source {
                m.active.sub(batch.records.len() as i64);
            }
            Vec::new()
        }
        Some(producing) => match producing.end().await {
            Ok(Some(metadata)) => metadata,
            Ok(None) => return Ok(false),
            Err(e) => return Err(e),
        },
    };
    // One pass over the records where they lie: moving each of a batch's thousands out of the
    // vector showed in the source's profile (~1% of its CPU in memcpy), cloning the offsets of
    // each partition's last record costs a handful of allocations per batch.
    let mut metadata = metadata.iter();
    let mut records = batch.records.iter().zip(&batch.sent).peekable();
    while let Some((record, sent)) = records.next() {
        if *sent {
            if let Some(meta) = metadata.next() {
                task.commit_record(record, meta);
            }
        } else {
            task.commit_dropped(record);
        }
        if records
            .peek()
            .is_some_and(|(next, _)| next.source_partition == record.source_partition)
        {
            continue; // the next record's offset, of the same partition, replaces this one's
        }
        let key = partition_key(&record.source_partition);
        let offset = (
            record.source_partition.clone(),
            record.source_offset.clone(),
        );
        pending.insert(key, offset);
    }
    Ok(true)
}

/// Creates a missing topic when topic creation is on (Kafka Connect's `topic.creation.*`).
async fn ensure_topic(env: &TaskEnv, topic: &str) -> Result<(), ConnectError> {
    if env.kafka.partitions(topic).await?.is_some() {
        return Ok(());
    }
    if !env.worker.topic_creation_enable {
        return Err(ConnectError::fatal(format!(
            "topic {topic} does not exist and topic.creation.enable=false"
        )));
    }
    let (partitions, replication) = env.connector.topic_creation;
    if env
        .kafka
        .create_topic(topic, partitions, replication)
        .await?
    {
        tracing::info!(task = %env.id, topic, partitions, "created topic");
    }
    Ok(())
}

/// Stores the offsets of everything acknowledged so far, then lets the task commit.
async fn commit_offsets(
    env: &TaskEnv,
    context: &Context,
    task: &mut dyn RunningSourceTask,
    pending: &mut HashMap<String, (SourceMap, SourceMap)>,
    metrics: &mut TaskMetrics,
) -> Result<(), ConnectError> {
    if pending.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let offsets: Vec<(SourceMap, Option<SourceMap>)> = pending
        .values()
        .map(|(p, o)| (p.clone(), Some(o.clone())))
        .collect();
    let stored = env.offsets.put(&env.id.connector, offsets).await;
    metrics.offset_commit(started.elapsed(), stored.is_ok());
    if let Err(e) = stored {
        // Kafka Connect logs a failed offset commit and tries again at the next flush; the
        // offsets stay pending (newer ones replace them meanwhile).
        tracing::error!(task = %env.id, error = %e, "cannot store source offsets; retrying at the next flush");
        return Ok(());
    }
    context
        .offsets()
        .extend(pending.drain().map(|(key, (_, offset))| (key, offset)));
    if let Err(e) = task.commit().await {
        tracing::error!(task = %env.id, error = %e.trace(), "the task's commit failed");
    }
    Ok(())
}

/// The partition as JSON with sorted keys: the same partition whatever its key order.
fn partition_key(partition: &SourceMap) -> String {
    let sorted: std::collections::BTreeMap<&String, &serde_json::Value> =
        partition.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

fn describe(record: &SourceRecord) -> String {
    format!(
        "topic {} source partition {} offset {}",
        record.topic,
        serde_json::Value::Object(record.source_partition.clone()),
        serde_json::Value::Object(record.source_offset.clone())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use connect_core::connector::SourceTask;
    use connect_core::record::ConnectRecord;

    use crate::metrics::WorkerMetrics;

    /// Remembers what the worker told it, in order.
    #[derive(Debug, Default)]
    struct Recorder {
        calls: Vec<String>,
    }

    #[async_trait]
    impl SourceTask for Recorder {
        type Config = ();

        async fn start(_: (), _: Arc<dyn SourceTaskContext>) -> Result<Self, ConnectError> {
            Ok(Self::default())
        }

        async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
            Ok(Vec::new())
        }

        fn commit_record(&mut self, record: &SourceRecord, metadata: &RecordMetadata) {
            self.calls
                .push(format!("record {} at {}", seq(record), metadata.offset));
        }

        fn commit_dropped(&mut self, record: &SourceRecord) {
            self.calls.push(format!("dropped {}", seq(record)));
        }
    }

    fn seq(record: &SourceRecord) -> u64 {
        record.source_offset["seq"].as_u64().unwrap_or(u64::MAX)
    }

    fn records(count: u64) -> Vec<SourceRecord> {
        (0..count)
            .map(|n| {
                let mut partition = SourceMap::new();
                partition.insert("p".into(), "one".into());
                let mut offset = SourceMap::new();
                offset.insert("seq".into(), n.into());
                SourceRecord::new(partition, offset, ConnectRecord::new("t", "v"))
            })
            .collect()
    }

    fn metadata(offsets: &[i64]) -> Vec<RecordMetadata> {
        offsets
            .iter()
            .map(|&offset| RecordMetadata {
                topic: "t".into(),
                partition: 0,
                offset,
                timestamp: None,
            })
            .collect()
    }

    fn in_flight(sent: Vec<bool>, produced: Produced) -> InFlight {
        InFlight {
            records: records(sent.len() as u64),
            sent,
            producing: Some(Producing::new(async move { produced })),
        }
    }

    fn task_metrics() -> TaskMetrics {
        Arc::new(WorkerMetrics::new()).task("c", 0).with_source()
    }

    #[tokio::test]
    async fn written_and_dropped_records_are_committed_in_the_batch_order() {
        let mut task = Recorder::default();
        let mut pending = HashMap::new();
        let batch = in_flight(
            vec![true, false, true, false],
            Ok(Some(metadata(&[10, 11]))),
        );
        let settled = settle(&mut task, Some(batch), &mut pending, &mut task_metrics()).await;
        assert!(settled.unwrap());
        assert_eq!(
            task.calls,
            ["record 0 at 10", "dropped 1", "record 2 at 11", "dropped 3"]
        );
        // The partition's offset is the batch's last record's, dropped or not.
        let (_, offset) = pending.values().next().unwrap();
        assert_eq!(offset["seq"], 3);
    }

    #[tokio::test]
    async fn a_batch_with_nothing_to_send_is_all_dropped() {
        let mut task = Recorder::default();
        let mut pending = HashMap::new();
        let batch = InFlight {
            records: records(2),
            sent: vec![false, false],
            producing: None,
        };
        let settled = settle(&mut task, Some(batch), &mut pending, &mut task_metrics()).await;
        assert!(settled.unwrap());
        assert_eq!(task.calls, ["dropped 0", "dropped 1"]);
        assert_eq!(pending.len(), 1);
    }

    #[tokio::test]
    async fn an_abandoned_or_failed_batch_commits_nothing() {
        let mut task = Recorder::default();
        let mut pending = HashMap::new();
        let abandoned = in_flight(vec![true, false], Ok(None));
        let settled = settle(
            &mut task,
            Some(abandoned),
            &mut pending,
            &mut task_metrics(),
        )
        .await;
        assert!(!settled.unwrap());
        let failed = in_flight(vec![true], Err(ConnectError::fatal("broker said no")));
        let settled = settle(&mut task, Some(failed), &mut pending, &mut task_metrics()).await;
        assert!(settled.is_err());
        assert!(task.calls.is_empty(), "{:?}", task.calls);
        assert!(pending.is_empty());
        assert!(settle(&mut task, None, &mut pending, &mut task_metrics())
            .await
            .unwrap());
    }

    /// The real loop over the in-memory Kafka (`task::testkit`).
    mod over_memory_kafka {
        use std::sync::atomic::Ordering;
        use std::time::Duration;

        use bytes::Bytes;
        use connect_core::data::Value;
        use connect_core::running::SourcePlugin;

        use super::super::{run, SourceRecord};
        use crate::kafka::memory::Failure;
        use crate::status::State;
        use crate::store::OffsetStore;
        use crate::task::testkit::{
            probe, source_partition, source_record, wait_for_end, ScriptedSource, TaskHarness,
            SOURCE_CLASS,
        };
        use crate::task::TaskTarget;

        /// The bound of every wait.
        const LIMIT: Duration = Duration::from_secs(10);

        /// Values written as their bytes; a string value fails to convert.
        const CONVERTERS: [(&str, &str); 2] = [
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.converters.ByteArrayConverter",
            ),
        ];

        /// Record `seq` for topic `out` with value `v<seq>` as bytes.
        fn record(seq: u64) -> SourceRecord {
            let value = Value::Bytes(Bytes::from(format!("v{seq}")));
            source_record("out", seq, value)
        }

        fn start(harness: &TaskHarness) -> tokio::task::JoinHandle<()> {
            let start = SourcePlugin::of::<ScriptedSource>().start_task;
            tokio::spawn(run(harness.env.clone(), start))
        }

        /// The values of partition 0 of `out`, as text.
        fn written(harness: &TaskHarness) -> Vec<String> {
            harness
                .kafka
                .records("out", 0)
                .iter()
                .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into())
                .collect()
        }

        /// What the task was told of its records (committed or dropped), in order.
        fn commits(calls: &[String]) -> Vec<&str> {
            calls
                .iter()
                .map(String::as_str)
                .filter(|c| c.starts_with("record") || c.starts_with("dropped"))
                .collect()
        }

        async fn stored_seq(harness: &TaskHarness) -> Option<u64> {
            let offset = harness
                .offsets
                .get(&harness.env.id.connector, &source_partition())
                .await
                .unwrap()?;
            offset.get("seq")?.as_u64()
        }

        async fn stop(harness: &TaskHarness, running: tokio::task::JoinHandle<()>) {
            harness.target.send(TaskTarget::Stop).unwrap();
            wait_for_end(running, LIMIT).await;
        }

        #[tokio::test]
        async fn records_are_produced_in_order_and_committed_with_the_acknowledged_offsets_then_stored_then_commit(
        ) {
            let harness = TaskHarness::new("source-order", SOURCE_CLASS, &CONVERTERS);
            harness.kafka.create("out", 1);
            // Someone else wrote first: the task's records get offsets 2 to 6.
            harness.kafka.append("out", 0, "earlier");
            harness.kafka.append("out", 0, "earlier");
            let probe = probe("source-order");
            probe.then_poll(Ok(vec![record(0), record(1), record(2)]));
            probe.then_poll(Ok(vec![record(3), record(4)]));
            let running = start(&harness);
            probe
                .wait_for("commit after seq 4 was stored", LIMIT, |calls| {
                    calls.iter().any(|c| c == "commit (stored seq Some(4))")
                })
                .await;
            stop(&harness, running).await;

            let calls = probe.calls();
            assert_eq!(
                commits(&calls),
                [
                    "record 0 at out-0@2",
                    "record 1 at out-0@3",
                    "record 2 at out-0@4",
                    "record 3 at out-0@5",
                    "record 4 at out-0@6",
                ]
            );
            // Each commit comes after the record whose offset it found stored: offsets are
            // stored for acknowledged records only, and `commit` is called after they are.
            for (index, call) in calls.iter().enumerate() {
                if let Some(seq) = call
                    .strip_prefix("commit (stored seq Some(")
                    .and_then(|rest| rest.strip_suffix("))"))
                {
                    let acknowledged = format!("record {seq} at ");
                    assert!(
                        calls[..index].iter().any(|c| c.starts_with(&acknowledged)),
                        "{call} before its record was acknowledged: {calls:#?}"
                    );
                }
            }
            assert_eq!(
                written(&harness),
                ["earlier", "earlier", "v0", "v1", "v2", "v3", "v4"]
            );
            assert_eq!(stored_seq(&harness).await, Some(4));
        }

        #[tokio::test]
        async fn a_retriable_produce_failure_is_retried_and_nothing_is_committed_twice() {
            let harness = TaskHarness::new("source-retry", SOURCE_CLASS, &CONVERTERS);
            harness.kafka.create("out", 1);
            harness.kafka.fail_next_produces(2, Failure::Retriable);
            let probe = probe("source-retry");
            probe.then_poll(Ok(vec![record(0), record(1), record(2)]));
            let running = start(&harness);
            probe
                .wait_for("commit after seq 2 was stored", LIMIT, |calls| {
                    calls.iter().any(|c| c == "commit (stored seq Some(2))")
                })
                .await;
            stop(&harness, running).await;

            assert_eq!(
                harness.kafka.produce_calls(),
                3,
                "two failures, then the batch"
            );
            assert_eq!(written(&harness), ["v0", "v1", "v2"]);
            assert_eq!(
                commits(&probe.calls()),
                [
                    "record 0 at out-0@0",
                    "record 1 at out-0@1",
                    "record 2 at out-0@2"
                ]
            );
            assert_eq!(stored_seq(&harness).await, Some(2));
        }

        #[tokio::test]
        async fn a_fatal_produce_failure_fails_the_task_and_only_acknowledged_offsets_are_stored() {
            let harness = TaskHarness::new("source-fatal", SOURCE_CLASS, &CONVERTERS);
            harness.kafka.create("out", 1);
            let probe = probe("source-fatal");
            probe.then_poll(Ok(vec![record(0), record(1)]));
            let running = start(&harness);
            probe
                .wait_for("commit after seq 1 was stored", LIMIT, |calls| {
                    calls.iter().any(|c| c == "commit (stored seq Some(1))")
                })
                .await;
            harness.kafka.fail_next_produces(1, Failure::Fatal);
            probe.then_poll(Ok(vec![record(2), record(3)]));
            harness.wait_for_state(State::Failed, LIMIT).await;
            wait_for_end(running, LIMIT).await;

            let trace = harness.status.get().trace.unwrap_or_default();
            assert!(trace.contains("cannot write records to Kafka"), "{trace}");
            assert_eq!(
                commits(&probe.calls()),
                ["record 0 at out-0@0", "record 1 at out-0@1"]
            );
            assert_eq!(written(&harness), ["v0", "v1"]);
            assert_eq!(stored_seq(&harness).await, Some(1));
        }

        #[tokio::test]
        async fn with_errors_tolerance_all_a_record_that_fails_conversion_is_dropped_and_the_next_go_on(
        ) {
            let mut props = CONVERTERS.to_vec();
            props.push(("errors.tolerance", "all"));
            let harness = TaskHarness::new("source-tolerate", SOURCE_CLASS, &props);
            harness.kafka.create("out", 1);
            let probe = probe("source-tolerate");
            // A string value: the ByteArrayConverter refuses it.
            let bad = source_record("out", 1, "not bytes");
            probe.then_poll(Ok(vec![record(0), bad, record(2)]));
            let running = start(&harness);
            probe
                .wait_for("commit after seq 2 was stored", LIMIT, |calls| {
                    calls.iter().any(|c| c == "commit (stored seq Some(2))")
                })
                .await;
            // Read while the task runs: its series go when it ends.
            assert_eq!(harness.metric("total_records_skipped"), 1.0);
            stop(&harness, running).await;

            assert_eq!(
                commits(&probe.calls()),
                ["record 0 at out-0@0", "dropped 1", "record 2 at out-0@1"]
            );
            assert_eq!(written(&harness), ["v0", "v2"]);
            assert_eq!(probe.task_starts.load(Ordering::SeqCst), 1);
        }
    }
}
