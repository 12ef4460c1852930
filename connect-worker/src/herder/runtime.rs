//! Starting and stopping a connector's instance and tasks.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use connect_core::config::Props;
use connect_core::connector::ConnectorContext;
use connect_core::plugin::PluginFactory;
use connect_core::record::TopicPartition;
use connect_core::running::RunningConnector;
use connect_core::ConnectError;

use super::assign::assign;
use super::slot::{Activity, Step};
use super::Shared;
use crate::client_overrides;
use crate::connector_config::ConnectorConfig;
use crate::kafka::KafkaSecurity;
use crate::status::{SharedStatus, State};
use crate::store::TargetState;
use crate::task::{self, ActiveTopics, Retries, TaskEnv, TaskId, TaskTarget};

/// How often a sink's topics are listed again, to pick up new partitions and topics matching
/// `topics.regex`.
pub(super) const TOPIC_REFRESH: Duration = Duration::from_secs(5);

/// The key of each task configuration that names the task's type (Kafka Connect's
/// `TaskConfig.TASK_CLASS_CONFIG`).
const TASK_CLASS: &str = "task.class";

/// A started connector instance.
pub(super) type Instance = Box<dyn RunningConnector>;

/// A running task.
pub(super) struct Task {
    pub status: SharedStatus,
    /// What it is retrying.
    pub retries: Retries,
    pub target: watch::Sender<TaskTarget>,
    pub handle: JoinHandle<()>,
    /// Sink tasks: their partitions.
    pub assignment: Option<watch::Sender<Vec<TopicPartition>>>,
}

/// A connector the herder owns.
pub(super) struct Connector {
    pub config: Arc<ConnectorConfig>,
    pub target: TargetState,
    pub status: SharedStatus,
    pub instance: Option<Instance>,
    pub task_configs: Vec<Props>,
    pub tasks: Vec<Option<Task>>,
    /// Sinks: the task that refreshes partition assignments.
    pub assigner: Option<JoinHandle<()>>,
    /// The topics the tasks used since the last reset.
    pub active_topics: ActiveTopics,
    /// The lifecycle call in progress, shared with the herder's slot of this connector.
    pub activity: Activity,
    /// Standalone: tasks start only with a started instance (they are its tasks). A
    /// distributed worker runs tasks whose connector runs on another worker, with the
    /// configurations committed to the config topic.
    pub tasks_need_instance: bool,
}

impl Connector {
    pub fn new(config: ConnectorConfig, target: TargetState, activity: Activity) -> Self {
        Self {
            config: Arc::new(config),
            target,
            status: SharedStatus::new(State::Unassigned),
            instance: None,
            task_configs: Vec::new(),
            tasks: Vec::new(),
            assigner: None,
            active_topics: ActiveTopics::default(),
            activity,
            tasks_need_instance: true,
        }
    }

    /// Distributed mode: starts the instance alone (its tasks run where the group assigns
    /// them) and returns the task configurations it generated, `None` when it failed (it is
    /// then FAILED).
    pub async fn start_instance_only(&mut self, shared: &Shared) -> Option<Vec<Props>> {
        shared.metrics.connector_startup_attempts.inc();
        let activity = self.activity.clone();
        let previous = std::mem::take(&mut self.task_configs);
        let started = activity
            .during(Step::StartingConnector, self.start_instance(shared))
            .await;
        let generated = std::mem::replace(&mut self.task_configs, previous);
        match started {
            Ok(()) => {
                shared.metrics.connector_startup_success.inc();
                self.status.set(if self.target == TargetState::Paused {
                    State::Paused
                } else {
                    State::Running
                });
                Some(generated)
            }
            Err(e) => {
                shared.metrics.connector_startup_failure.inc();
                tracing::error!(connector = %self.config.name, error = %e.trace(), "connector failed to start");
                self.status.fail(e.trace());
                None
            }
        }
    }

    /// Stops the instance alone (distributed mode: it moves to another worker or stops).
    pub async fn stop_instance(&mut self) {
        self.stop_running_instance().await;
        self.status.set(State::Unassigned);
    }

    /// Stops the instance, if one runs, recorded as the lifecycle step it is.
    async fn stop_running_instance(&mut self) {
        if let Some(instance) = self.instance.take() {
            self.activity
                .during(
                    Step::StoppingConnector,
                    stop_instance(instance, &self.config.name),
                )
                .await;
        }
    }

    /// Distributed mode: starts the tasks of these indices (with [`Connector::task_configs`]),
    /// sink tasks with their partitions of the connector's topics, and keeps those of every
    /// task running here up to date.
    pub async fn start_assigned_tasks(&mut self, shared: &Shared, indices: &[usize]) {
        self.tasks.resize_with(self.task_configs.len(), || None);
        if indices.is_empty() {
            return;
        }
        let assignments = match self.sink_assignment(shared).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(connector = %self.config.name, error = %e.trace(), "cannot list the topics of the sink's tasks");
                None
            }
        };
        for &index in indices {
            let assignment = assignments
                .as_ref()
                .map(|a| watch::channel(a.get(index).cloned().unwrap_or_default()).0);
            self.start_task(shared, index, assignment);
        }
        if assignments.is_some() {
            if let Some(assigner) = self.assigner.take() {
                assigner.abort();
            }
            self.assigner = Some(self.spawn_assigner(shared));
        }
    }

    /// Brings the connector to its target state from nothing running.
    pub async fn start(&mut self, shared: &Shared) {
        if self.target == TargetState::Stopped {
            self.status.set(State::Stopped);
            return;
        }
        shared.metrics.connector_startup_attempts.inc();
        let activity = self.activity.clone();
        match activity
            .during(Step::StartingConnector, self.start_instance(shared))
            .await
        {
            Ok(()) => {
                shared.metrics.connector_startup_success.inc();
                self.status.set(if self.target == TargetState::Paused {
                    State::Paused
                } else {
                    State::Running
                });
                activity
                    .during(Step::StartingTasks, self.start_tasks(shared))
                    .await;
            }
            Err(e) => {
                shared.metrics.connector_startup_failure.inc();
                tracing::error!(connector = %self.config.name, error = %e.trace(), "connector failed to start");
                self.status.fail(e.trace());
            }
        }
    }

    async fn start_instance(&mut self, shared: &Shared) -> Result<(), ConnectError> {
        let config = &self.config;
        // Secrets from config providers are read now, and only the connector instance and
        // (re-resolved at their start) the tasks see them.
        let resolved = shared
            .worker
            .providers
            .resolve(&config.props)
            .map_err(|e| ConnectError::fatal(e.to_string()))?;
        let (start, task_class) = match &config.plugin.factory {
            PluginFactory::Source(plugin) => (plugin.start_connector, plugin.task_class),
            PluginFactory::Sink(plugin) => (plugin.start_connector, plugin.task_class),
            _ => return Err(ConnectError::fatal("the plugin is not a connector")),
        };
        let instance = start(resolved.clone(), ConnectorContext::new(config.name.clone())).await?;
        let task_configs = instance.task_configs(config.tasks_max)?;
        let task_configs =
            crate::config_providers::unresolve(task_configs, &config.props, &resolved);
        self.instance = Some(instance);
        if config.tasks_max_enforce && task_configs.len() > config.tasks_max {
            return Err(ConnectError::fatal(format!(
                "The connector {} has generated {} tasks, which is greater than {}, the maximum number of tasks it is configured to create.",
                config.name,
                task_configs.len(),
                config.tasks_max
            )));
        }
        // Every task gets the connector's settings under its own, and `task.class` as Kafka
        // Connect adds it; a connector's own `task.class` key wins (docs/rest.md).
        self.task_configs = task_configs
            .into_iter()
            .map(|task| {
                let mut props = Props::from([(TASK_CLASS.to_owned(), task_class.to_owned())]);
                props.extend(config.props.clone());
                props.extend(task);
                props
            })
            .collect();
        Ok(())
    }

    async fn start_tasks(&mut self, shared: &Shared) {
        let assignments = match self.sink_assignment(shared).await {
            Ok(a) => a,
            Err(e) => {
                self.status.fail(e.trace());
                return;
            }
        };
        self.tasks = (0..self.task_configs.len()).map(|_| None).collect();
        for index in 0..self.task_configs.len() {
            let assignment = assignments
                .as_ref()
                .map(|a| watch::channel(a.get(index).cloned().unwrap_or_default()).0);
            self.start_task(shared, index, assignment);
        }
        if assignments.is_some() {
            self.assigner = Some(self.spawn_assigner(shared));
        }
    }

    /// Starts (or restarts) one task.
    /// A sink task reads its partitions from `assignment`, the sender the assigner keeps
    /// for this task index (reused across restarts so later re-deals reach the new task).
    pub fn start_task(
        &mut self,
        shared: &Shared,
        index: usize,
        assignment: Option<watch::Sender<Vec<TopicPartition>>>,
    ) {
        if self.tasks_need_instance && self.instance.is_none() {
            return;
        }
        let Some(props) = self.task_configs.get(index) else {
            return;
        };
        let status = SharedStatus::new(State::Unassigned);
        let props = match shared.worker.providers.resolve(props) {
            Ok(props) => props,
            Err(message) => {
                // A task that cannot start: FAILED, with the variable named (never a value).
                let problem = format!("cannot resolve the task's configuration: {message}");
                self.fail_start(shared, index, status, assignment, problem);
                return;
            }
        };
        let own_security = match self.task_security(shared) {
            Ok(security) => security,
            Err(problem) => {
                self.fail_start(shared, index, status, assignment, problem);
                return;
            }
        };
        let initial = if self.target == TargetState::Paused {
            TaskTarget::Pause
        } else {
            TaskTarget::Run
        };
        let (target_tx, target_rx) = watch::channel(initial);
        let id = TaskId {
            connector: self.config.name.clone(),
            task: index,
        };
        let retries = Retries::new(&id);
        let env = TaskEnv {
            id,
            task_count: self.task_configs.len(),
            connector: Arc::clone(&self.config),
            task_props: props,
            plugins: Arc::clone(&shared.plugins),
            worker: Arc::clone(&shared.worker),
            kafka: Arc::clone(&shared.kafka),
            producer: Arc::clone(&shared.producer),
            offsets: Arc::clone(&shared.offsets),
            status: status.clone(),
            target: target_rx,
            active_topics: self.active_topics.clone(),
            metrics: Arc::clone(&shared.metrics),
            retries: retries.clone(),
        };
        shared.metrics.task_startup_attempts.inc();
        // Every line a task logs, the connector's code included, carries these fields.
        let span = tracing::info_span!("task", connector = %self.config.name, task = index);
        let (handle, assignment) = match &self.config.plugin.factory {
            PluginFactory::Source(plugin) => {
                let start = plugin.start_task;
                let run = async move {
                    if let Some(env) = connected(env, own_security).await {
                        task::source::run(env, start).await;
                    }
                };
                (spawn_task(status.clone(), run.instrument(span)), None)
            }
            PluginFactory::Sink(plugin) => {
                let tx = assignment.unwrap_or_else(|| watch::channel(Vec::new()).0);
                let rx = tx.subscribe();
                let start = plugin.start_task;
                let run = async move {
                    if let Some(env) = connected(env, own_security).await {
                        task::sink::run(env, start, rx).await;
                    }
                };
                (spawn_task(status.clone(), run.instrument(span)), Some(tx))
            }
            _ => return,
        };
        if let Some(slot) = self.tasks.get_mut(index) {
            *slot = Some(Task {
                status,
                retries,
                target: target_tx,
                handle,
                assignment,
            });
        }
    }

    /// The Kafka security of this connector's tasks when its client overrides make it differ
    /// from the worker's (`None`: they share the worker's connection).
    fn task_security(&self, shared: &Shared) -> Result<Option<KafkaSecurity>, String> {
        let resolved = shared
            .worker
            .providers
            .resolve(&self.config.props)
            .map_err(|e| format!("cannot resolve the connector's configuration: {e}"))?;
        let kind = self.config.kind();
        let ignored = client_overrides::ignored_overrides(&resolved, kind);
        if !ignored.is_empty() {
            tracing::warn!(connector = %self.config.name, keys = ?ignored, "client override keys that have no effect in this worker");
        }
        client_overrides::task_security(&resolved, kind, &shared.worker)
            .map_err(|errors| format!("invalid client overrides: {errors}"))
    }

    /// Records a task that could not start: FAILED with `problem`, counted as a failed start.
    fn fail_start(
        &mut self,
        shared: &Shared,
        index: usize,
        status: SharedStatus,
        assignment: Option<watch::Sender<Vec<TopicPartition>>>,
        problem: String,
    ) {
        status.fail(problem);
        shared.metrics.task_startup_attempts.inc();
        shared.metrics.task_startup_failure.inc();
        let (target, _) = watch::channel(TaskTarget::Stop);
        if let Some(slot) = self.tasks.get_mut(index) {
            *slot = Some(Task {
                status,
                retries: Retries::new(&TaskId {
                    connector: self.config.name.clone(),
                    task: index,
                }),
                target,
                handle: tokio::spawn(async {}),
                assignment,
            });
        }
    }

    /// For sinks, the partitions of each task now.
    async fn sink_assignment(
        &self,
        shared: &Shared,
    ) -> Result<Option<Vec<Vec<TopicPartition>>>, ConnectError> {
        let Some(selection) = &self.config.topics else {
            return Ok(None);
        };
        let topics = shared.kafka.topics().await?;
        Ok(Some(assign(&topics, selection, self.task_configs.len())))
    }

    /// Re-lists topics now and then and hands tasks their new partitions when they change.
    fn spawn_assigner(&self, shared: &Shared) -> JoinHandle<()> {
        let Some(selection) = self.config.topics.clone() else {
            return tokio::spawn(async {});
        };
        let senders: Vec<Option<watch::Sender<Vec<TopicPartition>>>> = self
            .tasks
            .iter()
            .map(|t| t.as_ref().and_then(|t| t.assignment.clone()))
            .collect();
        let kafka = Arc::clone(&shared.kafka);
        let name = self.config.name.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TOPIC_REFRESH).await;
                match kafka.topics().await {
                    Ok(topics) => {
                        let next = assign(&topics, &selection, senders.len());
                        for (sender, partitions) in senders.iter().zip(next) {
                            if let Some(sender) = sender {
                                sender.send_if_modified(|current| {
                                    let changed = *current != partitions;
                                    if changed {
                                        *current = partitions;
                                    }
                                    changed
                                });
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(connector = %name, error = %e, "cannot list topics to refresh the assignment")
                    }
                }
            }
        })
    }

    /// Restarts the connector instance. When its task configurations change, every task is
    /// restarted with the new ones (returns `true`); otherwise the tasks keep running.
    pub async fn restart_instance(&mut self, shared: &Shared) -> bool {
        let activity = self.activity.clone();
        self.stop_running_instance().await;
        let previous = std::mem::take(&mut self.task_configs);
        match activity
            .during(Step::StartingConnector, self.start_instance(shared))
            .await
        {
            Ok(()) => {
                self.status.set(if self.target == TargetState::Paused {
                    State::Paused
                } else {
                    State::Running
                });
                let all_running = !self.tasks.is_empty() && self.tasks.iter().all(Option::is_some);
                if self.task_configs == previous && all_running {
                    return false;
                }
                if let Some(assigner) = self.assigner.take() {
                    assigner.abort();
                }
                let tasks: Vec<Task> = self.tasks.drain(..).flatten().collect();
                let timeout = shared.worker.task_shutdown_timeout;
                activity
                    .during(
                        Step::StoppingTasks,
                        stop_tasks(tasks, timeout, &self.config.name),
                    )
                    .await;
                activity
                    .during(Step::StartingTasks, self.start_tasks(shared))
                    .await;
                true
            }
            Err(e) => {
                self.task_configs = previous;
                self.status.fail(e.trace());
                false
            }
        }
    }

    /// Stops one task and starts it again with the same configuration and partitions.
    pub async fn restart_task(&mut self, shared: &Shared, index: usize, timeout: Duration) {
        if self.tasks_need_instance && self.instance.is_none() {
            // Without a started connector no task can start again: leave the running one.
            return;
        }
        let assignment = self
            .tasks
            .get(index)
            .and_then(Option::as_ref)
            .and_then(|t| t.assignment.clone());
        self.stop_task(index, timeout).await;
        self.start_task(shared, index, assignment);
    }

    /// Sets every task's target (pause or resume).
    pub fn set_task_targets(&self, target: TaskTarget) {
        for task in self.tasks.iter().flatten() {
            // A failed task stays FAILED until restarted (its loop has ended).
            let _ = task.target.send(target);
        }
    }

    /// Stops one task and waits for it, up to `timeout`.
    pub async fn stop_task(&mut self, index: usize, timeout: Duration) {
        let Some(task) = self.tasks.get_mut(index).and_then(Option::take) else {
            return;
        };
        self.activity
            .during(
                Step::StoppingTasks,
                stop_tasks(vec![task], timeout, &self.config.name),
            )
            .await;
    }

    /// Stops the tasks and the instance.
    pub async fn stop(&mut self, timeout: Duration) {
        if let Some(assigner) = self.assigner.take() {
            assigner.abort();
        }
        let tasks: Vec<Task> = self.tasks.drain(..).flatten().collect();
        self.activity
            .during(
                Step::StoppingTasks,
                stop_tasks(tasks, timeout, &self.config.name),
            )
            .await;
        self.stop_running_instance().await;
        self.task_configs.clear();
    }
}

/// Spawns a task loop; a panic in connector code marks the task FAILED with the panic's
/// message instead of leaving it RUNNING with nothing running.
/// The task's environment, with a connection of its own when `security` says so; `None`
/// (the task FAILED, counted as a failed start) when that connection cannot be made.
async fn connected(env: TaskEnv, security: Option<KafkaSecurity>) -> Option<TaskEnv> {
    let Some(security) = security else {
        return Some(env);
    };
    let status = env.status.clone();
    let metrics = Arc::clone(&env.metrics);
    match env.with_own_connection(security).await {
        Ok(env) => Some(env),
        Err(e) => {
            tracing::error!(error = %e.trace(), "task failed: cannot connect to Kafka");
            metrics.task_startup_failure.inc();
            status.fail(e.trace());
            None
        }
    }
}

fn spawn_task(
    status: SharedStatus,
    run: impl std::future::Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    use futures::FutureExt;
    tokio::spawn(async move {
        if let Err(panic) = std::panic::AssertUnwindSafe(run).catch_unwind().await {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::error!(message, "task panicked");
            status.fail(format!("the task panicked: {message}"));
        }
    })
}

async fn stop_instance(mut instance: Instance, connector: &str) {
    if let Err(e) = instance.stop().await {
        tracing::warn!(connector, error = %e, "stopping the connector failed");
    }
}

/// Asks tasks to stop, waits for all of them in parallel up to `timeout`, then aborts the rest.
async fn stop_tasks(tasks: Vec<Task>, timeout: Duration, connector: &str) {
    for task in &tasks {
        let _ = task.target.send(TaskTarget::Stop);
    }
    let waits = tasks.into_iter().map(|task| async move {
        let abort = task.handle.abort_handle();
        if tokio::time::timeout(timeout, task.handle).await.is_err() {
            abort.abort();
            false
        } else {
            true
        }
    });
    let finished = futures::future::join_all(waits).await;
    let aborted = finished.iter().filter(|f| !**f).count();
    if aborted > 0 {
        tracing::warn!(
            connector,
            aborted,
            "tasks did not stop within task.shutdown.graceful.timeout.ms and were aborted"
        );
    }
}
