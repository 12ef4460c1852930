//! Records: what source tasks emit and sink tasks receive, and what transforms change.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::data::{Schema, Text, Value};

/// A source partition or offset: opaque JSON maps chosen by the connector, as in Kafka Connect
/// (e.g. partition `{"filename": "/tmp/a.txt"}`, offset `{"position": 1024}`).
pub type SourceMap = serde_json::Map<String, serde_json::Value>;

/// A partition of a Kafka topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: Text,
    /// The partition's number within the topic.
    pub partition: i32,
}

impl TopicPartition {
    /// The partition `partition` of `topic`.
    pub fn new(topic: impl Into<Text>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    /// `topic-partition`, as Kafka writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A record header: a name and a value with an optional schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The header's name.
    pub key: Text,
    /// The header's value.
    pub value: Value,
    /// The value's schema; `None` for schemaless values.
    pub schema: Option<Arc<Schema>>,
}

/// A record's headers, in order; a name may occur more than once, as in Kafka.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header.
    pub fn add(&mut self, key: impl Into<Text>, value: impl Into<Value>) {
        self.add_with_schema(key, value, None);
    }

    /// Appends a header with a schema.
    pub fn add_with_schema(
        &mut self,
        key: impl Into<Text>,
        value: impl Into<Value>,
        schema: Option<Arc<Schema>>,
    ) {
        self.0.push(Header {
            key: key.into(),
            value: value.into(),
            schema,
        });
    }

    /// The last header with this name, which is the one that counts when a name repeats.
    pub fn last(&self, key: &str) -> Option<&Header> {
        self.0.iter().rev().find(|h| h.key == key)
    }

    /// Removes every header with this name.
    pub fn remove_all(&mut self, key: &str) {
        self.0.retain(|h| h.key != key);
    }

    /// Keeps the headers for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Header) -> bool) {
        self.0.retain(keep);
    }

    /// The headers, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The key or the value of a record: the two places a `$Key` or `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordPart {
    /// The record's key, with its schema.
    Key,
    /// The record's value, with its schema.
    Value,
}

/// What source and sink records have in common, and what transforms see and change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectRecord {
    /// The Kafka topic.
    pub topic: Text,
    /// The Kafka partition; `None` on a source record lets the worker choose (by key).
    pub partition: Option<i32>,
    /// The key's schema; `None` for a schemaless key.
    pub key_schema: Option<Arc<Schema>>,
    /// `Null` when the record has no key.
    pub key: Value,
    /// The value's schema; `None` for a schemaless value.
    pub value_schema: Option<Arc<Schema>>,
    /// `Null` for a tombstone.
    pub value: Value,
    /// Milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
    /// The record's headers.
    pub headers: Headers,
}

impl ConnectRecord {
    /// A record for `topic` with this value and nothing else.
    pub fn new(topic: impl Into<Text>, value: impl Into<Value>) -> Self {
        Self {
            topic: topic.into(),
            value: value.into(),
            ..Self::default()
        }
    }

    /// The schema and value of the key or the value.
    pub fn part(&self, part: RecordPart) -> (Option<&Arc<Schema>>, &Value) {
        match part {
            RecordPart::Key => (self.key_schema.as_ref(), &self.key),
            RecordPart::Value => (self.value_schema.as_ref(), &self.value),
        }
    }

    /// Mutable access to the schema and value of the key or the value.
    pub fn part_mut(&mut self, part: RecordPart) -> (&mut Option<Arc<Schema>>, &mut Value) {
        match part {
            RecordPart::Key => (&mut self.key_schema, &mut self.key),
            RecordPart::Value => (&mut self.value_schema, &mut self.value),
        }
    }
}

/// A record a source task emits, with the source partition and offset it came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceRecord {
    /// Where in the source system the record comes from (e.g. a file, a stream).
    pub source_partition: SourceMap,
    /// The position within the source partition; committed once the record is in Kafka.
    pub source_offset: SourceMap,
    /// The record itself; also reachable through `Deref`.
    pub record: ConnectRecord,
}

impl SourceRecord {
    /// A record from this source partition and offset.
    pub fn new(
        source_partition: SourceMap,
        source_offset: SourceMap,
        record: ConnectRecord,
    ) -> Self {
        Self {
            source_partition,
            source_offset,
            record,
        }
    }
}

impl Deref for SourceRecord {
    type Target = ConnectRecord;

    fn deref(&self) -> &ConnectRecord {
        &self.record
    }
}

impl DerefMut for SourceRecord {
    fn deref_mut(&mut self) -> &mut ConnectRecord {
        &mut self.record
    }
}

/// Kafka's timestamp type of a record read from a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// The record's timestamp type is unknown or it has no timestamp.
    #[default]
    NoTimestampType,
    /// The timestamp was set by the producer when creating the record.
    CreateTime,
    /// The timestamp was set by the broker when appending the record to the log.
    LogAppendTime,
}

/// A record read from Kafka, handed to a sink task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SinkRecord {
    /// The record itself; also reachable through `Deref`.
    pub record: ConnectRecord,
    /// The record's offset in its partition.
    pub kafka_offset: i64,
    /// What the record's timestamp means.
    pub timestamp_type: TimestampType,
    /// Where the record was read from, before transforms changed its topic or partition:
    /// the partition whose offset the worker commits.
    pub original: TopicPartition,
    /// The offset the record was read at, before any transform.
    pub original_offset: i64,
}

impl SinkRecord {
    /// A record read from `topic`/`partition` at `offset`.
    pub fn new(topic: Text, partition: i32, offset: i64, mut record: ConnectRecord) -> Self {
        record.topic = topic.clone();
        record.partition = Some(partition);
        Self {
            record,
            kafka_offset: offset,
            timestamp_type: TimestampType::CreateTime,
            original: TopicPartition { topic, partition },
            original_offset: offset,
        }
    }

    /// The record's partition after transforms (the original one when none changed it).
    pub fn kafka_partition(&self) -> i32 {
        self.record.partition.unwrap_or(self.original.partition)
    }
}

impl Deref for SinkRecord {
    type Target = ConnectRecord;

    fn deref(&self) -> &ConnectRecord {
        &self.record
    }
}

impl DerefMut for SinkRecord {
    fn deref_mut(&mut self) -> &mut ConnectRecord {
        &mut self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_header_of_a_name_counts() {
        let mut h = Headers::new();
        h.add("a", 1i32);
        h.add("b", 2i32);
        h.add("a", 3i32);
        assert_eq!(h.last("a").map(|h| &h.value), Some(&Value::Int32(3)));
        h.remove_all("a");
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn sink_records_remember_where_they_were_read() {
        let mut r = SinkRecord::new("orders".into(), 2, 41, ConnectRecord::default());
        r.topic = "orders-routed".into();
        assert_eq!(r.original, TopicPartition::new("orders", 2));
        assert_eq!(r.kafka_partition(), 2);
        assert_eq!(r.original.to_string(), "orders-2");
    }
}
