//! One connector's place in the herder: the connector behind a lock of its own, what requests
//! read without that lock, and the lifecycle call it is in.
//!
//! A connector's `start` or `stop` may take long or never return. Only its own lock is held
//! across such a call: the herder's map of connectors is held for lookups only, so requests
//! about other connectors, `/metrics` and `/health` never wait for it. Requests that read
//! this connector (status, config, tasks) read its [`View`]; requests that change it wait a
//! bounded time for its lock, then answer 409 naming the call in progress ([`Slot::busy`]).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;

use connect_core::config::Props;

use super::runtime::Connector;
use super::HerderError;
use crate::connector_config::ConnectorConfig;
use crate::status::SharedStatus;
use crate::store::TargetState;
use crate::task::{ActiveTopics, Retries};

/// A lifecycle call of a connector, or a Kafka call made for it, which may take long or hang:
/// what a request that cannot wait for it is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    StartingConnector,
    StartingTasks,
    StoppingConnector,
    StoppingTasks,
    AlteringOffsets,
    ResettingOffsets,
    /// Not a connector's call: a sink's consumer group offsets being read or changed in
    /// Kafka for an offsets request (each Kafka call bounded by `request.timeout.ms`).
    ChangingGroupOffsets,
}

impl Step {
    /// What the connector is busy doing.
    fn doing(self) -> &'static str {
        match self {
            Self::StartingConnector => "starting the connector",
            Self::StartingTasks => "starting its tasks",
            Self::StoppingConnector => "stopping the connector",
            Self::StoppingTasks => "stopping its tasks",
            Self::AlteringOffsets => "altering its offsets",
            Self::ResettingOffsets => "resetting its offsets",
            Self::ChangingGroupOffsets => "changing its consumer group's offsets",
        }
    }

    /// What has not happened yet.
    fn pending(self) -> &'static str {
        match self {
            Self::StartingConnector => "its start has not returned",
            Self::StartingTasks => "they have not started",
            Self::StoppingConnector => "its stop has not returned",
            Self::StoppingTasks => "they have not stopped",
            Self::AlteringOffsets => "the connector's alter_offsets has not returned",
            Self::ResettingOffsets => "the connector's reset_offsets has not returned",
            Self::ChangingGroupOffsets => "Kafka has not answered",
        }
    }
}

/// The lifecycle call a connector is in, and since when. Cloning shares.
#[derive(Debug, Clone, Default)]
pub(super) struct Activity(Arc<Mutex<Option<(Step, Instant)>>>);

impl Activity {
    /// Runs `call`, recorded as `step` while it runs (even if it never returns).
    pub async fn during<T>(&self, step: Step, call: impl Future<Output = T>) -> T {
        let previous = self.lock().replace((step, Instant::now()));
        // Put back on drop as well: a call abandoned at shutdown is dropped, not finished.
        let _restore = Restore(self, previous);
        call.await
    }

    /// The step in progress and for how long.
    fn now(&self) -> Option<(Step, Duration)> {
        self.lock().map(|(step, since)| (step, since.elapsed()))
    }

    fn lock(&self) -> MutexGuard<'_, Option<(Step, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Restore<'a>(&'a Activity, Option<(Step, Instant)>);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        *self.0.lock() = self.1.take();
    }
}

/// A task as the REST API and the metrics see it.
#[derive(Clone)]
pub(super) struct TaskView {
    pub status: SharedStatus,
    pub retries: Retries,
}

/// What requests read about a connector without its lock: its configuration and the shared
/// handles of its and its tasks' statuses. Published again after every change.
#[derive(Clone)]
pub(super) struct View {
    pub config: Arc<ConnectorConfig>,
    pub status: SharedStatus,
    pub task_configs: Vec<Props>,
    /// `None`: a task that is not running (UNASSIGNED).
    pub tasks: Vec<Option<TaskView>>,
    pub active_topics: ActiveTopics,
}

impl View {
    fn of(connector: &Connector) -> Self {
        Self {
            config: Arc::clone(&connector.config),
            status: connector.status.clone(),
            task_configs: connector.task_configs.clone(),
            tasks: connector
                .tasks
                .iter()
                .map(|task| {
                    task.as_ref().map(|t| TaskView {
                        status: t.status.clone(),
                        retries: t.retries.clone(),
                    })
                })
                .collect(),
            active_topics: connector.active_topics.clone(),
        }
    }
}

/// A connector of the herder.
pub(super) struct Slot {
    name: String,
    connector: Arc<tokio::sync::Mutex<Connector>>,
    view: Mutex<Arc<View>>,
    activity: Activity,
    /// Set, with the lock held, when the connector is deleted: a request that waited for the
    /// lock then finds it gone.
    deleted: AtomicBool,
}

impl Slot {
    /// A new connector, locked by the caller (who starts it), so that no request changes it
    /// before its start.
    pub fn new(
        name: &str,
        config: ConnectorConfig,
        target: TargetState,
    ) -> (Arc<Self>, OwnedMutexGuard<Connector>) {
        let activity = Activity::default();
        let connector = Connector::new(config, target, activity.clone());
        let view = Mutex::new(Arc::new(View::of(&connector)));
        let slot = Arc::new(Self {
            name: name.to_owned(),
            connector: Arc::new(tokio::sync::Mutex::new(connector)),
            view,
            activity,
            deleted: AtomicBool::new(false),
        });
        let guard = Arc::clone(&slot.connector)
            .try_lock_owned()
            .unwrap_or_else(|_| unreachable!("nobody else has seen this lock yet"));
        (slot, guard)
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connector's lock, waiting up to `wait` for the operation in progress: a
    /// [`Slot::busy`] error past that, `NotFound` if it was deleted meanwhile.
    pub async fn lock(&self, wait: Duration) -> Result<OwnedMutexGuard<Connector>, HerderError> {
        let guard = tokio::time::timeout(wait, Arc::clone(&self.connector).lock_owned()).await;
        if self.is_deleted() {
            return Err(HerderError::NotFound(self.name.clone()));
        }
        guard.map_err(|_| self.busy())
    }

    /// The 409 of a request that could not wait for the operation in progress.
    pub fn busy(&self) -> HerderError {
        let doing = match self.activity.now() {
            Some((step, elapsed)) => format!(
                "{} ({} after {} s)",
                step.doing(),
                step.pending(),
                elapsed.as_secs()
            ),
            None => "with another request".to_owned(),
        };
        HerderError::Busy {
            connector: self.name.clone(),
            doing,
        }
    }

    /// What the connector is busy with, for logs (`idle` when nothing).
    pub fn activity_now(&self) -> String {
        match self.activity.now() {
            Some((step, elapsed)) => format!("{} for {} s", step.doing(), elapsed.as_secs()),
            None => "idle".to_owned(),
        }
    }

    /// Runs `call` recorded as `step` (for calls the herder makes itself, such as offsets).
    pub async fn during<T>(&self, step: Step, call: impl Future<Output = T>) -> T {
        self.activity.during(step, call).await
    }

    /// The activity record a replacement [`Connector`] of this slot must share.
    pub fn activity(&self) -> Activity {
        self.activity.clone()
    }

    /// What requests read now.
    pub fn view(&self) -> Arc<View> {
        Arc::clone(&self.view.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Makes `connector`'s current state what requests read; call after every change.
    pub fn publish(&self, connector: &Connector) {
        *self.view.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(View::of(connector));
    }

    /// Marks the connector deleted (with its lock held).
    pub fn mark_deleted(&self, _held: &OwnedMutexGuard<Connector>) {
        self.deleted.store(true, Ordering::SeqCst);
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_activity_names_the_step_while_it_runs_and_clears_after() {
        let activity = Activity::default();
        assert_eq!(activity.now(), None);
        let seen = activity
            .during(Step::StoppingTasks, async {
                activity.now().map(|(s, _)| s)
            })
            .await;
        assert_eq!(seen, Some(Step::StoppingTasks));
        assert_eq!(activity.now(), None);
    }

    #[tokio::test]
    async fn an_abandoned_step_is_cleared_when_dropped() {
        let activity = Activity::default();
        let call = activity.during(Step::StartingConnector, std::future::pending::<()>());
        let timed_out = tokio::time::timeout(Duration::from_millis(10), call).await;
        assert!(timed_out.is_err());
        assert_eq!(activity.now(), None);
    }
}
