//! Proves the harness: real records through the real broker and the real Redis, read back with
//! clients we did not write.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use connect_e2e::{unique_name, Services};
use fred::prelude::KeysInterface;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;

const RECORDS: usize = 10_000;
const PARTITIONS: i32 = 4;

#[tokio::test]
async fn records_produced_with_rskafka_are_read_back_by_kafka_python() {
    let services = Services::get();
    let kafka = services.kafka().await.expect("connect to Kafka");
    let topic = services
        .create_topic(&kafka, &unique_name("smoke"), PARTITIONS)
        .await
        .expect("create topic");

    // Record i goes to partition i % 4, written in batches of 500 per partition.
    for partition in 0..PARTITIONS {
        let client = kafka
            .partition_client(&topic, partition, UnknownTopicHandling::Retry)
            .await
            .expect("partition client");
        let indexes: Vec<usize> = (0..RECORDS)
            .filter(|i| *i as i32 % PARTITIONS == partition)
            .collect();
        for chunk in indexes.chunks(500) {
            let records = chunk
                .iter()
                .map(|i| Record {
                    key: Some(format!("key-{i}").into_bytes()),
                    value: Some(format!("{{\"n\":{i}}}").into_bytes()),
                    headers: BTreeMap::from([("source".to_owned(), b"smoke".to_vec())]),
                    timestamp: Utc::now(),
                })
                .collect();
            client
                .produce(records, Compression::NoCompression)
                .await
                .expect("produce");
        }
    }

    let read = services
        .consume_with_kafka_python(&topic, RECORDS, Duration::from_secs(60))
        .expect("kafka-python reads the topic");
    assert_eq!(read.len(), RECORDS);

    // Every record exactly once, in the partition it was written to, with its value and header.
    let mut by_key = BTreeMap::new();
    for r in &read {
        let key = r.key.clone().expect("every record has a key");
        assert!(by_key.insert(key.clone(), r).is_none(), "{key} read twice");
    }
    for i in 0..RECORDS {
        let r = by_key
            .get(&format!("key-{i}"))
            .unwrap_or_else(|| panic!("key-{i} missing"));
        assert_eq!(r.partition, i as i32 % PARTITIONS);
        assert_eq!(r.value.as_deref(), Some(format!("{{\"n\":{i}}}").as_str()));
        assert_eq!(r.headers.get("source"), Some(&Some("smoke".to_owned())));
    }
    // Offsets of each partition run 0..n without gaps, in the order written.
    for partition in 0..PARTITIONS {
        let offsets: Vec<i64> = read
            .iter()
            .filter(|r| r.partition == partition)
            .map(|r| r.offset)
            .collect();
        let expected: Vec<i64> = (0..(RECORDS as i64 / PARTITIONS as i64)).collect();
        assert_eq!(offsets, expected, "offsets of partition {partition}");
    }
}

#[tokio::test]
async fn values_set_with_fred_are_read_back_by_redis_cli() {
    let services = Services::get();
    let redis = services.redis().await.expect("connect to Redis");
    let key = unique_name("smoke-key");
    let value = "héllo wörld";

    let _: () = redis
        .set(&key, value, None, None, false)
        .await
        .expect("SET");
    let got: Option<String> = redis.get(&key).await.expect("GET");
    assert_eq!(got.as_deref(), Some(value));

    let cli = services
        .redis_cli(&["--raw", "GET", &key])
        .expect("redis-cli GET");
    assert_eq!(cli.trim_end_matches('\n'), value);
}
