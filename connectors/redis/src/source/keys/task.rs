//! The keys source task: a snapshot with `SCAN`, changes from keyspace notifications, each
//! key read (type, TTL, value) by one Lua script call, pipelined per batch.
//!
//! Two clients: a subscribed connection can send nothing but (un)subscribe commands.
//!
//! Source offsets: the partition is the pattern and the offset the `SCAN` cursor a restart can
//! go on from without missing a key of the snapshot (the start of the page being sent, the
//! next page's once the last key of a page is sent). `"0"`: no snapshot in progress, so a
//! restart in LIVE mode takes a full one, which also catches up what changed while the task
//! was away.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use connect_core::connector::{SourceTask, SourceTaskContext};
use connect_core::data::{Schema, Text, Value};
use connect_core::metrics::Counter;
use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
use connect_core::ConnectError;
use fred::prelude::{Client, ClientLike, EventInterface};
use fred::types::{KeyspaceEvent, Value as Reply};

use super::value::{key_state, value_schema, KeyState, READ_SCRIPT, STREAM_ENTRIES};
use super::KeysSourceConfig;
use crate::connection::redis_error;
use crate::source::reply::{self, error_code, pairs, text};
use crate::source::subscription::{
    subscriber_client, Channels, Subscription, DROPPED_HELP, DROPPED_METRIC,
};
use crate::source::{command, keyed, lossy_text, now_millis};

/// The source partition's key: the pattern.
const PATTERN_FIELD: &str = "pattern";
/// The source offset's key: the SCAN cursor to resume the snapshot from.
const CURSOR_FIELD: &str = "cursor";
/// The longest a poll waits for a notification.
const POLL_WAIT: Duration = Duration::from_secs(1);
/// SCAN calls one poll makes at most (pages of a sparse pattern can be empty).
const SCANS_PER_POLL: usize = 10;
/// The notification classes needed besides `K`: every type's commands, expiry and eviction.
const NEEDED_CLASSES: &str = "g$lshzxet";

/// A snapshot in progress.
#[derive(Debug)]
struct Snapshot {
    /// The cursor of the page whose keys are queued.
    page_start: Text,
    /// The next page's cursor; `None` once SCAN returned to 0.
    next: Option<Text>,
    keys: VecDeque<Bytes>,
}

impl Snapshot {
    fn from(cursor: Text) -> Self {
        Self {
            page_start: cursor.clone(),
            next: Some(cursor),
            keys: VecDeque::new(),
        }
    }
}

/// The task of [`RedisKeysSourceConnector`](super::RedisKeysSourceConnector).
pub struct RedisKeysSourceTask {
    config: KeysSourceConfig,
    reader: Client,
    events: Client,
    subscription: Subscription<KeyspaceEvent>,
    db: u8,
    partition: SourceMap,
    sha: String,
    snapshot: Option<Snapshot>,
    /// A new snapshot is wanted once the running one is complete.
    snapshot_again: bool,
    last_dropped: u64,
    /// Keys gathered but not read because the read failed: read first next time.
    carry: Vec<(Bytes, Text)>,
    /// Keys the snapshots read (a metric).
    snapshot_keys: Counter,
}

impl std::fmt::Debug for RedisKeysSourceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeysSourceTask")
            .field("pattern", &self.config.pattern)
            .field("db", &self.db)
            .field("snapshot", &self.snapshot.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SourceTask for RedisKeysSourceTask {
    type Config = KeysSourceConfig;

    async fn start(
        config: KeysSourceConfig,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<Self, ConnectError> {
        let reader = config.redis.connect().await?;
        let events = subscriber_client(&config.redis, config.buffer_size).await?;
        let db = database(&reader).await;
        ensure_notifications(&reader).await?;
        let sha = load_script(&reader).await?;
        let channel = format!("__keyspace@{db}__:{}", config.pattern);
        let subscription = Subscription::start(
            events.clone(),
            events.keyspace_event_rx(),
            Channels {
                channels: Vec::new(),
                patterns: vec![channel],
            },
            config.buffer_size,
            ctx.counter(DROPPED_METRIC, DROPPED_HELP),
        )
        .await
        .map_err(|e| redis_error(e, "subscribing to keyspace notifications"))?;
        let mut partition = SourceMap::new();
        partition.insert(PATTERN_FIELD.to_owned(), config.pattern.as_str().into());
        // Subscribed before the snapshot starts: a change during the snapshot is not missed.
        let snapshot = config.snapshot.then(|| {
            let resume = ctx
                .offset(&partition)
                .and_then(|o| o.get(CURSOR_FIELD)?.as_str().map(Text::from))
                .unwrap_or_else(|| Text::from("0"));
            if resume != "0" {
                tracing::info!(cursor = %resume, "resuming the interrupted snapshot");
            }
            Snapshot::from(resume)
        });
        tracing::info!(
            uri = config.redis.shown_uri(),
            pattern = config.pattern,
            db,
            snapshot = snapshot.is_some(),
            "Starting the Redis keys source task"
        );
        Ok(Self {
            config,
            reader,
            events,
            subscription,
            db,
            partition,
            sha,
            snapshot,
            snapshot_again: false,
            last_dropped: 0,
            carry: Vec::new(),
            snapshot_keys: ctx.counter(
                "redis_source_keys_snapshot_total",
                "Keys read by the keys source's snapshots (SCAN).",
            ),
        })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        self.catch_up_missed();
        self.subscription.report_drops("keyspace notifications");
        let mut keys = std::mem::take(&mut self.carry);
        let room = self.config.batch_size.saturating_sub(keys.len());
        let wait = if self.snapshot.is_some() || !keys.is_empty() {
            Duration::ZERO
        } else {
            POLL_WAIT
        };
        let resume = self.resume_cursor();
        let mut seen: HashSet<Bytes> = keys.iter().map(|(k, _)| k.clone()).collect();
        for event in self.subscription.next_batch(room, wait).await {
            let key = event.key.into_bytes();
            // The same key changed several times: its current value once is enough.
            if event.db == self.db && seen.insert(key.clone()) {
                keys.push((key, resume.clone()));
            }
        }
        if let Err(e) = self.fill_from_snapshot(&mut keys).await {
            self.carry = keys;
            return Err(e);
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        match self.read(&keys).await {
            Ok(records) => Ok(records),
            Err(e) => {
                self.carry = keys;
                Err(e)
            }
        }
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        self.subscription.stop();
        let _ = self.events.quit().await;
        let _ = self.reader.quit().await;
        Ok(())
    }
}

impl RedisKeysSourceTask {
    /// After a reconnection or dropped notifications, changes were missed: in LIVE mode a new
    /// snapshot catches them up.
    fn catch_up_missed(&mut self) {
        let dropped = self.subscription.dropped();
        let reconnected = self.subscription.take_reconnected();
        if !reconnected && dropped == self.last_dropped {
            return;
        }
        self.last_dropped = dropped;
        if !self.config.snapshot {
            tracing::warn!("keyspace notifications were missed (reconnection or full buffer); LIVEONLY takes no snapshot to catch up");
            return;
        }
        if self.snapshot.is_some() {
            self.snapshot_again = true;
        } else {
            tracing::info!("keyspace notifications were missed; taking a new snapshot to catch up");
            self.snapshot = Some(Snapshot::from(Text::from("0")));
        }
    }

    /// The cursor a restart would go on from now.
    fn resume_cursor(&self) -> Text {
        match &self.snapshot {
            Some(s) => s.page_start.clone(),
            None => Text::from("0"),
        }
    }

    /// Adds snapshot keys up to a batch, each with the cursor to store with its record.
    async fn fill_from_snapshot(
        &mut self,
        keys: &mut Vec<(Bytes, Text)>,
    ) -> Result<(), ConnectError> {
        let mut scans = 0;
        while keys.len() < self.config.batch_size {
            let Some(snapshot) = self.snapshot.as_mut() else {
                return Ok(());
            };
            if let Some(key) = snapshot.keys.pop_front() {
                let cursor = if snapshot.keys.is_empty() {
                    // The page's last key: once it is in Kafka the page is done.
                    snapshot.next.clone().unwrap_or_else(|| Text::from("0"))
                } else {
                    snapshot.page_start.clone()
                };
                keys.push((key, cursor));
                self.snapshot_keys.inc();
                continue;
            }
            let Some(cursor) = snapshot.next.clone() else {
                tracing::info!(pattern = self.config.pattern, "snapshot complete");
                self.snapshot = None;
                if std::mem::take(&mut self.snapshot_again) {
                    tracing::info!(
                        "taking a new snapshot: notifications were missed during the last one"
                    );
                    self.snapshot = Some(Snapshot::from(Text::from("0")));
                }
                continue;
            };
            if scans == SCANS_PER_POLL {
                return Ok(());
            }
            scans += 1;
            let (next, page) = self.scan(&cursor).await?;
            let snapshot = self
                .snapshot
                .as_mut()
                .ok_or_else(|| ConnectError::fatal("the snapshot ended while it was being read"))?;
            snapshot.page_start = cursor;
            snapshot.next = (next != "0").then_some(next);
            snapshot.keys = page.into();
        }
        Ok(())
    }

    async fn scan(&self, cursor: &Text) -> Result<(Text, Vec<Bytes>), ConnectError> {
        let args: Vec<Reply> = vec![
            Reply::Bytes(cursor.as_bytes().clone()),
            "MATCH".into(),
            self.config.pattern.as_str().into(),
            "COUNT".into(),
            i64::try_from(self.config.batch_size)
                .unwrap_or(i64::MAX)
                .into(),
        ];
        let page = self
            .reader
            .custom::<Reply, Reply>(command("SCAN", false), args)
            .await
            .map_err(|e| redis_error(e, "scanning keys for the snapshot"))?;
        reply::scan(page).map_err(|e| ConnectError::fatal(e.to_string()))
    }

    /// Reads the keys and makes their records.
    async fn read(&mut self, keys: &[(Bytes, Text)]) -> Result<Vec<SourceRecord>, ConnectError> {
        let mut replies = self.evalsha(keys).await?;
        if replies
            .iter()
            .any(|r| matches!(r, Err(e) if error_code(e) == "NOSCRIPT"))
        {
            // The server restarted or flushed its scripts.
            self.sha = load_script(&self.reader).await?;
            replies = self.evalsha(keys).await?;
        }
        let now = now_millis().unwrap_or_default();
        let mut records = Vec::with_capacity(keys.len());
        for ((key, cursor), reply) in keys.iter().zip(replies) {
            let reply = reply.map_err(|e| redis_error(e, "reading a key"))?;
            let name = lossy_text(key.clone());
            let state = key_state(&name, reply, now)
                .map_err(|e| ConnectError::fatal(format!("reading the key {name}: {e}")))?;
            records.push(self.record(name, state, cursor.clone()));
        }
        Ok(records)
    }

    async fn evalsha(
        &self,
        keys: &[(Bytes, Text)],
    ) -> Result<Vec<Result<Reply, fred::error::Error>>, ConnectError> {
        let pipe = self.reader.pipeline();
        for (key, _) in keys {
            let args: Vec<Reply> = vec![
                self.sha.as_str().into(),
                1i64.into(),
                Reply::Bytes(key.clone()),
                i64::try_from(STREAM_ENTRIES).unwrap_or(100).into(),
            ];
            let _: () = pipe
                .custom(keyed("EVALSHA", key, false), args)
                .await
                .map_err(|e| redis_error(e, "queueing EVALSHA"))?;
        }
        Ok(pipe.try_all().await)
    }

    fn record(&self, key: Text, state: KeyState, cursor: Text) -> SourceRecord {
        let (value_schema, value) = match state {
            // A tombstone: no value and no schema, so that every converter writes null.
            KeyState::Gone => (None, Value::Null),
            KeyState::Present(value) => (Some(value_schema()), Value::Struct(value)),
        };
        let mut offset = SourceMap::new();
        offset.insert(CURSOR_FIELD.to_owned(), cursor.to_string().into());
        SourceRecord::new(
            self.partition.clone(),
            offset,
            ConnectRecord {
                topic: self.config.topic.as_str().into(),
                partition: None,
                key_schema: Some(Schema::string()),
                key: Value::String(key),
                value_schema,
                value,
                timestamp: now_millis(),
                headers: Default::default(),
            },
        )
    }
}

/// The connection's database, for the notification channel's name.
async fn database(client: &Client) -> u8 {
    match client
        .custom::<Reply, &str>(command("CLIENT", false), vec!["INFO"])
        .await
    {
        Ok(info) => {
            let info = text(info).unwrap_or_default();
            db_from_client_info(&info).unwrap_or(0)
        }
        Err(e) => {
            tracing::warn!(error = %e, "CLIENT INFO failed (Redis before 6.2?); assuming database 0");
            0
        }
    }
}

/// `db=N` of `CLIENT INFO`'s line.
fn db_from_client_info(info: &str) -> Option<u8> {
    info.split_whitespace()
        .find_map(|field| field.strip_prefix("db="))
        .and_then(|db| db.parse().ok())
}

/// Turns keyspace notifications on when they are off, or says precisely what to set.
async fn ensure_notifications(client: &Client) -> Result<(), ConnectError> {
    const KEY: &str = "notify-keyspace-events";
    let current = match client
        .custom::<Reply, &str>(command("CONFIG", false), vec!["GET", KEY])
        .await
    {
        Ok(reply) => pairs(reply)
            .ok()
            .and_then(|p| p.into_iter().next())
            .and_then(|(_, v)| text(v).ok())
            .map(|v| v.to_string())
            .unwrap_or_default(),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "cannot read {KEY} (CONFIG is not allowed?); without K and A in it no change is reported"
            );
            return Ok(());
        }
    };
    if has_needed_events(&current) {
        return Ok(());
    }
    let wanted = format!("{current}KA");
    match client
        .custom::<Reply, &str>(command("CONFIG", false), vec!["SET", KEY, wanted.as_str()])
        .await
    {
        Ok(_) => {
            tracing::info!(
                "turned on keyspace notifications: {KEY} was '{current}', now '{wanted}'"
            );
            Ok(())
        }
        Err(e) => Err(ConnectError::fatal(format!(
            "keyspace notifications are off ({KEY} is '{current}') and cannot be turned on ({}): \
             set {KEY} to include K and A, e.g. CONFIG SET {KEY} KEA, or in redis.conf or your \
             provider's settings",
            e.details()
        ))),
    }
}

/// Whether the flags report keyspace events (`K`) of every type, expiry and eviction.
fn has_needed_events(flags: &str) -> bool {
    flags.contains('K')
        && (flags.contains('A') || NEEDED_CLASSES.chars().all(|c| flags.contains(c)))
}

async fn load_script(client: &Client) -> Result<String, ConnectError> {
    let sha = client
        .custom::<Reply, &str>(command("SCRIPT", false), vec!["LOAD", READ_SCRIPT])
        .await
        .map_err(|e| redis_error(e, "loading the key reading script (SCRIPT LOAD)"))?;
    Ok(text(sha)
        .map_err(|e| ConnectError::fatal(e.to_string()))?
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_flags() {
        assert!(has_needed_events("KA"));
        assert!(has_needed_events("AKE"));
        assert!(has_needed_events("Kg$lshzxet"));
        assert!(!has_needed_events(""));
        assert!(!has_needed_events("EA"));
        assert!(!has_needed_events("Kg$lsh"));
    }

    #[test]
    fn client_info() {
        let info =
            "id=7 addr=127.0.0.1:5 laddr=127.0.0.1:6379 fd=8 name= age=0 idle=0 flags=N db=3 sub=0";
        assert_eq!(db_from_client_info(info), Some(3));
        assert_eq!(db_from_client_info("id=7"), None);
    }
}
