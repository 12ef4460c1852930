//! Connector configurations and target states, kept so that connectors created over REST come
//! back after a restart.
//!
//! The file is a journal (`journal.rs`): one JSON line per change, in the shape of the records
//! of Kafka Connect's config topic, so that a change costs one line however many connectors
//! there are:
//!
//! ```text
//! {"key":"target-state-orders","value":{"state":"STOPPED"}}
//! {"key":"connector-orders","value":{"properties":{"connector.class":"FileStreamSink",...}}}
//! {"key":"connector-orders","value":null}
//! ```
//!
//! A `null` value deletes the connector and its target state. A connector without a target
//! state is STARTED. When the journal holds many more lines than there are connectors it is
//! compacted (rewritten atomically with two lines a connector). Files of the format before the
//! journal (one JSON document, `"version": 1`) are converted when opened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use connect_core::config::Props;

use super::file::{read_if_exists, write_atomically};
use super::journal::{encode_lines, Journal};
use super::lock::StateFileLock;
use super::StoreError;

/// What the user asked a connector to be (Kafka Connect's target states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

/// A stored connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorRecord {
    pub config: Props,
    pub target_state: TargetState,
}

/// Stores connector configurations and target states.
pub trait ConfigStore: Send + Sync + std::fmt::Debug {
    /// Every stored connector, by name.
    fn all(&self) -> BTreeMap<String, ConnectorRecord>;

    /// Stores (creates or replaces) a connector, durably.
    fn put(&self, name: &str, record: ConnectorRecord) -> Result<(), StoreError>;

    /// Removes a connector.
    fn remove(&self, name: &str) -> Result<(), StoreError>;
}

/// The journal is compacted when it holds this many times more lines than a compacted copy
/// would (two a connector)...
const COMPACT_FACTOR: usize = 4;
/// ...and at least this many. A compaction costs as much as the whole state and comes after
/// at least three times as many changes, so a change costs O(1) on average.
const COMPACT_MIN_LINES: usize = 100;

/// Key prefixes of Kafka Connect's config topic.
const CONNECTOR_KEY: &str = "connector-";
const TARGET_STATE_KEY: &str = "target-state-";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq)]
enum ConfigRecord {
    /// `connector-NAME`: `{"properties": {...}}`.
    Connector { name: String, properties: Props },
    /// `target-state-NAME`: `{"state": "STOPPED"}`.
    TargetState { name: String, state: TargetState },
    /// `connector-NAME`: `null`: the connector and its target state are gone.
    Deleted { name: String },
}

/// A line as read: a key and a value, as a record of the config topic.
#[derive(Deserialize)]
struct Line {
    key: String,
    value: Option<Json>,
}

#[derive(Deserialize)]
struct ConnectorValue {
    properties: Props,
}

#[derive(Deserialize)]
struct TargetStateValue {
    state: TargetState,
}

/// A line to write, borrowing the record's properties.
#[derive(Serialize)]
struct LineRef<'a> {
    key: String,
    value: Option<ValueRef<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ValueRef<'a> {
    Connector { properties: &'a Props },
    TargetState { state: TargetState },
}

impl Serialize for ConfigRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let line = match self {
            Self::Connector { name, properties } => LineRef {
                key: format!("{CONNECTOR_KEY}{name}"),
                value: Some(ValueRef::Connector { properties }),
            },
            Self::TargetState { name, state } => LineRef {
                key: format!("{TARGET_STATE_KEY}{name}"),
                value: Some(ValueRef::TargetState { state: *state }),
            },
            Self::Deleted { name } => LineRef {
                key: format!("{CONNECTOR_KEY}{name}"),
                value: None,
            },
        };
        line.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ConfigRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let Line { key, value } = Line::deserialize(deserializer)?;
        let bad_value = |e: serde_json::Error| D::Error::custom(format!("{key}: {e}"));
        if let Some(name) = key.strip_prefix(CONNECTOR_KEY) {
            let name = name.to_owned();
            match value {
                None => Ok(Self::Deleted { name }),
                Some(value) => {
                    let value: ConnectorValue = serde_json::from_value(value).map_err(bad_value)?;
                    Ok(Self::Connector {
                        name,
                        properties: value.properties,
                    })
                }
            }
        } else if let Some(name) = key.strip_prefix(TARGET_STATE_KEY) {
            let value: TargetStateValue =
                serde_json::from_value(value.unwrap_or(Json::Null)).map_err(bad_value)?;
            Ok(Self::TargetState {
                name: name.to_owned(),
                state: value.state,
            })
        } else {
            Err(D::Error::custom(format!(
                "unknown key {key:?} (expected {CONNECTOR_KEY}NAME or {TARGET_STATE_KEY}NAME)"
            )))
        }
    }
}

/// Whether bytes are a line of this journal (torn or not).
fn looks_like_a_record(bytes: &[u8]) -> bool {
    bytes.starts_with(b"{\"key\":")
}

/// The connectors the records leave, in order.
fn replay(records: Vec<ConfigRecord>) -> BTreeMap<String, ConnectorRecord> {
    let mut configs = BTreeMap::new();
    let mut targets = BTreeMap::new();
    for record in records {
        match record {
            ConfigRecord::Connector { name, properties } => {
                configs.insert(name, properties);
            }
            ConfigRecord::TargetState { name, state } => {
                targets.insert(name, state);
            }
            ConfigRecord::Deleted { name } => {
                configs.remove(&name);
                targets.remove(&name);
            }
        }
    }
    configs
        .into_iter()
        .map(|(name, config)| {
            let target_state = targets.get(&name).copied().unwrap_or(TargetState::Started);
            (
                name,
                ConnectorRecord {
                    config,
                    target_state,
                },
            )
        })
        .collect()
}

/// The records of a new connector: its target state first, as Kafka Connect writes them, so
/// that a crash between the two lines leaves a target state of no connector (ignored), never a
/// connector in the wrong state.
fn records_of(name: &str, record: &ConnectorRecord) -> [ConfigRecord; 2] {
    [
        ConfigRecord::TargetState {
            name: name.to_owned(),
            state: record.target_state,
        },
        ConfigRecord::Connector {
            name: name.to_owned(),
            properties: record.config.clone(),
        },
    ]
}

/// The journal of the state, compacted.
fn compacted(connectors: &BTreeMap<String, ConnectorRecord>) -> Vec<ConfigRecord> {
    connectors
        .iter()
        .flat_map(|(name, record)| records_of(name, record))
        .collect()
}

fn needs_compaction(lines: usize, connectors: usize) -> bool {
    lines > COMPACT_MIN_LINES && lines > COMPACT_FACTOR * 2 * connectors
}

/// The file format before the journal: one JSON document rewritten on every change.
#[derive(Deserialize)]
struct Version1File {
    version: u32,
    connectors: BTreeMap<String, ConnectorRecord>,
}

/// Converts a file of the format before the journal into a journal of the same connectors.
fn convert_version_1(path: &Path) -> Result<(), StoreError> {
    let Some(bytes) = read_if_exists(path)? else {
        return Ok(());
    };
    let Ok(file) = serde_json::from_slice::<Version1File>(&bytes) else {
        return Ok(());
    };
    if file.version != 1 {
        return Err(StoreError::Corrupt {
            path: path.display().to_string(),
            message: format!(
                "version {} is not a version this worker knows",
                file.version
            ),
        });
    }
    write_atomically(path, &encode_lines(path, &compacted(&file.connectors))?)?;
    tracing::info!(
        path = %path.display(),
        connectors = file.connectors.len(),
        "converted the connector configurations file to the journal format"
    );
    Ok(())
}

#[derive(Debug)]
struct State {
    connectors: BTreeMap<String, ConnectorRecord>,
    journal: Journal,
}

/// Connector configurations in a journal file (see the module's documentation).
///
/// The file holds secrets exactly as the user gave them (or as `${provider:...}` references);
/// it is created readable by the worker's user only (mode 600).
#[derive(Debug)]
pub struct FileConfigStore {
    state: Mutex<State>,
    path: PathBuf,
    _lock: StateFileLock,
}

impl FileConfigStore {
    /// Locks the file for this process (see [`StateFileLock::acquire`]; `holder` says who
    /// holds it), then reads it if it exists.
    pub fn open(path: impl AsRef<Path>, holder: &str) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let lock = StateFileLock::acquire(&path, holder)?;
        convert_version_1(&path)?;
        let (journal, records) = Journal::open(&path, looks_like_a_record)?;
        let mut state = State {
            connectors: replay(records),
            journal,
        };
        if needs_compaction(state.journal.lines(), state.connectors.len()) {
            state.journal.rewrite(&compacted(&state.connectors))?;
        }
        Ok(Self {
            state: Mutex::new(state),
            path,
            _lock: lock,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Writes `records` and then applies `change` to the connectors: appended, or, when the
    /// journal has grown too long (or a failed append damaged it), by rewriting it compacted.
    fn commit(
        &mut self,
        records: &[ConfigRecord],
        change: impl FnOnce(&mut BTreeMap<String, ConnectorRecord>),
    ) -> Result<(), StoreError> {
        let lines = self.journal.lines() + records.len();
        if self.journal.damaged() || needs_compaction(lines, self.connectors.len()) {
            let mut next = self.connectors.clone();
            change(&mut next);
            self.journal.rewrite(&compacted(&next))?;
            tracing::debug!(
                lines,
                connectors = next.len(),
                "compacted the connector configurations journal"
            );
            self.connectors = next;
        } else {
            self.journal.append(records)?;
            change(&mut self.connectors);
        }
        Ok(())
    }
}

impl ConfigStore for FileConfigStore {
    fn all(&self) -> BTreeMap<String, ConnectorRecord> {
        self.lock().connectors.clone()
    }

    fn put(&self, name: &str, record: ConnectorRecord) -> Result<(), StoreError> {
        let mut state = self.lock();
        // Only what changed is written.
        let records = match state.connectors.get(name) {
            None => records_of(name, &record).to_vec(),
            Some(stored) => {
                let [target, config] = records_of(name, &record);
                let mut records = Vec::new();
                if stored.target_state != record.target_state {
                    records.push(target);
                }
                if stored.config != record.config {
                    records.push(config);
                }
                records
            }
        };
        if records.is_empty() {
            return Ok(());
        }
        state.commit(&records, |c| {
            c.insert(name.to_owned(), record);
        })
    }

    fn remove(&self, name: &str) -> Result<(), StoreError> {
        let record = ConfigRecord::Deleted {
            name: name.to_owned(),
        };
        self.lock().commit(&[record], |c| {
            c.remove(name);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::testkit::TestDir;

    /// A path of its own for each test, no file there yet, in a directory removed when the
    /// returned guard drops.
    fn temp_path(test: &str) -> (TestDir, PathBuf) {
        let dir = TestDir::new(&format!("configs-{test}"));
        let path = dir.0.join(format!("{test}.configs"));
        (dir, path)
    }

    fn record(class: &str, target_state: TargetState) -> ConnectorRecord {
        ConnectorRecord {
            config: Props::from([("connector.class".into(), class.into())]),
            target_state,
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn changes_are_appended_as_config_topic_records_and_replayed() {
        let (_dir, path) = temp_path("append");
        let store = FileConfigStore::open(&path, "test").unwrap();
        store
            .put("a", record("FileStreamSink", TargetState::Stopped))
            .unwrap();
        store
            .put("b", record("FileStreamSource", TargetState::Started))
            .unwrap();
        // A target state change is one line; a config change is one line; no change, none.
        store
            .put("a", record("FileStreamSink", TargetState::Paused))
            .unwrap();
        store
            .put("b", record("RedisSink", TargetState::Started))
            .unwrap();
        store
            .put("b", record("RedisSink", TargetState::Started))
            .unwrap();
        assert_eq!(
            lines(&path),
            [
                r#"{"key":"target-state-a","value":{"state":"STOPPED"}}"#,
                r#"{"key":"connector-a","value":{"properties":{"connector.class":"FileStreamSink"}}}"#,
                r#"{"key":"target-state-b","value":{"state":"STARTED"}}"#,
                r#"{"key":"connector-b","value":{"properties":{"connector.class":"FileStreamSource"}}}"#,
                r#"{"key":"target-state-a","value":{"state":"PAUSED"}}"#,
                r#"{"key":"connector-b","value":{"properties":{"connector.class":"RedisSink"}}}"#,
            ]
        );
        let expected = store.all();
        drop(store);
        let reopened = FileConfigStore::open(&path, "test").unwrap();
        assert_eq!(reopened.all(), expected);
        assert_eq!(
            expected,
            BTreeMap::from([
                ("a".into(), record("FileStreamSink", TargetState::Paused)),
                ("b".into(), record("RedisSink", TargetState::Started)),
            ])
        );
        #[cfg(unix)]
        assert_eq!(super::super::file::mode_of(&path), 0o600);
    }

    #[test]
    fn a_deleted_connector_stays_deleted_and_comes_back_in_its_new_state() {
        let (_dir, path) = temp_path("delete");
        let store = FileConfigStore::open(&path, "test").unwrap();
        store
            .put("a", record("FileStreamSink", TargetState::Stopped))
            .unwrap();
        store
            .put("b", record("FileStreamSink", TargetState::Paused))
            .unwrap();
        store.remove("a").unwrap();
        store.remove("b").unwrap();
        assert_eq!(
            lines(&path)[4..],
            [
                r#"{"key":"connector-a","value":null}"#,
                r#"{"key":"connector-b","value":null}"#
            ]
        );
        store
            .put("b", record("FileStreamSource", TargetState::Started))
            .unwrap();
        drop(store);
        let reopened = FileConfigStore::open(&path, "test").unwrap();
        assert_eq!(
            reopened.all(),
            BTreeMap::from([("b".into(), record("FileStreamSource", TargetState::Started))])
        );
    }

    #[test]
    fn the_journal_is_compacted_when_it_holds_many_more_lines_than_connectors() {
        let (_dir, path) = temp_path("compact");
        let store = FileConfigStore::open(&path, "test").unwrap();
        for i in 0..10 {
            store
                .put(
                    &format!("c{i}"),
                    record("FileStreamSink", TargetState::Started),
                )
                .unwrap();
        }
        let states = [TargetState::Paused, TargetState::Started];
        let mut longest = 0;
        for i in 0..300 {
            store
                .put("c0", record("FileStreamSink", states[i % 2]))
                .unwrap();
            longest = longest.max(lines(&path).len());
        }
        // 320 lines without compaction; a compacted journal holds 20.
        assert_eq!(longest, COMPACT_MIN_LINES);
        assert!(
            lines(&path).len() < COMPACT_MIN_LINES,
            "{}",
            lines(&path).len()
        );
        let expected = store.all();
        assert_eq!(expected["c0"].target_state, TargetState::Started);
        drop(store);
        assert_eq!(
            FileConfigStore::open(&path, "test").unwrap().all(),
            expected
        );
        #[cfg(unix)]
        assert_eq!(super::super::file::mode_of(&path), 0o600);
    }

    #[test]
    fn a_torn_last_line_loses_only_the_change_being_written() {
        let (_dir, path) = temp_path("torn");
        let store = FileConfigStore::open(&path, "test").unwrap();
        store
            .put("a", record("FileStreamSink", TargetState::Stopped))
            .unwrap();
        drop(store);
        // The worker died while appending the records of connector "b".
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"key":"target-state-b","value":{"state":"PAUSED"}}"#);
        text.push_str("\n{\"key\":\"connector-b\",\"value\":{\"prop");
        std::fs::write(&path, text).unwrap();

        let store = FileConfigStore::open(&path, "test").unwrap();
        assert_eq!(
            store.all(),
            BTreeMap::from([("a".into(), record("FileStreamSink", TargetState::Stopped))])
        );
        // Created again, "b" gets the state asked for now, not the one of the torn write.
        store
            .put("b", record("FileStreamSink", TargetState::Started))
            .unwrap();
        drop(store);
        let reopened = FileConfigStore::open(&path, "test").unwrap();
        assert_eq!(reopened.all()["b"].target_state, TargetState::Started);
        assert_eq!(reopened.all().len(), 2);
    }

    #[test]
    fn a_version_1_file_is_loaded_and_converted() {
        let (_dir, path) = temp_path("version1");
        // As the worker wrote it before the journal, and world-readable as it was then.
        std::fs::write(
            &path,
            r#"{
  "version": 1,
  "connectors": {
    "a": {
      "config": {
        "connector.class": "FileStreamSink",
        "file": "/tmp/out"
      },
      "target_state": "PAUSED"
    },
    "b": {
      "config": {
        "connector.class": "FileStreamSource"
      },
      "target_state": "STARTED"
    }
  }
}"#,
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let expected = BTreeMap::from([
            (
                "a".to_owned(),
                ConnectorRecord {
                    config: Props::from([
                        ("connector.class".into(), "FileStreamSink".into()),
                        ("file".into(), "/tmp/out".into()),
                    ]),
                    target_state: TargetState::Paused,
                },
            ),
            ("b".into(), record("FileStreamSource", TargetState::Started)),
        ]);
        let store = FileConfigStore::open(&path, "test").unwrap();
        assert_eq!(store.all(), expected);
        assert_eq!(lines(&path).len(), 4);
        assert!(lines(&path)[0].starts_with(r#"{"key":"target-state-a""#));
        #[cfg(unix)]
        assert_eq!(super::super::file::mode_of(&path), 0o600);
        store.remove("b").unwrap();
        drop(store);
        assert_eq!(
            FileConfigStore::open(&path, "test").unwrap().all(),
            BTreeMap::from([("a".to_owned(), expected["a"].clone())])
        );
    }

    #[test]
    fn a_line_of_an_unknown_kind_is_an_error_naming_it() {
        let (_dir, path) = temp_path("unknown");
        std::fs::write(
            &path,
            "{\"key\":\"task-a-0\",\"value\":{\"properties\":{}}}\n{\"key\":\"connector-a\",\"value\":null}\n",
        )
        .unwrap();
        let err = FileConfigStore::open(&path, "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(err.contains("task-a-0"), "{err}");
    }

    #[test]
    fn a_second_store_on_the_same_file_is_refused() {
        let (_dir, path) = temp_path("locked");
        let first = FileConfigStore::open(&path, "the first").unwrap();
        let err = FileConfigStore::open(&path, "the second")
            .unwrap_err()
            .to_string();
        assert!(err.contains("locked.configs.lock"), "{err}");
        assert!(err.contains("the first"), "{err}");
        drop(first);
        FileConfigStore::open(&path, "the second").unwrap();
    }
}
