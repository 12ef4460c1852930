//! The source task loop: poll -> transforms -> converters -> producer -> acknowledgements ->
//! `commit_record`, and every `offset.flush.interval.ms` the offsets are stored and the task's
//! `commit` is called. One batch is in flight at a time, so memory stays bounded by the batch
//! and every stored offset belongs to a record Kafka acknowledged.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_core::config::Props;
use connect_core::connector::{SourceTask, SourceTaskContext};
use connect_core::record::{SourceMap, SourceRecord};
use connect_core::transforms::{Outcome, TransformChain};
use connect_core::ConnectError;

use super::{count_startup, finish, next_backoff, RecordErrors, TaskEnv, TaskTarget};
use crate::convert::Converters;
use crate::kafka::ProduceError;
use crate::metrics::{CustomFactory, TaskMetrics};
use crate::status::State;
use crate::store::OffsetStore;

/// What a source task reads its committed offsets from.
struct Context {
    connector: String,
    offsets: Arc<dyn OffsetStore>,
    config: Props,
    metrics: CustomFactory,
}

impl SourceTaskContext for Context {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        self.offsets.get(&self.connector, partition)
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

/// Runs a source task until it is stopped or fails; the status tells which.
pub async fn run(mut env: TaskEnv, mut task: Box<dyn SourceTask>) {
    let result = run_inner(&mut env, task.as_mut()).await;
    finish(&env, result, task.stop()).await;
}

async fn run_inner(env: &mut TaskEnv, task: &mut dyn SourceTask) -> Result<(), ConnectError> {
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
    let context = Arc::new(Context {
        connector: env.id.connector.clone(),
        offsets: Arc::clone(&env.offsets),
        config: env.task_props.clone(),
        metrics: metrics.custom_factory(),
    });
    let started = task.start(&env.task_props, context).await;
    count_startup(env, started.is_ok());
    started?;
    env.status.set(State::Running);
    tracing::info!(task = %env.id, "source task started");

    let mut pending: HashMap<String, (SourceMap, SourceMap)> = HashMap::new();
    let mut known_topics: HashSet<String> = HashSet::new();
    let mut last_flush = Instant::now();
    let mut backoff = Duration::ZERO;
    loop {
        match env.target() {
            TaskTarget::Stop => break,
            TaskTarget::Pause => {
                commit_offsets(env, task, &mut pending, &mut metrics).await?;
                env.status.set(State::Paused);
                if env.wait_while_paused().await == TaskTarget::Stop {
                    break;
                }
                env.status.set(State::Running);
            }
            TaskTarget::Run => {}
        }
        let polled_at = Instant::now();
        let mut records = match task.poll().await {
            Ok(records) => {
                backoff = Duration::ZERO;
                if let Some(m) = metrics.source.as_mut() {
                    m.poll_time.record_time(polled_at.elapsed());
                    m.poll_total.inc_by(records.len() as u64);
                }
                records
            }
            Err(e) if e.is_retriable() => {
                backoff = next_backoff(backoff, env.connector.errors.retry_delay_max);
                tracing::warn!(task = %env.id, error = %e, "poll failed, retrying in {backoff:?}");
                env.back_off(backoff).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        if !records.is_empty() {
            metrics.batch_size.record(records.len() as f64);
            if let Some(m) = &metrics.source {
                m.active.set(records.len() as i64);
            }
            let written = send(
                env,
                task,
                &chain,
                &converters,
                &mut errors,
                &mut records,
                &mut known_topics,
            )
            .await?;
            let Some(written) = written else {
                break; // stopped while Kafka was unreachable
            };
            if let Some(m) = &metrics.source {
                m.write_total.inc_by(written as u64);
                m.active.set(0);
            }
            for record in records {
                let key = partition_key(&record.source_partition);
                pending.insert(key, (record.source_partition, record.source_offset));
            }
        }
        if last_flush.elapsed() >= env.worker.offset_flush_interval {
            commit_offsets(env, task, &mut pending, &mut metrics).await?;
            last_flush = Instant::now();
        }
    }
    commit_offsets(env, task, &mut pending, &mut metrics).await
}

/// Transforms, converts and sends a batch, then tells the task which records Kafka has.
/// The number of records written, or `None` when the task was stopped before Kafka took the
/// batch.
async fn send(
    env: &mut TaskEnv,
    task: &mut dyn SourceTask,
    chain: &TransformChain,
    converters: &Converters,
    errors: &mut RecordErrors,
    records: &mut [SourceRecord],
    known_topics: &mut HashSet<String>,
) -> Result<Option<usize>, ConnectError> {
    let mut to_send = Vec::with_capacity(records.len());
    let mut sent_index = Vec::with_capacity(records.len());
    for (i, record) in records.iter_mut().enumerate() {
        let outcome = errors.retry(|| chain.apply(&mut record.record)).await;
        match outcome {
            Ok(Outcome::Keep) => {}
            Ok(Outcome::Drop) => continue,
            Err(e) => {
                errors.tolerate("transformation", || describe(record), e)?;
                continue;
            }
        }
        match errors
            .retry(|| converters.to_producer_record(&record.record))
            .await
        {
            Ok(kafka_record) => {
                to_send.push(kafka_record);
                sent_index.push(i);
            }
            Err(e) => errors.tolerate("conversion", || describe(record), e)?,
        }
    }
    for topic in to_send
        .iter()
        .map(|r| r.topic.to_string())
        .collect::<HashSet<_>>()
    {
        if !known_topics.contains(&topic) {
            ensure_topic(env, &topic).await?;
            env.active_topics.add(&topic);
            known_topics.insert(topic);
        }
    }
    let mut backoff = Duration::ZERO;
    let metadata = loop {
        match env.producer.send(&to_send).await {
            Ok(metadata) => break metadata,
            Err(ProduceError::Kafka(e)) if e.is_retriable() => {
                backoff = next_backoff(backoff, env.connector.errors.retry_delay_max);
                tracing::warn!(task = %env.id, error = %e, "produce failed, retrying in {backoff:?}");
                env.back_off(backoff).await;
                if env.target() == TaskTarget::Stop {
                    // Not written, so their offsets are not stored: polled again after a restart.
                    return Ok(None);
                }
            }
            Err(e) => {
                return Err(ConnectError::fatal("cannot write records to Kafka").with_source(e))
            }
        }
    };
    let written = sent_index.len();
    for (index, meta) in sent_index.into_iter().zip(metadata.iter()) {
        task.commit_record(&records[index], meta);
    }
    Ok(Some(written))
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
    task: &mut dyn SourceTask,
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
    let store = Arc::clone(&env.offsets);
    let connector = env.id.connector.clone();
    let stored = tokio::task::spawn_blocking(move || store.put(&connector, offsets)).await;
    metrics.offset_commit(started.elapsed(), matches!(stored, Ok(Ok(()))));
    match stored {
        Ok(Ok(())) => pending.clear(),
        // Kafka Connect logs a failed offset commit and tries again at the next flush; the
        // offsets stay pending (newer ones replace them meanwhile).
        Ok(Err(e)) => {
            tracing::error!(task = %env.id, error = %e, "cannot store source offsets; retrying at the next flush");
            return Ok(());
        }
        Err(e) => {
            tracing::error!(task = %env.id, error = %e, "storing source offsets panicked");
            return Ok(());
        }
    }
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
