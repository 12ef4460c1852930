//! The sink task: each `put` batch is one pipelined round trip to Redis (a MULTI/EXEC with the
//! batch's Kafka offsets in exactly-once mode), visible in Redis when `put` returns.
//!
//! Exactly-once: the offsets hash is written in the same transaction as the data, so Redis
//! always holds the data of exactly the records below the stored offsets. The task seeks to
//! them on `open`, skips records below them, and after a write whose outcome it could not
//! see (a timeout, a dropped connection) it reads them again before writing anything else.
//! fred sends each command at most once (see `connection.rs`), so a write it reported as failed
//! cannot land later.
//!
//! Writes and flushes: fred 10 flushes the socket after every command of a transaction
//! (`client.multi()`), after every custom command, and after every command of a pipeline when
//! nothing else waits in its router queue. A batch is therefore written as two pipelines sent
//! back to back: the commands (in exactly-once mode `MULTI`, the commands and the offsets'
//! `HSET`), then the last command alone (`EXEC`); while fred writes the first, the second
//! waits in its queue, so the first goes out in a few large writes. The commands of the sink's
//! usual types go through fred's typed calls, which it does not flush one by one (see
//! [`queue`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use connect_core::connector::{SinkTask, SinkTaskContext};
use connect_core::metrics::Counter;
use connect_core::record::{SinkRecord, TopicPartition};
use connect_core::ConnectError;
use fred::clients::Pipeline;
use fred::error::Error as FredError;
use fred::prelude::{
    Client, ClientLike, Expiration, HashesInterface, KeysInterface, StreamsInterface,
};
use fred::types::{ClusterHash, CustomCommand, Key, Value as Arg};

use super::config::{RedisType, SinkConfig};
use super::encode::{Command, Encoder};
use super::offsets;
use crate::connection::redis_error;

/// Writes records into Redis; see the module documentation.
pub struct RedisSinkTask {
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

impl std::fmt::Debug for RedisSinkTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSinkTask")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
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

impl RedisSinkTask {
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

    /// Sends the batch's commands (and offsets) as one transaction: `MULTI`, the commands,
    /// the offsets' `HSET` and `EXEC`, pipelined.
    async fn exec_transaction(
        &mut self,
        next: &HashMap<TopicPartition, i64>,
    ) -> Result<(), WriteError> {
        let body = self.client.pipeline();
        // Queued in memory: nothing is sent before `try_all`.
        body.custom::<(), Arg>(command("MULTI"), vec![])
            .await
            .map_err(WriteError::Unknown)?;
        for c in self.commands.iter_mut() {
            let args = std::mem::take(&mut c.args);
            queue(&body, c.name, args)
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
            queue(&body, "HSET", args)
                .await
                .map_err(WriteError::Unknown)?;
        }
        let exec = self.client.pipeline();
        exec.custom::<(), Arg>(command("EXEC"), vec![])
            .await
            .map_err(WriteError::Unknown)?;
        let (queued, exec) = send_back_to_back(&body, &exec).await;
        // A command Redis refused to queue (arity, unknown command, out of memory) made it
        // discard the transaction (EXECABORT): report that command's error.
        if let Some(Err(e)) = queued.into_iter().find(Result::is_err) {
            return Err(WriteError::Unknown(e));
        }
        match exec.into_iter().next() {
            Some(Ok(Arg::Null)) => Err(WriteError::Failed(ConnectError::retriable(
                "Redis aborted the transaction (EXEC answered nil)",
            ))),
            Some(Ok(_)) => Ok(()),
            // An error inside EXEC's answer (e.g. WRONGTYPE): the other commands were applied.
            Some(Err(e)) => Err(WriteError::Unknown(e)),
            None => Err(WriteError::Failed(ConnectError::retriable(
                "Redis did not answer EXEC",
            ))),
        }
    }

    /// Sends the batch's commands pipelined, and tells which records Redis refused.
    async fn exec_pipeline(&mut self) -> Result<(), WriteError> {
        let body = self.client.pipeline();
        let last = self.client.pipeline();
        let count = self.commands.len();
        for (i, c) in self.commands.iter_mut().enumerate() {
            let args = std::mem::take(&mut c.args);
            let pipe = if i + 1 == count { &last } else { &body };
            queue(pipe, c.name, args)
                .await
                .map_err(WriteError::Unknown)?;
        }
        let (mut results, last) = send_back_to_back(&body, &last).await;
        results.extend(last);
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
}

/// Sends two pipelines back to back on the client's connection, in order, and returns the
/// answers of each (one per command). Both are handed to fred's router before either is
/// awaited: while it writes `first`, `second` waits in its queue, so fred feeds `first`'s
/// commands to the socket without flushing after each, and flushes once with `second`.
async fn send_back_to_back(
    first: &Pipeline<Client>,
    second: &Pipeline<Client>,
) -> (Vec<Result<Arg, FredError>>, Vec<Result<Arg, FredError>>) {
    // `join` polls `first` before `second`: each is handed to the router at its first poll,
    // so they reach the connection in this order.
    futures::join!(first.try_all::<Arg>(), second.try_all::<Arg>())
}

/// Queues a command on a pipeline. fred flushes the socket after every custom command, so the
/// commands the sink writes most go through fred's typed calls, which send the same words;
/// the others go as custom commands.
async fn queue(
    pipe: &Pipeline<Client>,
    name: &'static str,
    args: Vec<Arg>,
) -> Result<(), FredError> {
    let typed = match (name, args.as_slice()) {
        ("SET", [_, _]) | ("DEL", [_]) | ("EXPIRE", [_, Arg::Integer(_)]) => true,
        ("SET", [_, _, Arg::String(ex), Arg::Integer(_)]) => &**ex == "EX",
        ("HSET", [_, fields @ ..]) => !fields.is_empty() && fields.len() % 2 == 0,
        ("XADD", [_, Arg::String(id), fields @ ..]) => {
            &**id == "*" && !fields.is_empty() && fields.len() % 2 == 0
        }
        _ => false,
    };
    if !typed {
        return pipe.custom::<(), Arg>(command(name), args).await;
    }
    let mut args = args.into_iter();
    let key = to_key(args.next())?;
    match name {
        "SET" => {
            let value = args.next().unwrap_or(Arg::Null);
            let expire = match args.nth(1) {
                Some(Arg::Integer(ttl)) => Some(Expiration::EX(ttl)),
                _ => None,
            };
            pipe.set::<(), _, _>(key, value, expire, None, false).await
        }
        "DEL" => pipe.del::<(), _>(key).await,
        "EXPIRE" => {
            let seconds = match args.next() {
                Some(Arg::Integer(seconds)) => seconds,
                _ => 0,
            };
            pipe.expire::<(), _>(key, seconds, None).await
        }
        "HSET" => pipe.hset::<(), _, _>(key, pairs(args)?).await,
        _ => {
            // XADD key * field value ...
            let _id = args.next();
            pipe.xadd::<(), _, _, _, _>(key, false, None, "*", pairs(args)?)
                .await
        }
    }
}

fn to_key(arg: Option<Arg>) -> Result<Key, FredError> {
    Key::try_from(arg.unwrap_or(Arg::Null))
}

/// `field value field value ...` as pairs.
fn pairs(args: impl Iterator<Item = Arg>) -> Result<Vec<(Key, Arg)>, FredError> {
    let mut out = Vec::with_capacity(args.size_hint().0 / 2);
    let mut args = args;
    while let (Some(field), Some(value)) = (args.next(), args.next()) {
        out.push((to_key(Some(field))?, value));
    }
    Ok(out)
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

#[async_trait]
impl SinkTask for RedisSinkTask {
    type Config = SinkConfig;

    async fn start(
        config: SinkConfig,
        ctx: Arc<dyn SinkTaskContext>,
    ) -> Result<Self, ConnectError> {
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
        Ok(Self {
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
        })
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        self.unloaded.extend(partitions.iter().cloned());
        if let Err(e) = self.load_offsets(None).await {
            // Not fatal: put reads them before writing anything.
            tracing::warn!(error = %e, "cannot read the Kafka offsets kept in Redis yet");
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

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        for tp in partitions {
            self.applied.remove(tp);
            self.unloaded.remove(tp);
            self.reported.remove(tp);
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        let _ = self.client.quit().await;
        Ok(())
    }
}
