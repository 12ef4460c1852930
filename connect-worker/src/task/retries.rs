//! Whether a task is stalled, retrying an operation that failed with a retriable error (Redis
//! down, Kafka unreachable). The task stays RUNNING meanwhile, as in Kafka Connect; this is
//! what tells an operator that a RUNNING task moves nothing: one WARN when the task starts
//! retrying (what and why), one INFO when it succeeds again (how long it was stalled, how many
//! attempts failed), and the state that `/metrics` (`retrying`, `retry_attempts_total`) and
//! `GET /health` (`retrying_tasks`) show.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use connect_core::ConnectError;

use super::TaskId;
use crate::kafka::fetcher::FetchObserver;
use crate::kafka::KafkaError;

/// What a task retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// A sink task's `put`: the same batch is handed to it again.
    Put,
    /// A sink task's `flush` (`pre_commit`): tried again at the next commit, the partitions
    /// rewound to their last committed offsets.
    Flush,
    /// A source task's `poll`.
    Poll,
    /// Writing a source task's batch to Kafka.
    Produce,
    /// Reading a sink task's partitions from Kafka (the broker away or refusing fetches).
    Fetch,
}

impl Operation {
    /// The name in logs, `/health` and the docs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Flush => "flush",
            Self::Poll => "poll",
            Self::Produce => "produce",
            Self::Fetch => "fetch",
        }
    }

    /// What failing means, for the WARN line.
    fn describe(self) -> &'static str {
        match self {
            Self::Put => "put (writing a batch to the sink)",
            Self::Flush => {
                "flush (committing the sink's offsets; the partitions rewind to the last committed offsets)"
            }
            Self::Poll => "poll (reading from the source system)",
            Self::Produce => "produce (writing a batch to Kafka)",
            Self::Fetch => "fetch (reading the sink's partitions from Kafka)",
        }
    }
}

/// An operation being retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    pub operation: Operation,
    /// When its first attempt failed.
    pub since: SystemTime,
    started: Instant,
    /// The attempts that failed so far.
    pub attempts: u64,
}

impl Outage {
    /// How long the task has been retrying it.
    pub fn stalled_for(&self) -> Duration {
        self.started.elapsed()
    }
}

#[derive(Debug, Default)]
struct State {
    outages: BTreeMap<Operation, Outage>,
    /// Failed attempts over the task's life (`retry_attempts_total`).
    attempts: u64,
}

/// A task's retries: its loop reports failures and successes, the herder reads them for
/// `/metrics` and `/health`. Cloning shares.
#[derive(Debug, Clone)]
pub struct Retries {
    task: Arc<str>,
    state: Arc<Mutex<State>>,
}

impl Retries {
    /// No retries yet, for `task`.
    pub fn new(task: &TaskId) -> Self {
        Self {
            task: task.to_string().into(),
            state: Arc::default(),
        }
    }

    /// An attempt of `operation` failed with a retriable `error`; the next one is in
    /// `retry_in`. The first failure logs a WARN, the next ones a DEBUG line.
    pub fn failed(&self, operation: Operation, error: &dyn Display, retry_in: Duration) {
        let mut state = self.lock();
        state.attempts += 1;
        let outage = state.outages.entry(operation).or_insert_with(|| Outage {
            operation,
            since: SystemTime::now(),
            started: Instant::now(),
            attempts: 0,
        });
        outage.attempts += 1;
        let op = operation.name();
        if outage.attempts == 1 {
            tracing::warn!(
                task = %self.task,
                operation = op,
                error = %error,
                "{} failed, retrying until it succeeds (the task stays RUNNING); next try in {retry_in:?}",
                operation.describe()
            );
        } else {
            tracing::debug!(task = %self.task, operation = op, error = %error, attempts = outage.attempts, "{op} failed again, retrying in {retry_in:?}");
        }
    }

    /// An attempt of `operation` succeeded. After failures, logs an INFO line with how long
    /// the task was stalled and how many attempts failed.
    pub fn succeeded(&self, operation: Operation) {
        let Some(outage) = self.lock().outages.remove(&operation) else {
            return;
        };
        let stalled = outage.stalled_for();
        tracing::info!(
            task = %self.task,
            operation = operation.name(),
            stalled_ms = stalled.as_millis() as u64,
            attempts = outage.attempts,
            "{} succeeded again after {:.1}s of retries ({} failed attempts)",
            operation.name(),
            stalled.as_secs_f64(),
            outage.attempts
        );
    }

    /// Forgets the operations being retried: the task ended (stopped or failed), so it
    /// retries nothing any more.
    pub fn clear(&self) {
        self.lock().outages.clear();
    }

    /// The operations being retried now.
    pub fn outages(&self) -> Vec<Outage> {
        self.lock().outages.values().cloned().collect()
    }

    /// The failed attempts over the task's life.
    pub fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An error and its causes on one line, for a log field.
pub fn one_line(error: &ConnectError) -> String {
    error.trace().replace("\nCaused by: ", ": ")
}

/// A sink task's fetchers report their retries as [`Operation::Fetch`]. The partitions share
/// one outage: a fetch that works again on any partition ends it (with one broker, as is usual,
/// they fail and recover together).
impl FetchObserver for Retries {
    fn failed(&self, error: &KafkaError, retry_in: Duration) {
        Retries::failed(self, Operation::Fetch, error, retry_in);
    }

    fn succeeded(&self) {
        Retries::succeeded(self, Operation::Fetch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retries() -> Retries {
        Retries::new(&TaskId {
            connector: "c".into(),
            task: 0,
        })
    }

    #[test]
    fn an_outage_lasts_from_the_first_failure_to_the_next_success() {
        let r = retries();
        r.succeeded(Operation::Put); // nothing failed: nothing changes
        assert!(r.outages().is_empty());
        for _ in 0..3 {
            r.failed(Operation::Put, &"connection refused", Duration::ZERO);
        }
        r.failed(Operation::Flush, &"connection refused", Duration::ZERO);
        let outages = r.outages();
        assert_eq!(outages.len(), 2, "{outages:?}");
        assert_eq!(
            (outages[0].operation, outages[0].attempts),
            (Operation::Put, 3)
        );
        assert!(outages[0].since <= SystemTime::now());
        r.succeeded(Operation::Put);
        let outages = r.outages();
        assert_eq!(outages.len(), 1);
        assert_eq!(outages[0].operation, Operation::Flush);
        // A new failure starts a new outage; the life total keeps counting.
        r.failed(Operation::Put, &"timeout", Duration::ZERO);
        assert_eq!(
            r.outages()
                .iter()
                .find(|o| o.operation == Operation::Put)
                .map(|o| o.attempts),
            Some(1)
        );
        assert_eq!(r.attempts(), 5);
        r.clear();
        assert!(r.outages().is_empty());
        assert_eq!(r.attempts(), 5);
    }

    #[test]
    fn clones_share_the_state() {
        let r = retries();
        let reader = r.clone();
        r.failed(Operation::Poll, &"down", Duration::ZERO);
        assert_eq!(reader.outages().len(), 1);
    }

    #[test]
    fn causes_go_on_one_line() {
        let e = ConnectError::retriable("cannot write the batch to Redis")
            .with_source(std::io::Error::other("Connection refused"));
        assert_eq!(
            one_line(&e),
            "retriable error: cannot write the batch to Redis: Connection refused"
        );
    }
}
