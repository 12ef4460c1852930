//! A sink task's progress in Kafka: the consumer group `connect-<name>` (or the connector's
//! `consumer.override.group.id`), where Kafka Connect's sink tasks commit theirs and where every
//! Kafka tool (`kafka-consumer-groups --describe`, lag exporters, consoles) reads a consumer's
//! lag. The group's offsets are the next offset to read, as Kafka's consumers commit them.
//!
//! - Where a partition starts ([`GroupOffsets::starts`]): the group's committed offset; else
//!   the entry an earlier version of the worker kept in its offset file (read once, so an
//!   upgrade loses no progress; the entry is removed once the group holds the partition);
//!   else `auto.offset.reset`.
//! - Commits ([`GroupOffsets::begin_commit`]) run in the background, so a slow or failing
//!   coordinator never holds up `put`. A failed commit is logged and the next flush commits
//!   again; the group only ever gets offsets the task said are safe, so a failure loses no
//!   record: a restart re-reads at most what was written after the last commit that worked.
//! - Lag ([`LagWatch`]): the partitions' end offsets are also read on a timer, so
//!   `sink-record-lag-max` keeps rising while a task is paused or stuck, when it fetches
//!   nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus::IntGauge;
use tokio::task::JoinHandle;

use connect_core::record::TopicPartition;
use connect_core::ConnectError;

use super::sink::{legacy_offsets, partition_key};
use crate::kafka::fetcher::OffsetReset;
use crate::kafka::{KafkaClient, KafkaError, OffsetPosition};
use crate::store::OffsetStore;

/// How often [`LagWatch`] reads the end offsets of a task's partitions.
pub const LAG_REFRESH: Duration = Duration::from_secs(5);

/// Where newly assigned partitions start.
#[derive(Debug, Default)]
pub struct Starts {
    /// The offset each partition is read from.
    pub next: BTreeMap<TopicPartition, i64>,
    /// The partitions the group already holds, with their offsets (a commit of the same
    /// offsets is skipped).
    pub committed: BTreeMap<TopicPartition, i64>,
}

/// A commit that finished.
#[derive(Debug)]
pub enum Committed {
    /// The group holds `offsets`; `took` counts from the task's `pre_commit`.
    Done {
        offsets: BTreeMap<TopicPartition, i64>,
        took: Duration,
    },
    /// Nothing was committed; the next flush tries again.
    Failed { took: Duration },
}

/// One sink task's offsets in its consumer group.
#[derive(Debug)]
pub struct GroupOffsets {
    kafka: Arc<dyn KafkaClient>,
    group: String,
    connector: String,
    task: String,
    /// The worker's offset file, where sink offsets were kept before they moved to the group.
    legacy: Arc<dyn OffsetStore>,
    reset: OffsetReset,
    /// Partitions that started from an offset-file entry which is still there.
    migrated: BTreeSet<TopicPartition>,
    in_flight: Option<InFlight>,
}

#[derive(Debug)]
struct InFlight {
    offsets: BTreeMap<TopicPartition, i64>,
    started: Instant,
    /// The commit's outcome and when it came (the loop may notice it a round later, which
    /// must not count in the commit time).
    commit: JoinHandle<(Result<(), KafkaError>, Instant)>,
}

impl GroupOffsets {
    pub fn new(
        kafka: Arc<dyn KafkaClient>,
        group: String,
        connector: String,
        task: String,
        legacy: Arc<dyn OffsetStore>,
        reset: OffsetReset,
    ) -> Self {
        Self {
            kafka,
            group,
            connector,
            task,
            legacy,
            reset,
            migrated: BTreeSet::new(),
            in_flight: None,
        }
    }

    /// Where `partitions` start: the group's offsets, else the offset file's, else
    /// `auto.offset.reset`. Fails with Kafka Connect's message when a partition has no offset
    /// and the reset is `none`; a Kafka error is retriable when the broker may answer later.
    pub async fn starts(&mut self, partitions: &[TopicPartition]) -> Result<Starts, ConnectError> {
        let committed = self
            .kafka
            .committed_offsets(&self.group, partitions)
            .await
            .map_err(|e| {
                ConnectError::from(KafkaError {
                    context: format!(
                        "cannot read the committed offsets of consumer group {}: {}",
                        self.group, e.context
                    ),
                    source: e.source,
                })
            })?;
        let mut starts = Starts {
            next: committed.clone(),
            committed,
        };
        let mut unknown = Vec::new();
        let legacy = if partitions.iter().all(|p| starts.next.contains_key(p)) {
            BTreeMap::new()
        } else {
            legacy_offsets(&*self.legacy, &self.connector)
                .await
                .map_err(|e| {
                    ConnectError::retriable(format!(
                        "cannot read the offsets of connector {} in the offset store",
                        self.connector
                    ))
                    .with_source(e)
                })?
        };
        for p in partitions {
            if starts.next.contains_key(p) {
                continue;
            }
            match legacy.get(p).copied() {
                Some(offset) => {
                    tracing::info!(task = %self.task, partition = %p, offset, group = %self.group, "no offset in the consumer group: starting from the offset file's (kept there by an earlier version); the group holds it from the next commit");
                    starts.next.insert(p.clone(), offset);
                    self.migrated.insert(p.clone());
                }
                None => unknown.push(p.clone()),
            }
        }
        if unknown.is_empty() {
            return Ok(starts);
        }
        let at = match self.reset {
            OffsetReset::Earliest => OffsetPosition::Earliest,
            OffsetReset::Latest => OffsetPosition::Latest,
            OffsetReset::None => {
                let names: Vec<String> = unknown.iter().map(ToString::to_string).collect();
                return Err(ConnectError::fatal(format!(
                    "Undefined offset with no reset policy for partitions: [{}] (consumer group {}, auto.offset.reset=none)",
                    names.join(", "),
                    self.group
                )));
            }
        };
        let reset = self.kafka.offsets_at(&unknown, at).await?;
        tracing::info!(task = %self.task, group = %self.group, partitions = ?reset, "no committed offset: starting at auto.offset.reset");
        starts.next.extend(reset);
        Ok(starts)
    }

    /// Whether a commit is on its way.
    pub fn committing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Sends `offsets` to the group in the background; `started` is when the flush began.
    /// Call only when no commit is in flight.
    pub fn begin_commit(&mut self, offsets: BTreeMap<TopicPartition, i64>, started: Instant) {
        let kafka = Arc::clone(&self.kafka);
        let group = self.group.clone();
        let sent = offsets.clone();
        let commit = tokio::spawn(async move {
            let result = kafka.commit_offsets(&group, &sent).await;
            (result, Instant::now())
        });
        self.in_flight = Some(InFlight {
            offsets,
            started,
            commit,
        });
    }

    /// The commit in flight once it finished: at once when `wait` is `None`, else waiting up
    /// to that long (a commit still going after it is given up and counts as failed).
    pub async fn finished(&mut self, wait: Option<Duration>) -> Option<Committed> {
        let in_flight = self.in_flight.as_mut()?;
        let result = match wait {
            None if !in_flight.commit.is_finished() => return None,
            None => (&mut in_flight.commit).await,
            Some(limit) => match tokio::time::timeout(limit, &mut in_flight.commit).await {
                Ok(result) => result,
                Err(_) => {
                    in_flight.commit.abort();
                    let InFlight { started, .. } = self.in_flight.take()?;
                    tracing::warn!(task = %self.task, group = %self.group, "the offset commit did not finish within {limit:?} (offset.flush.timeout.ms); the next flush commits again");
                    return Some(Committed::Failed {
                        took: started.elapsed(),
                    });
                }
            },
        };
        let InFlight {
            offsets, started, ..
        } = self.in_flight.take()?;
        match result {
            Ok((Ok(()), done)) => {
                self.forget_migrated(&offsets);
                Some(Committed::Done {
                    offsets,
                    took: done.duration_since(started),
                })
            }
            Ok((Err(e), done)) => {
                let took = done.duration_since(started);
                tracing::warn!(task = %self.task, group = %self.group, error = %e, "cannot commit offsets to the consumer group; the next flush commits again (records written since the last commit are read again if the task restarts before one works)");
                Some(Committed::Failed { took })
            }
            Err(e) => {
                tracing::error!(task = %self.task, group = %self.group, error = %e, "the offset commit panicked; the next flush commits again");
                Some(Committed::Failed {
                    took: started.elapsed(),
                })
            }
        }
    }

    /// Removes the offset-file entries of partitions the group now holds: they would
    /// otherwise come back if the group's offsets were later deleted with a Kafka tool.
    fn forget_migrated(&mut self, committed: &BTreeMap<TopicPartition, i64>) {
        let done: Vec<TopicPartition> = self
            .migrated
            .iter()
            .filter(|p| committed.contains_key(*p))
            .cloned()
            .collect();
        if done.is_empty() {
            return;
        }
        for p in &done {
            self.migrated.remove(p);
        }
        let store = Arc::clone(&self.legacy);
        let connector = self.connector.clone();
        let task = self.task.clone();
        let removals = done.iter().map(|p| (partition_key(p), None)).collect();
        // In the background, so the loop does not wait for it; a failure only leaves a stale
        // entry that the group's offset takes precedence over.
        tokio::spawn(async move {
            if let Err(e) = store.put(&connector, removals).await {
                tracing::warn!(task = %task, error = %e, "cannot remove migrated sink offsets from the offset file");
            }
        });
    }

    /// Forgets partitions no longer assigned.
    pub fn release(&mut self, partitions: &[TopicPartition]) {
        for p in partitions {
            self.migrated.remove(p);
        }
    }
}

/// `sink-record-lag-max` of one task: the largest of its partitions' end offset minus the
/// offset it reads next. End offsets come from fetch answers and, every [`LAG_REFRESH`],
/// from the brokers, so the lag also moves while the task fetches nothing.
#[derive(Debug)]
pub struct LagWatch {
    view: Arc<Mutex<LagView>>,
    refresher: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct LagView {
    next: BTreeMap<TopicPartition, i64>,
    ends: BTreeMap<TopicPartition, i64>,
}

impl LagView {
    fn lag_max(&self) -> i64 {
        self.next
            .iter()
            .filter_map(|(p, next)| Some(self.ends.get(p)? - next))
            .max()
            .unwrap_or(0)
            .max(0)
    }
}

impl LagWatch {
    /// Starts reading end offsets every `every` into `gauge`.
    pub fn start(kafka: Arc<dyn KafkaClient>, gauge: Option<IntGauge>, every: Duration) -> Self {
        let view = Arc::new(Mutex::new(LagView::default()));
        let shared = Arc::clone(&view);
        let refresher = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let partitions: Vec<TopicPartition> = lock(&shared).next.keys().cloned().collect();
                if partitions.is_empty() {
                    continue;
                }
                match kafka.offsets_at(&partitions, OffsetPosition::Latest).await {
                    Ok(ends) => {
                        let mut view = lock(&shared);
                        for (p, end) in ends {
                            if view.next.contains_key(&p) {
                                // The larger of this and what a fetch answer said: some
                                // brokers (tansu 0.6) answer ListOffsets with less than the
                                // end when the last batch holds several records.
                                let known = view.ends.entry(p).or_insert(end);
                                *known = (*known).max(end);
                            }
                        }
                        if let Some(gauge) = &gauge {
                            gauge.set(view.lag_max());
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot read end offsets for sink-record-lag-max")
                    }
                }
            }
        });
        Self { view, refresher }
    }

    /// The partitions' next offsets, after a batch was written, a seek or an assignment.
    pub fn positions(&self, next: &BTreeMap<TopicPartition, i64>) {
        let mut view = lock(&self.view);
        view.ends.retain(|p, _| next.contains_key(p));
        view.next.clone_from(next);
    }

    /// A fetch answer's high watermark: the partition's end as the broker last said.
    pub fn end(&self, partition: &TopicPartition, end: i64) {
        let mut view = lock(&self.view);
        let known = view.ends.entry(partition.clone()).or_insert(end);
        *known = (*known).max(end);
    }

    /// The largest lag of the task's partitions.
    pub fn lag_max(&self) -> i64 {
        lock(&self.view).lag_max()
    }
}

impl Drop for LagWatch {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

fn lock(view: &Mutex<LagView>) -> MutexGuard<'_, LagView> {
    // A poisoned lock only means a panic mid-update of plain maps; they are still usable.
    view.lock().unwrap_or_else(|e| e.into_inner())
}
