//! The sink task: each `put` batch is one pipelined round trip to Redis (a MULTI/EXEC with the
//! batch's Kafka offsets in exactly-once mode), visible in Redis when `put` returns.
//!
//! Exactly-once: the offsets hash is written in the same transaction as the data, so Redis
//! always holds the data of exactly the records below the stored offsets. The task seeks to
//! them on `open`, skips records below them, and after a write whose outcome it could not
//! see (a timeout, a dropped connection) it reads them again before writing anything else.
//! fred sends each command at most once (see `connection.rs`), so a write it reported as failed
//! cannot land later.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use connect_core::config::Props;
use connect_core::connector::{SinkTask, SinkTaskContext};
use connect_core::metrics::Counter;
use connect_core::record::{SinkRecord, TopicPartition};
use connect_core::ConnectError;
use fred::error::Error as FredError;
use fred::prelude::{Client, ClientLike, HashesInterface, TransactionInterface};
use fred::types::{ClusterHash, CustomCommand, Value as Arg};

use super::config::{RedisType, SinkConfig};
use super::encode::{Command, Encoder};
use super::offsets;
use crate::connection::redis_error;

/// Writes records into Redis; see the module documentation.
#[derive(Default)]
pub struct RedisSinkTask {
    running: Option<Running>,
}

impl std::fmt::Debug for RedisSinkTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSinkTask")
            .field("config", &self.running.as_ref().map(|r| &r.config))
            .finish_non_exhaustive()
    }
}

struct Running {
    config: SinkConfig,
    client: Client,
    encoder: Encoder,
    ctx: Arc<dyn SinkTaskContext>,
    /// The next offset Redis holds for each partition, when offsets are kept in Redis and
    /// one was found or written.
    applied: HashMap<TopicPartition, i64>,
    /// Assigned partitions whose offsets in Redis are not read yet.
    unloaded: BTreeSet<TopicPartition>,
    /// A write failed without telling whether it was applied: read the offsets again first.
    uncertain: bool,
    /// The offset after the last errant record reported, per partition, so a batch written
    /// again after a retriable error does not report its errant records twice.
    reported: HashMap<TopicPartition, i64>,
    /// Reused buffers: the batch's commands and, for each, the index of its record.
    commands: Vec<Command>,
    owners: Vec<usize>,
    metrics: SinkMetrics,
}

/// The sink's own metrics, next to the worker's at `/metrics`.
struct SinkMetrics {
    /// Batches sent (each one pipelined round trip, or one MULTI/EXEC).
    round_trips: Counter,
    /// Commands sent.
    commands: Counter,
    /// Failed writes, by Redis or the connection.
    errors: Counter,
}

fn command(name: &'static str) -> CustomCommand {
    CustomCommand::new_static(name, ClusterHash::FirstKey, false)
}

/// How a write went wrong.
enum WriteError {
    /// Nothing can be said about what was applied.
    Unknown(FredError),
    /// These records (index, reason) were refused by Redis; the rest were written.
    Records(Vec<(usize, String)>),
    /// A classified error.
    Failed(ConnectError),
}

impl Running {
    /// Reads the stored offsets of the partitions not read yet. Called from `open`, the
    /// task seeks to them; called from `put` with the batch, partitions whose records start
    /// past the stored offset are rewound there (returned, their records are skipped).
    async fn load_offsets(
        &mut self,
        batch: Option<&[SinkRecord]>,
    ) -> Result<BTreeSet<TopicPartition>, ConnectError> {
        let mut rewind = BTreeSet::new();
        let Some(key) = self.config.offsets_key.clone() else {
            self.unloaded.clear();
            return Ok(rewind);
        };
        if self.unloaded.is_empty() {
            return Ok(rewind);
        }
        let partitions: Vec<TopicPartition> = self.unloaded.iter().cloned().collect();
        let fields: Vec<String> = partitions.iter().map(offsets::field).collect();
        let stored: Vec<Option<i64>> =
            self.client.hmget(&key, fields).await.map_err(|e| {
                redis_error(e, &format!("cannot read the Kafka offsets in '{key}'"))
            })?;
        for (tp, next) in partitions.into_iter().zip(stored) {
            self.unloaded.remove(&tp);
            let Some(next) = next else { continue };
            self.applied.insert(tp.clone(), next);
            let first = batch.and_then(|b| {
                b.iter()
                    .find(|r| r.original == tp)
                    .map(|r| r.original_offset)
            });
            match (batch, first) {
                (None, _) => self.ctx.offset(&tp, next),
                (Some(_), Some(first)) if first > next => {
                    self.ctx.offset(&tp, next);
                    rewind.insert(tp);
                }
                _ => {}
            }
        }
        tracing::debug!(key, applied = ?self.applied, "read the Kafka offsets kept in Redis");
        Ok(rewind)
    }

    /// Reports records Redis cannot take to the worker (dead-letter queue, log, or failure
    /// with `errors.tolerance=none`).
    async fn report(
        &mut self,
        records: &[SinkRecord],
        errant: &[(usize, String)],
    ) -> Result<(), ConnectError> {
        for (i, reason) in errant {
            let record = &records[*i];
            let tp = &record.original;
            if self
                .reported
                .get(tp)
                .is_some_and(|next| record.original_offset < *next)
            {
                continue;
            }
            let error = ConnectError::fatal(format!(
                "cannot write the record at {}-{} offset {} to Redis: {reason}",
                tp.topic, tp.partition, record.original_offset
            ));
            tracing::debug!(error = %error, "errant record");
            match self.ctx.errant_record_reporter() {
                Some(reporter) => reporter.report(record, &error).await?,
                None => return Err(error),
            }
            self.reported.insert(tp.clone(), record.original_offset + 1);
        }
        Ok(())
    }

    /// Sends the batch's commands (and offsets) as one transaction.
    async fn exec_transaction(
        &mut self,
        next: &HashMap<TopicPartition, i64>,
    ) -> Result<(), WriteError> {
        let trx = self.client.multi();
        for c in self.commands.iter_mut() {
            let args = std::mem::take(&mut c.args);
            // Queued in memory: nothing is sent before exec.
            trx.custom::<(), Arg>(command(c.name), args)
                .await
                .map_err(WriteError::Unknown)?;
        }
        if let (true, Some(key), false) = (
            self.config.exactly_once,
            &self.config.offsets_key,
            next.is_empty(),
        ) {
            let mut args = vec![Arg::from(key.as_str())];
            args.extend(offsets::hset_args(next));
            trx.custom::<(), Arg>(command("HSET"), args)
                .await
                .map_err(WriteError::Unknown)?;
        }
        trx.exec::<Arg>(true)
            .await
            .map(|_| ())
            .map_err(WriteError::Unknown)
    }

    /// Sends the batch's commands pipelined, and tells which records Redis refused.
    async fn exec_pipeline(&mut self) -> Result<(), WriteError> {
        let pipe = self.client.pipeline();
        for c in self.commands.iter_mut() {
            let args = std::mem::take(&mut c.args);
            pipe.custom::<(), Arg>(command(c.name), args)
                .await
                .map_err(WriteError::Unknown)?;
        }
        let results: Vec<Result<Arg, FredError>> = pipe.try_all().await;
        let mut refused = Vec::new();
        for (i, result) in results.into_iter().enumerate() {
            let Err(e) = result else { continue };
            let classified = redis_error(e.clone(), "cannot write to Redis");
            if classified.is_retriable() || is_setup_error(&e) {
                return Err(WriteError::Failed(classified));
            }
            let owner = self.owners.get(i).copied().unwrap_or(0);
            refused.push((owner, e.details().to_owned()));
        }
        if refused.is_empty() {
            Ok(())
        } else {
            refused.dedup_by_key(|(owner, _)| *owner);
            Err(WriteError::Records(refused))
        }
    }

    /// After a transaction failed with a command error: if Redis has the batch's offsets, it
    /// applied the batch but for the refused commands; finds their records by the type of
    /// their keys. `None` when the batch was not applied.
    async fn refused_in_applied_batch(
        &mut self,
        next: &HashMap<TopicPartition, i64>,
        keys: &[(usize, Arg)],
    ) -> Result<Option<Vec<(usize, String)>>, ConnectError> {
        let Some(key) = self.config.offsets_key.clone() else {
            return Ok(None);
        };
        let stored = offsets::load_all(&self.client, &key).await?;
        if next.iter().any(|(tp, n)| stored.get(tp) != Some(n)) {
            return Ok(None);
        }
        self.applied.extend(stored);
        let Some(expected) = expected_type(self.config.ty, self.config.counter_field.is_some())
        else {
            return Ok(Some(Vec::new()));
        };
        let pipe = self.client.pipeline();
        for (_, k) in keys {
            let _ = pipe
                .custom::<(), Arg>(command("TYPE"), vec![k.clone()])
                .await;
        }
        let types: Vec<Result<String, FredError>> = pipe.try_all().await;
        let mut refused = Vec::new();
        for ((owner, _), ty) in keys.iter().zip(types) {
            let ty = ty.map_err(|e| redis_error(e, "cannot read key types"))?;
            if ty != "none" && ty != expected {
                refused.push((
                    *owner,
                    format!("WRONGTYPE the key holds a {ty}, not a {expected}"),
                ));
            }
        }
        Ok(Some(refused))
    }

    async fn wait_for_replicas(&self) -> Result<(), ConnectError> {
        let wanted = self.config.wait_replicas;
        if wanted <= 0 {
            return Ok(());
        }
        let timeout = self.config.wait_timeout.as_millis() as i64;
        let acked: i64 = self
            .client
            .custom(
                CustomCommand::new_static("WAIT", ClusterHash::Random, true),
                vec![Arg::Integer(wanted), Arg::Integer(timeout)],
            )
            .await
            .map_err(|e| redis_error(e, "WAIT failed"))?;
        if acked < wanted {
            return Err(ConnectError::retriable(format!(
                "only {acked} of {wanted} replicas (redis.wait.replicas) acknowledged the batch within {timeout} ms"
            )));
        }
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        let keeps_offsets = self.config.offsets_key.is_some();
        if keeps_offsets && self.uncertain {
            let key = self.config.offsets_key.clone().unwrap_or_default();
            self.applied = offsets::load_all(&self.client, &key).await?;
            self.unloaded.clear();
            self.uncertain = false;
        }
        let rewind = self.load_offsets(Some(records)).await?;

        let mut next: HashMap<TopicPartition, i64> = HashMap::new();
        let mut errant = Vec::new();
        let mut keys = Vec::new();
        self.commands.clear();
        self.owners.clear();
        for (i, record) in records.iter().enumerate() {
            let tp = &record.original;
            if rewind.contains(tp)
                || self
                    .applied
                    .get(tp)
                    .is_some_and(|n| record.original_offset < *n)
            {
                continue;
            }
            let before = self.commands.len();
            match self.encoder.encode(record, &mut self.commands) {
                Ok(()) => {
                    if let Some(key) = self.commands.get(before).and_then(Command::key) {
                        keys.push((i, key.clone()));
                    }
                    self.owners.resize(self.commands.len(), i);
                }
                Err(reason) => errant.push((i, reason)),
            }
            let n = next.entry(tp.clone()).or_insert(0);
            *n = (*n).max(record.original_offset + 1);
        }
        // Before writing: with errors.tolerance=none the task fails here and nothing of the
        // batch, its offsets included, is written.
        self.report(records, &errant).await?;
        if self.commands.is_empty() && (!self.config.exactly_once || next.is_empty()) {
            self.applied.extend(next);
            return Ok(());
        }

        self.metrics.round_trips.inc();
        self.metrics.commands.inc_by(self.commands.len() as u64);
        let written = if self.config.transactional() {
            self.exec_transaction(&next).await
        } else {
            self.exec_pipeline().await
        };
        if written.is_err() {
            self.metrics.errors.inc();
        }
        match written {
            Ok(()) => {}
            Err(WriteError::Failed(e)) => return Err(e),
            Err(WriteError::Records(refused)) => self.report(records, &refused).await?,
            Err(WriteError::Unknown(e)) => {
                let classified = redis_error(e.clone(), "cannot write the batch to Redis");
                if !self.config.transactional() {
                    return Err(classified);
                }
                self.uncertain = true;
                if classified.is_retriable() || !keeps_offsets {
                    return Err(classified);
                }
                // A command error: Redis may have applied everything else (EXEC does not roll
                // back). The offsets tell.
                match self.refused_in_applied_batch(&next, &keys).await? {
                    None => return Err(classified),
                    Some(refused) if refused.is_empty() => {
                        return Err(ConnectError::fatal(format!(
                            "Redis applied the batch but refused a command in it ({}); the batch's \
                             records are {}",
                            e.details(),
                            describe(records)
                        )))
                    }
                    Some(refused) => {
                        self.uncertain = false;
                        self.report(records, &refused).await?;
                    }
                }
            }
        }
        if let (Some(key), false, false) = (
            &self.config.offsets_key,
            self.config.exactly_once,
            next.is_empty(),
        ) {
            // A cluster: the offsets follow the batch (at-least-once).
            let mut args = vec![Arg::from(key.as_str())];
            args.extend(offsets::hset_args(&next));
            self.client
                .custom::<(), Arg>(command("HSET"), args)
                .await
                .map_err(|e| redis_error(e, "cannot write the Kafka offsets"))?;
        }
        self.applied.extend(next);
        self.wait_for_replicas().await
    }
}

/// Errors that no record caused: permissions, authentication, unknown commands.
fn is_setup_error(e: &FredError) -> bool {
    let details = e.details();
    let code = details.split_whitespace().next().unwrap_or("");
    matches!(code, "NOPERM" | "NOAUTH" | "WRONGPASS") || details.contains("unknown command")
}

/// The `TYPE` a key must have to take this sink's writes.
fn expected_type(ty: RedisType, counter_field: bool) -> Option<&'static str> {
    Some(match ty {
        RedisType::String => "string",
        RedisType::Counter if counter_field => "hash",
        RedisType::Counter => "string",
        RedisType::Hash => "hash",
        RedisType::Json => "ReJSON-RL",
        RedisType::Stream => "stream",
        RedisType::List => "list",
        RedisType::Set => "set",
        RedisType::SortedSet => "zset",
        RedisType::TimeSeries => "TSDB-TYPE",
        RedisType::PubSub => return None,
    })
}

fn describe(records: &[SinkRecord]) -> String {
    let mut ranges: HashMap<&TopicPartition, (i64, i64)> = HashMap::new();
    for r in records {
        let e = ranges
            .entry(&r.original)
            .or_insert((r.original_offset, r.original_offset));
        e.0 = e.0.min(r.original_offset);
        e.1 = e.1.max(r.original_offset);
    }
    let mut parts: Vec<String> = ranges
        .into_iter()
        .map(|(tp, (a, b))| format!("{}-{} offsets {a}..={b}", tp.topic, tp.partition))
        .collect();
    parts.sort();
    parts.join(", ")
}

impl RedisSinkTask {
    fn running(&mut self) -> Result<&mut Running, ConnectError> {
        self.running.as_mut().ok_or_else(|| {
            ConnectError::fatal("the Redis sink task was used before it was started")
        })
    }
}

#[async_trait]
impl SinkTask for RedisSinkTask {
    async fn start(
        &mut self,
        props: &Props,
        ctx: Arc<dyn SinkTaskContext>,
    ) -> Result<(), ConnectError> {
        let config = SinkConfig::parse(props)?;
        let client = config.redis.connect().await?;
        if let Some((name, module)) = config.ty.module_command() {
            let info: Arg = client
                .custom(
                    command("COMMAND"),
                    vec![Arg::from_static_str("INFO"), Arg::from_static_str(name)],
                )
                .await
                .map_err(|e| redis_error(e, "cannot list the server's commands"))?;
            let known =
                matches!(&info, Arg::Array(items) if items.iter().any(|i| !matches!(i, Arg::Null)));
            if !known {
                let _ = client.quit().await;
                return Err(ConnectError::fatal(format!(
                    "redis.type={} needs the {module} module, and the Redis server at {} does not have \
                     it ({name} is an unknown command): load the module or use Redis Stack",
                    config.ty.name(),
                    config.redis.shown_uri()
                )));
            }
        }
        tracing::info!(
            uri = config.redis.shown_uri(),
            r#type = config.ty.name(),
            exactly_once = config.exactly_once,
            offsets = config.offsets_key.as_deref().unwrap_or("-"),
            "Redis sink task connected"
        );
        let metrics = SinkMetrics {
            round_trips: ctx.counter(
                "redis_sink_round_trips_total",
                "Batches written to Redis (one pipelined round trip or MULTI/EXEC each).",
            ),
            commands: ctx.counter("redis_sink_commands_total", "Commands sent to Redis."),
            errors: ctx.counter(
                "redis_sink_errors_total",
                "Batch writes that failed (Redis errors or connection trouble).",
            ),
        };
        self.running = Some(Running {
            metrics,
            encoder: Encoder::new(&config),
            config,
            client,
            ctx,
            applied: HashMap::new(),
            unloaded: BTreeSet::new(),
            uncertain: false,
            reported: HashMap::new(),
            commands: Vec::new(),
            owners: Vec::new(),
        });
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        let running = self.running()?;
        running.unloaded.extend(partitions.iter().cloned());
        if let Err(e) = running.load_offsets(None).await {
            // Not fatal: put reads them before writing anything.
            tracing::warn!(error = %e, "cannot read the Kafka offsets kept in Redis yet");
        }
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        self.running()?.put(records).await
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        let running = self.running()?;
        for tp in partitions {
            running.applied.remove(tp);
            running.unloaded.remove(tp);
            running.reported.remove(tp);
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        if let Some(running) = self.running.take() {
            let _ = running.client.quit().await;
        }
        Ok(())
    }
}
