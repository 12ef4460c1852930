//! Connector configurations and target states, kept so that connectors created over REST come
//! back after a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use connect_core::config::Props;

use super::file::{read_if_exists, write_atomically};
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

#[derive(Debug, Serialize, Deserialize)]
struct ConfigsFile {
    version: u32,
    connectors: BTreeMap<String, ConnectorRecord>,
}

/// Connector configurations in a JSON file, rewritten atomically on every change.
///
/// The file holds secrets exactly as the user gave them (or as `${provider:...}` references);
/// keep it readable by the worker's user only.
#[derive(Debug)]
pub struct FileConfigStore {
    path: PathBuf,
    connectors: Mutex<BTreeMap<String, ConnectorRecord>>,
}

impl FileConfigStore {
    /// Opens the store, reading the file if it exists.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let connectors = match read_if_exists(&path)? {
            Some(bytes) => {
                serde_json::from_slice::<ConfigsFile>(&bytes)
                    .map_err(|e| StoreError::Corrupt {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?
                    .connectors
            }
            None => BTreeMap::new(),
        };
        Ok(Self {
            path,
            connectors: Mutex::new(connectors),
        })
    }

    fn update(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, ConnectorRecord>),
    ) -> Result<(), StoreError> {
        let mut guard = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = guard.clone();
        change(&mut next);
        let file = ConfigsFile {
            version: 1,
            connectors: next,
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| StoreError::Corrupt {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        write_atomically(&self.path, &bytes)?;
        *guard = file.connectors;
        Ok(())
    }
}

impl ConfigStore for FileConfigStore {
    fn all(&self) -> BTreeMap<String, ConnectorRecord> {
        self.connectors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn put(&self, name: &str, record: ConnectorRecord) -> Result<(), StoreError> {
        self.update(|c| {
            c.insert(name.to_owned(), record);
        })
    }

    fn remove(&self, name: &str) -> Result<(), StoreError> {
        self.update(|c| {
            c.remove(name);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_survive_a_reopen() {
        let path = std::env::temp_dir().join(format!("configs-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = FileConfigStore::open(&path).unwrap();
        let record = ConnectorRecord {
            config: Props::from([("connector.class".into(), "FileStreamSink".into())]),
            target_state: TargetState::Paused,
        };
        store.put("a", record.clone()).unwrap();
        store.put("b", record.clone()).unwrap();
        store.remove("b").unwrap();
        let reopened = FileConfigStore::open(&path).unwrap();
        assert_eq!(reopened.all(), BTreeMap::from([("a".to_owned(), record)]));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"target_state\": \"PAUSED\""), "{text}");
        std::fs::remove_file(&path).unwrap();
    }
}
