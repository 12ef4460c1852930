//! The herder of a distributed worker (`group.id` set): the cluster's connectors live in the
//! config topic, the group's leader decides which worker runs which connector and task, and
//! each worker runs its share.
//!
//! Everything a worker does follows from three inputs, handled one at a time by one loop
//! ([`run`]):
//! - the config topic (`distributed::config_records`): every worker reads every record; a new
//!   or removed connector and new task configurations need a rebalance (the worker asks the
//!   group for one), a changed configuration or target state is applied to what runs here;
//! - the group coordinator (`distributed::coordinator`): what this worker must stop, and what
//!   it runs after each rebalance;
//! - a timer: statuses of what runs here that changed are written to the status topic.
//!
//! What runs here is held as in standalone mode, one [`Slot`] a connector, its
//! [`Connector`] holding the instance when this worker runs the connector and the tasks this
//! worker runs (the others `None`). Writes are the leader's (the REST layer forwards them,
//! `rest::forward`), except pause and resume, which any worker writes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
use bytes::Bytes;
use tokio::sync::mpsc;

use connect_core::config::Props;
use connect_core::plugin::PluginKind;

use super::restart::RestartPlan;
use super::runtime::Connector;
use super::slot::Slot;
use super::{
    ConnectorInfo, ConnectorStateInfo, ConnectorTaskId, Herder, HerderError, StateInfo, TaskInfo,
    TaskState,
};
use crate::distributed::config::DistributedConfig;
use crate::distributed::config_records::{self, ClusterConfig, ConfigChange};
use crate::distributed::coordinator::{Coordinator, Event};
use crate::distributed::protocol::{Work, CONFIG_MISMATCH};
use crate::distributed::status_records::{self, StatusRecord, StatusView};
use crate::distributed::topic_log::TopicLog;
use crate::status::{State, Status};
use crate::store::TargetState;
use crate::task::TaskTarget;

type Result<T> = std::result::Result<T, HerderError>;

/// How often statuses that changed are written to the status topic.
const STATUS_REPORT: Duration = Duration::from_millis(250);
/// How long a write to an internal topic, with the read back to its end, may take (Kafka
/// Connect's `READ_WRITE_TOTAL_TIMEOUT_MS`).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pauses between attempts to send task configurations to the leader, doubling.
const TASK_CONFIG_RETRY: (Duration, Duration) =
    (Duration::from_millis(250), Duration::from_secs(10));
/// After this many failed attempts the worker gives up sending a connector's task
/// configurations until its next start.
const TASK_CONFIG_ATTEMPTS: u32 = 12;

/// Where a REST request must run ([`Herder::request_target`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTarget {
    /// On this worker.
    Here,
    /// On the worker at this advertised URL.
    Worker(String),
    /// Nowhere now: 409 with this message.
    Conflict(String),
}

/// The distributed side of a [`Herder`].
pub(crate) struct Cluster {
    pub config: DistributedConfig,
    /// The config topic as read so far.
    pub snapshot: Arc<Mutex<ClusterConfig>>,
    /// The status topic as read so far.
    pub statuses: Arc<Mutex<StatusView>>,
    pub config_log: TopicLog,
    pub status_log: TopicLog,
    pub coordinator: Coordinator,
    member: Mutex<Membership>,
    /// What this worker last wrote to the status topic, by key.
    reported: Mutex<BTreeMap<String, (State, Option<String>)>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("group", &self.config.group_id)
            .finish_non_exhaustive()
    }
}

/// This worker in the group.
#[derive(Debug, Clone, Default)]
struct Membership {
    generation: i32,
    leader_url: Option<String>,
    is_leader: bool,
    /// What this worker runs, as the last assignment said.
    running: Work,
    /// Between a rebalance starting (a change that needs one, or a revocation) and the
    /// assignment after it being acted on.
    rebalancing: bool,
}

impl Cluster {
    pub fn new(
        config: DistributedConfig,
        snapshot: Arc<Mutex<ClusterConfig>>,
        statuses: Arc<Mutex<StatusView>>,
        config_log: TopicLog,
        status_log: TopicLog,
        coordinator: Coordinator,
    ) -> Self {
        Self {
            config,
            snapshot,
            statuses,
            config_log,
            status_log,
            coordinator,
            member: Mutex::new(Membership {
                rebalancing: true,
                ..Membership::default()
            }),
            reported: Mutex::default(),
        }
    }

    fn snapshot(&self) -> MutexGuard<'_, ClusterConfig> {
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn member(&self) -> MutexGuard<'_, Membership> {
        self.member.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn statuses(&self) -> MutexGuard<'_, StatusView> {
        self.statuses.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes config records in order and reads the topic back to its end, so that this
    /// worker's snapshot holds them when the call returns.
    async fn write_configs(&self, records: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        for (key, value) in records {
            self.config_log
                .send(Bytes::from(key), value.map(Bytes::from))
                .await
                .map_err(|e| {
                    HerderError::Internal(format!("cannot write to the config topic: {e}"))
                })?;
        }
        self.config_log
            .read_to_end(WRITE_TIMEOUT)
            .await
            .map_err(|e| HerderError::Internal(format!("cannot read the config topic: {e}")))
    }

    /// Writes a status record (or a tombstone).
    async fn write_status(&self, key: String, record: Option<&StatusRecord>) {
        let value = record.map(|r| Bytes::from(status_records::encode_status(r)));
        if let Err(e) = self.status_log.send(Bytes::from(key.clone()), value).await {
            tracing::warn!(key, error = %e, "cannot write a status to the status topic");
        }
    }
}

/// Applies a config-topic record to the snapshot, telling the loop what changed once the
/// worker has read the topic's beginning (`live`).
pub(crate) fn config_applier(
    snapshot: Arc<Mutex<ClusterConfig>>,
    live: Arc<std::sync::atomic::AtomicBool>,
    changes: mpsc::UnboundedSender<ConfigChange>,
) -> impl FnMut(crate::distributed::topic_log::LogRecord) + Send + 'static {
    move |record| {
        let Some(key) = record.key.as_deref() else {
            return;
        };
        let key = String::from_utf8_lossy(key);
        let change = snapshot.lock().unwrap_or_else(|e| e.into_inner()).apply(
            record.offset,
            &key,
            record.value.as_deref(),
        );
        if let Some(change) = change {
            if live.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = changes.send(change);
            }
        }
    }
}

/// Applies a status-topic record to the view.
pub(crate) fn status_applier(
    statuses: Arc<Mutex<StatusView>>,
) -> impl FnMut(crate::distributed::topic_log::LogRecord) + Send + 'static {
    move |record| {
        let Some(key) = record.key.as_deref() else {
            return;
        };
        let key = String::from_utf8_lossy(key);
        statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .apply(&key, record.value.as_deref());
    }
}

/// The loop of a distributed herder: one input at a time until the coordinator's events end
/// (the worker left the group).
pub(crate) async fn run(
    herder: Herder,
    mut events: mpsc::Receiver<Event>,
    mut changes: mpsc::UnboundedReceiver<ConfigChange>,
) {
    let mut report = tokio::time::interval(STATUS_REPORT);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Revoke { work, done }) => {
                    herder.cluster().member().rebalancing = true;
                    herder.stop_work(&work).await;
                    let _ = done.send(());
                }
                Some(Event::Assigned { generation, leader_url, config_offset, error, running, leader_id, member_id, .. }) => {
                    herder
                        .on_assigned(generation, leader_id == member_id, leader_url, config_offset, error, running)
                        .await;
                }
                None => break,
            },
            Some(change) = changes.recv() => herder.on_config_change(change).await,
            _ = report.tick() => herder.report_statuses().await,
        }
    }
}

impl Herder {
    /// The distributed side; only called in distributed mode.
    fn cluster(&self) -> &Cluster {
        self.cluster
            .as_deref()
            .unwrap_or_else(|| unreachable!("a distributed call on a standalone herder"))
    }

    /// Where a REST request must run: here for reads and in standalone mode; writes on the
    /// leader (409 while the group rebalances or has no leader); a task's restart on the
    /// worker that runs it.
    pub fn request_target(&self, method: &Method, path: &str) -> RequestTarget {
        let Some(cluster) = self.cluster.as_deref() else {
            return RequestTarget::Here;
        };
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let leader_only = match (method, segments.as_slice()) {
            (&Method::POST, ["connectors"]) => true,
            (&Method::PUT | &Method::PATCH, ["connectors", _, "config"]) => true,
            (&Method::DELETE, ["connectors", _]) => true,
            (&Method::PUT, ["connectors", _, "stop"]) => true,
            (&Method::POST, ["connectors", _, "restart"]) => true,
            (&Method::PATCH | &Method::DELETE, ["connectors", _, "offsets"]) => true,
            (&Method::POST, ["connectors", _, "tasks"]) => true,
            (&Method::POST, ["connectors", name, "tasks", task, "restart"]) => {
                return self.task_owner(name, task);
            }
            _ => false,
        };
        if !leader_only {
            return RequestTarget::Here;
        }
        let member = cluster.member();
        if member.is_leader {
            if member.rebalancing {
                return RequestTarget::Conflict("Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)".into());
            }
            return RequestTarget::Here;
        }
        match &member.leader_url {
            Some(url) => RequestTarget::Worker(url.clone()),
            None => RequestTarget::Conflict("Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.".into()),
        }
    }

    /// The worker that runs a task, from its status.
    fn task_owner(&self, name: &str, task: &str) -> RequestTarget {
        let cluster = self.cluster();
        let Ok(task) = task.parse::<usize>() else {
            return RequestTarget::Here;
        };
        if self
            .find(name)
            .is_some_and(|slot| slot.view().tasks.get(task).is_some_and(Option::is_some))
        {
            return RequestTarget::Here;
        }
        match cluster.statuses().task(name, task) {
            Some(status) if status.worker_id != self.shared.worker_id => {
                RequestTarget::Worker(format!("http://{}/", status.worker_id))
            }
            _ => RequestTarget::Here,
        }
    }

    // ---- reads ----

    pub(super) fn cluster_connector_names(&self) -> Vec<String> {
        self.cluster()
            .snapshot()
            .connectors()
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn cluster_props(&self, name: &str) -> Result<Props> {
        self.cluster()
            .snapshot()
            .connector(name)
            .cloned()
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))
    }

    pub(super) fn cluster_config(&self, name: &str) -> Result<Props> {
        self.cluster_props(name)
    }

    fn kind_of_props(&self, props: &Props) -> super::ConnectorType {
        let class = props
            .get("connector.class")
            .map(String::as_str)
            .unwrap_or("");
        match self
            .shared
            .plugins
            .find(class, &[PluginKind::Source, PluginKind::Sink])
            .map(|p| p.kind())
        {
            Ok(PluginKind::Source) => super::ConnectorType::Source,
            Ok(PluginKind::Sink) => super::ConnectorType::Sink,
            _ => super::ConnectorType::Unknown,
        }
    }

    pub(super) fn cluster_info(&self, name: &str) -> Result<ConnectorInfo> {
        let snapshot = self.cluster().snapshot();
        let props = snapshot
            .connector(name)
            .cloned()
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let tasks = snapshot.task_count(name);
        drop(snapshot);
        Ok(ConnectorInfo {
            name: name.to_owned(),
            kind: self.kind_of_props(&props),
            config: props,
            tasks: (0..tasks)
                .map(|task| ConnectorTaskId {
                    connector: name.to_owned(),
                    task,
                })
                .collect(),
        })
    }

    pub(super) fn cluster_task_infos(&self, name: &str) -> Result<Vec<TaskInfo>> {
        let snapshot = self.cluster().snapshot();
        if snapshot.connector(name).is_none() {
            return Err(HerderError::NotFound(name.to_owned()));
        }
        Ok(snapshot
            .task_configs(name)
            .unwrap_or_default()
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

    /// The status as the status topic has it, with what runs here as it is now (the topic
    /// learns it within [`STATUS_REPORT`]).
    pub(super) fn cluster_status(&self, name: &str) -> Result<ConnectorStateInfo> {
        let cluster = self.cluster();
        let (props, tasks) = {
            let snapshot = cluster.snapshot();
            let props = snapshot
                .connector(name)
                .cloned()
                .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
            (props, snapshot.task_count(name))
        };
        let local = self.find(name).map(|slot| slot.view());
        let owns_connector = cluster.member().running.connectors.contains(name);
        let here = |status: Status| StateInfo {
            state: status.state.name(),
            worker_id: self.shared.worker_id.clone(),
            trace: status
                .trace
                .map(|t| connect_core::config::hide_uri_passwords(&t).into_owned()),
        };
        let stored = |record: Option<StatusRecord>| match record {
            Some(r) => StateInfo {
                state: state_of(&r.state).name(),
                worker_id: r.worker_id,
                trace: r
                    .trace
                    .map(|t| connect_core::config::hide_uri_passwords(&t).into_owned()),
            },
            None => StateInfo {
                state: State::Unassigned.name(),
                worker_id: String::new(),
                trace: None,
            },
        };
        let statuses = cluster.statuses();
        let connector = match &local {
            Some(view) if owns_connector => here(view.status.get()),
            _ => stored(statuses.connector(name).cloned()),
        };
        let tasks = (0..tasks)
            .map(|id| {
                let state = match local
                    .as_ref()
                    .and_then(|v| v.tasks.get(id).cloned().flatten())
                {
                    Some(task) => here(task.status.get()),
                    None => stored(statuses.task(name, id).cloned()),
                };
                TaskState { id, state }
            })
            .collect();
        Ok(ConnectorStateInfo {
            name: name.to_owned(),
            connector,
            tasks,
            kind: self.kind_of_props(&props),
        })
    }

    /// The connector whose offsets a request reads or changes: the herder's own, or in
    /// distributed mode, when nothing of it runs here, one made for the request from the
    /// config topic (not started; its target state as the topic has it).
    pub(super) fn offsets_slot(&self, name: &str) -> Result<Arc<Slot>> {
        if let Some(slot) = self.find(name) {
            return Ok(slot);
        }
        if self.cluster.is_none() {
            return Err(HerderError::NotFound(name.to_owned()));
        }
        let (props, target) = {
            let snapshot = self.cluster().snapshot();
            let props = snapshot
                .connector(name)
                .cloned()
                .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
            (
                props,
                snapshot.target_state(name).unwrap_or(TargetState::Started),
            )
        };
        let config = self.check_resolved(props)?;
        let (slot, connector) = Slot::new(name, config, target);
        drop(connector);
        Ok(slot)
    }

    // ---- writes ----

    pub(super) async fn cluster_create(
        &self,
        name: &str,
        props: Props,
        initial_state: TargetState,
    ) -> Result<ConnectorInfo> {
        if self.cluster().snapshot().connector(name).is_some() {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        let config = self.check(name, props)?;
        let mut records = Vec::new();
        if initial_state != TargetState::Started {
            let (key, value) = config_records::target_state_record(name, initial_state);
            records.push((key, Some(value)));
        }
        let (key, value) = config_records::connector_record(name, &config.props);
        records.push((key, Some(value)));
        self.cluster().write_configs(records).await?;
        self.cluster_info(name)
    }

    /// Creates or replaces a connector's configuration; `true` when created.
    pub(super) async fn cluster_put_config(
        &self,
        name: &str,
        mut props: Props,
    ) -> Result<(bool, ConnectorInfo)> {
        let stored = self.cluster().snapshot().connector(name).cloned();
        let Some(stored) = stored else {
            return self
                .cluster_create(name, props, TargetState::Started)
                .await
                .map(|info| (true, info));
        };
        super::keep_masked_secrets(&mut props, &stored);
        let config = self.check(name, props)?;
        let (key, value) = config_records::connector_record(name, &config.props);
        self.cluster()
            .write_configs(vec![(key, Some(value))])
            .await?;
        Ok((false, self.cluster_info(name)?))
    }

    pub(super) async fn cluster_delete(&self, name: &str) -> Result<()> {
        let cluster = self.cluster();
        let tasks = {
            let snapshot = cluster.snapshot();
            if snapshot.connector(name).is_none() {
                return Err(HerderError::NotFound(name.to_owned()));
            }
            snapshot.task_count(name)
        };
        cluster
            .write_configs(vec![
                (config_records::connector_key(name), None),
                (config_records::target_state_key(name), None),
            ])
            .await?;
        // The leader removes the deleted connector's statuses, as Kafka Connect's does.
        for task in 0..tasks {
            cluster
                .write_status(status_records::task_status_key(name, task), None)
                .await;
        }
        cluster
            .write_status(status_records::connector_status_key(name), None)
            .await;
        Ok(())
    }

    /// Pause and resume (any worker), stop (the leader: no tasks, then STOPPED).
    pub(super) async fn cluster_set_target(&self, name: &str, target: TargetState) -> Result<()> {
        let cluster = self.cluster();
        if cluster.snapshot().connector(name).is_none() {
            return Err(HerderError::NotFound(name.to_owned()));
        }
        let mut records = Vec::new();
        if target == TargetState::Stopped {
            let (key, value) = config_records::commit_record(name, 0);
            records.push((key, Some(value)));
        }
        let (key, value) = config_records::target_state_record(name, target);
        records.push((key, Some(value)));
        cluster.write_configs(records).await
    }

    /// The leader's part of a restart: a restart record every worker acts on for what it runs.
    pub(super) async fn cluster_restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>> {
        let status = self.cluster_status(name)?;
        let task_states: Vec<State> = status
            .tasks
            .iter()
            .map(|t| state_of(t.state.state))
            .collect();
        let plan = RestartPlan::new(
            include_tasks,
            only_failed,
            state_of(status.connector.state),
            &task_states,
        );
        let answer = plan.answer(status);
        if self.cluster().snapshot().target_state(name) != Some(TargetState::Stopped) {
            let (key, value) = config_records::restart_record(name, include_tasks, only_failed);
            self.cluster()
                .write_configs(vec![(key, Some(value))])
                .await?;
        }
        Ok(answer)
    }

    /// `POST /connectors/{name}/tasks` (internal): the worker that runs the connector sends its
    /// task configurations to the leader, which writes them and their commit.
    pub async fn put_task_configs(&self, name: &str, configs: Vec<Props>) -> Result<()> {
        if self.cluster.is_none() {
            return Err(HerderError::BadRequest(
                "This worker is not part of a cluster (no group.id): task configurations are not accepted".into(),
            ));
        }
        let target = {
            let snapshot = self.cluster().snapshot();
            if snapshot.connector(name).is_none() {
                return Err(HerderError::NotFound(name.to_owned()));
            }
            snapshot.target_state(name)
        };
        if target == Some(TargetState::Stopped) && !configs.is_empty() {
            return Err(HerderError::BadRequest(format!(
                "Cannot submit non-empty set of task configs for stopped connector {name}"
            )));
        }
        self.write_task_configs(name, &configs).await
    }

    async fn write_task_configs(&self, name: &str, configs: &[Props]) -> Result<()> {
        let mut records: Vec<(String, Option<Vec<u8>>)> = configs
            .iter()
            .enumerate()
            .map(|(task, props)| {
                let (key, value) = config_records::task_record(name, task, props);
                (key, Some(value))
            })
            .collect();
        let (key, value) = config_records::commit_record(name, configs.len());
        records.push((key, Some(value)));
        self.cluster().write_configs(records).await
    }

    /// Task configurations this worker's connector generated: written (leader) or sent to the
    /// leader, retried in the background.
    fn submit_task_configs(&self, name: &str, configs: Vec<Props>) {
        let herder = self.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            let mut pause = TASK_CONFIG_RETRY.0;
            for attempt in 1..=TASK_CONFIG_ATTEMPTS {
                let (is_leader, leader_url) = {
                    let member = herder.cluster().member();
                    (member.is_leader, member.leader_url.clone())
                };
                let result = if is_leader {
                    herder
                        .write_task_configs(&name, &configs)
                        .await
                        .map_err(|e| e.to_string())
                } else if let Some(url) = leader_url {
                    send_task_configs(&url, &name, &configs).await
                } else {
                    Err("no leader is known yet".to_owned())
                };
                match result {
                    Ok(()) => {
                        tracing::info!(connector = %name, tasks = configs.len(), "task configurations submitted");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(connector = %name, attempt, error = %e, "cannot submit task configurations; retrying");
                    }
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(TASK_CONFIG_RETRY.1);
            }
            tracing::error!(connector = %name, "gave up submitting task configurations after {TASK_CONFIG_ATTEMPTS} attempts; restart the connector to try again");
        });
    }

    // ---- the loop's inputs ----

    /// A generation completed: catch up with the config topic, then run what is assigned.
    async fn on_assigned(
        &self,
        generation: i32,
        is_leader: bool,
        leader_url: String,
        config_offset: i64,
        error: i16,
        running: Work,
    ) {
        let cluster = self.cluster();
        {
            let mut member = cluster.member();
            member.generation = generation;
            member.is_leader = is_leader;
            member.leader_url = Some(leader_url);
        }
        let sync = cluster.config.sync_timeout;
        if error == CONFIG_MISMATCH {
            tracing::info!(generation, "the leader's configurations were behind; reading the config topic to its end before rejoining");
            if let Err(e) = cluster.config_log.read_to_end(sync).await {
                tracing::warn!(error = %e, "cannot read the config topic to its end");
            }
            return;
        }
        if cluster.snapshot().offset() < config_offset {
            if let Err(e) = cluster.config_log.read_to_end(sync).await {
                tracing::warn!(error = %e, "cannot read the config topic up to the assignment's offset within worker.sync.timeout.ms; rejoining");
                cluster.coordinator.request_rejoin();
                return;
            }
        }
        let ours = cluster.snapshot().offset();
        if ours != config_offset {
            tracing::info!(
                ours,
                assignment = config_offset,
                "the config topic moved past the assignment's offset; rejoining"
            );
            cluster.coordinator.request_rejoin();
            return;
        }
        {
            let mut member = cluster.member();
            member.running = running;
            member.rebalancing = false;
        }
        self.reconcile_all().await;
    }

    async fn on_config_change(&self, change: ConfigChange) {
        match change {
            ConfigChange::ConnectorPut(name) | ConfigChange::TasksCommitted(name) => {
                self.cluster().member().rebalancing = true;
                self.cluster().coordinator.request_rejoin();
                self.reconcile(&name).await;
            }
            ConfigChange::ConnectorRemoved(name) => {
                self.cluster().member().rebalancing = true;
                self.cluster().coordinator.request_rejoin();
                self.reconcile(&name).await;
            }
            ConfigChange::TargetState(name) => self.reconcile(&name).await,
            ConfigChange::Restart {
                connector,
                include_tasks,
                only_failed,
            } => {
                self.restart_here(&connector, include_tasks, only_failed)
                    .await
            }
        }
    }

    /// Stops `work` here (revoked, or everything before an eager rebalance).
    async fn stop_work(&self, work: &Work) {
        let names: BTreeSet<&String> = work
            .connectors
            .iter()
            .chain(work.tasks.iter().map(|t| &t.connector))
            .collect();
        {
            let mut member = self.cluster().member();
            member
                .running
                .connectors
                .retain(|c| !work.connectors.contains(c));
            member.running.tasks.retain(|t| !work.tasks.contains(t));
        }
        for name in names {
            self.reconcile(name).await;
        }
    }

    async fn reconcile_all(&self) {
        let names: BTreeSet<String> = {
            let member = self.cluster().member();
            member
                .running
                .connectors
                .iter()
                .cloned()
                .chain(member.running.tasks.iter().map(|t| t.connector.clone()))
                .chain(self.slots().keys().cloned())
                .collect()
        };
        for name in names {
            self.reconcile(&name).await;
        }
    }

    /// Brings what runs here of connector `name` to what the assignment and the config topic
    /// say: its instance if this worker runs the connector, the tasks this worker runs, with
    /// the committed task configurations, in the target state.
    async fn reconcile(&self, name: &str) {
        let cluster = self.cluster();
        let (props, target, committed) = {
            let snapshot = cluster.snapshot();
            (
                snapshot.connector(name).cloned(),
                snapshot.target_state(name).unwrap_or(TargetState::Started),
                snapshot
                    .task_configs(name)
                    .map(<[Props]>::to_vec)
                    .unwrap_or_default(),
            )
        };
        let (want_instance, want_tasks) = {
            let member = cluster.member();
            let tasks: BTreeSet<usize> = member
                .running
                .tasks
                .iter()
                .filter(|t| t.connector == name && t.task >= 0)
                .map(|t| t.task as usize)
                .filter(|task| *task < committed.len() && target != TargetState::Stopped)
                .collect();
            (member.running.connectors.contains(name), tasks)
        };
        let timeout = self.shared.worker.task_shutdown_timeout;
        let Some(props) = props.filter(|_| want_instance || !want_tasks.is_empty()) else {
            // Nothing of it runs here any more.
            if let Some(slot) = self.find(name) {
                if let Ok(mut connector) = slot.lock(Duration::MAX).await {
                    connector.stop(timeout).await;
                    slot.publish(&connector);
                    slot.mark_deleted(&connector);
                }
                self.slots().remove(name);
            }
            return;
        };
        let config = match self.check_resolved(props.clone()) {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(connector = name, error = %e, "the connector's configuration is invalid; nothing of it runs here");
                return;
            }
        };
        let slot = match self.find(name) {
            Some(slot) => slot,
            None => {
                let (slot, connector) = Slot::new(name, config.clone(), target);
                drop(connector);
                self.slots().insert(name.to_owned(), Arc::clone(&slot));
                slot
            }
        };
        let Ok(mut connector) = slot.lock(Duration::MAX).await else {
            return;
        };
        connector.tasks_need_instance = false;
        let shared = Arc::clone(&self.shared);
        // A new configuration: everything of the old one stops first.
        if connector.config.props != props {
            connector.stop(timeout).await;
            *connector = Connector::new(config, target, slot.activity());
            connector.tasks_need_instance = false;
        }
        // The target state.
        if connector.target != target {
            connector.target = target;
            match target {
                TargetState::Paused => connector.set_task_targets(TaskTarget::Pause),
                TargetState::Started => connector.set_task_targets(TaskTarget::Run),
                TargetState::Stopped => {}
            }
            if connector.instance.is_some() {
                connector.status.set(match target {
                    TargetState::Paused => State::Paused,
                    _ => State::Running,
                });
            }
        }
        // The instance.
        let run_instance = want_instance && target != TargetState::Stopped;
        if !run_instance && connector.instance.is_some() {
            connector.stop_instance().await;
        }
        if want_instance && target == TargetState::Stopped {
            connector.status.set(State::Stopped);
        }
        if run_instance
            && connector.instance.is_none()
            && connector.status.get().state != State::Failed
        {
            let generated = connector.start_instance_only(&shared).await;
            if let Some(generated) = generated {
                if generated != committed {
                    self.submit_task_configs(name, generated);
                }
            }
        }
        // The tasks, with the committed configurations.
        let changed: Vec<usize> = (0..connector.tasks.len())
            .filter(|&i| connector.task_configs.get(i) != committed.get(i))
            .collect();
        for index in changed {
            connector.stop_task(index, timeout).await;
        }
        connector.task_configs = committed;
        let running_tasks: BTreeSet<usize> = connector
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_some())
            .map(|(i, _)| i)
            .collect();
        for index in running_tasks.difference(&want_tasks) {
            connector.stop_task(*index, timeout).await;
        }
        let to_start: Vec<usize> = want_tasks.difference(&running_tasks).copied().collect();
        connector.start_assigned_tasks(&shared, &to_start).await;
        slot.publish(&connector);
    }

    /// A restart record: restarts what of `name` runs here, as the plan of the statuses says.
    async fn restart_here(&self, name: &str, include_tasks: bool, only_failed: bool) {
        let Some(slot) = self.find(name) else { return };
        let owns = self.cluster().member().running.connectors.contains(name);
        let Ok(mut connector) = slot.lock(Duration::MAX).await else {
            return;
        };
        let task_states: Vec<State> = connector
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
            connector.status.get().state,
            &task_states,
        );
        let shared = Arc::clone(&self.shared);
        let timeout = shared.worker.task_shutdown_timeout;
        if owns && plan.connector {
            connector.stop_instance().await;
            if let Some(generated) = connector.start_instance_only(&shared).await {
                let committed = self
                    .cluster()
                    .snapshot()
                    .task_configs(name)
                    .map(<[Props]>::to_vec)
                    .unwrap_or_default();
                connector.task_configs = committed.clone();
                if generated != committed {
                    self.submit_task_configs(name, generated);
                }
            }
        }
        for index in plan.tasks {
            if connector.tasks.get(index).is_some_and(Option::is_some) {
                connector.restart_task(&shared, index, timeout).await;
            }
        }
        slot.publish(&connector);
    }

    /// Writes the statuses of what runs here that changed since they were last written.
    async fn report_statuses(&self) {
        let cluster = self.cluster();
        let (generation, owned) = {
            let member = cluster.member();
            (member.generation, member.running.connectors.clone())
        };
        let mut now: BTreeMap<String, (State, Option<String>)> = BTreeMap::new();
        for (name, view) in self.views() {
            if owned.contains(&name) {
                let status = view.status.get();
                now.insert(
                    status_records::connector_status_key(&name),
                    (status.state, status.trace),
                );
            }
            for (index, task) in view.tasks.iter().enumerate() {
                if let Some(task) = task {
                    let status = task.status.get();
                    now.insert(
                        status_records::task_status_key(&name, index),
                        (status.state, status.trace),
                    );
                }
            }
        }
        let changed: Vec<(String, (State, Option<String>))> = {
            let reported = cluster.reported.lock().unwrap_or_else(|e| e.into_inner());
            now.iter()
                .filter(|(key, value)| reported.get(*key) != Some(value))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        for (key, (state, trace)) in changed {
            let record = StatusRecord {
                state: state.name().to_owned(),
                trace: trace.clone(),
                worker_id: self.shared.worker_id.clone(),
                generation: generation.into(),
            };
            cluster.write_status(key.clone(), Some(&record)).await;
            cluster
                .reported
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, (state, trace));
        }
        // Forget what no longer runs here, so that it is written again if it comes back.
        cluster
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key, _| now.contains_key(key));
    }

    /// Distributed shutdown: stops what runs here (tasks commit their offsets), then leaves
    /// the group so that the work moves at once.
    pub(super) async fn cluster_shutdown(&self) {
        let cluster = self.cluster();
        cluster.member().running = Work::default();
        self.reconcile_all().await;
        cluster.coordinator.leave().await;
    }
}

/// A state's value in a status record (unknown values read as UNASSIGNED).
fn state_of(name: &str) -> State {
    match name {
        "RUNNING" => State::Running,
        "PAUSED" => State::Paused,
        "STOPPED" => State::Stopped,
        "FAILED" => State::Failed,
        "RESTARTING" => State::Restarting,
        _ => State::Unassigned,
    }
}

/// `POST {leader}/connectors/{name}/tasks` with the configurations as a JSON array.
async fn send_task_configs(
    leader: &str,
    name: &str,
    configs: &[Props],
) -> std::result::Result<(), String> {
    let body = serde_json::to_vec(configs).map_err(|e| e.to_string())?;
    let path = format!("/connectors/{}/tasks", crate::rest::forward::encode(name));
    let answer =
        crate::rest::forward::send(leader, Method::POST, &path, None, Some(Bytes::from(body)))
            .await?;
    if answer.status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "the leader answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ))
    }
}
