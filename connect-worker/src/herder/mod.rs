//! The herder owns the connectors: it checks and stores their configurations, brings them to
//! their target states (STARTED, PAUSED, STOPPED), starts and restarts their tasks, assigns
//! sink partitions and answers the REST API.

mod api;
mod assign;
pub mod offsets;
mod runtime;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use connect_core::config::{hide_uri_passwords, ConfigInfos, Password, Props};
use connect_core::plugin::{PluginKind, Plugins};

use crate::config::WorkerConfig;
use crate::connector_config;
use crate::kafka::{Kafka, Producer};
use crate::metrics::{ConnectorSnapshot, TaskSnapshot, WorkerMetrics};
use crate::status::State;
use crate::store::{ConfigStore, ConnectorRecord, OffsetStore, TargetState};
use crate::task::{Outage, TaskId, TaskTarget};

pub use api::{
    ActiveTopics, ConnectorInfo, ConnectorOffsets, ConnectorStateInfo, ConnectorTaskId,
    ConnectorType, HerderError, PartitionOffset, StateInfo, TaskInfo, TaskState,
};
pub use assign::assign;
use runtime::Connector;

/// How long deleting a connector waits for a sink to remove the offsets it keeps elsewhere.
const EXTERNAL_OFFSETS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the connectors and tasks share.
pub(crate) struct Shared {
    pub plugins: Arc<Plugins>,
    pub worker: Arc<WorkerConfig>,
    pub kafka: Kafka,
    pub producer: Arc<Producer>,
    pub offsets: Arc<dyn OffsetStore>,
    pub configs: Arc<dyn ConfigStore>,
    pub worker_id: String,
    pub metrics: Arc<WorkerMetrics>,
}

/// The herder of a standalone worker. Cloning shares it.
#[derive(Clone)]
pub struct Herder {
    shared: Arc<Shared>,
    /// One lock over all connectors: management requests are few and must not interleave.
    connectors: Arc<Mutex<BTreeMap<String, Connector>>>,
}

impl std::fmt::Debug for Herder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Herder")
            .field("worker_id", &self.shared.worker_id)
            .finish_non_exhaustive()
    }
}

type Result<T> = std::result::Result<T, HerderError>;

/// A connector name from a request ([`connector_config::check_name`]).
fn check_name(name: &str) -> Result<()> {
    // An empty name is reported with the configuration's other problems (`name` is required).
    connector_config::check_name(name).map_err(HerderError::BadRequest)
}

impl Herder {
    /// A herder over these stores and clients; call [`Herder::restore`] to bring back the
    /// stored connectors.
    pub fn new(
        plugins: Arc<Plugins>,
        worker: Arc<WorkerConfig>,
        kafka: Kafka,
        producer: Arc<Producer>,
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
        }
    }

    /// The Kafka cluster's id, once a broker told it (`GET /`).
    pub fn kafka_cluster_id(&self) -> Option<String> {
        self.shared.kafka.cluster_id()
    }

    /// The worker's metrics.
    pub fn metrics(&self) -> &Arc<WorkerMetrics> {
        &self.shared.metrics
    }

    /// `GET /metrics`: every metric in Prometheus' text format, states as of now.
    pub async fn metrics_text(&self) -> String {
        let snapshot: Vec<ConnectorSnapshot> = {
            let connectors = self.connectors.lock().await;
            connectors
                .values()
                .map(|c| ConnectorSnapshot {
                    name: c.config.name.clone(),
                    class: c.config.plugin.class.clone(),
                    kind: match c.config.kind() {
                        PluginKind::Source => "source",
                        PluginKind::Sink => "sink",
                        _ => "unknown",
                    },
                    version: c.config.plugin.version.clone(),
                    state: c.status.get().state.name(),
                    tasks: c
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
                })
                .collect()
        };
        self.shared.metrics.render(&snapshot)
    }

    /// `GET /health`: the tasks retrying an operation now, by connector and task, or `None`
    /// when the herder does not answer within `timeout`.
    pub async fn retrying_tasks(
        &self,
        timeout: std::time::Duration,
    ) -> Option<Vec<(TaskId, Outage)>> {
        let connectors = tokio::time::timeout(timeout, self.connectors.lock())
            .await
            .ok()?;
        let mut retrying = Vec::new();
        for (name, connector) in connectors.iter() {
            for (index, task) in connector.tasks.iter().enumerate() {
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
        Some(retrying)
    }

    /// The plugins this worker knows.
    pub fn plugins(&self) -> &Plugins {
        &self.shared.plugins
    }

    /// The worker's id in status responses (`host:port`).
    pub fn worker_id(&self) -> &str {
        &self.shared.worker_id
    }

    /// Starts every connector in the config store, in its stored target state. A connector
    /// whose stored configuration no longer checks out is logged and left FAILED.
    pub async fn restore(&self) {
        let stored = self.shared.configs.all();
        let mut connectors = self.connectors.lock().await;
        for (name, record) in stored {
            match self.check_resolved(record.config) {
                Ok(config) => {
                    let mut connector = Connector::new(config, record.target_state);
                    connector.start(&self.shared).await;
                    connectors.insert(name, connector);
                }
                Err(e) => {
                    tracing::error!(connector = %name, error = %e, "the stored configuration is invalid; the connector is not started");
                }
            }
        }
    }

    /// The connectors' names, sorted.
    pub async fn connector_names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    /// Creates a connector in `initial_state`. Nothing is stored or started when the
    /// configuration is invalid.
    pub async fn create(
        &self,
        name: &str,
        props: Props,
        initial_state: TargetState,
    ) -> Result<ConnectorInfo> {
        let mut connectors = self.connectors.lock().await;
        if connectors.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        let config = self.check(name, props)?;
        self.store(name, &config.props, initial_state)?;
        let mut connector = Connector::new(config, initial_state);
        connector.start(&self.shared).await;
        let info = self.info_of(name, &connector);
        connectors.insert(name.to_owned(), connector);
        Ok(info)
    }

    /// Creates or replaces a connector's configuration; `true` when it was created.
    ///
    /// A value the REST API would show for a key's stored value keeps the stored value: it is
    /// a secret the REST API masked, sent back by a client that GETs a config and PUTs it.
    /// That is `[hidden]` (password-typed keys), or the stored URI with its password masked
    /// (`redis://user:********@host`), exactly: a masked password sent with another host or
    /// user is not filled in, so it cannot be sent to a server of the client's choosing.
    pub async fn put_config(&self, name: &str, mut props: Props) -> Result<(bool, ConnectorInfo)> {
        let mut connectors = self.connectors.lock().await;
        if let Some(existing) = connectors.get(name) {
            for (key, value) in props.iter_mut() {
                let Some(stored) = existing.config.props.get(key) else {
                    continue;
                };
                if value == Password::HIDDEN || *value == hide_uri_passwords(stored) {
                    value.clone_from(stored);
                }
            }
        }
        let config = self.check(name, props)?;
        match connectors.get_mut(name) {
            None => {
                self.store(name, &config.props, TargetState::Started)?;
                let mut connector = Connector::new(config, TargetState::Started);
                connector.start(&self.shared).await;
                let info = self.info_of(name, &connector);
                connectors.insert(name.to_owned(), connector);
                Ok((true, info))
            }
            Some(connector) => {
                self.store(name, &config.props, connector.target)?;
                connector
                    .stop(self.shared.worker.task_shutdown_timeout)
                    .await;
                let target = connector.target;
                *connector = Connector::new(config, target);
                connector.start(&self.shared).await;
                Ok((false, self.info_of(name, connector)))
            }
        }
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
        let mut connectors = self.connectors.lock().await;
        let Some(mut connector) = connectors.remove(name) else {
            return Err(HerderError::NotFound(name.to_owned()));
        };
        connector
            .stop(self.shared.worker.task_shutdown_timeout)
            .await;
        self.shared
            .configs
            .remove(name)
            .map_err(|e| HerderError::Internal(e.to_string()))?;
        // The offsets a sink keeps in its own system go with the connector; the worker's own
        // stay, as Kafka Connect keeps a deleted connector's offsets. Bounded: an outside
        // system that is away must not hold up the delete.
        let config = connector.config.clone();
        match tokio::time::timeout(
            EXTERNAL_OFFSETS_TIMEOUT,
            offsets::reset_external_offsets(&config, &self.shared.worker.providers),
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
        Ok(())
    }

    /// Moves a connector to a target state (pause, resume, stop). Idempotent.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<()> {
        let mut connectors = self.connectors.lock().await;
        let connector = connectors
            .get_mut(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        if connector.target == target {
            return Ok(());
        }
        self.store(name, &connector.config.props, target)?;
        let previous = connector.target;
        connector.target = target;
        match (previous, target) {
            (_, TargetState::Stopped) => {
                connector
                    .stop(self.shared.worker.task_shutdown_timeout)
                    .await;
                connector.status.set(State::Stopped);
            }
            (TargetState::Stopped, _) => connector.start(&self.shared).await,
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
    /// failed ones). Returns the status with the instances being restarted as RESTARTING, or
    /// `None` for the plain connector restart (`204`).
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>> {
        let mut connectors = self.connectors.lock().await;
        let connector = connectors
            .get_mut(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let timeout = self.shared.worker.task_shutdown_timeout;
        let connector_failed = connector.status.get().state == State::Failed;
        let failed_tasks: Vec<usize> = connector
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.as_ref()
                    .is_some_and(|t| t.status.get().state == State::Failed)
            })
            .map(|(i, _)| i)
            .collect();
        let restart_connector = !only_failed || connector_failed;
        let tasks_to_restart: Vec<usize> = match (include_tasks, only_failed) {
            (false, _) => Vec::new(),
            (true, true) => failed_tasks,
            (true, false) => (0..connector.tasks.len()).collect(),
        };
        let mut answer = self.status_of(name, connector);
        if restart_connector {
            answer.connector.state = State::Restarting.name();
        }
        for t in &mut answer.tasks {
            if tasks_to_restart.contains(&t.id) {
                t.state.state = State::Restarting.name();
            }
        }
        if connector.target != TargetState::Stopped {
            // Kafka Connect restarts nothing of a STOPPED connector either.
            let all_tasks_restarted =
                restart_connector && connector.restart_instance(&self.shared).await;
            if !all_tasks_restarted {
                for index in tasks_to_restart {
                    connector.restart_task(&self.shared, index, timeout).await;
                }
            }
        }
        Ok((include_tasks || only_failed).then_some(answer))
    }

    /// Restarts one task.
    pub async fn restart_task(&self, name: &str, task: usize) -> Result<()> {
        let mut connectors = self.connectors.lock().await;
        let connector = connectors
            .get_mut(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        if task >= connector.tasks.len() {
            return Err(HerderError::TaskNotFound {
                connector: name.to_owned(),
                task,
            });
        }
        connector
            .restart_task(&self.shared, task, self.shared.worker.task_shutdown_timeout)
            .await;
        Ok(())
    }

    /// A connector's configuration as given.
    pub async fn config(&self, name: &str) -> Result<Props> {
        let connectors = self.connectors.lock().await;
        connectors
            .get(name)
            .map(|c| c.config.props.clone())
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))
    }

    /// `GET /connectors/{name}`.
    pub async fn info(&self, name: &str) -> Result<ConnectorInfo> {
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Ok(self.info_of(name, connector))
    }

    /// `GET /connectors/{name}/status`.
    pub async fn status(&self, name: &str) -> Result<ConnectorStateInfo> {
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Ok(self.status_of(name, connector))
    }

    /// `GET /connectors/{name}/tasks`.
    pub async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>> {
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Ok(connector
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
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let mut body = ActiveTopics::new();
        body.insert(
            name.to_owned(),
            BTreeMap::from([("topics", connector.active_topics.list())]),
        );
        Ok(body)
    }

    /// `PUT /connectors/{name}/topics/reset`: forgets the topics used so far.
    pub async fn reset_active_topics(&self, name: &str) -> Result<()> {
        let connectors = self.connectors.lock().await;
        let connector = connectors
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        connector.active_topics.reset();
        Ok(())
    }

    /// Stops every connector (worker shutdown); their offsets are stored by their tasks.
    pub async fn shutdown(&self) {
        let mut connectors = self.connectors.lock().await;
        let timeout = self.shared.worker.task_shutdown_timeout;
        let stops = connectors.values_mut().map(|c| c.stop(timeout));
        futures::future::join_all(stops).await;
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

    fn kind_of(connector: &Connector) -> ConnectorType {
        match connector.config.kind() {
            PluginKind::Source => ConnectorType::Source,
            PluginKind::Sink => ConnectorType::Sink,
            _ => ConnectorType::Unknown,
        }
    }

    fn info_of(&self, name: &str, connector: &Connector) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_owned(),
            config: connector.config.props.clone(),
            tasks: (0..connector.task_configs.len())
                .map(|task| ConnectorTaskId {
                    connector: name.to_owned(),
                    task,
                })
                .collect(),
            kind: Self::kind_of(connector),
        }
    }

    fn status_of(&self, name: &str, connector: &Connector) -> ConnectorStateInfo {
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
            connector: state_info(connector.status.get()),
            tasks: connector
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
            kind: Self::kind_of(connector),
        }
    }
}
