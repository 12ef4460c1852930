//! The sink task: each `put` batch is one pipelined round trip to Redis (a MULTI/EXEC with the
//! batch's Kafka offsets in exactly-once mode).
//!
//! Exactly-once: the offsets hash is written in the same transaction as the data, so Redis
//! always holds the data of exactly the records below the stored offsets. The task seeks to
//! them on `open`, skips records below them, and after a write whose outcome it could not
//! see (a timeout, a dropped connection) it reads them again before writing anything else.
//! fred sends each command at most once (see `connection.rs`), so a write it reported as failed
//! cannot land later.
//!
//! Writing ahead: `put` hands the batch to Redis and returns before Redis answers, so the
//! worker converts the next batch while Redis writes this one (`window.rs` keeps the batches in
//! flight, in order, up to [`WRITE_AHEAD_BYTES`] of them). `pre_commit` waits for every answer
//! and never returns an offset Redis has not confirmed. Order holds because every batch goes on
//! one connection and the client never reconnects by itself (fred would queue the commands
//! sent meanwhile and write them on the new connection: a later batch could apply before an
//! earlier one that failed); when the connection drops, every batch still in flight fails and
//! the task connects again before the next write. A transaction's `EXEC` is sent only once the
//! transaction before it is confirmed (its body goes out at once: Redis only queues it), so a
//! transaction Redis refused (`EXECABORT`) is never followed by a later one that applied, which
//! would move the stored offsets past records Redis does not hold. When a batch written ahead
//! fails, the task asks the worker to read its partitions again from the first record Redis
//! did not confirm, and writes them one batch at a time, waiting for each answer, until it is
//! past the failed batches: errors are then handled with their records at hand, as below.
//! Writing ahead is off with `redis.wait.replicas` and on a Redis cluster.
//!
//! Writes and flushes: fred 10 flushes the socket after every command of a transaction
//! (`client.multi()`), after every custom command, and after every command of a pipeline when
//! nothing else waits in its router queue. A batch is therefore written as pipelines handed to
//! fred back to back: the commands (in a transaction after `MULTI`), then the last one alone
//! (the offsets' `HSET` in exactly-once mode), then `EXEC`; while fred writes the first, the
//! next waits in its queue, so the first goes out in a few large writes. The commands of the sink's
//! usual types go through fred's typed calls, which it does not flush one by one (see
//! [`queue`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use connect_core::connector::{Offsets, SinkTask, SinkTaskContext};
use connect_core::metrics::Counter;
use connect_core::record::{SinkRecord, TopicPartition};
use connect_core::ConnectError;
use fred::clients::Pipeline;
use fred::error::Error as FredError;
use fred::prelude::{
    Client, ClientLike, Expiration, HashesInterface, KeysInterface, StreamsInterface,
};
use fred::types::{ClusterHash, ConnectHandle, CustomCommand, Key, Value as Arg};

use super::config::{RedisType, SinkConfig};
use super::encode::{Command, Encoder};
use super::offsets;
use super::window::{first_error, Failed, Reply, Sent, Span, Window};
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
    /// A transaction failed: end any transaction left open on the connection first (see
    /// `discard_open_transaction`).
    discard_first: bool,
    /// The offset after the last errant record reported, per partition, so a batch written
    /// again after a retriable error does not report its errant records twice.
    reported: HashMap<TopicPartition, i64>,
    /// Reused buffers: the batch's commands and, for each, the index of its record.
    commands: Vec<Command>,
    owners: Vec<usize>,
    metrics: SinkMetrics,
    /// The task of the client's connection, which ends when the connection drops (the client
    /// does not reconnect by itself; the task connects again). `None` on a Redis cluster,
    /// where fred reconnects and batches are not written ahead.
    connection: Option<ConnectHandle>,
    /// Batches handed to Redis whose answers have not been taken in.
    window: Window,
    /// After a batch written ahead failed: the partitions read again, and the offset after
    /// the failed batches' records. Batches are written one at a time until past it.
    replay: HashMap<TopicPartition, i64>,
    /// After a batch written ahead failed: the offset each partition is read again from, the
    /// most `pre_commit` returns for it until a batch of it is written again.
    rewound: HashMap<TopicPartition, i64>,
    /// After a transaction written ahead failed: its records. If Redis applied it but for a
    /// refused command (EXEC does not roll back), their keys' types tell which records to
    /// report when they are read again.
    recheck: Span,
}

/// The most memory (as [`arg_size`] counts it) a task keeps in flight to Redis in batches
/// written ahead without a transaction before `put` waits for the oldest answer. Small: the
/// arguments share the fetched Kafka buffers, which stay in memory while a batch is in flight,
/// fred holds a copy of each command until Redis answers, and a few batches keep Redis busy.
const WRITE_AHEAD_BYTES: usize = 256 * 1024;

/// A batch's commands on pipelines, ready to send: `body` then `tail` (its last command, or
/// the offsets' `HSET`, so fred does not flush the socket after every command of `body`), and
/// in a transaction `exec`.
struct Prepared {
    body: Pipeline<Client>,
    tail: Pipeline<Client>,
    exec: Option<Pipeline<Client>>,
    /// The size of the commands' arguments.
    bytes: usize,
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

    /// Queues the batch's commands (and in exactly-once mode its offsets, in a transaction)
    /// on pipelines; nothing is sent yet.
    async fn prepare(
        &mut self,
        next: &HashMap<TopicPartition, i64>,
    ) -> Result<Prepared, FredError> {
        let transactional = self.config.transactional();
        let offsets_args = match (&self.config.offsets_key, self.config.exactly_once) {
            (Some(key), true) if !next.is_empty() => {
                let mut args = vec![Arg::from(key.as_str())];
                args.extend(offsets::hset_args(next));
                Some(args)
            }
            _ => None,
        };
        let body = self.client.pipeline();
        let tail = self.client.pipeline();
        if transactional {
            body.custom::<(), Arg>(command("MULTI"), vec![]).await?;
        }
        let count = self.commands.len();
        let mut bytes = 0;
        for (i, c) in self.commands.iter_mut().enumerate() {
            let args = std::mem::take(&mut c.args);
            bytes += args.iter().map(arg_size).sum::<usize>();
            let last = i + 1 == count && offsets_args.is_none();
            queue(if last { &tail } else { &body }, c.name, args).await?;
        }
        if let Some(args) = offsets_args {
            queue(&tail, "HSET", args).await?;
        }
        let exec = if transactional {
            let exec = self.client.pipeline();
            exec.custom::<(), Arg>(command("EXEC"), vec![]).await?;
            Some(exec)
        } else {
            None
        };
        Ok(Prepared {
            body,
            tail,
            exec,
            bytes,
        })
    }

    /// Sends the batch and waits for Redis' answer.
    async fn write_now(&mut self, prepared: Prepared) -> Result<(), WriteError> {
        let Prepared {
            body, tail, exec, ..
        } = prepared;
        let Some(exec) = exec else {
            return self.pipeline_answer(body, tail).await;
        };
        // `join` polls in order: each pipeline is handed to fred's router at its first poll, so
        // they reach the connection in this order, and while fred writes `body` the others
        // wait in its queue (no flush after every command).
        let (mut queued, last, exec) = futures::join!(
            body.try_all::<Arg>(),
            tail.try_all::<Arg>(),
            exec.try_all::<Arg>()
        );
        queued.extend(last);
        // A command Redis refused to queue (arity, unknown command, out of memory) made it
        // discard the transaction (EXECABORT): report that command's error.
        if let Some(Err(e)) = queued.into_iter().find(Result::is_err) {
            return Err(WriteError::Unknown(e));
        }
        match exec_answer(exec) {
            ExecAnswer::Ran => Ok(()),
            ExecAnswer::NotRun(why) => Err(WriteError::Failed(ConnectError::retriable(why))),
            // An error inside EXEC's answer (e.g. WRONGTYPE): the other commands were applied.
            ExecAnswer::Failed(e) => Err(WriteError::Unknown(e)),
        }
    }

    /// Sends a batch's pipelined commands and tells which records Redis refused.
    async fn pipeline_answer(
        &mut self,
        body: Pipeline<Client>,
        tail: Pipeline<Client>,
    ) -> Result<(), WriteError> {
        let (mut results, last) = futures::join!(body.try_all::<Arg>(), tail.try_all::<Arg>());
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

    /// Sends the batch and returns without waiting for Redis' answer (see the module
    /// documentation); `current` are its records.
    async fn write_ahead(&mut self, prepared: Prepared, current: Span) {
        let Prepared {
            body,
            tail,
            exec,
            bytes,
        } = prepared;
        let transactional = exec.is_some();
        let commands = Reply::send(async move {
            if transactional {
                // Only the last answers: Redis answers QUEUED to the others, and a command it
                // refuses to queue makes EXEC fail (EXECABORT), read again one batch at a time.
                let (body, tail) = futures::join!(body.last::<Arg>(), tail.last::<Arg>());
                body.and(tail).map(drop)
            } else {
                let (body, tail) = futures::join!(body.try_all::<Arg>(), tail.try_all::<Arg>());
                first_error(body).and(first_error(tail))
            }
        })
        .await;
        let Some(exec) = exec else {
            self.window.push(Sent {
                replies: vec![commands],
                span: current,
                bytes,
            });
            if let Some(failed) = self
                .window
                .limit(WRITE_AHEAD_BYTES, &mut self.applied)
                .await
            {
                self.read_again(failed, Span::default());
            }
            return;
        };
        // Redis only queues the transaction's commands; EXEC once the transaction before is
        // confirmed.
        if let Some(failed) = self.window.drain(&mut self.applied).await {
            // Never run: the next put starts with DISCARD. Read again with the failed one.
            let _ = commands.wait().await;
            self.read_again(failed, current);
            return;
        }
        let exec = Reply::send(async move {
            match exec_answer(exec.try_all::<Arg>().await) {
                ExecAnswer::Ran => Ok(()),
                ExecAnswer::NotRun(why) => {
                    Err(FredError::new(fred::error::ErrorKind::Unknown, why))
                }
                ExecAnswer::Failed(e) => Err(e),
            }
        })
        .await;
        self.window.push(Sent {
            replies: vec![commands, exec],
            span: current,
            bytes,
        });
    }

    /// After a failed transaction: ends a transaction left open on the connection. Its `MULTI`
    /// and commands may have been queued in fred while the connection was down and written
    /// after the reconnect without their `EXEC` (which failed at once); Redis would then queue
    /// every later command instead of running it. Any answer from Redis to `DISCARD`, even
    /// "DISCARD without MULTI", shows that everything sent before it was seen.
    async fn discard_open_transaction(&mut self) -> Result<(), ConnectError> {
        if !self.discard_first {
            return Ok(());
        }
        if let Err(e) = self
            .client
            .custom::<(), Arg>(command("DISCARD"), vec![])
            .await
        {
            let e = redis_error(e, "cannot end a transaction left open (DISCARD)");
            if e.is_retriable() {
                return Err(e);
            }
        }
        self.discard_first = false;
        Ok(())
    }

    /// Whether the connection dropped (the client does not reconnect by itself).
    fn connection_lost(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(ConnectHandle::is_finished)
    }

    /// Connects again after the connection dropped, in one attempt: Redis still away is a
    /// retriable error (the worker tries the batch again after a back-off).
    async fn reconnect_if_lost(&mut self) -> Result<(), ConnectError> {
        if !self.connection_lost() {
            return Ok(());
        }
        let (client, connection) = self.config.redis.connect_once_without_reconnect().await?;
        self.client = client;
        self.connection = Some(connection);
        // A new connection has no transaction open.
        self.discard_first = false;
        tracing::info!(
            uri = self.config.redis.shown_uri(),
            "connected to Redis again"
        );
        Ok(())
    }

    /// Whether this batch may be written ahead: not while reading failed batches again, not
    /// after a write whose outcome is unknown, not when each batch must be confirmed by
    /// replicas or followed by its offsets, not on a cluster (fred reconnects by itself
    /// there, and could write a later batch on a new connection before an earlier one).
    fn writes_ahead(&self) -> bool {
        self.connection.is_some()
            && self.replay.is_empty()
            && !self.uncertain
            && self.config.wait_replicas <= 0
            && (self.config.offsets_key.is_none() || self.config.exactly_once)
    }

    /// A batch written ahead failed: asks the worker to read every partition of the failed
    /// batches, of those sent after them and of `current` (a batch not written) again from
    /// its first record there, and writes one batch at a time until past them.
    fn read_again(&mut self, failed: Failed, current: Span) {
        let Failed {
            error,
            mut unconfirmed,
        } = failed;
        unconfirmed.cover(&current);
        self.metrics.errors.inc();
        self.discard_first = self.config.transactional();
        if self.config.offsets_key.is_some() {
            // What Redis applied is read from the offsets it holds before the next write.
            self.uncertain = true;
            self.recheck.cover(&unconfirmed);
        }
        for (tp, first) in &unconfirmed.first {
            self.ctx.offset(tp, *first);
            let rewound = self.rewound.entry(tp.clone()).or_insert(*first);
            *rewound = (*rewound).min(*first);
        }
        for (tp, next) in &unconfirmed.next {
            let until = self.replay.entry(tp.clone()).or_insert(*next);
            *until = (*until).max(*next);
        }
        tracing::warn!(
            error = %redis_error(error, "a batch written ahead failed"),
            from = ?unconfirmed.first,
            "reading the partitions again from the first record Redis did not confirm, one batch at a time"
        );
    }

    /// A batch was written and confirmed: its partitions are past a failure once past the
    /// failed batches.
    fn confirmed(&mut self, span: &Span) {
        for (tp, next) in &span.next {
            self.rewound.remove(tp);
            if self.recheck.next.get(tp).is_some_and(|until| until <= next) {
                self.recheck.first.remove(tp);
                self.recheck.next.remove(tp);
            }
            if self.replay.get(tp).is_some_and(|until| until <= next) {
                self.replay.remove(tp);
            }
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
        self.refused_by_type(keys).await.map(Some)
    }

    /// The records whose keys hold another type than this sink writes (Redis refused their
    /// commands with WRONGTYPE), found by asking the keys' `TYPE`.
    async fn refused_by_type(
        &mut self,
        keys: &[(usize, Arg)],
    ) -> Result<Vec<(usize, String)>, ConnectError> {
        let Some(expected) = expected_type(self.config.ty, self.config.counter_field.is_some())
        else {
            return Ok(Vec::new());
        };
        if keys.is_empty() {
            return Ok(Vec::new());
        }
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
        Ok(refused)
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

/// What `EXEC` answered.
enum ExecAnswer {
    /// Redis ran the transaction.
    Ran,
    /// Redis did not run it (why).
    NotRun(&'static str),
    /// An error in the answer: a command refused (the others were applied) or the connection.
    Failed(FredError),
}

fn exec_answer(answers: Vec<Result<Arg, FredError>>) -> ExecAnswer {
    match answers.into_iter().next() {
        Some(Ok(Arg::Null)) => {
            ExecAnswer::NotRun("Redis aborted the transaction (EXEC answered nil)")
        }
        Some(Ok(_)) => ExecAnswer::Ran,
        Some(Err(e)) => ExecAnswer::Failed(e),
        None => ExecAnswer::NotRun("Redis did not answer EXEC"),
    }
}

/// The memory an argument holds while its batch is in flight: its bytes and fred's value
/// around them (a command of many small arguments, such as a HSET of many fields, holds
/// more than its bytes).
fn arg_size(arg: &Arg) -> usize {
    let bytes = match arg {
        Arg::Bytes(b) => b.len(),
        Arg::String(t) => t.len(),
        _ => 0,
    };
    bytes + std::mem::size_of::<Arg>()
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
        let (client, connection) = if config.redis.is_cluster() {
            (config.redis.connect().await?, None)
        } else {
            let (client, connection) = config.redis.connect_without_reconnect().await?;
            (client, Some(connection))
        };
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
            discard_first: false,
            reported: HashMap::new(),
            commands: Vec::new(),
            owners: Vec::new(),
            connection,
            window: Window::default(),
            replay: HashMap::new(),
            rewound: HashMap::new(),
            recheck: Span::default(),
        })
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        self.unloaded.extend(partitions.iter().cloned());
        if self.window.is_empty() {
            if let Err(e) = self.reconnect_if_lost().await {
                // Not fatal: put connects again before writing anything.
                tracing::warn!(error = %e, "cannot reach Redis yet");
                return Ok(());
            }
        }
        if let Err(e) = self.load_offsets(None).await {
            // Not fatal: put reads them before writing anything.
            tracing::warn!(error = %e, "cannot read the Kafka offsets kept in Redis yet");
        }
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        // Redis' answers to the batches written ahead; after a failure this batch is read
        // again, with the failed ones.
        if let Some(failed) = self.window.collect(&mut self.applied).await {
            self.read_again(failed, Span::of(records));
            return Ok(());
        }
        let ahead = self.writes_ahead();
        if !ahead || self.connection_lost() {
            if let Some(failed) = self.window.drain(&mut self.applied).await {
                self.read_again(failed, Span::of(records));
                return Ok(());
            }
        }
        self.reconnect_if_lost().await?;
        self.discard_open_transaction().await?;
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
        let mut recheck_keys = Vec::new();
        let mut span = Span::default();
        self.commands.clear();
        self.owners.clear();
        for (i, record) in records.iter().enumerate() {
            let tp = &record.original;
            if rewind.contains(tp) {
                continue;
            }
            span.add(tp, record.original_offset);
            if self
                .applied
                .get(tp)
                .is_some_and(|n| record.original_offset < *n)
            {
                if self.recheck.holds(tp, record.original_offset) {
                    // Applied in a transaction that failed: was this record's command refused?
                    let mut scratch = Vec::new();
                    if self.encoder.encode(record, &mut scratch).is_ok() {
                        if let Some(key) = scratch.first().and_then(Command::key) {
                            recheck_keys.push((i, key.clone()));
                        }
                    }
                }
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
        let refused = self.refused_by_type(&recheck_keys).await?;
        self.report(records, &refused).await?;
        if self.commands.is_empty() && (!self.config.exactly_once || next.is_empty()) {
            if self.window.is_empty() {
                self.applied.extend(next);
                self.confirmed(&span);
            } else {
                // Counts as written once the batches before it are.
                self.window.push(Sent {
                    replies: Vec::new(),
                    span,
                    bytes: 0,
                });
            }
            return Ok(());
        }

        self.metrics.round_trips.inc();
        self.metrics.commands.inc_by(self.commands.len() as u64);
        let prepared = match self.prepare(&next).await {
            Ok(prepared) => prepared,
            Err(e) => {
                self.metrics.errors.inc();
                return Err(redis_error(e, "cannot write the batch to Redis"));
            }
        };
        if ahead {
            self.write_ahead(prepared, span).await;
            return Ok(());
        }
        let written = self.write_now(prepared).await;
        if written.is_err() {
            self.metrics.errors.inc();
            self.discard_first = self.config.transactional();
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
        self.wait_for_replicas().await?;
        self.confirmed(&span);
        Ok(())
    }

    async fn pre_commit(&mut self, mut offsets: Offsets) -> Result<Offsets, ConnectError> {
        if let Some(failed) = self.window.drain(&mut self.applied).await {
            self.read_again(failed, Span::default());
        }
        for (tp, first) in &self.rewound {
            if let Some(offset) = offsets.get_mut(tp) {
                *offset = (*offset).min(*first);
            }
        }
        Ok(offsets)
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        // The worker committed (after `pre_commit`, which waits for every answer) before it
        // closes partitions; this wait finds nothing in flight unless it did not.
        if let Some(failed) = self.window.drain(&mut self.applied).await {
            self.read_again(failed, Span::default());
        }
        for tp in partitions {
            self.applied.remove(tp);
            self.unloaded.remove(tp);
            self.reported.remove(tp);
            self.replay.remove(tp);
            self.rewound.remove(tp);
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        // Let the batches in flight finish before the connection closes; their records are
        // read again if not committed.
        let _ = self.window.drain(&mut self.applied).await;
        if !self.connection_lost() {
            let _ = self.client.quit().await;
        }
        Ok(())
    }
}
