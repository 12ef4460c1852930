//! The task loops: a source task's poll -> transform -> convert -> produce -> commit cycle and
//! a sink task's fetch -> convert -> transform -> put -> commit cycle, with Kafka Connect's
//! error handling.

mod errors;
pub mod retries;
pub mod sink;
mod sink_offsets;
pub mod source;
mod stage;
#[cfg(test)]
pub(crate) mod testkit;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use connect_core::config::Props;
use connect_core::plugin::Plugins;
use connect_core::ConnectError;

use crate::config::WorkerConfig;
use crate::connector_config::ConnectorConfig;
use crate::kafka::{Kafka, KafkaClient, KafkaConfig, KafkaProducer, KafkaSecurity, Producer};
use crate::metrics::WorkerMetrics;
use crate::status::SharedStatus;
use crate::store::OffsetStore;

pub use errors::RecordErrors;
pub use retries::{Operation, Outage, Retries};
pub use stage::Stage;

/// What the herder wants a task to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskTarget {
    Run,
    Pause,
    Stop,
}

/// A task's identity: its connector and number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    pub connector: String,
    pub task: usize,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// Everything a task loop needs from the worker.
#[derive(Debug, Clone)]
pub struct TaskEnv {
    pub id: TaskId,
    /// How many tasks the connector runs.
    pub task_count: usize,
    pub connector: Arc<ConnectorConfig>,
    /// The task's own configuration, from the connector's `task_configs`.
    pub task_props: Props,
    pub plugins: Arc<Plugins>,
    pub worker: Arc<WorkerConfig>,
    pub kafka: Arc<dyn KafkaClient>,
    pub producer: Arc<dyn KafkaProducer>,
    pub offsets: Arc<dyn OffsetStore>,
    pub status: SharedStatus,
    pub target: watch::Receiver<TaskTarget>,
    /// The topics the connector's tasks used (KIP-558 active topics).
    pub active_topics: ActiveTopics,
    pub metrics: Arc<WorkerMetrics>,
    /// What the task is retrying (read by the herder for `/metrics` and `/health`).
    pub retries: Retries,
}

/// The topics a connector's tasks wrote to or read from since the last reset.
#[derive(Debug, Clone, Default)]
pub struct ActiveTopics(Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>);

impl ActiveTopics {
    /// Records a topic as used.
    pub fn add(&self, topic: &str) {
        let mut topics = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !topics.contains(topic) {
            topics.insert(topic.to_owned());
        }
    }

    /// The topics, sorted.
    pub fn list(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Forgets every topic.
    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl TaskEnv {
    /// This task with a connection to Kafka of its own, for a connector whose client
    /// overrides secure it differently from the worker's (see `client_overrides`).
    pub(crate) async fn with_own_connection(
        mut self,
        security: KafkaSecurity,
    ) -> Result<Self, ConnectError> {
        tracing::info!(task = %self.id, security = %security.describe(), "connecting to Kafka with the connector's client overrides");
        let kafka = Kafka::connect(KafkaConfig {
            bootstrap_servers: self.worker.bootstrap_servers.clone(),
            client_id: format!("{}-{}", self.worker.client_id, self.id),
            request_timeout: self.worker.request_timeout,
            security,
        })
        .await?;
        self.producer = Arc::new(Producer::new(
            kafka.clone(),
            crate::worker::producer_config(&self.worker),
        ));
        self.kafka = Arc::new(kafka);
        Ok(self)
    }

    /// The task as the connector's code sees it: connector, number and count.
    pub(crate) fn identity(&self) -> connect_core::connector::TaskIdentity {
        connect_core::connector::TaskIdentity::new(
            self.id.connector.clone(),
            self.id.task,
            self.task_count,
        )
    }

    /// The current target.
    pub(crate) fn target(&self) -> TaskTarget {
        *self.target.borrow()
    }

    /// Waits while paused; returns the target once it is not `Pause`.
    pub(crate) async fn wait_while_paused(&mut self) -> TaskTarget {
        loop {
            let target = *self.target.borrow_and_update();
            if target != TaskTarget::Pause {
                return target;
            }
            if self.target.changed().await.is_err() {
                return TaskTarget::Stop; // the herder is gone
            }
        }
    }

    /// Sleeps for `delay` unless the target changes first (so stop is prompt during back-off).
    pub(crate) async fn back_off(&mut self, delay: Duration) {
        let _ = tokio::time::timeout(delay, self.target.changed()).await;
    }
}

/// Counts a task start that succeeded or failed (`task-startup-*-total`).
pub(crate) fn count_startup(env: &TaskEnv, started: bool) {
    if started {
        env.metrics.task_startup_success.inc();
    } else {
        env.metrics.task_startup_failure.inc();
    }
}

/// Ends a task loop: stops the task, then records how it ended (FAILED with the trace, or
/// stopped as asked).
pub(crate) async fn finish<F>(env: &TaskEnv, result: Result<(), ConnectError>, stop: F)
where
    F: std::future::Future<Output = Result<(), ConnectError>>,
{
    if let Err(e) = stop.await {
        tracing::warn!(task = %env.id, error = %e, "stopping the task failed");
    }
    // A task that ended retries nothing, whatever it was retrying when it was stopped.
    env.retries.clear();
    match result {
        Ok(()) => tracing::info!(task = %env.id, "task stopped"),
        Err(e) => {
            tracing::error!(task = %env.id, error = %e.trace(), "task failed");
            env.status.fail(e.trace());
        }
    }
}

/// The next back-off delay: doubling from 100 ms, capped at `max` (and at 10 s).
pub(crate) fn next_backoff(current: Duration, max: Duration) -> Duration {
    (current * 2).clamp(Duration::from_millis(100), max.min(Duration::from_secs(10)))
}
