//! Kafka Connect's config topic: the records a worker writes there, byte for byte as a Java
//! worker writes them, and [`ClusterConfig`], the snapshot a worker builds by reading them in
//! order, with the rules Java's reader follows, so that a Java cluster and ours agree on what
//! the topic says.
//!
//! Keys are plain strings; values are compact JSON without a schema envelope, or null (a
//! tombstone). The records:
//!
//! | key | value |
//! | --- | --- |
//! | `connector-NAME` | `{"properties":{...}}`; null deletes the connector |
//! | `target-state-NAME` | `{"state":"PAUSED","state.v2":"STOPPED"}`; null with the delete |
//! | `task-NAME-N` | `{"properties":{...}}`, pending until the next commit |
//! | `commit-NAME` | `{"tasks":3}`: tasks 0..3 are the connector's tasks now |
//! | `restart-connector-NAME` | `{"include-tasks":true,"only-failed":false}` |
//! | `session-key` | `{"key":"<base64>","algorithm":"HmacSHA256","creation-timestamp":ms}` |
//! | `tasks-fencing-NAME`, `logger-cluster-NS` | read and ignored |
//!
//! A STOPPED target state is written with `state` PAUSED: workers older than STOPPED read only
//! `state`, newer ones read `state.v2` first.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value as Json;
use tracing::{debug, warn};

use connect_core::config::Props;

use super::assignor::ConfigView;
use crate::store::TargetState;

/// Key prefixes and the one fixed key, in the order a reader checks them.
const TARGET_STATE_PREFIX: &str = "target-state-";
const CONNECTOR_PREFIX: &str = "connector-";
const TASK_PREFIX: &str = "task-";
const COMMIT_PREFIX: &str = "commit-";
const RESTART_PREFIX: &str = "restart-connector-";
const TASKS_FENCING_PREFIX: &str = "tasks-fencing-";
const SESSION_KEY: &str = "session-key";
const LOGGER_CLUSTER_PREFIX: &str = "logger-cluster-";

/// What applying a record changed, for the herder to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// A connector appeared or its configuration changed.
    ConnectorPut(String),
    /// A known connector was deleted, with its task configurations.
    ConnectorRemoved(String),
    /// An existing connector's target state changed.
    TargetState(String),
    /// A commit was applied: the connector's task configurations are new, or (if the
    /// connector is now [inconsistent](ClusterConfig::is_inconsistent)) it has none.
    TasksCommitted(String),
    /// A restart request. Java workers act only on requests read after their start-up, so
    /// that old requests are not replayed: the caller decides, as it knows when that is.
    Restart {
        connector: String,
        include_tasks: bool,
        only_failed: bool,
    },
}

/// The key that authenticates requests between workers (`session-key`), kept as read.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The raw key bytes (base64 in the record).
    pub key: Vec<u8>,
    /// The MAC algorithm, e.g. `HmacSHA256`.
    pub algorithm: String,
    /// When the leader generated it, in ms since the epoch.
    pub creation_timestamp: i64,
}

impl std::fmt::Debug for SessionKey {
    // The key is a secret: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKey")
            .field("key", &"[hidden]")
            .field("algorithm", &self.algorithm)
            .field("creation_timestamp", &self.creation_timestamp)
            .finish()
    }
}

pub fn connector_key(name: &str) -> String {
    format!("{CONNECTOR_PREFIX}{name}")
}

pub fn target_state_key(name: &str) -> String {
    format!("{TARGET_STATE_PREFIX}{name}")
}

pub fn task_key(name: &str, task: usize) -> String {
    format!("{TASK_PREFIX}{name}-{task}")
}

pub fn commit_key(name: &str) -> String {
    format!("{COMMIT_PREFIX}{name}")
}

pub fn restart_key(name: &str) -> String {
    format!("{RESTART_PREFIX}{name}")
}

/// `connector-NAME`: `{"properties":{...}}`.
pub fn connector_record(name: &str, props: &Props) -> (String, Vec<u8>) {
    (connector_key(name), properties_value(props))
}

/// `target-state-NAME`: `{"state":..,"state.v2":..}`, STOPPED as PAUSED in `state`.
pub fn target_state_record(name: &str, state: TargetState) -> (String, Vec<u8>) {
    #[derive(Serialize)]
    struct Value {
        state: &'static str,
        #[serde(rename = "state.v2")]
        state_v2: &'static str,
    }
    let (state, state_v2) = match state {
        TargetState::Started => ("STARTED", "STARTED"),
        TargetState::Paused => ("PAUSED", "PAUSED"),
        TargetState::Stopped => ("PAUSED", "STOPPED"),
    };
    (target_state_key(name), to_json(&Value { state, state_v2 }))
}

/// `task-NAME-N`: `{"properties":{...}}`.
pub fn task_record(name: &str, task: usize, props: &Props) -> (String, Vec<u8>) {
    (task_key(name, task), properties_value(props))
}

/// `commit-NAME`: `{"tasks":N}`.
pub fn commit_record(name: &str, tasks: usize) -> (String, Vec<u8>) {
    #[derive(Serialize)]
    struct Value {
        tasks: usize,
    }
    (commit_key(name), to_json(&Value { tasks }))
}

/// `restart-connector-NAME`: `{"include-tasks":..,"only-failed":..}`.
pub fn restart_record(name: &str, include_tasks: bool, only_failed: bool) -> (String, Vec<u8>) {
    #[derive(Serialize)]
    struct Value {
        #[serde(rename = "include-tasks")]
        include_tasks: bool,
        #[serde(rename = "only-failed")]
        only_failed: bool,
    }
    let value = Value {
        include_tasks,
        only_failed,
    };
    (restart_key(name), to_json(&value))
}

fn properties_value(properties: &Props) -> Vec<u8> {
    #[derive(Serialize)]
    struct Value<'a> {
        properties: &'a Props,
    }
    to_json(&Value { properties })
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    // Only structs of strings, numbers and string maps come here: nothing that can fail.
    serde_json::to_vec(value).expect("a config record serializes")
}

/// Splits `NAME-N` (what follows a task key's prefix) into the connector name and the task
/// number, as Java does: the number follows the last dash, so names may hold dashes. Java
/// splits the whole key on dashes, which drops trailing empty parts: trailing dashes are
/// ignored the same way here.
pub(crate) fn split_task_suffix(rest: &str) -> Option<(&str, usize)> {
    let (name, task) = rest.trim_end_matches('-').rsplit_once('-')?;
    let task: i32 = task.parse().ok()?;
    Some((name, usize::try_from(task).ok()?))
}

/// The cluster's configuration as the config topic says, built by [`apply`](Self::apply)ing
/// its records in order.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The offset after the last record applied, -1 before any.
    offset: i64,
    connectors: BTreeMap<String, Props>,
    /// Also for connectors without a configuration: a target state may come first.
    target_states: BTreeMap<String, TargetState>,
    /// Per connector with a commit: its committed task configurations, task N at index N.
    tasks: BTreeMap<String, Vec<Props>>,
    /// Task configurations read but not committed yet.
    pending: BTreeMap<String, BTreeMap<usize, Props>>,
    /// Connectors whose last commit did not find all its tasks: they have no tasks until a
    /// complete set is committed (a leader writes one when it sees the mark).
    inconsistent: BTreeSet<String>,
    session_key: Option<SessionKey>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            offset: -1,
            connectors: BTreeMap::new(),
            target_states: BTreeMap::new(),
            tasks: BTreeMap::new(),
            pending: BTreeMap::new(),
            inconsistent: BTreeSet::new(),
            session_key: None,
        }
    }
}

impl ClusterConfig {
    /// Applies the record read at `offset`; returns what changed (None: nothing the herder
    /// must act on, or a record skipped).
    ///
    /// A value that is not JSON is skipped without moving [`offset`](Self::offset), as Java
    /// does: every worker must advertise the same offset for the same records. Every other
    /// record moves it, whether it was understood or not.
    pub fn apply(&mut self, offset: i64, key: &str, value: Option<&[u8]>) -> Option<ConfigChange> {
        let value = match value {
            None => Json::Null,
            Some(bytes) => match serde_json::from_slice(bytes) {
                Ok(value) => value,
                Err(e) => {
                    warn!(
                        offset,
                        key, "skipping a config topic record whose value is not JSON: {e}"
                    );
                    return None;
                }
            },
        };
        self.offset = offset + 1;

        if let Some(name) = key.strip_prefix(TARGET_STATE_PREFIX) {
            self.apply_target_state(name, &value)
        } else if let Some(name) = key.strip_prefix(CONNECTOR_PREFIX) {
            self.apply_connector(name, &value)
        } else if let Some(rest) = key.strip_prefix(TASK_PREFIX) {
            match split_task_suffix(rest) {
                Some((name, task)) => self.apply_task(name, task, &value),
                None => warn!(
                    key,
                    "ignoring a config topic record: not a task key (task-NAME-N)"
                ),
            }
            None
        } else if let Some(name) = key.strip_prefix(COMMIT_PREFIX) {
            self.apply_commit(name, &value)
        } else if let Some(name) = key.strip_prefix(RESTART_PREFIX) {
            restart_request(name, &value)
        } else if key.starts_with(TASKS_FENCING_PREFIX) {
            // Exactly-once source support, which this worker does not have.
            debug!(
                key,
                "ignoring a task count record (exactly-once source support)"
            );
            None
        } else if key == SESSION_KEY {
            self.apply_session_key(&value);
            None
        } else if key.starts_with(LOGGER_CLUSTER_PREFIX) {
            debug!(key, "ignoring a cluster-wide logger level record");
            None
        } else {
            warn!(key, "ignoring a config topic record with an unknown key");
            None
        }
    }

    fn apply_target_state(&mut self, name: &str, value: &Json) -> Option<ConfigChange> {
        if value.is_null() {
            // Written with the connector's tombstone. A connector that still has a
            // configuration falls back to STARTED, quietly, as in Java.
            self.target_states.remove(name);
            if self.connectors.contains_key(name) {
                self.target_states
                    .insert(name.to_owned(), TargetState::Started);
            }
            return None;
        }
        let state = match parse_target_state(value) {
            Ok(state) => state,
            Err(e) => {
                warn!(connector = name, "ignoring a target state record: {e}");
                return None;
            }
        };
        let previous = self.target_states.insert(name.to_owned(), state);
        // A target state written before its connector (create with an initial state) applies
        // quietly: the connector's own record announces it.
        (previous != Some(state) && self.connectors.contains_key(name))
            .then(|| ConfigChange::TargetState(name.to_owned()))
    }

    fn apply_connector(&mut self, name: &str, value: &Json) -> Option<ConfigChange> {
        if value.is_null() {
            let known = self.connectors.contains_key(name);
            self.remove_connector(name);
            return known.then(|| ConfigChange::ConnectorRemoved(name.to_owned()));
        }
        let props = match properties(value) {
            Ok(props) => props,
            Err(e) => {
                warn!(connector = name, "ignoring a connector config record: {e}");
                return None;
            }
        };
        self.target_states
            .entry(name.to_owned())
            .or_insert(TargetState::Started);
        let previous = self.connectors.insert(name.to_owned(), props);
        (previous.as_ref() != self.connectors.get(name))
            .then(|| ConfigChange::ConnectorPut(name.to_owned()))
    }

    /// Forgets a connector's configuration and tasks. Its target state stays until its own
    /// tombstone, as in Java.
    fn remove_connector(&mut self, name: &str) {
        self.connectors.remove(name);
        self.tasks.remove(name);
        self.pending.remove(name);
        self.inconsistent.remove(name);
    }

    fn apply_task(&mut self, name: &str, task: usize, value: &Json) {
        if value.is_null() {
            warn!(connector = name, task, "ignoring a null task config record");
            return;
        }
        match properties(value) {
            Ok(props) => {
                self.pending
                    .entry(name.to_owned())
                    .or_default()
                    .insert(task, props);
            }
            Err(e) => warn!(connector = name, task, "ignoring a task config record: {e}"),
        }
    }

    fn apply_commit(&mut self, name: &str, value: &Json) -> Option<ConfigChange> {
        if !self.connectors.contains_key(name) {
            // The connector was deleted and compaction removed its records: these tasks
            // belong to nothing.
            debug!(
                connector = name,
                "ignoring a task commit of a connector that does not exist"
            );
            self.remove_connector(name);
            return None;
        }
        let count = match commit_task_count(value) {
            Ok(count) => count,
            Err(e) => {
                warn!(connector = name, "ignoring a task commit record: {e}");
                return None;
            }
        };
        // Task configurations are consumed by the commit, used or not: an incomplete set is
        // stale (compaction removed part of it) and must not mix with the next one.
        let mut pending = self.pending.remove(name).unwrap_or_default();
        // Extra task ids are fine: compaction can leave those of an earlier, larger set.
        let configs: Option<Vec<Props>> = (0..count).map(|task| pending.remove(&task)).collect();
        match configs {
            Some(configs) => {
                self.tasks.insert(name.to_owned(), configs);
                self.inconsistent.remove(name);
            }
            None => {
                warn!(
                    connector = name,
                    tasks = count,
                    "the config topic lacks some of the committed task configs (compacted?): \
                     the connector has no tasks until they are written again"
                );
                self.tasks.remove(name);
                self.inconsistent.insert(name.to_owned());
            }
        }
        Some(ConfigChange::TasksCommitted(name.to_owned()))
    }

    fn apply_session_key(&mut self, value: &Json) {
        match parse_session_key(value) {
            Ok(key) => self.session_key = Some(key),
            Err(e) => warn!("ignoring a session key record: {e}"),
        }
    }

    /// The offset after the last record applied (what a worker advertises when it joins), -1
    /// before any.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Every connector with its configuration, by name.
    pub fn connectors(&self) -> impl Iterator<Item = (&String, &Props)> {
        self.connectors.iter()
    }

    pub fn connector(&self, name: &str) -> Option<&Props> {
        self.connectors.get(name)
    }

    /// The target state of an existing connector (STARTED if none was written).
    pub fn target_state(&self, name: &str) -> Option<TargetState> {
        self.connectors.get(name)?;
        Some(
            self.target_states
                .get(name)
                .copied()
                .unwrap_or(TargetState::Started),
        )
    }

    /// The connector's committed task configurations, task N at index N; None before a
    /// commit or while the connector is inconsistent.
    pub fn task_configs(&self, name: &str) -> Option<&[Props]> {
        self.tasks.get(name).map(Vec::as_slice)
    }

    /// How many tasks the connector has: its committed task count, 0 while inconsistent.
    pub fn task_count(&self, name: &str) -> usize {
        self.task_configs(name).map_or(0, <[Props]>::len)
    }

    /// Whether the connector's last commit found only part of its task configurations, so
    /// that it has no tasks until its leader writes them again.
    pub fn is_inconsistent(&self, name: &str) -> bool {
        self.inconsistent.contains(name)
    }

    /// Every inconsistent connector.
    pub fn inconsistent(&self) -> impl Iterator<Item = &String> {
        self.inconsistent.iter()
    }

    /// The last session key read, if any.
    pub fn session_key(&self) -> Option<&SessionKey> {
        self.session_key.as_ref()
    }

    /// What the assignor needs: every connector with its task count.
    pub fn view(&self) -> ConfigView {
        let connectors = self
            .connectors
            .keys()
            .map(|name| {
                // Task numbers fit an i32 (see split_task_suffix and commit_task_count).
                let count = u32::try_from(self.task_count(name)).unwrap_or(u32::MAX);
                (name.clone(), count)
            })
            .collect();
        ConfigView {
            offset: self.offset,
            connectors,
        }
    }
}

/// A connector or task config record's `properties`. Java declares them a map of optional
/// strings: a null value is as if the property were not set. Other values (which a Java
/// worker never writes) are kept as their JSON text rather than losing the record.
fn properties(value: &Json) -> Result<Props, String> {
    let Some(Json::Object(properties)) = value.get("properties") else {
        return Err("no \"properties\" object".into());
    };
    Ok(properties
        .iter()
        .filter_map(|(key, value)| {
            let value = match value {
                Json::Null => return None,
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((key.clone(), value))
        })
        .collect())
}

/// A target state record's state: `state.v2` if it is a string, else `state` (what workers
/// older than STOPPED write).
fn parse_target_state(value: &Json) -> Result<TargetState, String> {
    if !value.is_object() {
        return Err(format!("not a JSON object: {value}"));
    }
    let state = match (value.get("state.v2"), value.get("state")) {
        (Some(Json::String(state)), _) | (_, Some(Json::String(state))) => state,
        _ => return Err(format!("no \"state.v2\" or \"state\" string: {value}")),
    };
    match state.as_str() {
        "STARTED" => Ok(TargetState::Started),
        "PAUSED" => Ok(TargetState::Paused),
        "STOPPED" => Ok(TargetState::Stopped),
        other => Err(format!(
            "unknown state {other:?} (expected STARTED, PAUSED or STOPPED)"
        )),
    }
}

/// A commit record's `tasks`, an integer (Java reads an int or a long).
fn commit_task_count(value: &Json) -> Result<usize, String> {
    let tasks = value
        .get("tasks")
        .ok_or_else(|| format!("no \"tasks\": {value}"))?;
    tasks
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("\"tasks\" is not a task count: {tasks}"))
}

/// A restart request; a missing or invalid flag is false, as in Java.
fn restart_request(name: &str, value: &Json) -> Option<ConfigChange> {
    if !value.is_object() {
        warn!(
            connector = name,
            "ignoring a restart request that is not a JSON object: {value}"
        );
        return None;
    }
    let flag = |field: &str| {
        value.get(field).and_then(Json::as_bool).unwrap_or_else(|| {
            warn!(
                connector = name,
                "restart request: \"{field}\" is not a boolean, taking false"
            );
            false
        })
    };
    Some(ConfigChange::Restart {
        connector: name.to_owned(),
        include_tasks: flag("include-tasks"),
        only_failed: flag("only-failed"),
    })
}

fn parse_session_key(value: &Json) -> Result<SessionKey, String> {
    // Java's decoder accepts base64 with or without padding.
    const BASE64: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    if !value.is_object() {
        return Err(format!("not a JSON object: {value}"));
    }
    let key = value
        .get("key")
        .and_then(Json::as_str)
        .ok_or("no \"key\" string")?;
    let key = BASE64
        .decode(key)
        .map_err(|e| format!("\"key\" is not base64: {e}"))?;
    let algorithm = value
        .get("algorithm")
        .and_then(Json::as_str)
        .ok_or("no \"algorithm\" string")?;
    let creation_timestamp = value
        .get("creation-timestamp")
        .and_then(Json::as_i64)
        .ok_or("no \"creation-timestamp\" integer")?;
    Ok(SessionKey {
        key,
        algorithm: algorithm.to_owned(),
        creation_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn text(record: (String, Vec<u8>)) -> (String, String) {
        let (key, value) = record;
        (key, String::from_utf8(value).expect("JSON is UTF-8"))
    }

    fn source(name: &str) -> Props {
        props(&[("connector.class", "RedisSource"), ("name", name)])
    }

    /// A reader that applies records at consecutive offsets, as they come from the topic.
    struct Reader {
        config: ClusterConfig,
        next: i64,
    }

    impl Reader {
        fn new() -> Self {
            Self {
                config: ClusterConfig::default(),
                next: 0,
            }
        }

        fn apply(&mut self, (key, value): (String, Vec<u8>)) -> Option<ConfigChange> {
            self.apply_raw(&key, Some(&value))
        }

        fn tombstone(&mut self, key: &str) -> Option<ConfigChange> {
            self.apply_raw(key, None)
        }

        fn apply_raw(&mut self, key: &str, value: Option<&[u8]>) -> Option<ConfigChange> {
            let offset = self.next;
            self.next += 1;
            self.config.apply(offset, key, value)
        }

        fn view(&self) -> Vec<(String, u32)> {
            self.config.view().connectors.into_iter().collect()
        }
    }

    fn put(name: &str) -> Option<ConfigChange> {
        Some(ConfigChange::ConnectorPut(name.into()))
    }
    fn committed(name: &str) -> Option<ConfigChange> {
        Some(ConfigChange::TasksCommitted(name.into()))
    }
    fn target(name: &str) -> Option<ConfigChange> {
        Some(ConfigChange::TargetState(name.into()))
    }

    #[test]
    fn records_are_the_json_a_java_worker_writes() {
        assert_eq!(
            text(connector_record("orders", &source("orders"))),
            (
                "connector-orders".into(),
                r#"{"properties":{"connector.class":"RedisSource","name":"orders"}}"#.into()
            )
        );
        assert_eq!(
            text(task_record(
                "orders",
                2,
                &props(&[("task.id", "2"), ("a", "x\"y")])
            )),
            (
                "task-orders-2".into(),
                r#"{"properties":{"a":"x\"y","task.id":"2"}}"#.into()
            )
        );
        assert_eq!(
            text(commit_record("orders", 3)),
            ("commit-orders".into(), r#"{"tasks":3}"#.into())
        );
        assert_eq!(
            text(restart_record("orders", true, false)),
            (
                "restart-connector-orders".into(),
                r#"{"include-tasks":true,"only-failed":false}"#.into()
            )
        );
        assert_eq!(
            text(restart_record("orders", false, true)).1,
            r#"{"include-tasks":false,"only-failed":true}"#
        );
        let state = |state| text(target_state_record("orders", state));
        assert_eq!(
            state(TargetState::Started),
            (
                "target-state-orders".into(),
                r#"{"state":"STARTED","state.v2":"STARTED"}"#.into()
            )
        );
        assert_eq!(
            state(TargetState::Paused).1,
            r#"{"state":"PAUSED","state.v2":"PAUSED"}"#
        );
        // Older workers read only `state` and know no STOPPED.
        assert_eq!(
            state(TargetState::Stopped).1,
            r#"{"state":"PAUSED","state.v2":"STOPPED"}"#
        );
        assert_eq!(
            text(connector_record("empty", &Props::new())).1,
            r#"{"properties":{}}"#
        );
    }

    #[test]
    fn keys_for_tombstones_and_others() {
        assert_eq!(connector_key("a-b"), "connector-a-b");
        assert_eq!(target_state_key("a-b"), "target-state-a-b");
        assert_eq!(task_key("a-b", 10), "task-a-b-10");
        assert_eq!(commit_key("a-b"), "commit-a-b");
        assert_eq!(restart_key("a-b"), "restart-connector-a-b");
    }

    #[test]
    fn task_keys_split_at_the_last_dash() {
        assert_eq!(split_task_suffix("orders-0"), Some(("orders", 0)));
        assert_eq!(
            split_task_suffix("my-big-conn-12"),
            Some(("my-big-conn", 12))
        );
        assert_eq!(split_task_suffix("-3"), Some(("", 3)));
        // Java's split drops trailing empty parts.
        assert_eq!(split_task_suffix("orders-1--"), Some(("orders", 1)));
        assert_eq!(split_task_suffix("orders"), None);
        assert_eq!(split_task_suffix("orders-x"), None);
        assert_eq!(split_task_suffix("orders-99999999999"), None);
        assert_eq!(split_task_suffix(""), None);
    }

    #[test]
    fn an_empty_snapshot_is_at_offset_minus_one() {
        let config = ClusterConfig::default();
        assert_eq!(config.offset(), -1);
        assert_eq!(
            config.view(),
            ConfigView {
                offset: -1,
                connectors: BTreeMap::new()
            }
        );
        assert_eq!(config.connectors().count(), 0);
        assert_eq!(config.session_key(), None);
    }

    #[test]
    fn a_java_workers_lifecycle_of_a_connector() {
        let mut r = Reader::new();
        let name = "my-orders";

        // Create with an initial state: target state first, then the config.
        assert_eq!(
            r.apply(target_state_record(name, TargetState::Started)),
            None
        );
        assert_eq!(r.config.connector(name), None);
        assert_eq!(r.config.target_state(name), None);
        assert_eq!(r.apply(connector_record(name, &source(name))), put(name));
        assert_eq!(r.config.offset(), 2);
        assert_eq!(r.config.connector(name), Some(&source(name)));
        assert_eq!(r.config.target_state(name), Some(TargetState::Started));
        assert_eq!(r.config.task_configs(name), None);
        assert_eq!(r.view(), [(name.into(), 0)]);

        // Task configs: pending until the commit.
        let task = |n: usize| props(&[("task", &n.to_string())]);
        for n in 0..3 {
            assert_eq!(r.apply(task_record(name, n, &task(n))), None);
            assert_eq!(r.config.task_configs(name), None);
        }
        assert_eq!(r.apply(commit_record(name, 3)), committed(name));
        assert_eq!(r.config.offset(), 6);
        assert_eq!(
            r.config.task_configs(name),
            Some(&[task(0), task(1), task(2)][..])
        );
        assert_eq!(r.config.task_count(name), 3);
        assert!(!r.config.is_inconsistent(name));
        assert_eq!(r.view(), [(name.into(), 3)]);

        // Pause.
        assert_eq!(
            r.apply(target_state_record(name, TargetState::Paused)),
            target(name)
        );
        assert_eq!(r.config.target_state(name), Some(TargetState::Paused));
        assert_eq!(r.config.task_count(name), 3);

        // Stop: no tasks, then the state.
        assert_eq!(r.apply(commit_record(name, 0)), committed(name));
        assert_eq!(r.config.task_configs(name), Some(&[][..]));
        assert_eq!(r.view(), [(name.into(), 0)]);
        assert_eq!(
            r.apply(target_state_record(name, TargetState::Stopped)),
            target(name)
        );
        assert_eq!(r.config.target_state(name), Some(TargetState::Stopped));
        assert_eq!(r.config.offset(), 9);

        // Delete: the connector's tombstone, then its target state's.
        assert_eq!(
            r.tombstone(&connector_key(name)),
            Some(ConfigChange::ConnectorRemoved(name.into()))
        );
        assert_eq!(r.config.connector(name), None);
        assert_eq!(r.config.target_state(name), None);
        assert_eq!(r.config.task_configs(name), None);
        assert_eq!(r.tombstone(&target_state_key(name)), None);
        assert_eq!(r.config.offset(), 11);
        assert_eq!(
            r.config.view(),
            ConfigView {
                offset: 11,
                connectors: BTreeMap::new()
            }
        );
    }

    #[test]
    fn a_value_that_is_not_json_is_skipped_without_moving_the_offset() {
        let mut config = ClusterConfig::default();
        assert_eq!(
            config.apply(0, "connector-a", Some(br#"{"properties":{}"#)),
            None
        );
        assert_eq!(config.offset(), -1);
        assert_eq!(config.connector("a"), None);
        let (key, value) = connector_record("a", &source("a"));
        assert_eq!(config.apply(1, &key, Some(&value)), put("a"));
        assert_eq!(config.offset(), 2);
        assert_eq!(config.apply(2, "connector-b", Some(b"")), None);
        assert_eq!(config.apply(3, &key, Some(b"\xff")), None);
        assert_eq!(config.offset(), 2);
        assert_eq!(config.connector("a"), Some(&source("a")));
    }

    #[test]
    fn every_parsed_record_moves_the_offset_whatever_its_key() {
        let mut config = ClusterConfig::default();
        let records: [(&str, Option<&[u8]>); 9] = [
            ("logger-cluster-org.apache", Some(br#"{"level":"DEBUG"}"#)),
            ("tasks-fencing-a", Some(br#"{"task-count":3}"#)),
            ("something-else", Some(br#"{"x":1}"#)),
            ("task-a-0", None),
            ("task-nonumber", Some(br#"{"properties":{}}"#)),
            ("connector-a", Some(br#"{"properties":"not a map"}"#)),
            ("target-state-a", Some(br#"{"state":"SLEEPING"}"#)),
            ("commit-a", Some(br#"{"tasks":1}"#)),
            ("session-key", None),
        ];
        for (offset, (key, value)) in (10..).zip(records) {
            assert_eq!(config.apply(offset, key, value), None, "{key}");
            assert_eq!(config.offset(), offset + 1, "{key}");
        }
        assert_eq!(config.connectors().count(), 0);
    }

    #[test]
    fn a_target_state_before_its_connector_applies_quietly() {
        let mut r = Reader::new();
        assert_eq!(r.apply(target_state_record("a", TargetState::Paused)), None);
        assert_eq!(r.config.target_state("a"), None);
        assert_eq!(r.view(), []);
        assert_eq!(r.apply(connector_record("a", &source("a"))), put("a"));
        assert_eq!(r.config.target_state("a"), Some(TargetState::Paused));
        // The same state again is no change.
        assert_eq!(r.apply(target_state_record("a", TargetState::Paused)), None);
        assert_eq!(
            r.apply(target_state_record("a", TargetState::Started)),
            target("a")
        );
    }

    #[test]
    fn a_target_state_tombstone_falls_back_to_started_quietly() {
        let mut r = Reader::new();
        r.apply(connector_record("a", &source("a")));
        r.apply(target_state_record("a", TargetState::Paused));
        assert_eq!(r.tombstone(&target_state_key("a")), None);
        assert_eq!(r.config.target_state("a"), Some(TargetState::Started));
        // Now STARTED is stored: STARTED again is no change.
        assert_eq!(
            r.apply(target_state_record("a", TargetState::Started)),
            None
        );
    }

    #[test]
    fn target_states_of_old_and_new_workers() {
        let mut r = Reader::new();
        r.apply(connector_record("a", &source("a")));
        let mut state = |json: &str| {
            r.apply_raw("target-state-a", Some(json.as_bytes()));
            r.config.target_state("a")
        };
        // A worker without STOPPED writes only `state`.
        assert_eq!(state(r#"{"state":"PAUSED"}"#), Some(TargetState::Paused));
        assert_eq!(
            state(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
            Some(TargetState::Stopped)
        );
        assert_eq!(
            state(r#"{"state":"STARTED","state.v2":null}"#),
            Some(TargetState::Started)
        );
        // `state.v2` that is not a string: `state` is used.
        assert_eq!(
            state(r#"{"state":"PAUSED","state.v2":7}"#),
            Some(TargetState::Paused)
        );
        // Unreadable: ignored.
        assert_eq!(state(r#"{"state.v2":"GONE"}"#), Some(TargetState::Paused));
        assert_eq!(state(r#"{"state":5}"#), Some(TargetState::Paused));
        assert_eq!(state(r#""STOPPED""#), Some(TargetState::Paused));
    }

    #[test]
    fn connector_put_only_when_new_or_changed_removed_only_when_known() {
        let mut r = Reader::new();
        assert_eq!(r.tombstone(&connector_key("never")), None);
        assert_eq!(r.apply(connector_record("a", &source("a"))), put("a"));
        assert_eq!(r.apply(connector_record("a", &source("a"))), None);
        let mut changed = source("a");
        changed.insert("tasks.max".into(), "2".into());
        assert_eq!(r.apply(connector_record("a", &changed)), put("a"));
        assert_eq!(r.config.connector("a"), Some(&changed));
        assert_eq!(
            r.tombstone(&connector_key("a")),
            Some(ConfigChange::ConnectorRemoved("a".into()))
        );
        assert_eq!(r.tombstone(&connector_key("a")), None);
    }

    #[test]
    fn properties_are_read_as_strings() {
        let mut config = ClusterConfig::default();
        let value = br#"{"properties":{"name":"a","gone":null,"n":5,"b":true}}"#;
        config.apply(0, "connector-a", Some(value));
        assert_eq!(
            config.connector("a"),
            Some(&props(&[("name", "a"), ("n", "5"), ("b", "true")]))
        );
    }

    #[test]
    fn an_incomplete_commit_leaves_the_connector_inconsistent_until_a_complete_one() {
        let mut r = Reader::new();
        r.apply(connector_record("a", &source("a")));
        let task = |n: usize| props(&[("task", &n.to_string())]);
        // Compaction removed task 1.
        r.apply(task_record("a", 0, &task(0)));
        r.apply(task_record("a", 2, &task(2)));
        assert_eq!(r.apply(commit_record("a", 3)), committed("a"));
        assert!(r.config.is_inconsistent("a"));
        assert_eq!(r.config.inconsistent().collect::<Vec<_>>(), ["a"]);
        assert_eq!(r.config.task_configs("a"), None);
        assert_eq!(r.config.task_count("a"), 0);
        assert_eq!(r.view(), [("a".into(), 0)]);

        // The pending configs went with that commit: task 1 alone does not complete them.
        r.apply(task_record("a", 1, &task(1)));
        assert_eq!(r.apply(commit_record("a", 3)), committed("a"));
        assert!(r.config.is_inconsistent("a"));

        for n in 0..3 {
            r.apply(task_record("a", n, &task(n)));
        }
        assert_eq!(r.apply(commit_record("a", 3)), committed("a"));
        assert!(!r.config.is_inconsistent("a"));
        assert_eq!(
            r.config.task_configs("a"),
            Some(&[task(0), task(1), task(2)][..])
        );
        assert_eq!(r.view(), [("a".into(), 3)]);
    }

    #[test]
    fn a_commit_may_find_more_tasks_than_it_counts() {
        // From 2 tasks to 1, compacted: task 1's record of the old set is still there.
        let mut r = Reader::new();
        r.apply(connector_record("a", &source("a")));
        r.apply(task_record("a", 1, &props(&[("old", "1")])));
        r.apply(task_record("a", 0, &props(&[("new", "0")])));
        assert_eq!(r.apply(commit_record("a", 1)), committed("a"));
        assert_eq!(
            r.config.task_configs("a"),
            Some(&[props(&[("new", "0")])][..])
        );
        // Nothing of that set is pending any more.
        assert_eq!(r.apply(commit_record("a", 2)), committed("a"));
        assert!(r.config.is_inconsistent("a"));
    }

    #[test]
    fn a_commit_of_an_unknown_connector_drops_its_tasks() {
        let mut r = Reader::new();
        r.apply(task_record("a", 0, &props(&[("t", "0")])));
        assert_eq!(r.apply(commit_record("a", 1)), None);
        assert_eq!(r.config.offset(), 2);
        // Those pending configs are gone: the connector's own commit needs its own tasks.
        r.apply(connector_record("a", &source("a")));
        assert_eq!(r.apply(commit_record("a", 1)), committed("a"));
        assert!(r.config.is_inconsistent("a"));
    }

    #[test]
    fn commit_task_counts_are_integers() {
        let mut r = Reader::new();
        r.apply(connector_record("a", &source("a")));
        for bad in [
            r#"{"tasks":1.0}"#,
            r#"{"tasks":"1"}"#,
            r#"{"tasks":-1}"#,
            r#"{"tasks":4294967296}"#,
            r#"{}"#,
            r#"[1]"#,
        ] {
            assert_eq!(r.apply_raw("commit-a", Some(bad.as_bytes())), None, "{bad}");
        }
        assert_eq!(r.apply_raw("commit-a", None), None);
        assert_eq!(r.config.task_configs("a"), None);
        r.apply(task_record("a", 0, &Props::new()));
        // Any JSON integer is an int or a long to Java.
        assert_eq!(
            r.apply_raw("commit-a", Some(br#"{"tasks":1,"extra":"x"}"#)),
            committed("a")
        );
        assert_eq!(r.config.task_count("a"), 1);
    }

    #[test]
    fn a_null_task_config_is_ignored() {
        let mut r = Reader::new();
        r.apply(connector_record("a", &source("a")));
        r.apply(task_record("a", 0, &props(&[("t", "0")])));
        assert_eq!(r.tombstone("task-a-0"), None);
        r.apply(commit_record("a", 1));
        assert_eq!(
            r.config.task_configs("a"),
            Some(&[props(&[("t", "0")])][..])
        );
    }

    #[test]
    fn dashes_in_connector_names() {
        let mut r = Reader::new();
        for name in ["a", "a-b", "a-b-1"] {
            r.apply(connector_record(name, &source(name)));
        }
        r.apply(task_record("a-b-1", 0, &props(&[("of", "a-b-1")])));
        r.apply(task_record("a-b", 1, &props(&[("of", "a-b")])));
        r.apply(task_record("a-b", 0, &props(&[("of", "a-b")])));
        r.apply(commit_record("a-b-1", 1));
        r.apply(commit_record("a-b", 2));
        assert_eq!(
            r.view(),
            [("a".into(), 0), ("a-b".into(), 2), ("a-b-1".into(), 1)]
        );
        assert_eq!(
            r.config.task_configs("a-b-1"),
            Some(&[props(&[("of", "a-b-1")])][..])
        );
        r.apply(target_state_record("a-b", TargetState::Paused));
        assert_eq!(r.config.target_state("a-b"), Some(TargetState::Paused));
        assert_eq!(r.config.target_state("a-b-1"), Some(TargetState::Started));
    }

    #[test]
    fn a_deleted_connector_comes_back_new() {
        let mut r = Reader::new();
        r.apply(connector_record("a", &source("a")));
        r.apply(target_state_record("a", TargetState::Stopped));
        r.apply(task_record("a", 0, &props(&[("old", "0")])));
        r.apply(commit_record("a", 1));
        r.apply(task_record("a", 1, &props(&[("pending", "1")])));
        r.tombstone(&connector_key("a"));
        r.tombstone(&target_state_key("a"));

        assert_eq!(r.apply(connector_record("a", &source("a"))), put("a"));
        assert_eq!(r.config.target_state("a"), Some(TargetState::Started));
        assert_eq!(r.config.task_configs("a"), None);
        assert_eq!(r.view(), [("a".into(), 0)]);
        // The task pending before the delete is gone with it.
        r.apply(task_record("a", 0, &props(&[("new", "0")])));
        assert_eq!(r.apply(commit_record("a", 2)), committed("a"));
        assert!(r.config.is_inconsistent("a"));
    }

    #[test]
    fn a_delete_without_the_target_state_tombstone_keeps_the_state() {
        // What Java does when only the connector's tombstone was written.
        let mut r = Reader::new();
        r.apply(connector_record("a", &source("a")));
        r.apply(target_state_record("a", TargetState::Paused));
        r.tombstone(&connector_key("a"));
        r.apply(connector_record("a", &source("a")));
        assert_eq!(r.config.target_state("a"), Some(TargetState::Paused));
    }

    #[test]
    fn restart_requests_are_reported_not_stored() {
        let mut r = Reader::new();
        assert_eq!(
            r.apply(restart_record("a-b", true, false)),
            Some(ConfigChange::Restart {
                connector: "a-b".into(),
                include_tasks: true,
                only_failed: false
            })
        );
        // Missing or invalid flags are false.
        assert_eq!(
            r.apply_raw("restart-connector-a", Some(br#"{"only-failed":"yes"}"#)),
            Some(ConfigChange::Restart {
                connector: "a".into(),
                include_tasks: false,
                only_failed: false
            })
        );
        assert_eq!(r.apply_raw("restart-connector-a", None), None);
        assert_eq!(r.config.offset(), 3);
        assert_eq!(r.view(), []);
    }

    #[test]
    fn the_session_key_is_kept() {
        let mut r = Reader::new();
        let value =
            br#"{"key":"AAECAw==","algorithm":"HmacSHA256","creation-timestamp":1729821181000}"#;
        assert_eq!(r.apply_raw("session-key", Some(value)), None);
        let expected = SessionKey {
            key: vec![0, 1, 2, 3],
            algorithm: "HmacSHA256".into(),
            creation_timestamp: 1_729_821_181_000,
        };
        assert_eq!(r.config.session_key(), Some(&expected));
        assert!(!format!("{expected:?}").contains("AAECAw"));
        // Java's decoder takes it without padding too.
        let unpadded = br#"{"key":"AAECAw","algorithm":"HmacSHA256","creation-timestamp":5}"#;
        r.apply_raw("session-key", Some(unpadded));
        assert_eq!(
            r.config.session_key().map(|k| k.creation_timestamp),
            Some(5)
        );
        // Unreadable ones leave the last one.
        for bad in [
            r#"{"key":"!!","algorithm":"HmacSHA256","creation-timestamp":6}"#,
            r#"{"key":"AAECAw==","creation-timestamp":6}"#,
            r#"{"key":"AAECAw==","algorithm":"HmacSHA256","creation-timestamp":6.5}"#,
        ] {
            r.apply_raw("session-key", Some(bad.as_bytes()));
        }
        r.apply_raw("session-key", None);
        assert_eq!(
            r.config.session_key().map(|k| k.creation_timestamp),
            Some(5)
        );
    }
}
