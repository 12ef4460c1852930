//! Source offsets in the offsets topic (`offset.storage.topic`), the [`OffsetStore`] of
//! distributed mode, in Kafka Connect's record format:
//!
//! - key: the compact JSON array `["<connector>",{partition}]`, e.g.
//!   `["redis-source",{"stream":"s1"}]`;
//! - value: the compact JSON offset map, e.g. `{"id":"1700000000000-0"}`; a tombstone
//!   (null value) removes the partition's offset;
//! - partition: the key's, by Kafka's murmur2 ([`TopicLog`]), so every record of a source
//!   partition lands in one topic partition and compaction keeps the latest.
//!
//! Every store reads the whole topic into a map, the latest record of each key winning, and
//! reads to the topic's end before answering (as Kafka Connect's store does), so a task that
//! moved to this worker finds what its previous worker stored.
//!
//! Keys are compared as parsed JSON (object keys in any order), since a Java worker writes
//! its partition maps in its own order. Java compares the key's bytes instead: it finds an
//! offset written here only if our bytes are its own serialization. Ours keep the order in
//! which the connector built its partition map (`SourceMap` keeps insertion order: the
//! workspace builds serde_json with `preserve_order`), which is Java's for a one-key map but
//! may not be for more keys (Java's order is its `HashMap`'s). A partition that already has
//! a record is written again with that record's key bytes, so its new offset replaces the old
//! one in compaction and whoever wrote it finds it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value as Json;

use connect_core::record::SourceMap;

use super::topic_log::{LogRecord, TopicLog};
use crate::kafka::{KafkaClient, KafkaError, KafkaProducer};
use crate::store::{OffsetStore, SourceOffsets, StoreError};

/// The key of a record in the offsets topic: `["<connector>",{partition}]`, compact, the
/// partition's keys in the map's order.
pub fn offset_key(connector: &str, partition: &SourceMap) -> Vec<u8> {
    let key = Json::Array(vec![
        Json::String(connector.to_owned()),
        Json::Object(partition.clone()),
    ]);
    key.to_string().into_bytes()
}

/// The value of a record in the offsets topic: the offset map as compact JSON, its keys in
/// the map's order.
pub fn offset_value(offset: &SourceMap) -> Vec<u8> {
    Json::Object(offset.clone()).to_string().into_bytes()
}

/// The connector and source partition of an offsets-topic key; `None` for a key that is not
/// a two-element array of a string and an object (Kafka Connect keeps such keys but counts
/// them as no connector's partition).
pub fn parse_key(key: &[u8]) -> Option<(String, SourceMap)> {
    match serde_json::from_slice::<Json>(key).ok()? {
        Json::Array(items) => match <[Json; 2]>::try_from(items).ok()? {
            [Json::String(connector), Json::Object(partition)] => Some((connector, partition)),
            _ => None,
        },
        _ => None,
    }
}

/// A connector and its partition as JSON text with every object's keys sorted: the same
/// partition whatever the order its map was written in.
type EntryKey = (String, String);

/// The latest offset of a source partition.
#[derive(Debug, Clone)]
struct Entry {
    /// The key's bytes as last written.
    key: Bytes,
    partition: SourceMap,
    offset: SourceMap,
}

type Offsets = BTreeMap<EntryKey, Entry>;

/// Source offsets in a Kafka topic; see the module docs.
#[derive(Debug)]
pub struct KafkaOffsetStore {
    log: TopicLog,
    /// Built by the log's reading.
    offsets: Arc<Mutex<Offsets>>,
    /// How long a read waits for the topic to be read to its end.
    read_timeout: Duration,
}

impl KafkaOffsetStore {
    /// Reads the offsets topic `topic` (which must exist: `internal_topics`) to its end and
    /// keeps following it. `read_timeout` bounds the start and every read to the end.
    pub async fn start(
        kafka: Arc<dyn KafkaClient>,
        producer: Arc<dyn KafkaProducer>,
        topic: &str,
        read_timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let offsets: Arc<Mutex<Offsets>> = Arc::default();
        let applied = Arc::clone(&offsets);
        let topic_name = topic.to_owned();
        let log = TopicLog::start(
            kafka,
            producer,
            topic,
            move |record| apply(&mut lock(&applied), &topic_name, record),
            read_timeout,
        )
        .await?;
        Ok(Self {
            log,
            offsets,
            read_timeout,
        })
    }

    /// Stops following the topic.
    pub async fn stop(&self) {
        self.log.stop().await;
    }

    /// The topic's records read to its end, then the map.
    async fn read(&self) -> Result<MutexGuard<'_, Offsets>, StoreError> {
        self.log.read_to_end(self.read_timeout).await?;
        Ok(lock(&self.offsets))
    }
}

fn lock(offsets: &Mutex<Offsets>) -> MutexGuard<'_, Offsets> {
    // A poisoned lock only means a panic elsewhere mid-update; the map is still usable.
    offsets.lock().unwrap_or_else(|e| e.into_inner())
}

fn entry_key(connector: &str, partition: &SourceMap) -> EntryKey {
    (
        connector.to_owned(),
        sorted(&Json::Object(partition.clone())).to_string(),
    )
}

/// `value` with the keys of every object in it sorted (maps keep their insertion order).
fn sorted(value: &Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Applies one record of the topic to the map: the latest record of a partition wins, a
/// tombstone removes it.
fn apply(offsets: &mut Offsets, topic: &str, record: LogRecord) {
    let Some(key) = record.key else {
        tracing::debug!(
            topic,
            partition = record.partition,
            offset = record.offset,
            "a record without a key in the offsets topic: ignored"
        );
        return;
    };
    let Some((connector, partition)) = parse_key(&key) else {
        tracing::debug!(topic, partition = record.partition, offset = record.offset, key = %String::from_utf8_lossy(&key), "not a source partition's key (a JSON array of a connector name and a partition map): ignored");
        return;
    };
    let at = entry_key(&connector, &partition);
    let offset = match record.value.as_deref().map(serde_json::from_slice::<Json>) {
        None | Some(Ok(Json::Null)) => None,
        Some(Ok(Json::Object(offset))) => Some(offset),
        Some(_) => {
            // The latest record of the partition is no offset: the partition has none.
            tracing::warn!(topic, partition = record.partition, offset = record.offset, %connector, "the value is not a JSON object of offsets: the source partition's offset is dropped");
            None
        }
    };
    match offset {
        Some(offset) => {
            offsets.insert(
                at,
                Entry {
                    key,
                    partition,
                    offset,
                },
            );
        }
        None => {
            offsets.remove(&at);
        }
    }
}

#[async_trait]
impl OffsetStore for KafkaOffsetStore {
    async fn get(
        &self,
        connector: &str,
        partition: &SourceMap,
    ) -> Result<Option<SourceMap>, StoreError> {
        Ok(self
            .read()
            .await?
            .get(&entry_key(connector, partition))
            .map(|e| e.offset.clone()))
    }

    async fn all(&self, connector: &str) -> Result<SourceOffsets, StoreError> {
        Ok(self
            .read()
            .await?
            .iter()
            .filter(|((c, _), _)| c == connector)
            .map(|(_, e)| (e.partition.clone(), e.offset.clone()))
            .collect())
    }

    /// Writes a record per partition and waits for every acknowledgement. Not atomic
    /// across topic partitions (nor is Kafka Connect's): on an error some records may
    /// have been written; writing again is harmless, the latest record of a key wins.
    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(SourceMap, Option<SourceMap>)>,
    ) -> Result<(), StoreError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let records = {
            let known = lock(&self.offsets);
            offsets
                .iter()
                .map(|(partition, offset)| {
                    let key = match known.get(&entry_key(connector, partition)) {
                        Some(entry) => entry.key.clone(),
                        None => Bytes::from(offset_key(connector, partition)),
                    };
                    (key, offset.as_ref().map(|o| Bytes::from(offset_value(o))))
                })
                .collect()
        };
        self.log.send_all(records).await?;
        Ok(())
    }

    /// A tombstone for each partition the connector has an offset for (with that record's
    /// key bytes, so compaction removes it).
    async fn remove_connector(&self, connector: &str) -> Result<(), StoreError> {
        let tombstones: Vec<(Bytes, Option<Bytes>)> = self
            .read()
            .await?
            .iter()
            .filter(|((c, _), _)| c == connector)
            .map(|(_, e)| (e.key.clone(), None))
            .collect();
        if !tombstones.is_empty() {
            self.log.send_all(tombstones).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kafka::memory::MemoryKafka;
    use crate::kafka::ProducerRecord;

    const LIMIT: Duration = Duration::from_secs(10);

    fn map(v: Json) -> SourceMap {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn keys_and_values_are_compact_json_in_the_maps_order() {
        assert_eq!(
            offset_key("redis-source", &map(json!({"stream": "s1"}))),
            br#"["redis-source",{"stream":"s1"}]"#
        );
        // Insertion order, not sorted.
        let mut partition = SourceMap::new();
        partition.insert("topic".into(), json!("t"));
        partition.insert("db".into(), json!(0));
        assert_eq!(
            offset_key("c", &partition),
            br#"["c",{"topic":"t","db":0}]"#
        );
        assert_eq!(
            offset_key("quote\"d", &map(json!({"p": 1}))),
            br#"["quote\"d",{"p":1}]"#
        );
        let mut offset = SourceMap::new();
        offset.insert("id".into(), json!("1700000000000-0"));
        offset.insert("n".into(), json!(42));
        offset.insert("f".into(), json!(1.5));
        offset.insert("done".into(), json!(false));
        offset.insert("none".into(), Json::Null);
        assert_eq!(
            offset_value(&offset),
            br#"{"id":"1700000000000-0","n":42,"f":1.5,"done":false,"none":null}"#
        );
    }

    #[test]
    fn a_key_is_an_array_of_a_connector_and_a_partition_map() {
        assert_eq!(
            parse_key(br#"["conn",{"p":1}]"#),
            Some(("conn".to_owned(), map(json!({"p": 1}))))
        );
        assert_eq!(
            parse_key(br#" [ "conn" , { "b" : 2 , "a" : 1 } ] "#),
            Some(("conn".to_owned(), map(json!({"b": 2, "a": 1}))))
        );
        for not_a_partition in [
            &br#"["conn",null]"#[..],
            br#"["conn"]"#,
            br#"["conn",{"p":1},"x"]"#,
            br#"[1,{"p":1}]"#,
            br#"{"conn":{"p":1}}"#,
            br#"["conn",[1]]"#,
            b"not json",
            b"",
        ] {
            assert_eq!(
                parse_key(not_a_partition),
                None,
                "{}",
                String::from_utf8_lossy(not_a_partition)
            );
        }
    }

    async fn store(kafka: &Arc<MemoryKafka>) -> KafkaOffsetStore {
        KafkaOffsetStore::start(
            Arc::clone(kafka) as _,
            Arc::clone(kafka) as _,
            "offsets",
            LIMIT,
        )
        .await
        .unwrap()
    }

    /// Each partition's records as `key => value` text.
    fn records(kafka: &MemoryKafka) -> Vec<String> {
        (0..5)
            .flat_map(|p| kafka.records("offsets", p))
            .map(|r| {
                let text = |b: Option<Bytes>| {
                    b.map_or("null".into(), |b| String::from_utf8_lossy(&b).into_owned())
                };
                format!("{} => {}", text(r.key), text(r.value))
            })
            .collect()
    }

    #[tokio::test]
    async fn another_store_reads_what_one_stored_and_tombstones_remove_it() {
        let kafka = MemoryKafka::new();
        kafka.create("offsets", 5);
        let first = store(&kafka).await;
        let (a, b) = (map(json!({"p": 1})), map(json!({"p": 2})));
        first
            .put(
                "conn",
                vec![
                    (a.clone(), Some(map(json!({"pos": 10})))),
                    (b.clone(), Some(map(json!({"pos": 20})))),
                ],
            )
            .await
            .unwrap();
        first
            .put("other", vec![(a.clone(), Some(map(json!({"pos": 99}))))])
            .await
            .unwrap();
        first
            .put("conn", vec![(a.clone(), Some(map(json!({"pos": 11}))))])
            .await
            .unwrap();

        // Another worker's store, started afterwards, reads the same.
        let second = store(&kafka).await;
        assert_eq!(
            second.get("conn", &a).await.unwrap(),
            Some(map(json!({"pos": 11})))
        );
        assert_eq!(
            second.all("conn").await.unwrap(),
            [
                (a.clone(), map(json!({"pos": 11}))),
                (b.clone(), map(json!({"pos": 20})))
            ]
        );
        // And the first sees what the second writes, without restarting.
        second.put("conn", vec![(b.clone(), None)]).await.unwrap();
        assert_eq!(first.get("conn", &b).await.unwrap(), None);
        first.remove_connector("conn").await.unwrap();
        assert!(second.all("conn").await.unwrap().is_empty());
        assert_eq!(
            second.all("other").await.unwrap(),
            [(a.clone(), map(json!({"pos": 99})))]
        );
        let written = records(&kafka);
        assert!(
            written.contains(&r#"["conn",{"p":1}] => {"pos":10}"#.to_owned()),
            "{written:#?}"
        );
        assert!(
            written.contains(&r#"["conn",{"p":2}] => null"#.to_owned()),
            "{written:#?}"
        );
        assert_eq!(
            written.iter().filter(|r| r.ends_with("=> null")).count(),
            2,
            "one tombstone for b, one for a: {written:#?}"
        );
        first.stop().await;
        second.stop().await;
    }

    #[tokio::test]
    async fn a_partition_written_in_another_key_order_is_found_and_rewritten_with_its_key() {
        let kafka = MemoryKafka::new();
        kafka.create("offsets", 5);
        // As a Java worker may have written it (its HashMap's order), and records that are
        // no source partition's offset.
        let java_key = Bytes::from_static(br#"["conn",{"table":"t","db":"d"}]"#);
        let write = |key: Option<Bytes>, value: Option<&'static [u8]>| ProducerRecord {
            topic: "offsets".into(),
            key,
            value: value.map(Bytes::from_static),
            ..ProducerRecord::default()
        };
        crate::kafka::KafkaProducer::send(
            &*kafka,
            &[
                write(Some(java_key.clone()), Some(br#"{"row":5}"#)),
                write(Some(Bytes::from_static(b"[\"conn\"]")), Some(br#"{"x":1}"#)),
                write(None, Some(br#"{"x":1}"#)),
            ],
        )
        .await
        .unwrap();
        let store = store(&kafka).await;
        let ours = map(json!({"db": "d", "table": "t"}));
        assert_eq!(
            store.get("conn", &ours).await.unwrap(),
            Some(map(json!({"row": 5})))
        );
        assert_eq!(store.all("conn").await.unwrap().len(), 1);
        store
            .put("conn", vec![(ours.clone(), Some(map(json!({"row": 6}))))])
            .await
            .unwrap();
        let written = records(&kafka);
        assert!(
            written.contains(&r#"["conn",{"table":"t","db":"d"}] => {"row":6}"#.to_owned()),
            "the Java worker's key bytes: {written:#?}"
        );
        assert_eq!(
            store.get("conn", &ours).await.unwrap(),
            Some(map(json!({"row": 6})))
        );
        store.stop().await;
    }
}
