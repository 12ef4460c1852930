//! The stream source task: `XREADGROUP` in a consumer group shared by the tasks, `XACK` once
//! Kafka has the records, `XAUTOCLAIM` of entries other consumers left pending.
//!
//! Reads go on a connection of their own, so a blocking `XREADGROUP` never holds up an `XACK`
//! or `XAUTOCLAIM`, and run on a tokio task of their own, which also turns the reply into
//! records. At least once, the next reads are sent as soon as `poll` returns (read-ahead),
//! so Redis and that task work while the worker converts and produces the batch: the stream
//! is read as fast as a reader that does nothing else. At most two reads are ahead (two
//! batches of memory), sent on the connection in order; their entries are pending for this
//! consumer, so if the task stops before handing them out they are read again at the next
//! start. At most once (`NOACK`) nothing is read ahead: entries read and never handed out
//! would be lost.
//!
//! Acknowledgement: `commit_record` (Kafka has the record) and `commit_dropped` (a transform
//! dropped it or `errors.tolerance=all` skipped it; Kafka Connect calls `commitRecord` with no
//! metadata then) queue the id in `to_ack`; the next `poll` and every `commit` send those
//! `XACK`s. A poll does not wait for their answer (Redis serves them between the reads ahead,
//! and waiting took as long as a read): a later poll reads it once it is there, and `commit`
//! waits for it. One round of `XACK`s is in flight at a time (ids queued meanwhile go with
//! the next round); ids whose `XACK` failed are sent again. Nothing else acknowledges an
//! entry: the worker polls the next batch while the previous one is being produced, so an
//! entry handed out and not committed yet is in flight, not dropped. Entries handed out and
//! never committed (the task stopped or crashed) stay pending and are read again.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connect_core::connector::{RecordMetadata, SourceTask, SourceTaskContext};
use connect_core::data::Text;
use connect_core::metrics::Counter;
use connect_core::record::SourceRecord;
use connect_core::ConnectError;
use fred::prelude::{Client, ClientLike};
use fred::types::Value as Reply;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::{check_topic, StreamSourceConfig, TOPIC_CONFIG};
use super::record::{source_partition, Converter, OFFSET_FIELD, STREAM_FIELD};
use crate::connection::redis_error;
use crate::source::reply::{self, error_code, Entry};
use crate::source::scan::all_keys;
use crate::source::{arg, is_glob, keyed, lossy_text, now_millis};

/// XACK takes this many ids per command at most, to keep commands small.
const ACK_CHUNK: usize = 1000;
/// One XREADGROUP of new entries reads at most this many per stream (see `start_read`).
const READ_CHUNK: usize = 1000;
/// Reads of new entries sent ahead of the polls that hand them out: while the worker takes
/// one batch, the next one is read and turned into records, and Redis has the one after
/// that to serve already. At most this many batches of entries are in memory besides the
/// worker's.
const READ_AHEAD: usize = 2;

/// One stream the task reads.
#[derive(Debug)]
struct StreamState {
    name: Text,
    /// Named in the configuration (so `XGROUP CREATE ... MKSTREAM` creates it if missing), not
    /// found through a pattern (which is dropped when it disappears).
    named: bool,
    converter: Converter,
    group_ready: bool,
    /// While re-reading this consumer's own pending entries: the id to go on after. `None`
    /// once they are all read again and new entries (`>`) are read.
    pending_from: Option<Text>,
    /// Where the next `XAUTOCLAIM` goes on from.
    claim_from: Text,
    /// The last entry id handed out, where a group created again starts.
    last_id: Option<Text>,
}

/// The task of [`RedisStreamSourceConnector`](super::RedisStreamSourceConnector).
pub struct RedisStreamSourceTask {
    config: StreamSourceConfig,
    /// This task's consumer name in the group.
    consumer: String,
    /// For everything but `XREADGROUP`.
    client: Client,
    /// For `XREADGROUP` only (it blocks).
    read_client: Client,
    /// The reads sent ahead (see `start_read_ahead`), oldest first.
    read_ahead: VecDeque<Read>,
    /// Told once the last read started has gone on the connection.
    last_read_sent: Option<oneshot::Receiver<()>>,
    ctx: Arc<dyn SourceTaskContext>,
    streams: Vec<StreamState>,
    /// The glob patterns of `redis.stream.name`, resolved every `pattern_refresh`.
    patterns: Vec<String>,
    next_refresh: Instant,
    next_claim: Instant,
    /// Where the next read starts among the streams, when there are more than a batch.
    rotate: usize,
    /// Ids to XACK, by stream.
    to_ack: HashMap<Text, Vec<Text>>,
    /// The XACKs sent last, until their answer is read.
    acking: Option<Acking>,
    /// Entries acknowledged with XACK, and claimed with XAUTOCLAIM (metrics).
    acknowledged: Counter,
    claimed: Counter,
}

impl std::fmt::Debug for RedisStreamSourceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamSourceTask")
            .field("group", &self.config.group)
            .field("consumer", &self.consumer)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SourceTask for RedisStreamSourceTask {
    type Config = StreamSourceConfig;

    async fn start(
        config: StreamSourceConfig,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<Self, ConnectError> {
        let client = config.redis.connect().await?;
        let read_client = config.redis.connect().await?;
        Self::new(config, ctx, client, read_client)
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let mut records = Vec::new();
        let read_ahead = !self.read_ahead.is_empty();
        match self.read_ahead.pop_front() {
            Some(read) => {
                // XACKs answered meanwhile are read, and the ids queued since go out; while
                // Redis has not answered yet, they wait for a later poll.
                let acked = if self.acking.as_ref().is_some_and(|a| !a.is_finished()) {
                    Ok(())
                } else {
                    self.finish_ack().await
                };
                self.start_ack();
                let replied = read.reply().await;
                let result = self.finish_read(replied).await;
                match (acked, result) {
                    (Ok(()), result) => records = result?,
                    (Err(e), Ok(read)) if e.is_retriable() && !read.is_empty() => {
                        // Hand the entries out; their ids stay queued for the next XACK.
                        tracing::warn!(error = %e, "acknowledging entries failed; trying again at the next poll");
                        records = read;
                    }
                    (Err(e), Ok(read)) => {
                        if !read.is_empty() {
                            self.read_pending_again();
                        }
                        return Err(e);
                    }
                    // Both failed: the one that does not go away by retrying tells more.
                    (Err(ack), Err(read)) if read.is_retriable() => return Err(ack),
                    (Err(_), Err(read)) => return Err(read),
                }
            }
            None => self.ack().await?,
        }
        let ready = async {
            self.refresh_patterns().await?;
            self.ensure_groups().await
        }
        .await;
        if let Err(e) = ready {
            if !records.is_empty() {
                // Never handed out: read again from the pending entries after the retry.
                self.read_pending_again();
            }
            return Err(e);
        }
        if records.is_empty() && self.claim_due() {
            records = self.claim().await?;
        }
        if records.is_empty() && !read_ahead {
            records = self.read().await?;
        }
        self.start_read_ahead();
        Ok(records)
    }

    fn commit_record(&mut self, record: &SourceRecord, _metadata: &RecordMetadata) {
        self.done(record);
    }

    fn commit_dropped(&mut self, record: &SourceRecord) {
        self.done(record);
    }

    async fn commit(&mut self) -> Result<(), ConnectError> {
        self.ack().await
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        if !self.to_ack.is_empty() {
            tracing::debug!("stopping with entries not acknowledged yet; they are read again");
        }
        // Cancelled: their entries stay pending for this consumer. So do those of XACKs not
        // sent yet (the QUIT below may go first): they are delivered again at the next start.
        self.read_ahead.clear();
        let _ = self.client.quit().await;
        let _ = self.read_client.quit().await;
        Ok(())
    }
}

/// The stream and entry id of a record.
fn ids_of(record: &SourceRecord) -> (Option<&str>, Option<&str>) {
    (
        record
            .source_partition
            .get(STREAM_FIELD)
            .and_then(|v| v.as_str()),
        record
            .source_offset
            .get(OFFSET_FIELD)
            .and_then(|v| v.as_str()),
    )
}

/// How often to look for entries to claim: half the idle time, between 1 and 30 seconds.
fn claim_interval(idle: Option<Duration>) -> Duration {
    idle.map_or(Duration::from_secs(3600), |idle| {
        (idle / 2).clamp(Duration::from_secs(1), Duration::from_secs(30))
    })
}

impl RedisStreamSourceTask {
    /// The task `ctx` names, reading with clients connected as `config.redis` says.
    fn new(
        config: StreamSourceConfig,
        ctx: Arc<dyn SourceTaskContext>,
        client: Client,
        read_client: Client,
    ) -> Result<Self, ConnectError> {
        let consumer = config.consumer_for(ctx.task());
        let (patterns, names): (Vec<String>, Vec<String>) =
            config.streams.iter().cloned().partition(|s| is_glob(s));
        tracing::info!(
            uri = config.redis.shown_uri(),
            streams = ?config.streams,
            group = config.group,
            consumer,
            at_least_once = config.at_least_once,
            "Starting the Redis stream source task"
        );
        let now = Instant::now();
        let mut task = Self {
            consumer,
            client,
            read_client,
            read_ahead: VecDeque::new(),
            last_read_sent: None,
            streams: Vec::new(),
            patterns,
            next_refresh: now,
            next_claim: now + claim_interval(config.claim_idle),
            rotate: 0,
            to_ack: HashMap::new(),
            acking: None,
            acknowledged: ctx.counter(
                "redis_source_stream_acknowledged_total",
                "Stream entries acknowledged (XACK) once Kafka had their records.",
            ),
            claimed: ctx.counter(
                "redis_source_stream_claimed_total",
                "Stream entries claimed (XAUTOCLAIM) from consumers that left them pending.",
            ),
            ctx,
            config,
        };
        for name in names {
            task.add_stream(Text::from(name), true)?;
        }
        Ok(task)
    }

    /// Adds a stream to read, checking its topic.
    fn add_stream(&mut self, name: Text, named: bool) -> Result<(), ConnectError> {
        if self.streams.iter().any(|s| s.name == name) {
            return Ok(());
        }
        let topic = self.config.topic_for(&name);
        check_topic(&topic).map_err(|m| {
            ConnectError::config(TOPIC_CONFIG, format!("for the stream {name}: {m}"))
        })?;
        tracing::info!(stream = %name, topic, "reading stream");
        self.streams.push(StreamState {
            converter: Converter {
                stream: name.clone(),
                topic: topic.into(),
                partition: source_partition(&name),
                key_field: self.config.key_field.clone(),
                format: self.config.value_format,
            },
            name,
            named,
            group_ready: false,
            // At least once: first read again what this consumer was handed and did not
            // acknowledge (it crashed, or the reply of a read was lost).
            pending_from: self.config.at_least_once.then(|| Text::from("0-0")),
            claim_from: Text::from("0-0"),
            last_id: None,
        });
        Ok(())
    }

    /// The worker is done with `record` (Kafka has it, or it was dropped): its id is to be
    /// acknowledged.
    fn done(&mut self, record: &SourceRecord) {
        if let (Some(stream), Some(id)) = ids_of(record) {
            let id = Text::from(id);
            // No key copied per record: the stream is nearly always queued already.
            match self.to_ack.get_mut(stream) {
                Some(ids) => ids.push(id),
                None => {
                    self.to_ack.insert(Text::from(stream), vec![id]);
                }
            }
        }
    }

    /// XACKs every id Kafka acknowledged (or the worker dropped) and waits for Redis' answer.
    /// On failure the ids stay to be sent again.
    async fn ack(&mut self) -> Result<(), ConnectError> {
        self.finish_ack().await?;
        self.start_ack();
        self.finish_ack().await
    }

    /// Sends the XACKs of every id queued so far, answered on a tokio task of their own (see
    /// [`Acking`]); one round of them at a time.
    fn start_ack(&mut self) {
        if !self.config.at_least_once {
            self.to_ack.clear();
            return;
        }
        if self.to_ack.is_empty() || self.acking.is_some() {
            return;
        }
        let ids = std::mem::take(&mut self.to_ack);
        let client = self.client.clone();
        let group = self.config.group.clone();
        self.acking = Some(tokio::spawn(xack(client, group, ids)));
    }

    /// Waits for the XACKs sent last, if any. When they failed, their ids are queued again.
    async fn finish_ack(&mut self) -> Result<(), ConnectError> {
        let Some(acking) = self.acking.take() else {
            return Ok(());
        };
        match acking.await {
            Ok(Ok(count)) => {
                self.acknowledged.inc_by(count);
                Ok(())
            }
            Ok(Err(failed)) => {
                // XACK is idempotent: the ids of streams already acknowledged go again too.
                for (stream, ids) in failed.ids {
                    self.to_ack.entry(stream).or_default().extend(ids);
                }
                Err(redis_error(
                    failed.error,
                    &format!("acknowledging entries of {}", failed.stream),
                ))
            }
            // Its ids are lost to this task; their entries stay pending and are read again
            // after a restart, or claimed.
            Err(e) => Err(ConnectError::fatal(format!(
                "acknowledging entries stopped: {e}"
            ))),
        }
    }

    /// Resolves the patterns again when it is time to.
    async fn refresh_patterns(&mut self) -> Result<(), ConnectError> {
        if self.patterns.is_empty() || Instant::now() < self.next_refresh {
            return Ok(());
        }
        for pattern in self.patterns.clone() {
            for name in self.scan_streams(&pattern).await? {
                self.add_stream(name, false)?;
            }
        }
        self.next_refresh = Instant::now() + self.config.pattern_refresh;
        Ok(())
    }

    /// The streams whose names match `pattern`.
    async fn scan_streams(&self, pattern: &str) -> Result<Vec<Text>, ConnectError> {
        let keys = all_keys(&self.client, self.config.redis.is_cluster(), pattern, true)
            .await
            .map_err(|e| redis_error(e, &format!("looking for streams matching {pattern}")))?;
        Ok(keys.into_iter().map(lossy_text).collect())
    }

    /// Creates the consumer group on every stream that does not have it yet.
    async fn ensure_groups(&mut self) -> Result<(), ConnectError> {
        let mut vanished = Vec::new();
        for (index, stream) in self.streams.iter_mut().enumerate() {
            if stream.group_ready {
                continue;
            }
            let start = match &stream.last_id {
                Some(id) => id.to_string(),
                None => stored_offset(self.ctx.as_ref(), &stream.name)
                    .unwrap_or_else(|| self.config.offset.clone()),
            };
            let mut args: Vec<Reply> = vec![
                "CREATE".into(),
                arg(&stream.name),
                self.config.group.as_str().into(),
                start.as_str().into(),
            ];
            if stream.named {
                args.push("MKSTREAM".into());
            }
            match self
                .client
                .custom::<Reply, Reply>(keyed("XGROUP", stream.name.as_bytes(), false), args)
                .await
            {
                Ok(_) => {
                    tracing::info!(stream = %stream.name, group = self.config.group, start, "created the consumer group");
                    stream.group_ready = true;
                }
                Err(e) if error_code(&e) == "BUSYGROUP" => stream.group_ready = true,
                // A stream found through a pattern was deleted since.
                Err(e) if !stream.named && e.details().contains("requires the key to exist") => {
                    vanished.push(index);
                }
                Err(e) => {
                    return Err(redis_error(
                        e,
                        &format!(
                            "creating the consumer group {} on {}",
                            self.config.group, stream.name
                        ),
                    ))
                }
            }
        }
        for index in vanished.into_iter().rev() {
            let gone = self.streams.remove(index);
            tracing::info!(stream = %gone.name, "the stream no longer exists; no longer reading it");
        }
        Ok(())
    }

    fn claim_due(&self) -> bool {
        self.config.at_least_once
            && self.config.claim_idle.is_some()
            && Instant::now() >= self.next_claim
    }

    /// Claims entries pending for longer than the idle time (for consumers that died) and
    /// makes records of them.
    async fn claim(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let Some(idle) = self.config.claim_idle else {
            return Ok(Vec::new());
        };
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        let mut records = Vec::new();
        let mut more = false;
        for index in 0..self.streams.len() {
            let remaining = self.config.batch_size.saturating_sub(records.len());
            let stream = &self.streams[index];
            // A stream still being read again from its own pending entries would be claimed
            // from itself and delivered twice.
            if remaining == 0 || !stream.group_ready || stream.pending_from.is_some() {
                more |= remaining == 0;
                continue;
            }
            let args: Vec<Reply> = vec![
                arg(&stream.name),
                self.config.group.as_str().into(),
                self.consumer.as_str().into(),
                idle_ms.into(),
                arg(&stream.claim_from),
                "COUNT".into(),
                i64::try_from(remaining).unwrap_or(i64::MAX).into(),
            ];
            let result = self
                .client
                .custom::<Reply, Reply>(keyed("XAUTOCLAIM", stream.name.as_bytes(), false), args)
                .await;
            let answer = match result {
                Ok(answer) => answer,
                Err(e) => return Err(self.read_failed(e, "claiming idle entries")),
            };
            let (cursor, claimed, deleted) = reply::xautoclaim(answer).map_err(bad_reply)?;
            if !claimed.is_empty() || !deleted.is_empty() {
                tracing::info!(
                    stream = %stream.name,
                    claimed = claimed.len(),
                    deleted = deleted.len(),
                    "claimed entries pending longer than {idle:?} for other consumers"
                );
            }
            self.claimed.inc_by(claimed.len() as u64);
            more |= cursor != "0-0";
            self.streams[index].claim_from = cursor;
            let read = StreamRead::new(&self.streams[index].converter, claimed);
            records.extend(self.took(index, read));
        }
        // Go on with the scan of the pending entries at the next poll if it is not complete.
        self.next_claim = if more {
            Instant::now()
        } else {
            Instant::now() + claim_interval(self.config.claim_idle)
        };
        Ok(records)
    }

    /// Reads entries: this consumer's own pending ones first, then new ones.
    async fn read(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        match self.start_read() {
            Some(read) => {
                let replied = read.reply().await;
                self.finish_read(replied).await
            }
            None => {
                tokio::time::sleep(self.config.block).await;
                Ok(Vec::new())
            }
        }
    }

    /// Sends the next reads now, when the next polls would send the same ones: at least once
    /// (see the module docs), no claim due (which comes before a read), every group there.
    /// One read goes ahead while a stream is read again from its pending entries (where the
    /// next such read starts is in the reply of the one before); up to [`READ_AHEAD`] once
    /// every stream is read for new entries (`>`), which Redis hands out in the order the
    /// reads arrive on the connection.
    fn start_read_ahead(&mut self) {
        if !self.config.at_least_once
            || self.claim_due()
            || !self.streams.iter().all(|s| s.group_ready)
        {
            return;
        }
        let depth = if self.streams.iter().all(|s| s.pending_from.is_none()) {
            READ_AHEAD
        } else {
            1
        };
        while self.read_ahead.len() < depth {
            match self.start_read() {
                Some(read) => self.read_ahead.push_back(read),
                None => break,
            }
        }
    }

    /// Sends an `XREADGROUP` for the next streams in turn (all of them when they fit in a
    /// batch); `None` when there is no stream to read.
    fn start_read(&mut self) -> Option<Read> {
        let n = self.streams.len();
        if n == 0 {
            return None; // only patterns that match nothing yet
        }
        // In a cluster the streams may live on different nodes: one stream per command.
        let take = if self.config.redis.is_cluster() {
            1
        } else {
            n.min(self.config.batch_size)
        };
        // COUNT applies to each stream; this keeps a poll within batch.size entries.
        let count = (self.config.batch_size / take).max(1);
        let chosen: Vec<usize> = (0..take).map(|i| (self.rotate + i) % n).collect();
        self.rotate = (self.rotate + take) % n;
        let all_new = chosen
            .iter()
            .all(|&i| self.streams[i].pending_from.is_none());
        // Blocking only when every stream is read (else the others would wait) and none is
        // being read again from its pending entries (those are there now, or not at all).
        let block = all_new && take == n;
        // New entries are read in pipelined commands of at most READ_CHUNK entries: Redis
        // serves the next while the reply of the previous one is decoded, and a smaller reply
        // is decoded in fewer passes (fred decodes a reply again from its start each time more
        // of it arrives). Pending entries are read in one command: where the next one starts
        // is in the reply.
        let commands = if all_new {
            count.div_ceil(READ_CHUNK)
        } else {
            1
        };
        let chunk = count.div_ceil(commands);
        let mut streams_args: Vec<Reply> = vec!["STREAMS".into()];
        streams_args.extend(chosen.iter().map(|&i| arg(&self.streams[i].name)));
        streams_args.extend(chosen.iter().map(|&i| match &self.streams[i].pending_from {
            Some(id) => arg(id),
            None => Reply::from(">"),
        }));
        let reads: Vec<Vec<Reply>> = (0..commands)
            .map(|index| {
                let mut args: Vec<Reply> = vec![
                    "GROUP".into(),
                    self.config.group.as_str().into(),
                    self.consumer.as_str().into(),
                    "COUNT".into(),
                    i64::try_from(chunk).unwrap_or(i64::MAX).into(),
                ];
                // Only the first blocks: when it returns, there are entries or there is time
                // to give up.
                if block && index == 0 {
                    args.push("BLOCK".into());
                    args.push(
                        i64::try_from(self.config.block.as_millis())
                            .unwrap_or(1000)
                            .into(),
                    );
                }
                if !self.config.at_least_once {
                    args.push("NOACK".into());
                }
                args.extend(streams_args.iter().cloned());
                args
            })
            .collect();
        // Routed by the first stream: in a cluster, the command names only one.
        let first_key = self.streams[chosen[0]].name.clone();
        let converters: Vec<Converter> = chosen
            .iter()
            .map(|&i| self.streams[i].converter.clone())
            .collect();
        let client = self.read_client.clone();
        // Reads hand out entries in the order Redis runs them, so each one goes on the
        // connection only after the read before it did (tokio may run their tasks in any
        // order).
        let previous_sent = self.last_read_sent.take();
        let (sent, sent_rx) = oneshot::channel::<()>();
        self.last_read_sent = Some(sent_rx);
        let reply = tokio::spawn(async move {
            // Sent, or cancelled (then its entries are read again anyway).
            if let Some(previous_sent) = previous_sent {
                let _ = previous_sent.await;
            }
            // Not marked as blocking: fred would then send nothing else on the connection
            // until it returns; this connection is for these reads only.
            let pipe = client.pipeline();
            for args in reads {
                let _: () = pipe
                    .custom(keyed("XREADGROUP", first_key.as_bytes(), false), args)
                    .await?;
            }
            // fred queues the commands for the connection in the first poll of `try_all`.
            let mut sent = Some(sent);
            let mut replies = std::pin::pin!(pipe.try_all::<Reply>());
            let answers = std::future::poll_fn(|cx| {
                let polled = std::future::Future::poll(replies.as_mut(), cx);
                if let Some(sent) = sent.take() {
                    let _ = sent.send(());
                }
                polled
            })
            .await;
            let mut by_stream: HashMap<Text, Vec<Entry>> = HashMap::new();
            for answer in answers {
                for (stream, entries) in reply::xread(answer?)? {
                    by_stream.entry(stream).or_default().extend(entries);
                }
            }
            Ok(converters
                .into_iter()
                .map(|converter| {
                    let entries = by_stream.remove(&converter.stream).unwrap_or_default();
                    StreamRead::new(&converter, entries)
                })
                .collect())
        });
        Some(Read { block, reply })
    }

    /// Takes in what a read got: records to hand out, where each stream goes on.
    async fn finish_read(
        &mut self,
        (block, reads): (bool, Result<Vec<StreamRead>, ReadError>),
    ) -> Result<Vec<SourceRecord>, ConnectError> {
        let reads = match reads {
            Ok(reads) => reads,
            Err(ReadError::Redis(e)) => return Err(self.read_failed(e, "reading entries")),
            Err(ReadError::Reply(e)) => return Err(bad_reply(e)),
            Err(ReadError::Task(e)) => {
                return Err(ConnectError::fatal(format!("the stream read stopped: {e}")))
            }
        };
        let mut records = Vec::new();
        for read in reads {
            // Streams only come and go between polls; one that went meanwhile is not read on.
            let Some(index) = self.streams.iter().position(|s| s.name == read.stream) else {
                continue;
            };
            let stream = &mut self.streams[index];
            if stream.pending_from.is_some() {
                match &read.last_id {
                    Some(last) => stream.pending_from = Some(last.clone()),
                    None => {
                        tracing::debug!(stream = %stream.name, "read again every pending entry; now reading new ones");
                        stream.pending_from = None;
                    }
                }
            }
            records.extend(self.took(index, read));
        }
        if records.is_empty() && !block {
            // Nothing in any stream and no blocking read: wait as a blocking read would, so an
            // idle task does not spin.
            tokio::time::sleep(self.config.block).await;
        }
        Ok(records)
    }

    /// Every stream is read again from this consumer's pending entries (at least once): what
    /// was read and not handed out is delivered again.
    fn read_pending_again(&mut self) {
        // Their entries stay pending for this consumer, and come first in the reads again.
        self.read_ahead.clear();
        if self.config.at_least_once {
            for stream in &mut self.streams {
                stream.pending_from = Some(Text::from("0-0"));
            }
        }
    }

    /// The error of a failed read or claim. Its reply may have been lost after Redis handed
    /// entries to this consumer, so the own pending entries are read again first; a missing
    /// group (the stream or the group was deleted) is created again.
    fn read_failed(&mut self, e: fred::error::Error, doing: &str) -> ConnectError {
        let nogroup = error_code(&e) == "NOGROUP";
        self.read_pending_again();
        if nogroup {
            for stream in &mut self.streams {
                stream.group_ready = false;
            }
        }
        if nogroup {
            // Retried after the group is created again: the stream or the group was deleted.
            self.next_refresh = Instant::now();
            return ConnectError::retriable(format!(
                "{doing}: the consumer group {} is missing ({}); creating it again",
                self.config.group,
                e.details()
            ));
        }
        redis_error(e, doing)
    }

    /// Notes what was read of the stream at `index`: where a group created again starts, and
    /// the deleted entries that were pending (acknowledged: there is nothing to deliver). The
    /// records to hand out.
    fn took(&mut self, index: usize, read: StreamRead) -> Vec<SourceRecord> {
        let stream = &mut self.streams[index];
        if read.last_id.is_some() {
            stream.last_id = read.last_id;
        }
        if !read.deleted.is_empty() && self.config.at_least_once {
            tracing::debug!(stream = %stream.name, count = read.deleted.len(), "pending entries were deleted; acknowledging them");
            self.to_ack
                .entry(stream.name.clone())
                .or_default()
                .extend(read.deleted);
        }
        read.records
    }
}

/// XACKs sent, their answer read on a tokio task of their own: the number of ids
/// acknowledged, or what failed with the ids to send again. Waiting for them in `poll` took
/// as long as reading a batch, since Redis serves them between the reads ahead.
type Acking = JoinHandle<Result<u64, AckFailed>>;

/// XACKs that failed.
struct AckFailed {
    /// Every id of the round, by stream.
    ids: HashMap<Text, Vec<Text>>,
    stream: Text,
    error: fred::error::Error,
}

/// XACKs `ids` in `group`: one round trip per stream, in commands of at most [`ACK_CHUNK`]
/// ids.
async fn xack(
    client: Client,
    group: String,
    ids: HashMap<Text, Vec<Text>>,
) -> Result<u64, AckFailed> {
    let mut count = 0;
    for (stream, stream_ids) in &ids {
        let pipe = client.pipeline();
        let mut queued = Ok(());
        for chunk in stream_ids.chunks(ACK_CHUNK) {
            let mut args: Vec<Reply> = Vec::with_capacity(chunk.len() + 2);
            args.push(arg(stream));
            args.push(Reply::from(group.as_str()));
            args.extend(chunk.iter().map(arg));
            queued = pipe
                .custom::<(), _>(keyed("XACK", stream.as_bytes(), false), args)
                .await;
            if queued.is_err() {
                break;
            }
        }
        let failed = match queued {
            Err(e) => Some(e),
            Ok(()) => pipe
                .try_all::<Reply>()
                .await
                .into_iter()
                .find_map(Result::err),
        };
        if let Some(error) = failed {
            let stream = stream.clone();
            return Err(AckFailed { ids, stream, error });
        }
        count += stream_ids.len() as u64;
    }
    Ok(count)
}

/// An `XREADGROUP` sent, its reply read into records on a tokio task of its own. Dropped, the
/// read is cancelled.
struct Read {
    block: bool,
    reply: JoinHandle<Result<Vec<StreamRead>, ReadError>>,
}

impl Read {
    /// Waits for the reply; also tells whether the read blocked.
    async fn reply(mut self) -> (bool, Result<Vec<StreamRead>, ReadError>) {
        let reads = match (&mut self.reply).await {
            Ok(reads) => reads,
            Err(e) => Err(ReadError::Task(e.to_string())),
        };
        (self.block, reads)
    }
}

impl Drop for Read {
    fn drop(&mut self) {
        self.reply.abort();
    }
}

/// Why a read got no entries.
enum ReadError {
    Redis(fred::error::Error),
    Reply(reply::BadReply),
    /// The task reading the reply panicked or was cancelled.
    Task(String),
}

impl From<fred::error::Error> for ReadError {
    fn from(e: fred::error::Error) -> Self {
        Self::Redis(e)
    }
}

impl From<reply::BadReply> for ReadError {
    fn from(e: reply::BadReply) -> Self {
        Self::Reply(e)
    }
}

/// What a read (or a claim) got of one stream.
struct StreamRead {
    stream: Text,
    records: Vec<SourceRecord>,
    /// The last entry id, deleted or not.
    last_id: Option<Text>,
    /// Pending entries deleted since they were delivered (they come without fields).
    deleted: Vec<Text>,
}

impl StreamRead {
    fn new(converter: &Converter, entries: Vec<Entry>) -> Self {
        let last_id = entries.last().map(|e| e.id.clone());
        let mut records = Vec::with_capacity(entries.len());
        let mut deleted = Vec::new();
        let now = now_millis();
        for entry in entries {
            match entry.fields {
                Some(fields) => records.push(converter.record(entry.id, fields, now)),
                None => deleted.push(entry.id),
            }
        }
        Self {
            stream: converter.stream.clone(),
            records,
            last_id,
            deleted,
        }
    }
}

/// The entry id the worker stored as the last delivered of a stream.
fn stored_offset(ctx: &dyn SourceTaskContext, stream: &str) -> Option<String> {
    ctx.offset(&source_partition(stream))?
        .get(OFFSET_FIELD)?
        .as_str()
        .map(str::to_owned)
}

fn bad_reply(e: reply::BadReply) -> ConnectError {
    ConnectError::fatal(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::{props, Config};
    use connect_core::connector::TaskIdentity;
    use connect_core::record::SourceMap;
    use connect_core::testing::{start_source_task, TestSourceContext};

    /// The task of `ctx`, built without connecting: these tests never reach Redis.
    fn task(pairs: &[(&str, &str)], ctx: &Arc<TestSourceContext>) -> RedisStreamSourceTask {
        let config = StreamSourceConfig::parse(&props(pairs)).unwrap();
        let ctx = Arc::clone(ctx) as Arc<dyn SourceTaskContext>;
        RedisStreamSourceTask::new(config, ctx, Client::default(), Client::default()).unwrap()
    }

    fn metadata() -> RecordMetadata {
        RecordMetadata {
            topic: "orders".into(),
            partition: 0,
            offset: 0,
            timestamp: None,
        }
    }

    #[test]
    fn the_consumer_is_named_by_the_task_number_the_worker_gives() {
        let ctx = TestSourceContext::for_task(TaskIdentity::new("orders-source", 2, 3));
        let task = task(&[("redis.stream.name", "orders")], &ctx);
        assert_eq!(task.consumer, "consumer-2");
        assert_eq!(task.streams.len(), 1);
        assert_eq!(
            ctx.counter_value("redis_source_stream_acknowledged_total"),
            Some(0)
        );
        assert_eq!(
            ctx.counter_value("redis_source_stream_claimed_total"),
            Some(0)
        );
    }

    #[test]
    fn a_group_created_again_starts_after_the_stored_offset() {
        let ctx = TestSourceContext::new();
        let mut offset = SourceMap::new();
        offset.insert(OFFSET_FIELD.to_owned(), "1700000000000-3".into());
        ctx.store_offset(source_partition("orders"), offset);
        let task = task(&[("redis.stream.name", "orders,invoices")], &ctx);
        assert_eq!(
            stored_offset(task.ctx.as_ref(), "orders").as_deref(),
            Some("1700000000000-3")
        );
        assert_eq!(stored_offset(task.ctx.as_ref(), "invoices"), None);
    }

    #[test]
    fn committed_and_dropped_records_are_queued_for_xack_by_stream() {
        let ctx = TestSourceContext::new();
        let mut task = task(&[("redis.stream.name", "orders,invoices")], &ctx);
        let record = |stream: usize, id: &str| {
            task.streams[stream]
                .converter
                .record(id.into(), vec![], None)
        };
        let (a, b, c) = (record(0, "1-0"), record(0, "2-0"), record(1, "1-0"));
        task.commit_record(&a, &metadata());
        task.commit_dropped(&b);
        task.commit_record(&c, &metadata());
        assert_eq!(task.to_ack[&Text::from("orders")], ["1-0", "2-0"]);
        assert_eq!(task.to_ack[&Text::from("invoices")], ["1-0"]);
    }

    #[tokio::test]
    async fn at_most_once_commits_acknowledge_nothing() {
        let ctx = TestSourceContext::new();
        let mut task = task(
            &[
                ("redis.stream.name", "orders"),
                ("redis.stream.delivery", "at-most-once"),
            ],
            &ctx,
        );
        let record = task.streams[0].converter.record("1-0".into(), vec![], None);
        task.commit_record(&record, &metadata());
        // The client is not connected: an XACK would fail.
        task.commit().await.unwrap();
        assert!(task.to_ack.is_empty());
        assert_eq!(
            ctx.counter_value("redis_source_stream_acknowledged_total"),
            Some(0)
        );
    }

    #[tokio::test]
    async fn start_fails_naming_the_unreachable_redis_or_the_bad_key() {
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri = format!("redis://127.0.0.1:{port}");
        let ctx = TestSourceContext::new();
        let error = start_source_task::<RedisStreamSourceTask>(
            &props(&[
                ("redis.stream.name", "orders"),
                ("redis.uri", &uri),
                ("redis.timeout", "1"),
            ]),
            &ctx,
        )
        .await
        .unwrap_err();
        assert!(!error.is_retriable());
        assert!(
            error
                .to_string()
                .contains(&format!("cannot connect to Redis at {uri}")),
            "{error}"
        );

        let error = start_source_task::<RedisStreamSourceTask>(
            &props(&[("redis.stream.name", "orders:eu")]),
            &ctx,
        )
        .await
        .unwrap_err();
        let ConnectError::Config(errors) = error else {
            panic!("not a configuration error: {error}");
        };
        assert_eq!(errors.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["topic"]);
    }

    #[test]
    fn claim_intervals() {
        assert_eq!(
            claim_interval(Some(Duration::from_secs(60))),
            Duration::from_secs(30)
        );
        assert_eq!(
            claim_interval(Some(Duration::from_millis(500))),
            Duration::from_secs(1)
        );
        assert_eq!(
            claim_interval(Some(Duration::from_secs(600))),
            Duration::from_secs(30)
        );
        assert_eq!(claim_interval(None), Duration::from_secs(3600));
    }
}
