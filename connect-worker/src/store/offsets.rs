//! Offsets by connector: source partitions' offsets, and sink tasks' Kafka offsets in the same
//! shape the REST API shows (`{"kafka_topic","kafka_partition"}` -> `{"kafka_offset"}`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use connect_core::record::SourceMap;

use super::file::{make_private, read_if_exists, write_atomically};
use super::lock::StateFileLock;
use super::StoreError;

/// A partition and its offset, both opaque JSON maps.
pub type SourceOffsets = Vec<(SourceMap, SourceMap)>;

/// Stores offsets by connector and partition. Async because the distributed mode's store
/// (`distributed::offset_store`) reads and writes a Kafka topic; reads fail when it cannot
/// be read to its end in time.
#[async_trait]
pub trait OffsetStore: Send + Sync + std::fmt::Debug {
    /// The stored offset of one partition of a connector.
    async fn get(
        &self,
        connector: &str,
        partition: &SourceMap,
    ) -> Result<Option<SourceMap>, StoreError>;

    /// Every stored partition and offset of a connector.
    async fn all(&self, connector: &str) -> Result<SourceOffsets, StoreError>;

    /// Stores offsets (a `None` offset removes the partition), durably, all or nothing.
    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(SourceMap, Option<SourceMap>)>,
    ) -> Result<(), StoreError>;

    /// Removes every offset of a connector.
    async fn remove_connector(&self, connector: &str) -> Result<(), StoreError>;
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    connector: String,
    partition: SourceMap,
    offset: SourceMap,
}

#[derive(Debug, Serialize, Deserialize)]
struct OffsetsFile {
    version: u32,
    offsets: Vec<Entry>,
}

/// Connector name and the partition as canonical JSON text: the map key.
type Key = (String, String);

/// Offsets in a JSON file, rewritten atomically on every change (offsets are stored once per
/// flush interval, so the file stays small and the writes rare), readable by the worker's
/// user only (mode 600). Reads answer from memory; a write (file write and fsync) runs on
/// tokio's blocking threads, so a source task's offset commit does not hold up a runtime
/// thread.
#[derive(Debug)]
pub struct FileOffsetStore {
    file: Arc<OffsetsInFile>,
}

/// The file and what it holds, shared with the blocking writes.
#[derive(Debug)]
struct OffsetsInFile {
    path: PathBuf,
    offsets: Mutex<BTreeMap<Key, (SourceMap, SourceMap)>>,
    _lock: StateFileLock,
}

impl FileOffsetStore {
    /// Locks the file for this process (see [`StateFileLock::acquire`]; `holder` says who
    /// holds it), then reads it if it exists.
    pub fn open(path: impl AsRef<Path>, holder: &str) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let lock = StateFileLock::acquire(&path, holder)?;
        make_private(&path)?;
        let mut offsets = BTreeMap::new();
        if let Some(bytes) = read_if_exists(&path)? {
            let file: OffsetsFile =
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
            for e in file.offsets {
                offsets.insert(key(&e.connector, &e.partition), (e.partition, e.offset));
            }
        }
        Ok(Self {
            file: Arc::new(OffsetsInFile {
                path,
                offsets: Mutex::new(offsets),
                _lock: lock,
            }),
        })
    }

    /// Runs a change of the file on a blocking thread.
    async fn change(
        &self,
        change: impl FnOnce(&OffsetsInFile) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        let file = Arc::clone(&self.file);
        let path = file.path.display().to_string();
        tokio::task::spawn_blocking(move || change(&file))
            .await
            .unwrap_or_else(|e| {
                Err(StoreError::Write {
                    path,
                    source: std::io::Error::other(format!("the write did not finish: {e}")),
                })
            })
    }
}

impl OffsetsInFile {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, (SourceMap, SourceMap)>> {
        self.offsets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, offsets: &BTreeMap<Key, (SourceMap, SourceMap)>) -> Result<(), StoreError> {
        let file = OffsetsFile {
            version: 1,
            offsets: offsets
                .iter()
                .map(|((connector, _), (partition, offset))| Entry {
                    connector: connector.clone(),
                    partition: partition.clone(),
                    offset: offset.clone(),
                })
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| StoreError::Corrupt {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        write_atomically(&self.path, &bytes)
    }

    fn put(
        &self,
        connector: &str,
        offsets: Vec<(SourceMap, Option<SourceMap>)>,
    ) -> Result<(), StoreError> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        for (partition, offset) in offsets {
            let k = key(connector, &partition);
            match offset {
                Some(offset) => {
                    next.insert(k, (partition, offset));
                }
                None => {
                    next.remove(&k);
                }
            }
        }
        self.save(&next)?;
        *guard = next;
        Ok(())
    }

    fn remove_connector(&self, connector: &str) -> Result<(), StoreError> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        next.retain(|(c, _), _| c != connector);
        self.save(&next)?;
        *guard = next;
        Ok(())
    }
}

fn key(connector: &str, partition: &SourceMap) -> Key {
    // Keys sorted, so equal maps give equal text whatever their insertion order.
    let sorted: BTreeMap<&String, &Json> = partition.iter().collect();
    (
        connector.to_owned(),
        serde_json::to_string(&sorted).unwrap_or_default(),
    )
}

#[async_trait]
impl OffsetStore for FileOffsetStore {
    async fn get(
        &self,
        connector: &str,
        partition: &SourceMap,
    ) -> Result<Option<SourceMap>, StoreError> {
        Ok(self
            .file
            .lock()
            .get(&key(connector, partition))
            .map(|(_, offset)| offset.clone()))
    }

    async fn all(&self, connector: &str) -> Result<SourceOffsets, StoreError> {
        Ok(self
            .file
            .lock()
            .iter()
            .filter(|((c, _), _)| c == connector)
            .map(|(_, (p, o))| (p.clone(), o.clone()))
            .collect())
    }

    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(SourceMap, Option<SourceMap>)>,
    ) -> Result<(), StoreError> {
        let connector = connector.to_owned();
        self.change(move |file| file.put(&connector, offsets)).await
    }

    async fn remove_connector(&self, connector: &str) -> Result<(), StoreError> {
        let connector = connector.to_owned();
        self.change(move |file| file.remove_connector(&connector))
            .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::task::testkit::TestDir;

    fn map(v: Json) -> SourceMap {
        v.as_object().cloned().unwrap()
    }

    #[tokio::test]
    async fn offsets_survive_a_reopen_and_partitions_match_whatever_their_key_order() {
        let dir = TestDir::new("offsets-reopen");
        let path = dir.0.join("offsets.json");
        let store = FileOffsetStore::open(&path, "test").unwrap();
        let p = map(json!({"kafka_topic": "t", "kafka_partition": 0}));
        let p_reordered = map(json!({"kafka_partition": 0, "kafka_topic": "t"}));
        store
            .put(
                "sink",
                vec![(p.clone(), Some(map(json!({"kafka_offset": 42}))))],
            )
            .await
            .unwrap();
        store
            .put(
                "source",
                vec![(map(json!({"file": "a"})), Some(map(json!({"position": 7}))))],
            )
            .await
            .unwrap();

        drop(store);
        let reopened = FileOffsetStore::open(&path, "test").unwrap();
        assert_eq!(
            reopened.get("sink", &p_reordered).await.unwrap(),
            Some(map(json!({"kafka_offset": 42})))
        );
        assert_eq!(reopened.all("source").await.unwrap().len(), 1);
        assert_eq!(reopened.get("other", &p).await.unwrap(), None);

        reopened.put("sink", vec![(p.clone(), None)]).await.unwrap();
        assert!(reopened.all("sink").await.unwrap().is_empty());
        reopened.remove_connector("source").await.unwrap();
        #[cfg(unix)]
        assert_eq!(super::super::file::mode_of(&path), 0o600);
        drop(reopened);
        assert!(FileOffsetStore::open(&path, "test")
            .unwrap()
            .all("source")
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = TestDir::new("offsets-corrupt");
        let path = dir.0.join("offsets.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = FileOffsetStore::open(&path, "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a valid store file"), "{err}");
    }
}
