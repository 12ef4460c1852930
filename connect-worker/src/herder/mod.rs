//! The herder owns the connectors: it checks and stores their configurations, brings them to
//! their target states (STARTED, PAUSED, STOPPED), starts and restarts their tasks, assigns
//! sink partitions and answers the REST API.
//!
//! No lock shared by all connectors is held across a call into a connector: each has a lock
//! of its own (`slot.rs`), and its lifecycle calls run in a task of their own that the
//! request waits for a bounded time (`Herder::carry_out`; docs/rest.md, "A busy connector").

mod api;
mod assign;
pub(crate) mod cluster;
pub mod offsets;
mod restart;
mod runtime;
mod slot;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use connect_core::config::{hide_uri_passwords, ConfigInfos, Password, Props};
use connect_core::plugin::{PluginKind, Plugins};

use crate::config::WorkerConfig;
use crate::connector_config;
use crate::kafka::{Kafka, KafkaClient, KafkaProducer, Producer};
use crate::metrics::{ConnectorSnapshot, TaskSnapshot, WorkerMetrics};
use crate::status::State;
use crate::store::{ConfigStore, ConnectorRecord, OffsetStore, TargetState};
use crate::task::{Outage, TaskId, TaskTarget};

pub use api::{
    ActiveTopics, ConnectorInfo, ConnectorOffsets, ConnectorStateInfo, ConnectorTaskId,
    ConnectorType, HerderError, PartitionOffset, StateInfo, TaskInfo, TaskState,
};
pub use assign::assign;
pub use cluster::RequestTarget;
use restart::RestartPlan;
use runtime::Connector;
use slot::{Slot, View};

/// How long deleting a connector waits for a sink to remove the offsets it keeps elsewhere.
const EXTERNAL_OFFSETS_TIMEOUT: Duration = Duration::from_secs(10);

/// How long past `task.shutdown.graceful.timeout.ms` a request waits for a connector's
/// lifecycle calls: those of its own change (past that it answers what it decided and the
/// calls go on in the background) or those of the change in progress before it (past that it
/// answers 409 naming the call). The tasks get the graceful timeout to stop; this margin is for
/// the connector's own `start` and `stop`. Kafka Connect waits 90 s, its REST request timeout,
/// then answers 500 "Request timed out": a client learns sooner here that a connector is stuck,
/// and a healthy change still completes before its request answers.
const LIFECYCLE_MARGIN: Duration = Duration::from_secs(5);

/// How long past `task.shutdown.graceful.timeout.ms` the worker's shutdown waits for its
/// connectors (tasks still running at the graceful timeout are aborted) before it gives up on
/// those whose `start` or `stop` does not return, so that a stuck connector cannot keep the
/// worker from exiting.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);

/// What the connectors and tasks share.
pub(crate) struct Shared {
    pub plugins: Arc<Plugins>,
    pub worker: Arc<WorkerConfig>,
    pub kafka: Arc<dyn KafkaClient>,
    pub producer: Arc<dyn KafkaProducer>,
    pub offsets: Arc<dyn OffsetStore>,
    pub configs: Arc<dyn ConfigStore>,
    pub worker_id: String,
    pub metrics: Arc<WorkerMetrics>,
}

/// The herder of a standalone worker. Cloning shares it.
#[derive(Clone)]
pub struct Herder {
    shared: Arc<Shared>,
    /// The connectors by name. Held to look one up, add or remove it, never across an
    /// `.await`: each connector has a lock of its own for its changes (`slot.rs`).
    connectors: Arc<Mutex<BTreeMap<String, Arc<Slot>>>>,
    /// Distributed mode (`group.id`): the cluster's state and this worker's membership; the
    /// connectors above are then those of which something runs here.
    cluster: Option<Arc<cluster::Cluster>>,
}

impl std::fmt::Debug for Herder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Herder")
            .field("worker_id", &self.shared.worker_id)
            .finish_non_exhaustive()
    }
}

type Result<T> = std::result::Result<T, HerderError>;

/// Puts back the stored value of each key whose given value is what the REST API shows for
/// it: a secret it masked, sent back by a client that GETs a config and PUTs it
/// (`Herder::put_config`).
fn keep_masked_secrets(props: &mut Props, stored: &Props) {
    for (key, value) in props.iter_mut() {
        let Some(stored) = stored.get(key) else {
            continue;
        };
        if value == Password::HIDDEN || *value == hide_uri_passwords(stored) {
            value.clone_from(stored);
        }
    }
}

/// A connector name from a request ([`connector_config::check_name`]).
fn check_name(name: &str) -> Result<()> {
    // An empty name is reported with the configuration's other problems (`name` is required).
    connector_config::check_name(name).map_err(HerderError::BadRequest)
}

impl Herder {
    /// A herder over these stores and rskafka clients; call [`Herder::restore`] to bring back
    /// the stored connectors.
    pub fn new(
        plugins: Arc<Plugins>,
        worker: Arc<WorkerConfig>,
        kafka: Kafka,
        producer: Arc<Producer>,
        offsets: Arc<dyn OffsetStore>,
        configs: Arc<dyn ConfigStore>,
        worker_id: String,
    ) -> Self {
        Self::with_clients(
            plugins,
            worker,
            Arc::new(kafka),
            producer,
            offsets,
            configs,
            worker_id,
        )
    }

    /// A herder over these stores and Kafka clients (any implementation of the traits in
    /// [`crate::kafka::api`]).
    pub fn with_clients(
        plugins: Arc<Plugins>,
        worker: Arc<WorkerConfig>,
        kafka: Arc<dyn KafkaClient>,
        producer: Arc<dyn KafkaProducer>,
        offsets: Arc<dyn OffsetStore>,
        configs: Arc<dyn ConfigStore>,
        worker_id: String,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                plugins,
                worker,
                kafka,
                producer,
                offsets,
                configs,
                worker_id,
                metrics: Arc::new(WorkerMetrics::new()),
            }),
            connectors: Arc::default(),
            cluster: None,
        }
    }

    /// This herder, distributed: `cluster` holds the cluster's state and membership.
    pub(crate) fn into_distributed(mut self, cluster: Arc<cluster::Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// Whether this worker is part of a cluster (`group.id`).
    pub fn is_distributed(&self) -> bool {
        self.cluster.is_some()
    }

    /// The Kafka cluster's id, once a broker told it (`GET /`).
    pub fn kafka_cluster_id(&self) -> Option<String> {
        self.shared.kafka.cluster_id()
    }

    /// The worker's metrics.
    pub fn metrics(&self) -> &Arc<WorkerMetrics> {
        &self.shared.metrics
    }

    /// `GET /metrics`: the metrics in Prometheus' text format, states as of now; only the
    /// families named in `names` (`?name[]=..`), or all when it is empty.
    pub async fn metrics_text(&self, names: &[String]) -> String {
        let snapshot: Vec<ConnectorSnapshot> = self
            .views()
            .into_iter()
            .map(|(_, view)| {
                // One read: the state and whether the connector runs here must agree.
                let state = view.status.get().state;
                ConnectorSnapshot {
                    name: view.config.name.clone(),
                    class: view.config.plugin.class.clone(),
                    kind: match view.config.kind() {
                        PluginKind::Source => "source",
                        PluginKind::Sink => "sink",
                        _ => "unknown",
                    },
                    version: view.config.plugin.version.clone(),
                    state: state.name(),
                    // A distributed worker leaves the connectors assigned elsewhere UNASSIGNED.
                    runs_here: self.cluster.is_none() || state != State::Unassigned,
                    tasks: view
                        .tasks
                        .iter()
                        .enumerate()
                        .filter_map(|(id, t)| t.as_ref().map(|t| (id, t)))
                        .map(|(id, t)| {
                            let (running_ratio, pause_ratio) = t.status.ratios();
                            TaskSnapshot {
                                id,
                                state: t.status.get().state.name(),
                                running_ratio,
                                pause_ratio,
                                retrying: !t.retries.outages().is_empty(),
                                retry_attempts: t.retries.attempts(),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let rebalance = self.cluster.as_ref().map(|cluster| {
            rebalance_snapshot(
                &cluster.coordinator.rebalance_stats(),
                std::time::Instant::now(),
            )
        });
        self.shared
            .metrics
            .render_only(&snapshot, rebalance.as_ref(), names)
    }

    /// `GET /health`: the tasks retrying an operation now, by connector and task.
    pub fn retrying_tasks(&self) -> Vec<(TaskId, Outage)> {
        let mut retrying = Vec::new();
        for (name, view) in self.views() {
            for (index, task) in view.tasks.iter().enumerate() {
                let Some(task) = task else { continue };
                for outage in task.retries.outages() {
                    let id = TaskId {
                        connector: name.clone(),
                        task: index,
                    };
                    retrying.push((id, outage));
                }
            }
        }
        retrying
    }

    /// The plugins this worker knows.
    pub fn plugins(&self) -> &Plugins {
        &self.shared.plugins
    }

    /// The worker's id in status responses (`host:port`).
    pub fn worker_id(&self) -> &str {
        &self.shared.worker_id
    }

    /// Starts every connector in the config store, in its stored target state, all at once.
    /// Waits for their starts as a request does: one whose start does not return keeps
    /// starting in the background. A connector whose stored configuration no longer checks
    /// out is logged and left out.
    pub async fn restore(&self) {
        let mut starts = Vec::new();
        for (name, record) in self.shared.configs.all() {
            match self.check_resolved(record.config) {
                Ok(config) => {
                    let (slot, connector) = Slot::new(&name, config, record.target_state);
                    self.slots().insert(name, Arc::clone(&slot));
                    starts.push(async move { self.start(&slot, connector).await });
                }
                Err(e) => {
                    tracing::error!(connector = %name, error = %e, "the stored configuration is invalid; the connector is not started");
                }
            }
        }
        for result in futures::future::join_all(starts).await {
            if let Err(e) = result {
                tracing::error!(error = %e, "a stored connector could not be started");
            }
        }
    }

    /// The connectors' names, sorted.
    pub async fn connector_names(&self) -> Vec<String> {
        if self.cluster.is_some() {
            return self.cluster_connector_names();
        }
        self.slots().keys().cloned().collect()
    }

    /// Creates a connector in `initial_state`. Nothing is stored or started when the
    /// configuration is invalid. Answers once it started, or with no tasks yet when its start
    /// takes longer than a request waits (it goes on starting).
    pub async fn create(
        &self,
        name: &str,
        props: Props,
        initial_state: TargetState,
    ) -> Result<ConnectorInfo> {
        if self.cluster.is_some() {
            return self.cluster_create(name, props, initial_state).await;
        }
        if self.find(name).is_some() {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        let config = self.check(name, props)?;
        let (slot, connector) = self.add(name, config, initial_state)?;
        self.start(&slot, connector).await?;
        Ok(self.info_of(name, &slot.view()))
    }

    /// Creates or replaces a connector's configuration; `true` when it was created.
    ///
    /// A value the REST API would show for a key's stored value keeps the stored value: it is
    /// a secret the REST API masked, sent back by a client that GETs a config and PUTs it.
    /// That is `[hidden]` (password-typed keys), or the stored URI with its password masked
    /// (`redis://user:********@host`), exactly: a masked password sent with another host or
    /// user is not filled in, so it cannot be sent to a server of the client's choosing.
    pub async fn put_config(&self, name: &str, props: Props) -> Result<(bool, ConnectorInfo)> {
        if self.cluster.is_some() {
            return self.cluster_put_config(name, props).await;
        }
        let Some(slot) = self.find(name) else {
            return match self.create(name, props.clone(), TargetState::Started).await {
                // Created by another request meanwhile: this one replaces its configuration.
                Err(HerderError::AlreadyExists(_)) => {
                    let slot = self.slot(name)?;
                    self.update(&slot, props).await.map(|info| (false, info))
                }
                other => other.map(|info| (true, info)),
            };
        };
        match self.update(&slot, props.clone()).await {
            // Deleted by the request this one waited for: created again, as after the delete.
            Err(HerderError::NotFound(_)) if slot.is_deleted() => self
                .create(name, props, TargetState::Started)
                .await
                .map(|info| (true, info)),
            other => other.map(|info| (false, info)),
        }
    }

    /// Replaces an existing connector's configuration: the new one is stored and shown at
    /// once, then the old connector is stopped and the new one started.
    async fn update(&self, slot: &Arc<Slot>, mut props: Props) -> Result<ConnectorInfo> {
        let mut connector = self.lock(slot).await?;
        let name = slot.name().to_owned();
        keep_masked_secrets(&mut props, &connector.config.props);
        let config = self.check(&name, props)?;
        self.store(&name, &config.props, connector.target)?;
        let target = connector.target;
        let mut old = std::mem::replace(
            &mut *connector,
            Connector::new(config, target, slot.activity()),
        );
        slot.publish(&connector);
        let shared = Arc::clone(&self.shared);
        let published = Arc::clone(slot);
        self.carry_out(slot, async move {
            old.stop(shared.worker.task_shutdown_timeout).await;
            connector.start(&shared).await;
            published.publish(&connector);
        })
        .await?;
        Ok(self.info_of(&name, &slot.view()))
    }

    /// Changes some keys of a connector's configuration (`None` removes a key).
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo> {
        let mut props = self.config(name).await?;
        for (key, value) in patch {
            match value {
                Some(v) => props.insert(key, v),
                None => props.remove(&key),
            };
        }
        self.put_config(name, props).await.map(|(_, info)| info)
    }

    /// Stops and removes a connector. Its offsets are kept, as in Kafka Connect.
    pub async fn delete(&self, name: &str) -> Result<()> {
        if self.cluster.is_some() {
            return self.cluster_delete(name).await;
        }
        let slot = self.slot(name)?;
        let mut connector = self.lock(&slot).await?;
        self.shared
            .configs
            .remove(name)
            .map_err(|e| HerderError::Internal(e.to_string()))?;
        slot.mark_deleted(&connector);
        {
            let mut slots = self.slots();
            if slots.get(name).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                slots.remove(name);
            }
        }
        let shared = Arc::clone(&self.shared);
        let name = name.to_owned();
        self.carry_out(&slot, async move {
            connector.stop(shared.worker.task_shutdown_timeout).await;
            // The offsets a sink keeps in its own system go with the connector; the worker's
            // own stay, as Kafka Connect keeps a deleted connector's offsets. Bounded: an
            // outside system that is away must not hold up the delete.
            let config = Arc::clone(&connector.config);
            match tokio::time::timeout(
                EXTERNAL_OFFSETS_TIMEOUT,
                offsets::reset_external_offsets(&config, &shared.worker.providers),
            )
            .await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(connector = name, error = %e.trace(), "cannot remove the offsets the deleted connector kept")
                }
                Err(_) => {
                    tracing::warn!(connector = name, "gave up removing the offsets the deleted connector kept after {EXTERNAL_OFFSETS_TIMEOUT:?}")
                }
            }
        })
        .await?;
        Ok(())
    }

    /// Moves a connector to a target state (pause, resume, stop). Idempotent.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<()> {
        if self.cluster.is_some() {
            return self.cluster_set_target(name, target).await;
        }
        let slot = self.slot(name)?;
        let mut connector = self.lock(&slot).await?;
        if connector.target == target {
            return Ok(());
        }
        self.store(name, &connector.config.props, target)?;
        let previous = connector.target;
        connector.target = target;
        let shared = Arc::clone(&self.shared);
        let published = Arc::clone(&slot);
        match (previous, target) {
            (_, TargetState::Stopped) => {
                self.carry_out(&slot, async move {
                    connector.stop(shared.worker.task_shutdown_timeout).await;
                    connector.status.set(State::Stopped);
                    published.publish(&connector);
                })
                .await?;
            }
            (TargetState::Stopped, _) => self.start(&slot, connector).await?,
            (_, TargetState::Paused) => {
                connector.set_task_targets(TaskTarget::Pause);
                if connector.status.get().state != State::Failed {
                    connector.status.set(State::Paused);
                }
            }
            (_, TargetState::Started) => {
                connector.set_task_targets(TaskTarget::Run);
                if connector.status.get().state != State::Failed {
                    connector.status.set(State::Running);
                }
            }
        }
        Ok(())
    }

    /// Restarts a connector, and with `include_tasks` its tasks (`only_failed`: just the
    /// failed ones), as `RestartPlan` (restart.rs) decides. Returns the status with the instances being
    /// restarted as RESTARTING, or `None` for the plain connector restart (`204`).
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>> {
        if self.cluster.is_some() {
            return self.cluster_restart(name, include_tasks, only_failed).await;
        }
        let slot = self.slot(name)?;
        let mut connector = self.lock(&slot).await?;
        let view = slot.view();
        let task_states: Vec<State> = view
            .tasks
            .iter()
            .map(|t| {
                t.as_ref()
                    .map_or(State::Unassigned, |t| t.status.get().state)
            })
            .collect();
        let plan = RestartPlan::new(
            include_tasks,
            only_failed,
            view.status.get().state,
            &task_states,
        );
        let answer = plan.answer(self.status_of(name, &view));
        // Kafka Connect restarts nothing of a STOPPED connector either.
        if connector.target != TargetState::Stopped {
            let shared = Arc::clone(&self.shared);
            let published = Arc::clone(&slot);
            self.carry_out(&slot, async move {
                let timeout = shared.worker.task_shutdown_timeout;
                let all_tasks_restarted =
                    plan.connector && connector.restart_instance(&shared).await;
                if !all_tasks_restarted {
                    for index in plan.tasks {
                        connector.restart_task(&shared, index, timeout).await;
                    }
                }
                published.publish(&connector);
            })
            .await?;
        }
        Ok(answer)
    }

    /// Restarts one task.
    pub async fn restart_task(&self, name: &str, task: usize) -> Result<()> {
        let slot = self.slot(name)?;
        let mut connector = self.lock(&slot).await?;
        if task >= connector.tasks.len() {
            return Err(HerderError::TaskNotFound {
                connector: name.to_owned(),
                task,
            });
        }
        let shared = Arc::clone(&self.shared);
        let published = Arc::clone(&slot);
        self.carry_out(&slot, async move {
            let timeout = shared.worker.task_shutdown_timeout;
            connector.restart_task(&shared, task, timeout).await;
            published.publish(&connector);
        })
        .await?;
        Ok(())
    }

    /// A connector's configuration as given.
    pub async fn config(&self, name: &str) -> Result<Props> {
        if self.cluster.is_some() {
            return self.cluster_config(name);
        }
        Ok(self.view(name)?.config.props.clone())
    }

    /// `GET /connectors/{name}`.
    pub async fn info(&self, name: &str) -> Result<ConnectorInfo> {
        if self.cluster.is_some() {
            return self.cluster_info(name);
        }
        let view = self.view(name)?;
        Ok(self.info_of(name, &view))
    }

    /// `GET /connectors/{name}/status`.
    pub async fn status(&self, name: &str) -> Result<ConnectorStateInfo> {
        if self.cluster.is_some() {
            return self.cluster_status(name);
        }
        let view = self.view(name)?;
        Ok(self.status_of(name, &view))
    }

    /// `GET /connectors/{name}/tasks`.
    pub async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>> {
        if self.cluster.is_some() {
            return self.cluster_task_infos(name);
        }
        Ok(self
            .view(name)?
            .task_configs
            .iter()
            .enumerate()
            .map(|(task, config)| TaskInfo {
                id: ConnectorTaskId {
                    connector: name.to_owned(),
                    task,
                },
                config: config.clone(),
            })
            .collect())
    }

    /// `GET /connectors/{name}/tasks/{task}/status`.
    pub async fn task_status(&self, name: &str, task: usize) -> Result<TaskState> {
        self.status(name)
            .await?
            .tasks
            .into_iter()
            .find(|t| t.id == task)
            .ok_or_else(|| HerderError::TaskNotFound {
                connector: name.to_owned(),
                task,
            })
    }

    /// `PUT /connector-plugins/{plugin}/config/validate`: every key of the connector and the
    /// worker's common keys, with values and problems.
    pub fn validate(&self, plugin_name: &str, props: &Props) -> Result<ConfigInfos> {
        let plugin = self
            .shared
            .plugins
            .find(plugin_name, &[PluginKind::Source, PluginKind::Sink])
            .map_err(|e| HerderError::PluginNotFound(e.to_string()))?;
        let common = match plugin.kind() {
            PluginKind::Source => connector_config::source_def(),
            _ => connector_config::sink_def(),
        };
        let def = common.merge(plugin.config_def.clone());
        // Checked as it will run: with the config providers' variables resolved.
        let resolved = match self.shared.worker.providers.resolve(props) {
            Ok(resolved) => resolved,
            Err(e) => return Ok(def.validate(plugin.simple_name(), props, &e.config_errors())),
        };
        let raw = props;
        let props = &resolved;
        let mut extra = match connector_config::check(props, &self.shared.plugins) {
            Ok(_) => Default::default(),
            Err(errors) => errors,
        };
        extra.extend(crate::client_overrides::check(
            props,
            plugin.kind(),
            &self.shared.worker,
        ));
        // Keys the definitions check themselves are not reported twice.
        let mut only_extra = connect_core::config::ConfigErrors::default();
        let own = def.parse(props).err().unwrap_or_default();
        for (key, message) in extra.iter() {
            if !own.iter().any(|(k, m)| k == key && m == message) {
                only_extra.add(key, message);
            }
        }
        let mut infos = def.validate(plugin.simple_name(), props, &only_extra);
        // Shown as written: a resolved variable may be a secret.
        for info in &mut infos.configs {
            let hidden = info.value.value.as_deref() == Some(Password::HIDDEN);
            if let Some(written) = raw.get(&info.value.name).filter(|v| v.contains("${")) {
                if !hidden {
                    info.value.value = Some(written.clone());
                }
            }
        }
        Ok(infos)
    }

    /// `GET /connectors/{name}/topics`: the topics its tasks used since the last reset.
    pub async fn active_topics(&self, name: &str) -> Result<ActiveTopics> {
        if self.cluster.is_some() && self.find(name).is_none() {
            // Nothing of it runs here: no topic used here.
            self.cluster_config(name)?;
            return Ok(ActiveTopics::from([(
                name.to_owned(),
                BTreeMap::from([("topics", Vec::new())]),
            )]));
        }
        let view = self.view(name)?;
        let mut body = ActiveTopics::new();
        body.insert(
            name.to_owned(),
            BTreeMap::from([("topics", view.active_topics.list())]),
        );
        Ok(body)
    }

    /// `PUT /connectors/{name}/topics/reset`: forgets the topics used so far.
    pub async fn reset_active_topics(&self, name: &str) -> Result<()> {
        if self.cluster.is_some() && self.find(name).is_none() {
            // Nothing of it runs here: no topic to forget here (active topics are per worker
            // in distributed mode, docs/distributed.md).
            self.cluster_config(name)?;
            return Ok(());
        }
        self.view(name)?.active_topics.reset();
        Ok(())
    }

    /// Stops every connector (worker shutdown); their offsets are stored by their tasks.
    /// Tasks get `task.shutdown.graceful.timeout.ms` to stop; a connector whose `start` or
    /// `stop` has not returned `SHUTDOWN_MARGIN` later is given up on.
    pub async fn shutdown(&self) {
        if self.cluster.is_some() {
            return self.cluster_shutdown().await;
        }
        let timeout = self.shared.worker.task_shutdown_timeout;
        let slots: Vec<Arc<Slot>> = self.slots().values().cloned().collect();
        let mut stops: Vec<_> = slots
            .iter()
            .map(|slot| {
                let slot = Arc::clone(slot);
                tokio::spawn(async move {
                    // No limit here: the shutdown gives up on this below, and the connector
                    // is still stopped if its call returns before the worker exits.
                    let mut connector = slot.lock(Duration::MAX).await?;
                    connector.stop(timeout).await;
                    slot.publish(&connector);
                    Ok::<(), HerderError>(())
                })
            })
            .collect();
        let all = futures::future::join_all(stops.iter_mut());
        if tokio::time::timeout(timeout + SHUTDOWN_MARGIN, all)
            .await
            .is_ok()
        {
            return;
        }
        for (slot, stop) in slots.iter().zip(&stops) {
            if !stop.is_finished() {
                tracing::warn!(
                    connector = slot.name(),
                    activity = slot.activity_now(),
                    "gave up stopping the connector: it did not stop within task.shutdown.graceful.timeout.ms + {SHUTDOWN_MARGIN:?}"
                );
            }
        }
    }

    /// The connectors, for lookups only (never held across an `.await`).
    fn slots(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Slot>>> {
        self.connectors.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn find(&self, name: &str) -> Option<Arc<Slot>> {
        self.slots().get(name).cloned()
    }

    fn slot(&self, name: &str) -> Result<Arc<Slot>> {
        self.find(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))
    }

    /// What requests read about a connector, without waiting for its lock.
    fn view(&self, name: &str) -> Result<Arc<View>> {
        Ok(self.slot(name)?.view())
    }

    /// Every connector's view, by name.
    fn views(&self) -> Vec<(String, Arc<View>)> {
        self.slots()
            .iter()
            .map(|(name, slot)| (name.clone(), slot.view()))
            .collect()
    }

    /// How long a request waits for a connector's lifecycle calls ([`LIFECYCLE_MARGIN`]).
    fn lifecycle_wait(&self) -> Duration {
        self.shared.worker.task_shutdown_timeout + LIFECYCLE_MARGIN
    }

    /// The connector's lock, for a request that changes it: 409 when the change in progress
    /// does not end within [`Herder::lifecycle_wait`].
    async fn lock(&self, slot: &Slot) -> Result<OwnedMutexGuard<Connector>> {
        slot.lock(self.lifecycle_wait()).await
    }

    /// Adds a connector and stores its configuration; it comes locked, for the caller to
    /// start it.
    fn add(
        &self,
        name: &str,
        config: connector_config::ConnectorConfig,
        target: TargetState,
    ) -> Result<(Arc<Slot>, OwnedMutexGuard<Connector>)> {
        let mut slots = self.slots();
        if slots.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        // Stored with the map held, so that two requests cannot both create it (a write to
        // the config file, not a call into the connector).
        self.store(name, &config.props, target)?;
        let (slot, connector) = Slot::new(name, config, target);
        slots.insert(name.to_owned(), Arc::clone(&slot));
        Ok((slot, connector))
    }

    /// Brings a connector, locked by `connector`, to its target state from nothing running.
    async fn start(
        &self,
        slot: &Arc<Slot>,
        mut connector: OwnedMutexGuard<Connector>,
    ) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let published = Arc::clone(slot);
        self.carry_out(slot, async move {
            connector.start(&shared).await;
            published.publish(&connector);
        })
        .await?;
        Ok(())
    }

    /// Runs a connector's lifecycle calls in a task of their own, which holds the connector's
    /// lock (moved into `calls`) until they return, and waits for them up to
    /// [`Herder::lifecycle_wait`]: `None` when they still run. A request thus answers in
    /// bounded time, and a call that hangs is never cancelled half-way.
    async fn carry_out<T: Send + 'static>(
        &self,
        slot: &Slot,
        calls: impl Future<Output = T> + Send + 'static,
    ) -> Result<Option<T>> {
        self.carry_out_within(slot, self.lifecycle_wait(), calls)
            .await
    }

    /// [`Herder::carry_out`], waiting up to `wait`: for calls followed by Kafka calls of
    /// their own (a sink's offsets changes), which get their own time on top.
    async fn carry_out_within<T: Send + 'static>(
        &self,
        slot: &Slot,
        wait: Duration,
        calls: impl Future<Output = T> + Send + 'static,
    ) -> Result<Option<T>> {
        match tokio::time::timeout(wait, tokio::spawn(calls)).await {
            Ok(Ok(value)) => Ok(Some(value)),
            Ok(Err(e)) => Err(HerderError::Internal(format!("The request failed: {e}"))),
            Err(_) => {
                tracing::warn!(
                    connector = slot.name(),
                    activity = slot.activity_now(),
                    "the request answers after {wait:?} without waiting for the connector any longer; its lifecycle call goes on"
                );
                Ok(None)
            }
        }
    }

    fn check(&self, name: &str, mut props: Props) -> Result<connector_config::ConnectorConfig> {
        check_name(name)?;
        match props.get("name") {
            Some(given) if given != name => {
                return Err(HerderError::BadRequest(
                    "Connector name configuration (".to_owned()
                        + given
                        + ") doesn't match connector name in the URL ("
                        + name
                        + ")",
                ))
            }
            Some(_) => {}
            None => {
                props.insert("name".into(), name.to_owned());
            }
        }
        self.check_resolved(props)
    }

    /// Checks a configuration with its config-provider variables resolved, and keeps it as
    /// written (the variables, not the secrets, are stored and shown).
    fn check_resolved(&self, props: Props) -> Result<connector_config::ConnectorConfig> {
        let resolved = self.shared.worker.providers.resolve(&props).map_err(|e| {
            HerderError::InvalidConfig {
                errors: e.config_errors(),
            }
        })?;
        let mut config = connector_config::check(&resolved, &self.shared.plugins)
            .map_err(|errors| HerderError::InvalidConfig { errors })?;
        let overrides =
            crate::client_overrides::check(&resolved, config.kind(), &self.shared.worker);
        if !overrides.is_empty() {
            return Err(HerderError::InvalidConfig { errors: overrides });
        }
        config.props = props;
        Ok(config)
    }

    fn store(&self, name: &str, props: &Props, target: TargetState) -> Result<()> {
        self.shared
            .configs
            .put(
                name,
                ConnectorRecord {
                    config: props.clone(),
                    target_state: target,
                },
            )
            .map_err(|e| HerderError::Internal(e.to_string()))
    }

    fn kind_of(view: &View) -> ConnectorType {
        match view.config.kind() {
            PluginKind::Source => ConnectorType::Source,
            PluginKind::Sink => ConnectorType::Sink,
            _ => ConnectorType::Unknown,
        }
    }

    fn info_of(&self, name: &str, view: &View) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_owned(),
            config: view.config.props.clone(),
            tasks: (0..view.task_configs.len())
                .map(|task| ConnectorTaskId {
                    connector: name.to_owned(),
                    task,
                })
                .collect(),
            kind: Self::kind_of(view),
        }
    }

    fn status_of(&self, name: &str, view: &View) -> ConnectorStateInfo {
        let state_info = |status: crate::status::Status| StateInfo {
            state: status.state.name(),
            worker_id: self.shared.worker_id.clone(),
            // Traces are connectors' messages, which may quote a URI with its password.
            trace: status
                .trace
                .map(|trace| hide_uri_passwords(&trace).into_owned()),
        };
        ConnectorStateInfo {
            name: name.to_owned(),
            connector: state_info(view.status.get()),
            tasks: view
                .tasks
                .iter()
                .enumerate()
                .map(|(id, task)| TaskState {
                    id,
                    state: state_info(task.as_ref().map_or(
                        crate::status::Status {
                            state: State::Unassigned,
                            trace: None,
                        },
                        |t| t.status.get(),
                    )),
                })
                .collect(),
            kind: Self::kind_of(view),
        }
    }
}

/// Kafka Connect's rebalance metrics from the coordinator's counts, as of `now`.
fn rebalance_snapshot(
    stats: &crate::distributed::coordinator::RebalanceStats,
    now: std::time::Instant,
) -> crate::metrics::RebalanceSnapshot {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let completed = stats.completed_rebalances;
    crate::metrics::RebalanceSnapshot {
        leader_url: stats.leader_url.clone(),
        epoch: stats.generation.map_or(-1, i64::from),
        completed_rebalances: completed,
        rebalancing: stats.rebalancing,
        max_time_ms: ms(stats.max_rebalance_duration),
        avg_time_ms: if completed == 0 {
            0.0
        } else {
            ms(stats.total_rebalance_duration) / completed as f64
        },
        time_since_last_ms: stats
            .last_rebalance
            .map_or(f64::INFINITY, |at| ms(now.saturating_duration_since(at))),
    }
}

#[cfg(test)]
mod tests {
    //! The herder over the in-memory Kafka (`task::testkit`).

    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use bytes::Bytes;
    use connect_core::data::Value;
    use connect_core::ConnectError;

    use super::*;
    use crate::kafka::memory::MemoryKafka;
    use crate::store::{FileConfigStore, FileOffsetStore};
    use crate::task::testkit::{
        plugins, probe, source_record, worker_config, TestDir, SOURCE_CLASS,
    };

    /// The bound of every wait.
    const LIMIT: Duration = Duration::from_secs(10);

    /// Waits until task 0 of `name` is in `state`; panics with the status after [`LIMIT`].
    async fn wait_for_task(herder: &Herder, name: &str, state: &str) -> TaskState {
        let deadline = Instant::now() + LIMIT;
        loop {
            let status = herder.status(name).await.unwrap();
            if let Some(task) = status.tasks.first().filter(|t| t.state.state == state) {
                return task.clone();
            }
            assert!(
                Instant::now() < deadline,
                "task 0 not {state} within {LIMIT:?}: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_failed_task_restarted_with_only_failed_comes_back_running_alone() {
        let name = "herder-restart";
        let dir = TestDir::new(name);
        let worker = worker_config(&dir);
        let kafka = MemoryKafka::new();
        kafka.create("out", 1);
        let offsets = Arc::new(FileOffsetStore::open(&worker.offsets_file, "test").unwrap());
        let configs = Arc::new(FileConfigStore::open(&worker.configs_file, "test").unwrap());
        let herder = Herder::with_clients(
            plugins(),
            worker,
            Arc::clone(&kafka) as _,
            Arc::clone(&kafka) as _,
            offsets,
            configs,
            "test:0".into(),
        );
        let probe = probe(name);
        probe.then_poll(Err(ConnectError::fatal("the source is broken")));
        let props = Props::from([
            ("connector.class".to_owned(), SOURCE_CLASS.to_owned()),
            ("tasks.max".to_owned(), "1".to_owned()),
            (
                "value.converter".to_owned(),
                "org.apache.kafka.connect.converters.ByteArrayConverter".to_owned(),
            ),
        ]);
        herder
            .create(name, props, TargetState::Started)
            .await
            .unwrap();
        let failed = wait_for_task(&herder, name, "FAILED").await;
        let trace = failed.state.trace.unwrap_or_default();
        assert!(trace.contains("the source is broken"), "{trace}");

        let answer = herder.restart(name, true, true).await.unwrap();
        let answer = answer.expect("includeTasks answers with the status");
        assert_eq!(answer.connector.state, "RUNNING");
        assert_eq!(answer.tasks[0].state.state, "RESTARTING");
        wait_for_task(&herder, name, "RUNNING").await;
        // onlyFailed: the running connector was left alone, the failed task started again.
        assert_eq!(probe.connector_starts.load(Ordering::SeqCst), 1);
        assert_eq!(probe.task_starts.load(Ordering::SeqCst), 2);
        assert_eq!(
            herder.status(name).await.unwrap().connector.state,
            "RUNNING"
        );

        // The restarted task works: its record reaches Kafka and is committed.
        probe.then_poll(Ok(vec![source_record(
            "out",
            0,
            Value::Bytes(Bytes::from_static(b"after the restart")),
        )]));
        probe
            .wait_for("the record committed", LIMIT, |calls| {
                calls.iter().any(|c| c == "record 0 at out-0@0")
            })
            .await;
        herder.shutdown().await;
        let written = kafka.records("out", 0);
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].value.as_deref(), Some(&b"after the restart"[..]));
    }

    #[test]
    fn rebalance_metrics_come_from_the_coordinators_counts() {
        use crate::distributed::coordinator::RebalanceStats;
        let now = Instant::now();
        let never = super::rebalance_snapshot(&RebalanceStats::default(), now);
        assert_eq!(never.epoch, -1);
        assert_eq!(never.leader_url, None);
        assert_eq!(never.avg_time_ms, 0.0);
        assert_eq!(never.time_since_last_ms, f64::INFINITY);
        let stats = RebalanceStats {
            generation: Some(7),
            leader_url: Some("http://w2:8084/".into()),
            completed_rebalances: 4,
            last_rebalance: Some(now - Duration::from_millis(2500)),
            max_rebalance_duration: Duration::from_millis(300),
            total_rebalance_duration: Duration::from_millis(600),
            ..RebalanceStats::default()
        };
        let snapshot = super::rebalance_snapshot(&stats, now);
        assert_eq!(snapshot.epoch, 7);
        assert_eq!(snapshot.leader_url.as_deref(), Some("http://w2:8084/"));
        assert_eq!(snapshot.completed_rebalances, 4);
        assert_eq!(snapshot.max_time_ms, 300.0);
        assert_eq!(snapshot.avg_time_ms, 150.0);
        assert_eq!(snapshot.time_since_last_ms, 2500.0);
    }
}
