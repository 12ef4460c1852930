//! Kafka Connect's status topic: the statuses of connectors and tasks and the topics each
//! connector uses, byte for byte as a Java worker writes them, and [`StatusView`], the last of
//! each as a worker reads them, with the rules Java's reader follows.
//!
//! Keys are plain strings; values are compact JSON without a schema envelope, or null (a
//! tombstone: the connector, task or topic is gone). The records:
//!
//! | key | value |
//! | --- | --- |
//! | `status-connector-NAME` | `{"state":"RUNNING","trace":null,"worker_id":"host:8083","generation":5}` |
//! | `status-task-NAME-N` | the same, e.g. `FAILED` with the error as `trace` |
//! | `status-topic-TOPIC:connector-NAME` | `{"topic":{"name":..,"connector":..,"task":0,"discoverTimestamp":ms}}` |
//!
//! `worker_id` is the worker's advertised host and port, without a scheme; `generation` the
//! group generation the writer was in.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;
use tracing::warn;

use crate::status::{State, Status};

use super::config_records::split_task_suffix;

const CONNECTOR_STATUS_PREFIX: &str = "status-connector-";
const TASK_STATUS_PREFIX: &str = "status-task-";
const TOPIC_STATUS_PREFIX: &str = "status-topic-";
const TOPIC_STATUS_SEPARATOR: &str = ":connector-";

/// The state of a deleted connector or task: Java knows it but writes a tombstone instead.
const DESTROYED: &str = "DESTROYED";

/// The states a status record may hold.
const STATES: [State; 6] = [
    State::Unassigned,
    State::Running,
    State::Paused,
    State::Stopped,
    State::Failed,
    State::Restarting,
];

/// A connector's or task's status as written to the status topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    /// `UNASSIGNED`, `RUNNING`, `PAUSED`, `STOPPED` (connectors only), `FAILED` or
    /// `RESTARTING` (or `DESTROYED`, which Java reads but never writes).
    pub state: String,
    /// The error of a FAILED status.
    pub trace: Option<String>,
    /// The writer's advertised `host:port`.
    pub worker_id: String,
    /// The group generation the writer was in.
    pub generation: i64,
}

impl StatusRecord {
    /// The record of `status` as this worker writes it.
    pub fn new(status: &Status, worker_id: &str, generation: i64) -> Self {
        Self {
            state: status.state.name().to_owned(),
            trace: status.trace.clone(),
            worker_id: worker_id.to_owned(),
            generation,
        }
    }

    /// The state, None for DESTROYED.
    pub fn state(&self) -> Option<State> {
        STATES.into_iter().find(|s| s.name() == self.state)
    }

    fn is(&self, state: State) -> bool {
        self.state == state.name()
    }
}

/// What a status topic key is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusKey {
    Connector(String),
    Task(String, usize),
    /// A topic the connector uses.
    Topic {
        topic: String,
        connector: String,
    },
}

/// A topic status record's value: a topic a connector's task used, and when that was first
/// seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    pub topic: String,
    pub connector: String,
    pub task: i64,
    pub discover_timestamp: i64,
}

pub fn connector_status_key(name: &str) -> String {
    format!("{CONNECTOR_STATUS_PREFIX}{name}")
}

pub fn task_status_key(name: &str, task: usize) -> String {
    format!("{TASK_STATUS_PREFIX}{name}-{task}")
}

pub fn topic_status_key(topic: &str, connector: &str) -> String {
    format!("{TOPIC_STATUS_PREFIX}{topic}{TOPIC_STATUS_SEPARATOR}{connector}")
}

/// What `key` is about; None for a key that is none of the three kinds, or names nothing.
///
/// A task key's number follows its last dash, so connector names may hold dashes. A topic key's
/// topic ends at its first colon, which no topic name holds.
pub fn parse_key(key: &str) -> Option<StatusKey> {
    let non_empty = |name: &str| (!name.is_empty()).then(|| name.to_owned());
    if let Some(name) = key.strip_prefix(CONNECTOR_STATUS_PREFIX) {
        Some(StatusKey::Connector(non_empty(name)?))
    } else if let Some(rest) = key.strip_prefix(TASK_STATUS_PREFIX) {
        let (name, task) = split_task_suffix(rest)?;
        Some(StatusKey::Task(non_empty(name)?, task))
    } else if let Some(rest) = key.strip_prefix(TOPIC_STATUS_PREFIX) {
        let (topic, rest) = rest.split_once(':')?;
        let connector = rest.strip_prefix(&TOPIC_STATUS_SEPARATOR[1..])?;
        Some(StatusKey::Topic {
            topic: non_empty(topic)?,
            connector: non_empty(connector)?,
        })
    } else {
        None
    }
}

/// `{"state":..,"trace":..,"worker_id":..,"generation":..}`, in that order; `trace` is `null`
/// when there is none.
pub fn encode_status(status: &StatusRecord) -> Vec<u8> {
    #[derive(Serialize)]
    struct Value<'a> {
        state: &'a str,
        trace: Option<&'a str>,
        worker_id: &'a str,
        generation: i64,
    }
    to_json(&Value {
        state: &status.state,
        trace: status.trace.as_deref(),
        worker_id: &status.worker_id,
        generation: status.generation,
    })
}

/// Reads a connector or task status. A missing `trace` is none; `generation` may be any
/// integer; the state must be one Java knows.
pub fn decode_status(bytes: &[u8]) -> Result<StatusRecord, String> {
    let value: Json = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!("not a JSON object: {value}"));
    }
    let state = value
        .get("state")
        .and_then(Json::as_str)
        .ok_or("no \"state\" string")?;
    if state != DESTROYED && !STATES.iter().any(|s| s.name() == state) {
        return Err(format!("unknown state {state:?}"));
    }
    let trace = match value.get("trace") {
        None | Some(Json::Null) => None,
        Some(Json::String(trace)) => Some(trace.clone()),
        Some(other) => return Err(format!("\"trace\" is not a string: {other}")),
    };
    let worker_id = value
        .get("worker_id")
        .and_then(Json::as_str)
        .ok_or("no \"worker_id\" string")?;
    let generation = value
        .get("generation")
        .and_then(Json::as_i64)
        .ok_or("no \"generation\" integer")?;
    Ok(StatusRecord {
        state: state.to_owned(),
        trace,
        worker_id: worker_id.to_owned(),
        generation,
    })
}

/// `{"topic":{"name":..,"connector":..,"task":..,"discoverTimestamp":..}}`.
pub fn encode_topic_status(
    topic: &str,
    connector: &str,
    task: usize,
    discover_timestamp_ms: i64,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Value<'a> {
        topic: Inner<'a>,
    }
    #[derive(Serialize)]
    struct Inner<'a> {
        name: &'a str,
        connector: &'a str,
        task: usize,
        #[serde(rename = "discoverTimestamp")]
        discover_timestamp: i64,
    }
    to_json(&Value {
        topic: Inner {
            name: topic,
            connector,
            task,
            discover_timestamp: discover_timestamp_ms,
        },
    })
}

/// Reads a topic status record's value.
pub fn decode_topic_status(bytes: &[u8]) -> Result<TopicStatus, String> {
    let value: Json = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let inner = value
        .get("topic")
        .filter(|inner| inner.is_object())
        .ok_or_else(|| format!("no \"topic\" object: {value}"))?;
    let string = |field: &str| {
        inner
            .get(field)
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("no \"{field}\" string: {inner}"))
    };
    let integer = |field: &str| {
        inner
            .get(field)
            .and_then(Json::as_i64)
            .ok_or_else(|| format!("no \"{field}\" integer: {inner}"))
    };
    Ok(TopicStatus {
        topic: string("name")?,
        connector: string("connector")?,
        task: integer("task")?,
        discover_timestamp: integer("discoverTimestamp")?,
    })
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    // Only structs of strings and numbers come here: nothing that can fail.
    serde_json::to_vec(value).expect("a status record serializes")
}

/// Whether this worker should write `new` where the status topic holds `current`.
///
/// FAILED and UNASSIGNED (what a worker writes when its connector or task fails, or when it
/// lets go of it) are "safe" writes: skipped when another worker wrote the current status at
/// a newer generation, since that worker runs it now and its status is the true one. Every
/// other state is written unconditionally.
pub fn should_write(current: Option<&StatusRecord>, new: &StatusRecord, this_worker: &str) -> bool {
    if !(new.is(State::Failed) || new.is(State::Unassigned)) {
        return true;
    }
    match current {
        None => true,
        Some(current) => current.worker_id == this_worker || current.generation <= new.generation,
    }
}

/// The last status of every connector and task, and the topics of every connector, built by
/// [`apply`](Self::apply)ing the status topic's records in order.
#[derive(Debug, Clone, Default)]
pub struct StatusView {
    connectors: BTreeMap<String, StatusRecord>,
    tasks: BTreeMap<String, BTreeMap<usize, StatusRecord>>,
    /// By connector.
    topics: BTreeMap<String, BTreeSet<String>>,
}

impl StatusView {
    /// Applies one record; returns whether the view changed. A record that cannot be read is
    /// skipped (logged).
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> bool {
        let Some(parsed) = parse_key(key) else {
            warn!(key, "ignoring a status topic record with an unknown key");
            return false;
        };
        match (parsed, value) {
            (StatusKey::Connector(name), None) => {
                // A deleted connector's tasks go with it, whether or not their own tombstones
                // were written (a leader writes them first).
                let tasks = self.tasks.remove(&name).is_some();
                self.connectors.remove(&name).is_some() || tasks
            }
            (StatusKey::Connector(name), Some(bytes)) => match decode_status(bytes) {
                Ok(status) => {
                    self.connectors.insert(name, status);
                    true
                }
                Err(e) => {
                    warn!(key, "ignoring a connector status record: {e}");
                    false
                }
            },
            (StatusKey::Task(name, task), None) => {
                let Some(tasks) = self.tasks.get_mut(&name) else {
                    return false;
                };
                let removed = tasks.remove(&task).is_some();
                if tasks.is_empty() {
                    self.tasks.remove(&name);
                }
                removed
            }
            (StatusKey::Task(name, task), Some(bytes)) => match decode_status(bytes) {
                Ok(status) => self.apply_task_status(name, task, status),
                Err(e) => {
                    warn!(key, "ignoring a task status record: {e}");
                    false
                }
            },
            (StatusKey::Topic { topic, connector }, None) => {
                let Some(topics) = self.topics.get_mut(&connector) else {
                    return false;
                };
                let removed = topics.remove(&topic);
                if topics.is_empty() {
                    self.topics.remove(&connector);
                }
                removed
            }
            (StatusKey::Topic { topic, connector }, Some(bytes)) => {
                match decode_topic_status(bytes) {
                    Ok(_) => self.topics.entry(connector).or_default().insert(topic),
                    Err(e) => {
                        warn!(key, "ignoring a topic status record: {e}");
                        false
                    }
                }
            }
        }
    }

    fn apply_task_status(&mut self, name: String, task: usize, status: StatusRecord) -> bool {
        let tasks = self.tasks.entry(name).or_default();
        // In a quick succession of rebalances a worker that has not read the RUNNING of the
        // task's new owner may still write UNASSIGNED for it, at the same or an older
        // generation: that one is stale.
        if status.is(State::Unassigned) {
            if let Some(current) = tasks.get(&task) {
                if current.is(State::Running) && current.generation >= status.generation {
                    return false;
                }
            }
        }
        tasks.insert(task, status);
        true
    }

    pub fn connector(&self, name: &str) -> Option<&StatusRecord> {
        self.connectors.get(name)
    }

    pub fn task(&self, name: &str, task: usize) -> Option<&StatusRecord> {
        self.tasks.get(name)?.get(&task)
    }

    /// The connector's task statuses, by task number.
    pub fn tasks(&self, name: &str) -> impl Iterator<Item = (usize, &StatusRecord)> {
        self.tasks
            .get(name)
            .into_iter()
            .flat_map(|tasks| tasks.iter().map(|(task, status)| (*task, status)))
    }

    /// The topics the connector uses (its active topics), sorted.
    pub fn topics(&self, connector: &str) -> Vec<String> {
        self.topics
            .get(connector)
            .map(|topics| topics.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, worker_id: &str, generation: i64) -> StatusRecord {
        StatusRecord {
            state: state.into(),
            trace: None,
            worker_id: worker_id.into(),
            generation,
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("JSON is UTF-8")
    }

    #[test]
    fn statuses_are_the_json_a_java_worker_writes() {
        assert_eq!(
            text(encode_status(&status("RUNNING", "w1:8083", 5))),
            r#"{"state":"RUNNING","trace":null,"worker_id":"w1:8083","generation":5}"#
        );
        let failed = StatusRecord {
            trace: Some("java.lang.Exception: boom\n\tat X.y(X.java:1)".into()),
            ..status("FAILED", "10.0.0.1:8083", 12)
        };
        assert_eq!(
            text(encode_status(&failed)),
            r#"{"state":"FAILED","trace":"java.lang.Exception: boom\n\tat X.y(X.java:1)","worker_id":"10.0.0.1:8083","generation":12}"#
        );
        assert_eq!(
            text(encode_topic_status(
                "orders",
                "my-sink",
                0,
                1_729_821_181_000
            )),
            r#"{"topic":{"name":"orders","connector":"my-sink","task":0,"discoverTimestamp":1729821181000}}"#
        );
    }

    #[test]
    fn records_round_trip() {
        let failed = StatusRecord {
            trace: Some("boom \"quoted\" ü".into()),
            ..status("FAILED", "w1:8083", -1)
        };
        for record in [status("UNASSIGNED", "w2:8083", 0), failed] {
            assert_eq!(decode_status(&encode_status(&record)), Ok(record));
        }
        assert_eq!(
            decode_topic_status(&encode_topic_status("t.1", "c-1", 3, 42)),
            Ok(TopicStatus {
                topic: "t.1".into(),
                connector: "c-1".into(),
                task: 3,
                discover_timestamp: 42
            })
        );
    }

    #[test]
    fn a_record_of_a_status_this_worker_holds() {
        let failed = Status {
            state: State::Failed,
            trace: Some("boom".into()),
        };
        let record = StatusRecord::new(&failed, "w1:8083", 7);
        assert_eq!(
            record,
            StatusRecord {
                trace: Some("boom".into()),
                ..status("FAILED", "w1:8083", 7)
            }
        );
        assert_eq!(record.state(), Some(State::Failed));
        assert_eq!(status("DESTROYED", "w", 1).state(), None);
    }

    #[test]
    fn keys_and_what_they_are_about() {
        assert_eq!(connector_status_key("a-b"), "status-connector-a-b");
        assert_eq!(task_status_key("a-b", 3), "status-task-a-b-3");
        assert_eq!(topic_status_key("t", "a-b"), "status-topic-t:connector-a-b");
        let parsed = |key: &str| parse_key(key);
        assert_eq!(
            parsed("status-connector-a-b"),
            Some(StatusKey::Connector("a-b".into()))
        );
        assert_eq!(
            parsed("status-task-a-b-3"),
            Some(StatusKey::Task("a-b".into(), 3))
        );
        assert_eq!(
            parsed("status-task-a-b-3-12"),
            Some(StatusKey::Task("a-b-3".into(), 12))
        );
        assert_eq!(
            parsed("status-topic-t.x:connector-a:b-c"),
            Some(StatusKey::Topic {
                topic: "t.x".into(),
                connector: "a:b-c".into()
            })
        );
        for bad in [
            "status-connector-",
            "status-task-a",
            "status-task-a-x",
            "status-task--1",
            "status-topic-t",
            "status-topic-:connector-a",
            "status-topic-t:connector-",
            "status-topic-t:a",
            "connector-a",
            "status-other-a",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn decoding_is_tolerant_where_java_is() {
        // No trace, a generation of any integer size, extra fields.
        assert_eq!(
            decode_status(
                br#"{"state":"RUNNING","worker_id":"w:1","generation":3000000000,"x":1}"#
            ),
            Ok(status("RUNNING", "w:1", 3_000_000_000))
        );
        assert_eq!(
            decode_status(br#"{"generation":1,"worker_id":"w:1","trace":null,"state":"PAUSED"}"#),
            Ok(status("PAUSED", "w:1", 1))
        );
        for bad in [
            r#"{"state":"SLEEPING","worker_id":"w:1","generation":1}"#,
            r#"{"worker_id":"w:1","generation":1}"#,
            r#"{"state":"RUNNING","generation":1}"#,
            r#"{"state":"RUNNING","worker_id":"w:1"}"#,
            r#"{"state":"RUNNING","worker_id":"w:1","generation":1.5}"#,
            r#"{"state":"RUNNING","worker_id":"w:1","generation":"1"}"#,
            r#"{"state":"FAILED","trace":7,"worker_id":"w:1","generation":1}"#,
            r#"null"#,
            r#"{"state":"RUNNING""#,
        ] {
            let error = decode_status(bad.as_bytes()).expect_err(bad);
            assert!(!error.is_empty());
        }
        assert_eq!(
            decode_status(br#"{"state":"RUNNING"}"#),
            Err("no \"worker_id\" string".into())
        );
        assert!(
            decode_topic_status(br#"{"topic":{"name":"t","connector":"c","task":0}}"#).is_err()
        );
        assert!(decode_topic_status(br#"{"name":"t","connector":"c","task":0}"#).is_err());
    }

    #[test]
    fn safe_writes_yield_to_newer_generations_of_other_workers() {
        let me = "w1:8083";
        let mine = |state, generation| status(state, me, generation);
        let theirs = |state, generation| status(state, "w2:8083", generation);
        for state in ["FAILED", "UNASSIGNED"] {
            assert!(should_write(None, &mine(state, 3), me));
            // Ours, at any generation.
            assert!(should_write(Some(&mine("RUNNING", 9)), &mine(state, 3), me));
            // Theirs at the same or an older generation.
            assert!(should_write(
                Some(&theirs("RUNNING", 3)),
                &mine(state, 3),
                me
            ));
            assert!(should_write(
                Some(&theirs("RUNNING", 2)),
                &mine(state, 3),
                me
            ));
            // Theirs at a newer one: they run it now.
            assert!(!should_write(
                Some(&theirs("RUNNING", 4)),
                &mine(state, 3),
                me
            ));
        }
        for state in ["RUNNING", "PAUSED", "STOPPED", "RESTARTING"] {
            assert!(should_write(
                Some(&theirs("RUNNING", 4)),
                &mine(state, 3),
                me
            ));
        }
    }

    /// A view and a way to feed it records.
    struct Reader(StatusView);

    impl Reader {
        fn put(&mut self, key: &str, record: &StatusRecord) -> bool {
            self.0.apply(key, Some(&encode_status(record)))
        }
    }

    #[test]
    fn the_view_keeps_the_last_status_and_forgets_tombstoned_ones() {
        let mut r = Reader(StatusView::default());
        let (c, t0, t1) = (
            connector_status_key("a-b"),
            task_status_key("a-b", 0),
            task_status_key("a-b", 1),
        );
        assert!(r.put(&c, &status("RUNNING", "w1:1", 1)));
        assert!(r.put(&t0, &status("RUNNING", "w1:1", 1)));
        assert!(r.put(&t1, &status("RUNNING", "w2:1", 1)));
        assert!(r.put(&t1, &status("PAUSED", "w2:1", 1)));
        assert_eq!(r.0.connector("a-b"), Some(&status("RUNNING", "w1:1", 1)));
        assert_eq!(r.0.task("a-b", 1), Some(&status("PAUSED", "w2:1", 1)));
        assert_eq!(
            r.0.tasks("a-b")
                .map(|(n, s)| (n, s.state.as_str()))
                .collect::<Vec<_>>(),
            [(0, "RUNNING"), (1, "PAUSED")]
        );
        assert_eq!(r.0.task("a", 0), None);

        // A task's tombstone; an unreadable record changes nothing.
        assert!(r.0.apply(&t0, None));
        assert!(!r.0.apply(&t0, None));
        assert!(!r.0.apply(&t1, Some(b"{\"state\":")));
        assert_eq!(r.0.task("a-b", 0), None);
        assert_eq!(r.0.task("a-b", 1), Some(&status("PAUSED", "w2:1", 1)));

        // A connector's tombstone takes its tasks with it.
        assert!(r.0.apply(&c, None));
        assert_eq!(r.0.connector("a-b"), None);
        assert_eq!(r.0.tasks("a-b").count(), 0);
        assert!(!r.0.apply("status-bogus", Some(b"{}")));
    }

    #[test]
    fn a_stale_unassigned_does_not_hide_a_running_task() {
        let mut r = Reader(StatusView::default());
        let t = task_status_key("a", 0);
        r.put(&t, &status("RUNNING", "w2:1", 5));
        // Written by the task's previous owner, at the same or an older generation.
        assert!(!r.put(&t, &status("UNASSIGNED", "w1:1", 5)));
        assert!(!r.put(&t, &status("UNASSIGNED", "w1:1", 4)));
        assert_eq!(r.0.task("a", 0), Some(&status("RUNNING", "w2:1", 5)));
        // At a newer generation it is the truth.
        assert!(r.put(&t, &status("UNASSIGNED", "w2:1", 6)));
        assert_eq!(r.0.task("a", 0), Some(&status("UNASSIGNED", "w2:1", 6)));
        // Only a RUNNING status is protected so.
        r.put(&t, &status("FAILED", "w2:1", 7));
        assert!(r.put(&t, &status("UNASSIGNED", "w1:1", 7)));
        // Connectors have no such rule.
        let c = connector_status_key("a");
        r.put(&c, &status("RUNNING", "w2:1", 5));
        assert!(r.put(&c, &status("UNASSIGNED", "w1:1", 4)));
        assert_eq!(r.0.connector("a"), Some(&status("UNASSIGNED", "w1:1", 4)));
    }

    #[test]
    fn the_view_keeps_each_connectors_topics() {
        let mut view = StatusView::default();
        let mut topic = |topic: &str, connector: &str, on: bool| {
            let key = topic_status_key(topic, connector);
            let value = encode_topic_status(topic, connector, 0, 1);
            view.apply(&key, on.then_some(&value[..]))
        };
        assert!(topic("orders", "sink-a", true));
        assert!(topic("audit", "sink-a", true));
        assert!(!topic("audit", "sink-a", true));
        assert!(topic("orders", "sink-b", true));
        assert!(topic("orders", "sink-a", false));
        assert!(!topic("never", "sink-a", false));
        assert!(!view.apply(&topic_status_key("x", "sink-a"), Some(b"{\"topic\":1}")));
        assert_eq!(view.topics("sink-a"), ["audit"]);
        assert_eq!(view.topics("sink-b"), ["orders"]);
        assert_eq!(view.topics("sink-c"), Vec::<String>::new());
        // A connector's status and its tombstone do not touch them.
        let c = connector_status_key("sink-b");
        assert!(view.apply(&c, Some(&encode_status(&status("RUNNING", "w:1", 1)))));
        assert!(view.apply(&c, None));
        assert_eq!(view.topics("sink-b"), ["orders"]);
    }
}
