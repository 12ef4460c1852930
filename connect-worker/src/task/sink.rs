//! The sink task loop: per-partition fetchers -> converters -> transforms -> `put`, and every
//! `offset.flush.interval.ms` (or when the task asks) `pre_commit` -> offsets committed.
//!
//! Sink offsets live in the connector's consumer group (`sink_offsets`): partitions start at
//! the group's offsets and the offsets `pre_commit` returns are committed there. The REST API
//! (and the offset file, where earlier versions kept them) shapes them as Kafka Connect does:
//! partition `{"kafka_topic","kafka_partition"}`, offset `{"kafka_offset"}` (the next offset
//! to read).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::json;
use tokio::sync::watch;

use connect_core::config::Props;
use connect_core::connector::{ErrantRecordReporter, Offsets, SinkTaskContext, TaskIdentity};
use connect_core::record::{SinkRecord, SourceMap, TopicPartition};
use connect_core::running::{RunningSinkTask, StartSinkTask};
use connect_core::transforms::{Outcome, TransformChain};
use connect_core::ConnectError;

use super::retries::one_line;
use super::sink_offsets::{Committed, GroupOffsets, LagWatch, LAG_REFRESH};
use super::{
    count_startup, finish, next_backoff, Operation, RecordErrors, Stage, TaskEnv, TaskTarget,
};
use crate::connector_config::DeadLetterQueue;
use crate::convert::Converters;
use crate::kafka::fetcher::{Budget, FetchConfig, FetchedRecord, Fetchers};
use crate::kafka::{KafkaProducer, ProducerRecord};
use crate::metrics::{CustomFactory, ErrorMetrics, TaskMetrics};
use crate::status::State;
use crate::store::{OffsetStore, StoreError};

/// The most records handed to one `put` (the Java consumer's `max.poll.records`): a fetch
/// (up to `max.partition.fetch.bytes`, thousands of small records) is cut into puts of this
/// size, so a put is one bounded write for the task.
const MAX_BATCH_RECORDS: usize = 500;
/// How long one round waits for data before checking for pause, stop and commits.
const FETCH_WAIT: Duration = Duration::from_millis(500);

/// The offset store's (and the REST API's) partition key of a Kafka partition.
pub fn partition_key(tp: &TopicPartition) -> SourceMap {
    let mut map = SourceMap::new();
    map.insert("kafka_topic".into(), json!(tp.topic.to_string()));
    map.insert("kafka_partition".into(), json!(tp.partition));
    map
}

/// The offset store's value of a Kafka offset.
pub fn offset_value(offset: i64) -> SourceMap {
    let mut map = SourceMap::new();
    map.insert("kafka_offset".into(), json!(offset));
    map
}

/// The offsets an earlier version kept for sink `connector` in the worker's offset store
/// (sinks' offsets are in their consumer groups now), by partition. Entries of another shape
/// are not a sink's and are left out.
pub async fn legacy_offsets(
    store: &dyn OffsetStore,
    connector: &str,
) -> Result<BTreeMap<TopicPartition, i64>, StoreError> {
    Ok(store
        .all(connector)
        .await?
        .into_iter()
        .filter_map(|(partition, offset)| {
            let topic = partition.get("kafka_topic")?.as_str()?;
            let partition = i32::try_from(partition.get("kafka_partition")?.as_i64()?).ok()?;
            let offset = offset.get("kafka_offset")?.as_i64()?;
            Some((TopicPartition::new(topic, partition), offset))
        })
        .collect())
}

/// Requests a task made through its context, applied by the loop between batches.
#[derive(Debug, Default)]
struct Requests {
    seeks: Vec<(TopicPartition, i64)>,
    pause: BTreeSet<TopicPartition>,
    resume: BTreeSet<TopicPartition>,
    commit: bool,
}

struct Context {
    task: TaskIdentity,
    config: Props,
    assignment: Mutex<Vec<TopicPartition>>,
    requests: Mutex<Requests>,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
    metrics: CustomFactory,
}

impl Context {
    fn requests(&self) -> std::sync::MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SinkTaskContext for Context {
    fn task(&self) -> &TaskIdentity {
        &self.task
    }

    fn offset(&self, partition: &TopicPartition, offset: i64) {
        self.requests().seeks.push((partition.clone(), offset));
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.assignment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn pause(&self, partitions: &[TopicPartition]) {
        let mut r = self.requests();
        for p in partitions {
            r.resume.remove(p);
            r.pause.insert(p.clone());
        }
    }

    fn resume(&self, partitions: &[TopicPartition]) {
        let mut r = self.requests();
        for p in partitions {
            r.pause.remove(p);
            r.resume.insert(p.clone());
        }
    }

    fn request_commit(&self) {
        self.requests().commit = true;
    }

    fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        self.reporter.clone()
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

/// Takes the records a task reports (KIP-610): fails the task under `errors.tolerance=none`;
/// otherwise logs and, with a dead-letter queue, writes them there (re-encoded with the
/// connector's converters).
struct Reporter {
    task: String,
    tolerate_all: bool,
    converters: Arc<Converters>,
    producer: Arc<dyn KafkaProducer>,
    dead_letter_queue: Option<DeadLetterQueue>,
    metrics: ErrorMetrics,
}

#[async_trait]
impl ErrantRecordReporter for Reporter {
    async fn report(&self, record: &SinkRecord, error: &ConnectError) -> Result<(), ConnectError> {
        self.metrics.record_errors.inc();
        self.metrics.error_now();
        if !self.tolerate_all {
            return Err(ConnectError::fatal(format!(
                "Tolerance exceeded in error handler: the task reported {}@{}: {}",
                record.original, record.original_offset, error
            )));
        }
        self.metrics.records_skipped.inc();
        self.metrics.errors_logged.inc();
        tracing::warn!(task = %self.task, record = %format!("{}@{}", record.original, record.original_offset), error = %error, "the task reported an errant record");
        if let Some(dlq) = &self.dead_letter_queue {
            let mut out = self
                .converters
                .to_producer_record(record)
                .map_err(|(_, e)| e)?;
            out.topic = dlq.topic.as_str().into();
            out.partition = None;
            if dlq.context_headers {
                out.headers.extend(context_headers(
                    &record.original,
                    record.original_offset,
                    &self.task,
                    Stage::TaskPut,
                    error,
                ));
            }
            self.metrics.dlq_requests.inc();
            self.producer.send(&[out]).await.map_err(|e| {
                self.metrics.dlq_failures.inc();
                ConnectError::retriable("cannot write to the dead-letter queue").with_source(e)
            })?;
        }
        Ok(())
    }
}

/// Kafka Connect's `__connect.errors.*` headers on a dead-letter record.
fn context_headers(
    tp: &TopicPartition,
    offset: i64,
    task: &str,
    stage: Stage,
    error: &ConnectError,
) -> Vec<(String, Bytes)> {
    let (connector, task_id) = task.rsplit_once('-').unwrap_or((task, "0"));
    let message = match error {
        ConnectError::Fatal { message, .. } | ConnectError::Retriable { message, .. } => {
            message.clone()
        }
        other => other.to_string(),
    };
    [
        ("__connect.errors.topic", tp.topic.to_string()),
        ("__connect.errors.partition", tp.partition.to_string()),
        ("__connect.errors.offset", offset.to_string()),
        ("__connect.errors.connector.name", connector.to_owned()),
        ("__connect.errors.task.id", task_id.to_owned()),
        ("__connect.errors.stage", stage.name().to_owned()),
        ("__connect.errors.class.name", stage.executor().to_owned()),
        (
            "__connect.errors.exception.class.name",
            "org.apache.kafka.connect.errors.DataException".to_owned(),
        ),
        ("__connect.errors.exception.message", message),
        ("__connect.errors.exception.stacktrace", error.trace()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Bytes::from(v)))
    .collect()
}

/// Records fetched and not yet handed to the task, with their share of the fetchers' budget
/// (so reading ahead stays bounded until they are written).
struct Buffered {
    partition: TopicPartition,
    records: std::vec::IntoIter<FetchedRecord>,
    _budget: Budget,
}

/// Where each partition is: the next offset to read, the last committed one, and where it
/// started (a failed flush rewinds to the committed offset, or to the start before any).
#[derive(Debug, Default)]
struct Positions {
    next: BTreeMap<TopicPartition, i64>,
    committed: BTreeMap<TopicPartition, i64>,
    start: BTreeMap<TopicPartition, i64>,
}

/// Starts a sink task with `start` and runs it until it is stopped or fails; `assignment`
/// carries the partitions the herder gives it.
pub async fn run(
    mut env: TaskEnv,
    start: StartSinkTask,
    assignment: watch::Receiver<Vec<TopicPartition>>,
) {
    let mut task = None;
    let result = run_inner(&mut env, start, &mut task, assignment).await;
    let stop = async {
        match task.as_mut() {
            Some(task) => task.stop().await,
            None => Ok(()),
        }
    };
    finish(&env, result, stop).await;
}

struct Loop<'a> {
    env: &'a mut TaskEnv,
    task: &'a mut dyn RunningSinkTask,
    ctx: Arc<Context>,
    fetchers: Fetchers,
    positions: Positions,
    paused_by_task: BTreeSet<TopicPartition>,
    errors: RecordErrors,
    converters: Arc<Converters>,
    chain: TransformChain,
    metrics: TaskMetrics,
    /// The consumer group the task's offsets are committed to.
    group: GroupOffsets,
    /// `sink-record-lag-max`.
    lag: LagWatch,
    /// Fetched records waiting for a `put`, oldest first.
    buffered: VecDeque<Buffered>,
}

async fn run_inner(
    env: &mut TaskEnv,
    start: StartSinkTask,
    started_task: &mut Option<Box<dyn RunningSinkTask>>,
    mut assignment: watch::Receiver<Vec<TopicPartition>>,
) -> Result<(), ConnectError> {
    let converters = Arc::new(Converters::for_connector(
        &env.plugins,
        &env.worker,
        &env.task_props,
    )?);
    let chain = TransformChain::from_config(&env.task_props, &env.plugins)?;
    let policy = env.connector.errors.clone();
    // As Kafka Connect, the dead-letter queue topic is made when the task starts, so both the
    // converter stage and the task's own reporter can write to it.
    if let Some(dlq) = &policy.dead_letter_queue {
        if env.kafka.partitions(&dlq.topic).await?.is_none() {
            env.kafka
                .create_topic(&dlq.topic, 1, dlq.replication_factor)
                .await?;
        }
    }
    let metrics = env.metrics.task(&env.id.connector, env.id.task).with_sink();
    let reporter: Arc<dyn ErrantRecordReporter> = Arc::new(Reporter {
        task: env.id.to_string(),
        tolerate_all: policy.tolerate_all,
        converters: Arc::clone(&converters),
        producer: Arc::clone(&env.producer),
        dead_letter_queue: policy.dead_letter_queue.clone(),
        metrics: metrics.errors.clone(),
    });
    let ctx = Arc::new(Context {
        task: env.identity(),
        config: env.task_props.clone(),
        assignment: Mutex::default(),
        requests: Mutex::default(),
        reporter: Some(reporter),
        metrics: metrics.custom_factory(),
    });
    let started = start(
        env.task_props.clone(),
        Arc::clone(&ctx) as Arc<dyn SinkTaskContext>,
    )
    .await;
    count_startup(env, started.is_ok());
    let task = started_task.insert(started?).as_mut();
    env.status.set(State::Running);
    tracing::info!(task = %env.id, "sink task started");

    let (fetch, group_id) = consumer_settings(env)?;
    let group = GroupOffsets::new(
        Arc::clone(&env.kafka),
        group_id,
        env.id.connector.clone(),
        env.id.to_string(),
        Arc::clone(&env.offsets),
        fetch.auto_offset_reset,
    );
    let lag = LagWatch::start(
        Arc::clone(&env.kafka),
        metrics.sink.as_ref().map(|m| m.lag_max.clone()),
        LAG_REFRESH,
    );
    let fetchers = Fetchers::reading(Arc::clone(&env.kafka), fetch, 64)
        .observe_retries(Arc::new(env.retries.clone()));
    let errors = RecordErrors::new(policy, env.id.to_string(), metrics.errors.clone());
    let mut l = Loop {
        env,
        task,
        ctx,
        fetchers,
        positions: Positions::default(),
        paused_by_task: BTreeSet::new(),
        errors,
        converters,
        chain,
        metrics,
        group,
        lag,
        buffered: VecDeque::new(),
    };
    let initial = assignment.borrow_and_update().clone();
    l.assign(initial).await?;
    let mut last_commit = Instant::now();
    loop {
        match l.env.target() {
            TaskTarget::Stop => break,
            TaskTarget::Pause => {
                l.commit(true).await;
                l.stop_all_fetchers();
                l.env.status.set(State::Paused);
                if l.env.wait_while_paused().await == TaskTarget::Stop {
                    break;
                }
                l.env.status.set(State::Running);
                l.start_fetchers();
            }
            TaskTarget::Run => {}
        }
        if assignment.has_changed().unwrap_or(false) {
            let next = assignment.borrow_and_update().clone();
            l.commit(true).await;
            l.assign(next).await?;
        }
        l.apply_requests();
        if l.buffered.is_empty() {
            l.fetch().await?;
        }
        let (records, read_up_to) = l.take(MAX_BATCH_RECORDS).await?;
        if !records.is_empty() && !l.put(&records).await? {
            break; // stopped while the sink was failing: nothing of this batch is committed
        }
        l.positions.next.extend(read_up_to);
        l.update_gauges();
        l.collect_commit(None).await;
        let commit_requested = std::mem::take(&mut l.ctx.requests().commit);
        if commit_requested || last_commit.elapsed() >= l.env.worker.offset_flush_interval {
            l.commit(false).await;
            last_commit = Instant::now();
        }
    }
    l.commit(true).await;
    let assigned = l.ctx.assignment();
    l.stop_all_fetchers();
    l.task.close(&assigned).await
}

impl Loop<'_> {
    /// Waits up to [`FETCH_WAIT`] for fetched records and buffers them.
    async fn fetch(&mut self) -> Result<(), ConnectError> {
        let batches = self
            .fetchers
            .next(MAX_BATCH_RECORDS, FETCH_WAIT)
            .await
            .map_err(ConnectError::from)?;
        for batch in batches {
            if let Some(m) = &self.metrics.sink {
                m.read_total.inc_by(batch.records.len() as u64);
            }
            self.lag.end(&batch.partition, batch.high_watermark);
            let (partition, records, budget) = batch.into_parts();
            self.buffered.push_back(Buffered {
                partition,
                records: records.into_iter(),
                _budget: budget,
            });
        }
        Ok(())
    }

    /// Converts up to `max` buffered records into the next `put` batch; also returns the
    /// position each partition reaches once the batch is written (dropped and tolerated
    /// records included). Positions move only once the batch is written: a batch given up on
    /// stop must be read again, not committed.
    async fn take(
        &mut self,
        max: usize,
    ) -> Result<(Vec<SinkRecord>, Vec<(TopicPartition, i64)>), ConnectError> {
        let mut records = Vec::with_capacity(
            max.min(self.buffered.iter().map(|b| b.records.len()).sum::<usize>()),
        );
        let mut read_up_to: Vec<(TopicPartition, i64)> = Vec::new();
        let mut taken = 0;
        while taken < max {
            let Some(front) = self.buffered.front_mut() else {
                break;
            };
            let tp = front.partition.clone();
            let chunk: Vec<FetchedRecord> = front.records.by_ref().take(max - taken).collect();
            if front.records.len() == 0 {
                self.buffered.pop_front();
            }
            taken += chunk.len();
            let mut next = None;
            for fetched in chunk {
                let offset = fetched.offset;
                if let Some(record) = self.convert(&tp, fetched).await? {
                    records.push(record);
                }
                next = Some(offset + 1);
            }
            if let Some(next) = next {
                read_up_to.push((tp, next));
            }
        }
        Ok((records, read_up_to))
    }

    /// (Re)starts reading `partition` at `offset`, dropping what was buffered of it.
    fn start_fetcher(&mut self, partition: TopicPartition, offset: i64) {
        self.buffered.retain(|b| b.partition != partition);
        self.fetchers.start(partition, offset);
    }

    /// Stops reading `partition`, dropping what was buffered of it.
    fn stop_fetcher(&mut self, partition: &TopicPartition) {
        self.buffered.retain(|b| &b.partition != partition);
        self.fetchers.stop(partition);
    }

    fn stop_all_fetchers(&mut self) {
        self.buffered.clear();
        self.fetchers.stop_all();
    }

    /// Lag, active records and partitions, after a batch or a commit.
    fn update_gauges(&self) {
        self.lag.positions(&self.positions.next);
        let Some(m) = &self.metrics.sink else { return };
        m.lag_max.set(self.lag.lag_max());
        let active: i64 = self
            .positions
            .next
            .iter()
            .map(|(p, next)| next - self.positions.committed.get(p).copied().unwrap_or(*next))
            .filter(|n| *n > 0)
            .sum();
        m.active.set(active);
        m.partitions.set(self.positions.next.len() as i64);
    }

    /// Moves to a new assignment: closes partitions no longer assigned, opens new ones at
    /// their stored offsets (or the earliest), and lets the task seek.
    async fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<(), ConnectError> {
        let old = self.ctx.assignment();
        let removed: Vec<TopicPartition> = old
            .iter()
            .filter(|p| !partitions.contains(p))
            .cloned()
            .collect();
        let added: Vec<TopicPartition> = partitions
            .iter()
            .filter(|p| !old.contains(p))
            .cloned()
            .collect();
        if !removed.is_empty() {
            self.task.close(&removed).await?;
            for p in &removed {
                self.stop_fetcher(p);
                self.positions.next.remove(p);
                self.positions.committed.remove(p);
                self.positions.start.remove(p);
                self.paused_by_task.remove(p);
            }
            self.group.release(&removed);
        }
        *self
            .ctx
            .assignment
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = partitions;
        if added.is_empty() {
            return Ok(());
        }
        for p in &added {
            self.env.active_topics.add(&p.topic);
        }
        let starts = self.starts(&added).await?;
        self.positions.committed.extend(starts.committed);
        self.positions.start.extend(starts.next.clone());
        self.positions.next.extend(starts.next);
        self.task.open(&added).await?;
        tracing::info!(task = %self.env.id, partitions = ?added, "partitions assigned");
        self.update_gauges();
        self.apply_requests();
        for p in &added {
            if !self.paused_by_task.contains(p) {
                let offset = self.positions.next.get(p).copied().unwrap_or(0);
                self.start_fetcher(p.clone(), offset);
            }
        }
        Ok(())
    }

    /// Where newly assigned partitions start (`GroupOffsets::starts`), asking Kafka again
    /// while it is away, until the task is stopped.
    async fn starts(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<super::sink_offsets::Starts, ConnectError> {
        let mut backoff = Duration::ZERO;
        loop {
            match self.group.starts(partitions).await {
                Ok(starts) => {
                    self.env.retries.succeeded(Operation::Fetch);
                    return Ok(starts);
                }
                Err(e) if e.is_retriable() && self.env.target() != TaskTarget::Stop => {
                    backoff = next_backoff(backoff, self.env.connector.errors.retry_delay_max);
                    self.env
                        .retries
                        .failed(Operation::Fetch, &one_line(&e), backoff);
                    self.env.back_off(backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Applies the seeks, pauses and resumes the task asked for.
    fn apply_requests(&mut self) {
        let (seeks, pause, resume) = {
            let mut r = self.ctx.requests();
            (
                std::mem::take(&mut r.seeks),
                std::mem::take(&mut r.pause),
                std::mem::take(&mut r.resume),
            )
        };
        for (p, offset) in seeks {
            if self.positions.next.contains_key(&p) {
                self.positions.next.insert(p.clone(), offset);
                if !self.paused_by_task.contains(&p) {
                    self.start_fetcher(p, offset);
                }
            }
        }
        for p in pause {
            self.stop_fetcher(&p);
            self.paused_by_task.insert(p);
        }
        for p in resume {
            if self.paused_by_task.remove(&p) {
                let offset = self.positions.next.get(&p).copied().unwrap_or(0);
                self.start_fetcher(p, offset);
            }
        }
    }

    /// Restarts the fetchers of every assigned, unpaused partition at its position.
    fn start_fetchers(&mut self) {
        let starts: Vec<(TopicPartition, i64)> = self
            .positions
            .next
            .iter()
            .filter(|(p, _)| !self.paused_by_task.contains(*p))
            .map(|(p, o)| (p.clone(), *o))
            .collect();
        for (p, offset) in starts {
            self.start_fetcher(p, offset);
        }
    }

    /// Converts and transforms one fetched record; `None` when it is dropped or tolerated.
    async fn convert(
        &mut self,
        tp: &TopicPartition,
        fetched: FetchedRecord,
    ) -> Result<Option<SinkRecord>, ConnectError> {
        let converters = &self.converters;
        let mut failed_stage = Stage::ValueConverter;
        let converted = self
            .errors
            .retry(|| {
                converters
                    .to_sink_record(&tp.topic, tp.partition, &fetched)
                    .map_err(|(stage, e)| {
                        failed_stage = stage;
                        e
                    })
            })
            .await;
        let mut record = match converted {
            Ok(record) => record,
            Err(e) => {
                self.tolerate(tp, &fetched, failed_stage, e).await?;
                return Ok(None);
            }
        };
        let chain = &self.chain;
        match self.errors.retry(|| chain.apply(&mut record.record)).await {
            Ok(Outcome::Keep) => Ok(Some(record)),
            Ok(Outcome::Drop) => Ok(None),
            Err(e) => {
                self.tolerate(tp, &fetched, Stage::Transformation, e)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Applies the error policy to a failed record, writing it to the dead-letter queue when
    /// tolerated and one is configured.
    async fn tolerate(
        &mut self,
        tp: &TopicPartition,
        fetched: &FetchedRecord,
        stage: Stage,
        error: ConnectError,
    ) -> Result<(), ConnectError> {
        let dlq_record = self.errors.policy().dead_letter_queue.clone().map(|dlq| {
            let mut headers = fetched.headers.clone();
            if dlq.context_headers {
                headers.extend(context_headers(
                    tp,
                    fetched.offset,
                    &self.env.id.to_string(),
                    stage,
                    &error,
                ));
            }
            (
                dlq,
                ProducerRecord {
                    topic: "".into(),
                    partition: None,
                    key: fetched.key.clone(),
                    value: fetched.value.clone(),
                    headers,
                    timestamp: Some(fetched.timestamp),
                },
            )
        });
        self.errors
            .tolerate(stage, || format!("{tp}@{}", fetched.offset), error)?;
        if let Some((dlq, mut record)) = dlq_record {
            record.topic = dlq.topic.as_str().into();
            self.metrics.errors.dlq_requests.inc();
            let failures = self.metrics.errors.dlq_failures.clone();
            self.env.producer.send(&[record]).await.map_err(|e| {
                failures.inc();
                ConnectError::fatal("cannot write to the dead-letter queue").with_source(e)
            })?;
        }
        Ok(())
    }

    /// Hands a batch to the task, retrying it after retriable errors until it is taken
    /// (`true`) or the task is stopped first (`false`: the batch is not written).
    async fn put(&mut self, records: &[SinkRecord]) -> Result<bool, ConnectError> {
        let mut backoff = Duration::ZERO;
        loop {
            let started = Instant::now();
            match self.task.put(records).await {
                Ok(()) => {
                    self.env.retries.succeeded(Operation::Put);
                    self.metrics.batch_size.record(records.len() as f64);
                    if let Some(m) = self.metrics.sink.as_mut() {
                        m.put_time.record_time(started.elapsed());
                        m.send_total.inc_by(records.len() as u64);
                    }
                    return Ok(true);
                }
                Err(e) if e.is_retriable() => {
                    if self.env.target() == TaskTarget::Stop {
                        return Ok(false);
                    }
                    backoff = next_backoff(backoff, self.env.connector.errors.retry_delay_max);
                    self.env
                        .retries
                        .failed(Operation::Put, &one_line(&e), backoff);
                    self.env.back_off(backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks the task which offsets are safe and commits them to the consumer group. The
    /// commit runs in the background unless `wait` (pause, new assignment, stop: the group
    /// must hold the offsets before the partitions move on); while one is in flight a due
    /// flush waits for the next round. A failed `pre_commit` is logged and the partitions
    /// rewind to their last committed offsets, as Kafka Connect does.
    async fn commit(&mut self, wait: bool) {
        let limit = self.env.worker.offset_flush_timeout;
        if wait {
            self.collect_commit(Some(limit)).await;
        }
        if self.group.committing() {
            return;
        }
        let current: Offsets = self.positions.next.clone();
        if current.is_empty() {
            return;
        }
        if let Some(m) = &self.metrics.sink {
            m.commit_seq_no.inc();
        }
        let started = Instant::now();
        match self.task.pre_commit(current).await {
            Ok(safe) => {
                self.env.retries.succeeded(Operation::Flush);
                let changed: BTreeMap<TopicPartition, i64> = safe
                    .into_iter()
                    .filter(|(p, o)| {
                        self.positions.next.contains_key(p)
                            && self.positions.committed.get(p) != Some(o)
                    })
                    .collect();
                if changed.is_empty() {
                    if let Some(m) = &self.metrics.sink {
                        m.commit_skip.inc();
                    }
                } else {
                    self.group.begin_commit(changed, started);
                    if wait {
                        self.collect_commit(Some(limit)).await;
                    }
                }
            }
            Err(e) => {
                if e.is_retriable() {
                    // Tried again at the next commit; the task is stalled until one works.
                    self.env.retries.failed(
                        Operation::Flush,
                        &one_line(&e),
                        self.env.worker.offset_flush_interval,
                    );
                } else {
                    tracing::error!(task = %self.env.id, error = %e.trace(), "flush failed; rewinding to the last committed offsets");
                }
                self.rewind();
                self.metrics.offset_commit(started.elapsed(), false);
            }
        }
        self.update_gauges();
    }

    /// Takes in the commit in flight once it finished (waiting up to `wait` for it): the
    /// committed offsets and the commit metrics.
    async fn collect_commit(&mut self, wait: Option<Duration>) {
        let Some(done) = self.group.finished(wait).await else {
            return;
        };
        match done {
            Committed::Done { offsets, took } => {
                for (p, o) in offsets {
                    if self.positions.next.contains_key(&p) {
                        self.positions.committed.insert(p, o);
                    }
                }
                self.metrics.offset_commit(took, true);
                if let Some(m) = &self.metrics.sink {
                    m.commit_completion.inc();
                }
            }
            Committed::Failed { took } => self.metrics.offset_commit(took, false),
        }
        self.update_gauges();
    }

    /// Moves every partition back to its last committed offset, or where it started before
    /// any commit (after a failed flush, as Kafka Connect does).
    fn rewind(&mut self) {
        let rewinds: Vec<(TopicPartition, i64)> = self
            .positions
            .next
            .keys()
            .filter_map(|p| {
                let offset = self
                    .positions
                    .committed
                    .get(p)
                    .or_else(|| self.positions.start.get(p))?;
                Some((p.clone(), *offset))
            })
            .collect();
        for (p, offset) in rewinds {
            self.positions.next.insert(p.clone(), offset);
            if !self.paused_by_task.contains(&p) {
                self.start_fetcher(p, offset);
            }
        }
    }
}

/// The consumer settings of this task: the fetch keys (the worker's `consumer.*`, then the
/// connector's `consumer.override.*`, both checked before the task started) and the consumer
/// group its offsets go to.
fn consumer_settings(env: &TaskEnv) -> Result<(FetchConfig, String), ConnectError> {
    let props = env
        .worker
        .providers
        .resolve(&env.connector.props)
        .map_err(|e| {
            ConnectError::fatal(format!("cannot resolve the connector's configuration: {e}"))
        })?;
    let fetch = FetchConfig::from_consumer_props(&crate::client_overrides::consumer_props(
        &props,
        &env.worker,
    ))
    .map_err(|e| ConnectError::fatal(format!("invalid consumer settings: {e}")))?;
    let group = crate::client_overrides::sink_group_id(&env.id.connector, &props);
    Ok((fetch, group))
}

#[cfg(test)]
mod tests {
    //! The real loop over the in-memory Kafka (`task::testkit`).

    use std::time::Duration;

    use connect_core::running::SinkPlugin;

    use super::*;
    use crate::kafka::memory::Failure;
    use crate::kafka::KafkaClient;
    use crate::store::OffsetStore;
    use crate::task::testkit::{probe, wait_for_end, RecordingSink, TaskHarness, SINK_CLASS};

    /// The bound of every wait.
    const LIMIT: Duration = Duration::from_secs(10);

    const STRINGS: [(&str, &str); 3] = [
        ("topics", "in"),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
    ];

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition::new("in", partition)
    }

    fn start(
        harness: &TaskHarness,
        assignment: watch::Receiver<Vec<TopicPartition>>,
    ) -> tokio::task::JoinHandle<()> {
        let start = SinkPlugin::of::<RecordingSink>().start_task;
        tokio::spawn(run(harness.env.clone(), start, assignment))
    }

    async fn stop(harness: &TaskHarness, running: tokio::task::JoinHandle<()>) {
        harness.target.send(TaskTarget::Stop).unwrap();
        wait_for_end(running, LIMIT).await;
    }

    /// The `put` calls of one partition, in order.
    fn puts_of(calls: &[String], partition: i32) -> Vec<&str> {
        let prefix = format!("put in-{partition}@");
        calls
            .iter()
            .map(String::as_str)
            .filter(|c| c.starts_with(&prefix))
            .collect()
    }

    /// The offset the connector's consumer group holds for a partition.
    fn committed(harness: &TaskHarness, partition: i32) -> Option<i64> {
        let group = format!("connect-{}", harness.env.id.connector);
        harness
            .kafka
            .group_offsets(&group)
            .get(&tp(partition))
            .copied()
    }

    /// The sink offset an earlier version kept in the worker's offset file.
    async fn in_offset_file(harness: &TaskHarness, partition: i32) -> Option<i64> {
        legacy_offsets(&*harness.offsets, &harness.env.id.connector)
            .await
            .unwrap()
            .get(&tp(partition))
            .copied()
    }

    fn position(calls: &[String], call: &str) -> usize {
        calls
            .iter()
            .position(|c| c == call)
            .unwrap_or_else(|| panic!("no {call}: {calls:#?}"))
    }

    #[tokio::test]
    async fn records_reach_put_in_offset_order_per_partition_and_pre_commit_offsets_are_committed_to_the_group(
    ) {
        let harness = TaskHarness::new("sink-order", SINK_CLASS, &STRINGS);
        harness.kafka.create("in", 2);
        for i in 0..5 {
            harness.kafka.append("in", 0, &format!("a{i}"));
            harness.kafka.append("in", 1, &format!("b{i}"));
        }
        let probe = probe("sink-order");
        // The task says its last record of each partition is not durable yet.
        probe.hold_back(1);
        let (_assign, assignment) = watch::channel(vec![tp(0), tp(1)]);
        let running = start(&harness, assignment);
        probe
            .wait_for("a pre_commit of every record", LIMIT, |calls| {
                calls.iter().any(|c| c == "pre_commit {in-0=4, in-1=4}")
            })
            .await;
        stop(&harness, running).await;

        let calls = probe.calls();
        assert_eq!(calls[0], "open [in-0, in-1]");
        assert_eq!(
            puts_of(&calls, 0),
            [
                "put in-0@0 a0",
                "put in-0@1 a1",
                "put in-0@2 a2",
                "put in-0@3 a3",
                "put in-0@4 a4"
            ]
        );
        assert_eq!(
            puts_of(&calls, 1),
            [
                "put in-1@0 b0",
                "put in-1@1 b1",
                "put in-1@2 b2",
                "put in-1@3 b3",
                "put in-1@4 b4"
            ]
        );
        // What pre_commit answered, not what was read (5), in the group and not in the file.
        assert_eq!(
            (committed(&harness, 0), committed(&harness, 1)),
            (Some(4), Some(4))
        );
        assert_eq!(in_offset_file(&harness, 0).await, None);
        assert_eq!(calls.last().map(String::as_str), Some("close [in-0, in-1]"));
    }

    #[tokio::test]
    async fn a_new_assignment_closes_removed_partitions_and_reads_added_ones_from_the_group_offsets(
    ) {
        let harness = TaskHarness::new("sink-rebalance", SINK_CLASS, &STRINGS);
        harness.kafka.create("in", 2);
        for i in 0..3 {
            harness.kafka.append("in", 0, &format!("a{i}"));
        }
        for i in 0..5 {
            harness.kafka.append("in", 1, &format!("b{i}"));
        }
        // Another task committed the first three records of in-1 before the rebalance.
        harness
            .kafka
            .commit_offsets("connect-sink-rebalance", &BTreeMap::from([(tp(1), 3)]))
            .await
            .unwrap();
        let probe = probe("sink-rebalance");
        let (assign, assignment) = watch::channel(vec![tp(0)]);
        let running = start(&harness, assignment);
        probe
            .wait_for("the records of in-0", LIMIT, |calls| {
                calls.iter().any(|c| c == "put in-0@2 a2")
            })
            .await;
        assign.send(vec![tp(1)]).unwrap();
        probe
            .wait_for("the records of in-1", LIMIT, |calls| {
                calls.iter().any(|c| c == "put in-1@4 b4")
            })
            .await;
        stop(&harness, running).await;

        let calls = probe.calls();
        assert_eq!(calls[0], "open [in-0]");
        let closed = position(&calls, "close [in-0]");
        let opened = position(&calls, "open [in-1]");
        assert!(closed < opened, "{calls:#?}");
        // in-0's position was committed before it was given up.
        assert!(
            calls[..closed].iter().any(|c| c == "pre_commit {in-0=3}"),
            "{calls:#?}"
        );
        assert_eq!(committed(&harness, 0), Some(3));
        assert_eq!(
            puts_of(&calls, 0),
            ["put in-0@0 a0", "put in-0@1 a1", "put in-0@2 a2"]
        );
        assert_eq!(puts_of(&calls, 1), ["put in-1@3 b3", "put in-1@4 b4"]);
        assert!(calls[..opened].iter().all(|c| !c.starts_with("put in-1")));
        assert_eq!(committed(&harness, 1), Some(5));
    }

    #[tokio::test]
    async fn with_errors_tolerance_all_a_bad_record_is_skipped_and_counted() {
        let harness = TaskHarness::new(
            "sink-tolerate",
            SINK_CLASS,
            &[
                ("topics", "in"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
                ("value.converter.schemas.enable", "false"),
                ("errors.tolerance", "all"),
            ],
        );
        harness.kafka.create("in", 1);
        harness.kafka.append("in", 0, "\"a\"");
        harness.kafka.append("in", 0, "{not json");
        harness.kafka.append("in", 0, "\"c\"");
        let probe = probe("sink-tolerate");
        let (_assign, assignment) = watch::channel(vec![tp(0)]);
        let running = start(&harness, assignment);
        probe
            .wait_for("the record after the bad one", LIMIT, |calls| {
                calls.iter().any(|c| c.starts_with("put in-0@2"))
            })
            .await;
        // Read while the task runs: its series go when it ends.
        assert_eq!(harness.metric("total_records_skipped"), 1.0);
        assert_eq!(harness.status.get().state, crate::status::State::Running);
        stop(&harness, running).await;

        assert_eq!(puts_of(&probe.calls(), 0), ["put in-0@0 a", "put in-0@2 c"]);
        // The skipped record's offset is committed with the others.
        assert_eq!(committed(&harness, 0), Some(3));
    }

    #[tokio::test]
    async fn a_partition_the_group_has_no_offset_for_starts_from_the_offset_file_once() {
        let harness = TaskHarness::new("sink-upgrade", SINK_CLASS, &STRINGS);
        harness.kafka.create("in", 1);
        for i in 0..5 {
            harness.kafka.append("in", 0, &format!("a{i}"));
        }
        // Where an earlier version of the worker kept the sink's progress.
        harness
            .offsets
            .put(
                "sink-upgrade",
                vec![(partition_key(&tp(0)), Some(offset_value(3)))],
            )
            .await
            .unwrap();
        let probe = probe("sink-upgrade");
        let (_assign, assignment) = watch::channel(vec![tp(0)]);
        let running = start(&harness, assignment);
        probe
            .wait_for("the last record", LIMIT, |calls| {
                calls.iter().any(|c| c == "put in-0@4 a4")
            })
            .await;
        stop(&harness, running).await;

        assert_eq!(
            puts_of(&probe.calls(), 0),
            ["put in-0@3 a3", "put in-0@4 a4"]
        );
        assert_eq!(committed(&harness, 0), Some(5));
        // The group holds the partition now; the file's entry is removed (in the background).
        let deadline = Instant::now() + LIMIT;
        while in_offset_file(&harness, 0).await.is_some() {
            assert!(Instant::now() < deadline, "the file entry is still there");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn the_group_offset_wins_over_the_offset_file() {
        let harness = TaskHarness::new("sink-both", SINK_CLASS, &STRINGS);
        harness.kafka.create("in", 1);
        for i in 0..5 {
            harness.kafka.append("in", 0, &format!("a{i}"));
        }
        harness
            .offsets
            .put(
                "sink-both",
                vec![(partition_key(&tp(0)), Some(offset_value(1)))],
            )
            .await
            .unwrap();
        harness
            .kafka
            .commit_offsets("connect-sink-both", &BTreeMap::from([(tp(0), 4)]))
            .await
            .unwrap();
        let probe = probe("sink-both");
        let (_assign, assignment) = watch::channel(vec![tp(0)]);
        let running = start(&harness, assignment);
        probe
            .wait_for("the last record", LIMIT, |calls| {
                calls.iter().any(|c| c == "put in-0@4 a4")
            })
            .await;
        stop(&harness, running).await;
        assert_eq!(puts_of(&probe.calls(), 0), ["put in-0@4 a4"]);
    }

    #[tokio::test]
    async fn consumer_override_group_id_names_the_group() {
        let harness = TaskHarness::new(
            "sink-named-group",
            SINK_CLASS,
            &[
                STRINGS[0],
                STRINGS[1],
                STRINGS[2],
                ("consumer.override.group.id", "orders-to-redis"),
            ],
        );
        harness.kafka.create("in", 1);
        harness.kafka.append("in", 0, "a0");
        let probe = probe("sink-named-group");
        let (_assign, assignment) = watch::channel(vec![tp(0)]);
        let running = start(&harness, assignment);
        probe
            .wait_for("the record", LIMIT, |calls| {
                calls.iter().any(|c| c == "put in-0@0 a0")
            })
            .await;
        stop(&harness, running).await;
        assert_eq!(
            harness.kafka.group_offsets("orders-to-redis"),
            BTreeMap::from([(tp(0), 1)])
        );
        assert_eq!(committed(&harness, 0), None);
    }

    #[tokio::test]
    async fn auto_offset_reset_latest_reads_only_new_records() {
        let harness = TaskHarness::new(
            "sink-latest",
            SINK_CLASS,
            &[
                STRINGS[0],
                STRINGS[1],
                STRINGS[2],
                ("consumer.override.auto.offset.reset", "latest"),
            ],
        );
        harness.kafka.create("in", 1);
        harness.kafka.append("in", 0, "old");
        let probe = probe("sink-latest");
        let (_assign, assignment) = watch::channel(vec![tp(0)]);
        let running = start(&harness, assignment);
        probe
            .wait_for("the partition opened", LIMIT, |calls| {
                calls.iter().any(|c| c == "open [in-0]")
            })
            .await;
        harness.kafka.append("in", 0, "new");
        probe
            .wait_for("the new record", LIMIT, |calls| {
                calls.iter().any(|c| c == "put in-0@1 new")
            })
            .await;
        stop(&harness, running).await;
        assert_eq!(puts_of(&probe.calls(), 0), ["put in-0@1 new"]);
    }

    #[tokio::test]
    async fn auto_offset_reset_none_fails_the_task_naming_the_partition() {
        let harness = TaskHarness::new(
            "sink-no-reset",
            SINK_CLASS,
            &[
                STRINGS[0],
                STRINGS[1],
                STRINGS[2],
                ("consumer.override.auto.offset.reset", "none"),
            ],
        );
        harness.kafka.create("in", 1);
        let (_assign, assignment) = watch::channel(vec![tp(0)]);
        let running = start(&harness, assignment);
        wait_for_end(running, LIMIT).await;
        let status = harness.status.get();
        assert_eq!(status.state, crate::status::State::Failed);
        let trace = status.trace.unwrap_or_default();
        assert!(
            trace.contains("Undefined offset with no reset policy for partitions: [in-0]"),
            "{trace}"
        );
    }

    #[tokio::test]
    async fn a_failed_commit_is_retried_at_the_next_flush_without_holding_up_put() {
        // The harness's worker flushes every 50 ms.
        let harness = TaskHarness::new("sink-commit-fails", SINK_CLASS, &STRINGS);
        harness.kafka.create("in", 1);
        harness.kafka.fail_next_commits(3, Failure::Retriable);
        let probe = probe("sink-commit-fails");
        let (_assign, assignment) = watch::channel(vec![tp(0)]);
        let running = start(&harness, assignment);
        for i in 0..3 {
            harness.kafka.append("in", 0, &format!("a{i}"));
        }
        probe
            .wait_for("every record written", LIMIT, |calls| {
                calls.iter().any(|c| c == "put in-0@2 a2")
            })
            .await;
        let deadline = Instant::now() + LIMIT;
        while committed(&harness, 0) != Some(3) {
            assert!(Instant::now() < deadline, "the group never got offset 3");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(harness.kafka.commit_calls() >= 4);
        stop(&harness, running).await;
    }

    #[tokio::test]
    async fn lag_rises_from_end_offsets_read_on_a_timer() {
        let kafka = crate::kafka::memory::MemoryKafka::new();
        kafka.create("in", 2);
        let gauge = prometheus::IntGauge::new("lag", "lag").unwrap();
        let watch = super::super::sink_offsets::LagWatch::start(
            kafka.clone(),
            Some(gauge.clone()),
            Duration::from_millis(20),
        );
        watch.positions(&BTreeMap::from([(tp(0), 0), (tp(1), 0)]));
        for i in 0..7 {
            kafka.append("in", 1, &format!("b{i}"));
        }
        let deadline = Instant::now() + LIMIT;
        while gauge.get() != 7 {
            assert!(Instant::now() < deadline, "lag {}", gauge.get());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        watch.positions(&BTreeMap::from([(tp(0), 0), (tp(1), 5)]));
        assert_eq!(watch.lag_max(), 2);
    }
}
