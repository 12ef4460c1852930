//! The list source task.
//!
//! The task's processing list holds, oldest at the tail, the items it took and Kafka does not
//! have yet. Only this task touches it and the worker never overlaps its calls (it may poll the
//! next batch before it commits the previous one), so:
//! - at the start (and after any failure whose outcome is unknown) the task sends what the
//!   processing list holds, oldest first, before it takes new items ("recovery");
//! - `commit_record` (Kafka has the item) and `commit_dropped` (a transform dropped it or
//!   `errors.tolerance=all` skipped it) mark an item done; the next `poll` and each `commit`
//!   remove the done items with `LREM key -1 item` (the tail-most equal item, which is the one
//!   sent: the worker commits records in the order they were polled). Nothing else marks an
//!   item done: the worker polls the next batch while the previous one is being produced, so
//!   an item still handed out at a `poll` is in flight, not dropped;
//! - recovery waits until no item is handed out (a `poll` returns nothing meanwhile), so it
//!   does not send again the items of a batch in flight;
//! - when a removal fails, whether it happened is unknown: it is not retried (that could
//!   remove an equal item not yet sent) but the processing list is sent again from the tail,
//!   so the failure may duplicate items and never loses one.
//!
//! One client suffices: `BLMOVE` blocks only inside `poll`, and nothing else runs meanwhile.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use connect_core::connector::{RecordMetadata, SourceTask, SourceTaskContext};
use connect_core::metrics::Counter;
use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
use connect_core::ConnectError;
use fred::prelude::{Client, ClientLike};
use fred::types::Value as Reply;

use super::ListSourceConfig;
use crate::connection::redis_error;
use crate::source::reply::{self, array};
use crate::source::scan::all_keys;
use crate::source::{escape_glob, keyed, now_millis};

/// The source offset's key: a number identifying the record within this run of the task.
const SEQ_FIELD: &str = "seq";

/// The task of [`RedisListSourceConnector`](super::RedisListSourceConnector).
pub struct RedisListSourceTask {
    config: ListSourceConfig,
    /// This task's processing list.
    processing: String,
    client: Client,
    partition: SourceMap,
    /// `LEFT`/`RIGHT`: the end taken from, and the processing list's end pushed to.
    from: &'static str,
    /// Send what the processing list holds before taking new items.
    recovering: bool,
    next_seq: u64,
    /// Items handed out that the worker has not committed (or dropped) yet, by sequence number.
    handed_out: HashMap<u64, Bytes>,
    /// Items to remove from the processing list.
    done: Vec<Bytes>,
    /// Items removed once Kafka had them, and items sent again from the processing list.
    removed: Counter,
    recovered: Counter,
}

impl std::fmt::Debug for RedisListSourceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisListSourceTask")
            .field("list", &self.config.list)
            .field("processing", &self.processing)
            .field("recovering", &self.recovering)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SourceTask for RedisListSourceTask {
    type Config = ListSourceConfig;

    async fn start(
        config: ListSourceConfig,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<Self, ConnectError> {
        let client = config.redis.connect().await?;
        let processing = config.processing_for(ctx.task());
        tracing::info!(
            uri = config.redis.shown_uri(),
            list = config.list,
            processing,
            "Starting the Redis list source task"
        );
        let mut partition = SourceMap::new();
        partition.insert("list".to_owned(), config.list.as_str().into());
        partition.insert("processing".to_owned(), processing.as_str().into());
        let mut task = Self {
            from: if config.pop_left { "LEFT" } else { "RIGHT" },
            config,
            processing,
            client,
            partition,
            recovering: true,
            next_seq: 0,
            handed_out: HashMap::new(),
            done: Vec::new(),
            removed: ctx.counter(
                "redis_source_list_removed_total",
                "Items removed from the processing list once Kafka had their records.",
            ),
            recovered: ctx.counter(
                "redis_source_list_recovered_total",
                "Items sent again from the processing list (after a restart or a failure).",
            ),
        };
        if ctx.task().id == 0 {
            // At least this task exists: its own list is never taken as an orphan's.
            task.adopt_orphans(ctx.task().count.max(1)).await?;
        }
        Ok(task)
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        self.remove_done().await?;
        let items = if self.recovering {
            if !self.handed_out.is_empty() {
                // A batch is in flight: its items are in the processing list too, and are not
                // to be sent again (see the module's documentation).
                return Ok(Vec::new());
            }
            self.leftovers().await?
        } else {
            self.take().await?
        };
        Ok(items.into_iter().map(|item| self.record(item)).collect())
    }

    fn commit_record(&mut self, record: &SourceRecord, _metadata: &RecordMetadata) {
        self.done_with(record);
    }

    fn commit_dropped(&mut self, record: &SourceRecord) {
        self.done_with(record);
    }

    async fn commit(&mut self) -> Result<(), ConnectError> {
        self.remove_done().await
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        let _ = self.client.quit().await;
        Ok(())
    }
}

impl RedisListSourceTask {
    /// The record of an item, remembered until Kafka acknowledges it.
    fn record(&mut self, item: Bytes) -> SourceRecord {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.handed_out.insert(seq, item.clone());
        let (value, schema) = self.config.format.value(item);
        let mut offset = SourceMap::new();
        offset.insert(SEQ_FIELD.to_owned(), seq.into());
        let mut record = ConnectRecord::new(self.config.topic.as_str(), value);
        record.value_schema = Some(schema);
        record.timestamp = now_millis();
        SourceRecord::new(self.partition.clone(), offset, record)
    }

    /// The worker is done with `record` (Kafka has it, or it was dropped): its item is to be
    /// removed from the processing list.
    fn done_with(&mut self, record: &SourceRecord) {
        let seq = record.source_offset.get(SEQ_FIELD).and_then(|v| v.as_u64());
        if let Some(item) = seq.and_then(|seq| self.handed_out.remove(&seq)) {
            self.done.push(item);
        }
    }

    /// Removes the done items from the processing list, in one round trip.
    async fn remove_done(&mut self) -> Result<(), ConnectError> {
        if self.done.is_empty() {
            return Ok(());
        }
        let pipe = self.client.pipeline();
        for item in &self.done {
            let args: Vec<Reply> = vec![
                self.processing.as_str().into(),
                (-1i64).into(),
                Reply::Bytes(item.clone()),
            ];
            let _: () = pipe
                .custom(keyed("LREM", self.processing.as_bytes(), false), args)
                .await
                .map_err(|e| redis_error(e, "queueing LREM"))?;
        }
        let results: Vec<Result<Reply, _>> = pipe.try_all().await;
        let count = self.done.len();
        self.done.clear();
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            // Not retried (see the module's documentation): send the processing list again.
            self.recovering = true;
            return Err(redis_error(
                e,
                &format!("removing {count} delivered items from {}", self.processing),
            ));
        }
        self.removed.inc_by(count as u64);
        Ok(())
    }

    /// The oldest items of the processing list, up to a batch; recovery ends when it is empty.
    async fn leftovers(&mut self) -> Result<Vec<Bytes>, ConnectError> {
        let batch = i64::try_from(self.config.batch_size).unwrap_or(i64::MAX);
        let args: Vec<Reply> = vec![
            self.processing.as_str().into(),
            (-batch).into(),
            (-1i64).into(),
        ];
        let answer = self
            .client
            .custom::<Reply, Reply>(keyed("LRANGE", self.processing.as_bytes(), false), args)
            .await
            .map_err(|e| redis_error(e, &format!("reading {}", self.processing)))?;
        let mut items = items(answer)?;
        if items.is_empty() {
            self.recovering = false;
            return self.take().await;
        }
        tracing::info!(
            count = items.len(),
            processing = self.processing,
            "sending items left in the processing list first"
        );
        items.reverse(); // the tail, oldest first
        self.recovered.inc_by(items.len() as u64);
        Ok(items)
    }

    /// Moves up to a batch of new items into the processing list: one `BLMOVE` that waits,
    /// then `LMOVE`s in one pipeline for the rest of the batch.
    async fn take(&mut self) -> Result<Vec<Bytes>, ConnectError> {
        let args = self.move_args(Some(self.config.block.as_secs_f64()));
        let first = self
            .client
            .custom::<Reply, Reply>(keyed("BLMOVE", self.config.list.as_bytes(), true), args)
            .await;
        let first = match first {
            Ok(Reply::Null) => return Ok(Vec::new()),
            Ok(item) => item,
            Err(e) => return Err(self.lost(e, "waiting for items (BLMOVE)")),
        };
        let mut items = Vec::with_capacity(self.config.batch_size);
        items.push(reply::bytes(first).unwrap_or_default());
        // As many LMOVEs as there are items (up to the batch), not a batch of them whatever the
        // list holds: a queue fed one item at a time would cost a batch of commands per item.
        let waiting = self
            .client
            .custom::<Reply, Reply>(
                keyed("LLEN", self.config.list.as_bytes(), false),
                vec![Reply::from(self.config.list.as_str())],
            )
            .await;
        let waiting = match waiting {
            Ok(Reply::Integer(n)) => usize::try_from(n).unwrap_or(0),
            Ok(_) => 0,
            Err(e) => return Err(self.lost(e, "counting items (LLEN)")),
        };
        let more = waiting.min(self.config.batch_size - 1);
        if more > 0 {
            let pipe = self.client.pipeline();
            for _ in 0..more {
                let args = self.move_args(None);
                let _: () = pipe
                    .custom(keyed("LMOVE", self.config.list.as_bytes(), false), args)
                    .await
                    .map_err(|e| redis_error(e, "queueing LMOVE"))?;
            }
            for result in pipe.try_all::<Reply>().await {
                match result {
                    // The list was empty for this one; a later one may still have moved an
                    // item pushed meanwhile, so every reply is looked at.
                    Ok(Reply::Null) => {}
                    Ok(item) => items.push(reply::bytes(item).unwrap_or_default()),
                    Err(e) => return Err(self.lost(e, "taking items (LMOVE)")),
                }
            }
        }
        Ok(items)
    }

    /// `[B]LMOVE list processing <from> LEFT [timeout]`.
    fn move_args(&self, timeout: Option<f64>) -> Vec<Reply> {
        let mut args: Vec<Reply> = vec![
            self.config.list.as_str().into(),
            self.processing.as_str().into(),
            self.from.into(),
            "LEFT".into(),
        ];
        if let Some(seconds) = timeout {
            args.push(format!("{seconds:.3}").into());
        }
        args
    }

    /// A move whose reply was lost may have moved items into the processing list: send it
    /// again before taking new items. Items moved in this poll are not handed out, so that
    /// costs no duplicate.
    fn lost(&mut self, e: fred::error::Error, doing: &str) -> ConnectError {
        self.recovering = true;
        redis_error(e, doing)
    }

    /// Task 0 takes over the processing lists of tasks that no longer exist (the connector
    /// runs fewer than before: `task_count` now), moving their items into its own, oldest
    /// first.
    async fn adopt_orphans(&mut self, task_count: usize) -> Result<(), ConnectError> {
        let template = self.config.processing_template.clone();
        let Some((prefix, suffix)) = template.split_once("${task}") else {
            return Ok(());
        };
        let pattern = format!("{}*{}", escape_glob(prefix), escape_glob(suffix));
        let keys = all_keys(
            &self.client,
            self.config.redis.is_cluster(),
            &pattern,
            false,
        )
        .await
        .map_err(|e| redis_error(e, "looking for processing lists of removed tasks"))?;
        for key in keys {
            let Ok(key) = String::from_utf8(key.to_vec()) else {
                continue;
            };
            let number = key
                .strip_prefix(prefix)
                .and_then(|k| k.strip_suffix(suffix))
                .and_then(|n| n.parse::<usize>().ok());
            if number.is_some_and(|n| n >= task_count) {
                self.adopt(&key).await?;
            }
        }
        Ok(())
    }

    async fn adopt(&mut self, orphan: &str) -> Result<(), ConnectError> {
        let mut moved = 0usize;
        loop {
            let args: Vec<Reply> = vec![
                orphan.into(),
                self.processing.as_str().into(),
                "RIGHT".into(),
                "LEFT".into(),
            ];
            let item = self
                .client
                .custom::<Reply, Reply>(keyed("LMOVE", orphan.as_bytes(), false), args)
                .await
                .map_err(|e| redis_error(e, &format!("taking over {orphan}")))?;
            if matches!(item, Reply::Null) {
                break;
            }
            moved += 1;
        }
        if moved > 0 {
            tracing::info!(
                orphan,
                moved,
                "took over the items of a removed task's processing list"
            );
        }
        Ok(())
    }
}

fn items(answer: Reply) -> Result<Vec<Bytes>, ConnectError> {
    array(answer)
        .map_err(|e| ConnectError::fatal(e.to_string()))?
        .into_iter()
        .map(|item| {
            reply::bytes(item)
                .ok_or_else(|| ConnectError::fatal("LRANGE returned an item that is not a string"))
        })
        .collect()
}
