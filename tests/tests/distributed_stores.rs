//! The distributed mode's topic stores against the real broker: a TopicLog reads what
//! kafka-python wrote before and after it started and what it wrote itself reads back
//! byte-exact with kafka-python; the internal topics are created compacted or refused with
//! Kafka Connect's messages; source offsets stored by one worker's KafkaOffsetStore are read
//! by another's, in Kafka Connect's record format.

#![allow(clippy::unwrap_used)] // test code; a failure should panic

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use connect_core::record::SourceMap;
use connect_e2e::{unique_name, ConsumedRecord, Services};
use connect_worker::distributed::internal_topics::{
    ensure_topic, InternalTopic, InternalTopicError,
};
use connect_worker::distributed::offset_store::KafkaOffsetStore;
use connect_worker::distributed::topic_log::{LogRecord, TopicLog};
use connect_worker::kafka::{Kafka, KafkaConfig, KafkaSecurity, Producer, ProducerConfig};
use connect_worker::store::OffsetStore;
use serde_json::json;
use tokio::time::Instant;

/// The longest a start, a read to the end or a write may take here.
const LIMIT: Duration = Duration::from_secs(30);

async fn kafka(services: &Services) -> Kafka {
    Kafka::connect(KafkaConfig {
        bootstrap_servers: vec![services.kafka_bootstrap.clone()],
        client_id: "e2e-distributed-stores".into(),
        request_timeout: Duration::from_secs(10),
        security: KafkaSecurity::default(),
    })
    .await
    .expect("connect to Kafka")
}

fn producer(kafka: &Kafka) -> Arc<Producer> {
    Arc::new(Producer::new(kafka.clone(), ProducerConfig::default()))
}

/// What a TopicLog's `apply` was given, shared with the test.
#[derive(Clone, Default)]
struct Applied(Arc<Mutex<Vec<LogRecord>>>);

impl Applied {
    fn apply(&self) -> impl FnMut(LogRecord) + Send + 'static {
        let seen = Arc::clone(&self.0);
        move |record| seen.lock().unwrap().push(record)
    }

    /// `(partition, offset, key, value)` of every record applied, sorted by partition and
    /// offset; checks that each partition's records came in offset order.
    fn records(&self) -> Vec<(i32, i64, Option<String>, Option<String>)> {
        let seen = self.0.lock().unwrap();
        let text = |b: &Option<Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        let mut last: BTreeMap<i32, i64> = BTreeMap::new();
        for r in seen.iter() {
            if let Some(previous) = last.insert(r.partition, r.offset) {
                assert!(
                    r.offset > previous,
                    "partition {} applied offset {} after {previous}",
                    r.partition,
                    r.offset
                );
            }
        }
        let mut records: Vec<_> = seen
            .iter()
            .map(|r| (r.partition, r.offset, text(&r.key), text(&r.value)))
            .collect();
        records.sort();
        records
    }
}

/// kafka-python's records in the same shape, sorted by partition and offset.
fn as_read_by_kafka_python(
    consumed: &[ConsumedRecord],
) -> Vec<(i32, i64, Option<String>, Option<String>)> {
    let mut records: Vec<_> = consumed
        .iter()
        .map(|r| (r.partition, r.offset, r.key.clone(), r.value.clone()))
        .collect();
    records.sort();
    records
}

/// JSON lines for `kafka_tool.py produce`: a keyed record, `None` for a null value.
fn lines(records: &[(&str, Option<&str>)]) -> String {
    records
        .iter()
        .map(|(key, value)| json!({"key": key, "value": value}).to_string() + "\n")
        .collect()
}

#[tokio::test]
async fn a_topic_log_reads_what_was_written_before_and_after_it_started_and_writes_what_kafka_python_reads(
) {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let topic = services.new_topic("dist-log", 3).await.unwrap();
    // Written before the log starts, by a client we did not write: keys with several values
    // and a tombstone (a null value), over the three partitions (kafka-python's murmur2:
    // orders and shipping 0, inventory and audit 1, users and payments 2).
    let before = [
        ("orders", Some("1")),
        ("users", Some("2")),
        ("orders", Some("3")),
        ("inventory", Some("4")),
        ("users", None),
        ("payments", Some("5")),
    ];
    services
        .produce_with_kafka_python(&topic, &lines(&before))
        .unwrap();

    let applied = Applied::default();
    let log = TopicLog::start(
        Arc::new(kafka.clone()),
        producer(&kafka),
        &topic,
        applied.apply(),
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(log.partitions(), [0, 1, 2]);
    // Everything written before the start was applied before it returned, as kafka-python
    // reads it: same partitions, offsets, keys, values (None for the tombstone).
    let consumed = services
        .consume_with_kafka_python(&topic, before.len(), LIMIT)
        .unwrap();
    assert_eq!(applied.records(), as_read_by_kafka_python(&consumed));
    assert!(
        applied
            .records()
            .iter()
            .any(|(_, _, key, value)| key.as_deref() == Some("users") && value.is_none()),
        "the tombstone was applied as a None value"
    );

    // Written after the start: read_to_end returns once they are applied.
    let after = [("shipping", Some("6")), ("orders", None)];
    services
        .produce_with_kafka_python(&topic, &lines(&after))
        .unwrap();
    let asked = Instant::now();
    log.read_to_end(LIMIT).await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let consumed = services
        .consume_with_kafka_python(&topic, before.len() + after.len(), LIMIT)
        .unwrap();
    assert_eq!(applied.records(), as_read_by_kafka_python(&consumed));

    // Written by the log itself: each key to the partition Kafka's default partitioner (here
    // kafka-python's) chose for it, read back by kafka-python with the exact bytes.
    let (partition, offset) = log
        .send(
            Bytes::from_static(b"inventory"),
            Some(Bytes::from_static(br#"{"state":"RUNNING"}"#)),
        )
        .await
        .unwrap();
    assert_eq!(partition, consumed_partition(&consumed, "inventory"));
    assert_eq!(partition, 1);
    let (tombstone_partition, tombstone_offset) = log
        .send(Bytes::from_static(b"payments"), None)
        .await
        .unwrap();
    assert_eq!(
        tombstone_partition,
        consumed_partition(&consumed, "payments")
    );
    assert_eq!(tombstone_partition, 2);
    let total = before.len() + after.len() + 2;
    let consumed = services
        .consume_with_kafka_python(&topic, total, LIMIT)
        .unwrap();
    let at = |p: i32, o: i64| {
        consumed
            .iter()
            .find(|r| r.partition == p && r.offset == o)
            .unwrap_or_else(|| panic!("no record at {p}@{o}: {consumed:#?}"))
    };
    let written = at(partition, offset);
    assert_eq!(written.key_b64.as_deref(), Some("aW52ZW50b3J5")); // "inventory"
    assert_eq!(written.value.as_deref(), Some(r#"{"state":"RUNNING"}"#));
    let tombstone = at(tombstone_partition, tombstone_offset);
    assert_eq!(tombstone.key.as_deref(), Some("payments"));
    assert_eq!(tombstone.value, None, "a tombstone has a null value");
    assert_eq!(tombstone.value_b64, None);
    // The log reads its own records too, within its short fetch wait.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while applied.records().len() < total {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {total} records applied",
            applied.records().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(applied.records(), as_read_by_kafka_python(&consumed));

    // Stopped: nothing more is applied, and a read to the end fails within its bound.
    log.stop().await;
    services
        .produce_with_kafka_python(&topic, &lines(&[("audit", Some("7"))]))
        .unwrap();
    let asked = Instant::now();
    let error = log
        .read_to_end(Duration::from_millis(500))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    assert!(
        error.contains(&format!("cannot read topic {topic} to its end"))
            && error.contains("its reading has stopped"),
        "{error}"
    );
    assert_eq!(applied.records().len(), total);
}

/// The partition kafka-python put `key`'s records in.
fn consumed_partition(consumed: &[ConsumedRecord], key: &str) -> i32 {
    consumed
        .iter()
        .find(|r| r.key.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no record of {key}"))
        .partition
}

#[tokio::test]
async fn internal_topics_are_created_compacted_and_unfit_ones_refused_with_kafka_connects_messages()
{
    let services = Services::get();
    let kafka = kafka(&services).await;

    // Created: compacted, with the partitions asked for (kafka-python's admin client sees it).
    let offsets = unique_name("dist-offsets");
    ensure_topic(&kafka, &InternalTopic::offsets(&offsets, 5, 1), LIMIT)
        .await
        .unwrap();
    let described = services.describe_topic_with_kafka_python(&offsets).unwrap();
    assert_eq!(described.partitions, [0, 1, 2, 3, 4]);
    assert_eq!(
        described
            .configs
            .unwrap()
            .get("cleanup.policy")
            .map(String::as_str),
        Some("compact")
    );
    // Again: it exists and is compacted.
    ensure_topic(&kafka, &InternalTopic::offsets(&offsets, 5, 1), LIMIT)
        .await
        .unwrap();

    // The config topic: one partition, whatever else; the broker's defaults with -1.
    let configs = unique_name("dist-configs");
    ensure_topic(&kafka, &InternalTopic::config(&configs, -1), LIMIT)
        .await
        .unwrap();
    let described = services.describe_topic_with_kafka_python(&configs).unwrap();
    assert_eq!(described.partitions, [0]);
    assert_eq!(
        described
            .configs
            .unwrap()
            .get("cleanup.policy")
            .map(String::as_str),
        Some("compact")
    );
    let status = unique_name("dist-status");
    ensure_topic(&kafka, &InternalTopic::status(&status, -1, -1), LIMIT)
        .await
        .unwrap();
    assert!(!services
        .describe_topic_with_kafka_python(&status)
        .unwrap()
        .partitions
        .is_empty());

    // A config topic of 3 partitions, made by someone else: refused.
    let wide = unique_name("dist-wide-configs");
    services
        .create_topic_with_kafka_python(&wide, 3, &[("cleanup.policy", "compact")])
        .unwrap();
    let refused = ensure_topic(&kafka, &InternalTopic::config(&wide, 1), LIMIT).await;
    match refused {
        Err(InternalTopicError::Unfit(message)) => assert_eq!(
            message,
            format!("Topic '{wide}' supplied via the 'config.storage.topic' property is required to have a single partition in order to guarantee consistency of connector configurations, but found 3 partitions.")
        ),
        other => panic!("expected the topic to be refused, got {other:?}"),
    }

    // A status topic that deletes old records: refused.
    let deleting = unique_name("dist-deleting-status");
    services
        .create_topic_with_kafka_python(&deleting, 5, &[("cleanup.policy", "delete")])
        .unwrap();
    let refused = ensure_topic(&kafka, &InternalTopic::status(&deleting, 5, 1), LIMIT).await;
    match refused {
        Err(InternalTopicError::Unfit(message)) => assert_eq!(
            message,
            format!("Topic '{deleting}' supplied via the 'status.storage.topic' property is required to have 'cleanup.policy=compact' to guarantee consistency and durability of connector and task statuses, but found the topic currently has 'cleanup.policy=delete'. Continuing would likely result in eventually losing connector and task statuses and problems restarting this Connect cluster in the future. Change the 'status.storage.topic' property in the Connect worker configurations to use a topic with 'cleanup.policy=compact'.")
        ),
        other => panic!("expected the topic to be refused, got {other:?}"),
    }

    // A topic whose cleanup policy the broker does not tell (tansu lists only the configs a
    // topic was created with): used, as Kafka Connect does.
    let untold = unique_name("dist-untold");
    services
        .create_topic_with_kafka_python(&untold, 2, &[])
        .unwrap();
    ensure_topic(&kafka, &InternalTopic::offsets(&untold, 25, 1), LIMIT)
        .await
        .unwrap();
}

fn map(v: serde_json::Value) -> SourceMap {
    v.as_object().cloned().unwrap()
}

#[tokio::test]
async fn source_offsets_stored_by_one_worker_are_read_by_another_in_kafka_connects_format() {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let topic = unique_name("dist-source-offsets");
    ensure_topic(&kafka, &InternalTopic::offsets(&topic, 5, 1), LIMIT)
        .await
        .unwrap();
    let start =
        || KafkaOffsetStore::start(Arc::new(kafka.clone()), producer(&kafka), &topic, LIMIT);
    let worker_a = start().await.unwrap();
    let (p1, p2) = (map(json!({"p": 1})), map(json!({"p": 2})));
    worker_a
        .put(
            "conn",
            vec![
                (p1.clone(), Some(map(json!({"pos": 10})))),
                (p2.clone(), Some(map(json!({"pos": 20, "file": "a.txt"})))),
            ],
        )
        .await
        .unwrap();

    // Another worker, started afterwards, reads them; then each sees the other's writes.
    let worker_b = start().await.unwrap();
    assert_eq!(
        worker_b.get("conn", &p1).await.unwrap(),
        Some(map(json!({"pos": 10})))
    );
    assert_eq!(
        worker_b.all("conn").await.unwrap(),
        [
            (p1.clone(), map(json!({"pos": 10}))),
            (p2.clone(), map(json!({"pos": 20, "file": "a.txt"})))
        ]
    );
    worker_a
        .put("conn", vec![(p1.clone(), Some(map(json!({"pos": 11}))))])
        .await
        .unwrap();
    assert_eq!(
        worker_b.get("conn", &p1).await.unwrap(),
        Some(map(json!({"pos": 11})))
    );
    worker_b
        .put("conn", vec![(p2.clone(), None)])
        .await
        .unwrap();
    assert_eq!(worker_a.get("conn", &p2).await.unwrap(), None);
    assert_eq!(worker_a.all("conn").await.unwrap().len(), 1);

    // In Kafka Connect's format, as kafka-python reads it: compact JSON key and value, a
    // tombstone for the removed partition, every record of a key in one partition.
    let consumed = services
        .consume_with_kafka_python(&topic, 4, LIMIT)
        .unwrap();
    let written: Vec<(Option<&str>, Option<&str>)> = {
        let mut records: Vec<&ConsumedRecord> = consumed.iter().collect();
        records.sort_by_key(|r| (r.key.clone(), r.offset));
        records
            .iter()
            .map(|r| (r.key.as_deref(), r.value.as_deref()))
            .collect()
    };
    assert_eq!(
        written,
        [
            (Some(r#"["conn",{"p":1}]"#), Some(r#"{"pos":10}"#)),
            (Some(r#"["conn",{"p":1}]"#), Some(r#"{"pos":11}"#)),
            (
                Some(r#"["conn",{"p":2}]"#),
                Some(r#"{"pos":20,"file":"a.txt"}"#)
            ),
            (Some(r#"["conn",{"p":2}]"#), None),
        ]
    );
    for key in [r#"["conn",{"p":1}]"#, r#"["conn",{"p":2}]"#] {
        let partitions: std::collections::BTreeSet<i32> = consumed
            .iter()
            .filter(|r| r.key.as_deref() == Some(key))
            .map(|r| r.partition)
            .collect();
        assert_eq!(partitions.len(), 1, "{key}: {partitions:?}");
    }

    // Removing the connector: a third worker finds nothing of it.
    worker_b.remove_connector("conn").await.unwrap();
    let worker_c = start().await.unwrap();
    assert!(worker_c.all("conn").await.unwrap().is_empty());
    let consumed = services
        .consume_with_kafka_python(&topic, 5, LIMIT)
        .unwrap();
    let last_of_p1 = consumed
        .iter()
        .filter(|r| r.key.as_deref() == Some(r#"["conn",{"p":1}]"#))
        .max_by_key(|r| r.offset)
        .unwrap();
    assert_eq!(last_of_p1.value, None, "a tombstone: {consumed:#?}");
    for worker in [worker_a, worker_b, worker_c] {
        worker.stop().await;
    }
}
