//! Consumer-group offsets and partition offsets with the worker's Kafka client against the
//! real broker, checked with kafka-python (its admin client and its consumer): what we commit
//! kafka-python reads, what kafka-python commits (as a Java worker's sink tasks leave it) we
//! read, deleted offsets read as none with both, and over SASL_SSL as over plaintext.

#![allow(clippy::unwrap_used)] // test code; a failure should panic

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use connect_core::record::TopicPartition;
use connect_e2e::secure_kafka::{SaslLogin, SecureKafka, SecurityProtocol};
use connect_e2e::{temp_dir, unique_name, GroupOffsets, Services};
use connect_worker::kafka::{Kafka, KafkaClient, KafkaConfig, KafkaSecurity, OffsetPosition};
use rskafka::client::partition::Compression;
use rskafka::record::Record;

async fn kafka(bootstrap: &str, security: KafkaSecurity, request_timeout: Duration) -> Kafka {
    Kafka::connect(KafkaConfig {
        bootstrap_servers: vec![bootstrap.to_owned()],
        client_id: "e2e-groups".into(),
        request_timeout,
        security,
    })
    .await
    .expect("connect to Kafka")
}

async fn plaintext(services: &Services) -> Kafka {
    kafka(
        &services.kafka_bootstrap,
        KafkaSecurity::default(),
        Duration::from_secs(20),
    )
    .await
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// A new topic with `partitions` partitions and a group name of Kafka Connect's form.
async fn topic_and_group(kafka: &Kafka, prefix: &str, partitions: i32) -> (String, String) {
    let topic = unique_name(prefix);
    assert!(kafka.create_topic(&topic, partitions, 1).await.unwrap());
    (topic, unique_name(&format!("connect-{prefix}")))
}

/// kafka-python's view of a group that has `offsets` for partitions 0 and 1 (`None`: none).
fn read_by_kafka_python(p0: Option<i64>, p1: Option<i64>) -> GroupOffsets {
    GroupOffsets {
        admin: BTreeMap::from([(0, p0.unwrap_or(-1)), (1, p1.unwrap_or(-1))]),
        consumer: BTreeMap::from([(0, p0), (1, p1)]),
    }
}

#[tokio::test]
async fn offsets_we_commit_are_what_kafka_python_reads() {
    let services = Services::get();
    let kafka = plaintext(&services).await;
    let (topic, group) = topic_and_group(&kafka, "commit", 2).await;
    let partitions = [tp(&topic, 0), tp(&topic, 1)];

    // A group nobody committed to has no offsets.
    assert_eq!(
        kafka.committed_offsets(&group, &partitions).await.unwrap(),
        BTreeMap::new()
    );

    let offsets = BTreeMap::from([(tp(&topic, 0), 5), (tp(&topic, 1), 7)]);
    kafka.commit_offsets(&group, &offsets).await.unwrap();
    assert_eq!(
        services
            .group_offsets_with_kafka_python(&group, &topic, &[0, 1])
            .unwrap(),
        read_by_kafka_python(Some(5), Some(7))
    );
    assert_eq!(
        kafka.committed_offsets(&group, &partitions).await.unwrap(),
        offsets
    );

    // A later commit of one partition moves that one only.
    kafka
        .commit_offsets(&group, &BTreeMap::from([(tp(&topic, 1), 12)]))
        .await
        .unwrap();
    assert_eq!(
        services
            .group_offsets_with_kafka_python(&group, &topic, &[0, 1])
            .unwrap(),
        read_by_kafka_python(Some(5), Some(12))
    );
}

#[tokio::test]
async fn offsets_kafka_python_committed_are_what_we_read() {
    let services = Services::get();
    let kafka = plaintext(&services).await;
    let (topic, group) = topic_and_group(&kafka, "theirs", 2).await;

    // As a Java worker's sink task leaves them: partition 0 committed, partition 1 never.
    services
        .commit_offsets_with_kafka_python(&group, &topic, &[(0, 31)])
        .unwrap();
    let read = kafka
        .committed_offsets(&group, &[tp(&topic, 0), tp(&topic, 1)])
        .await
        .unwrap();
    assert_eq!(read, BTreeMap::from([(tp(&topic, 0), 31)]));

    // Asking about one partition tells about that one only.
    services
        .commit_offsets_with_kafka_python(&group, &topic, &[(0, 32), (1, 40)])
        .unwrap();
    let read = kafka
        .committed_offsets(&group, &[tp(&topic, 1)])
        .await
        .unwrap();
    assert_eq!(read, BTreeMap::from([(tp(&topic, 1), 40)]));
}

#[tokio::test]
async fn deleted_offsets_read_as_none_with_both_clients() {
    let services = Services::get();
    let kafka = plaintext(&services).await;
    let (topic, group) = topic_and_group(&kafka, "delete", 2).await;
    let partitions = [tp(&topic, 0), tp(&topic, 1)];
    services
        .commit_offsets_with_kafka_python(&group, &topic, &[(0, 8), (1, 9)])
        .unwrap();

    kafka
        .delete_offsets(&group, &[tp(&topic, 0)])
        .await
        .unwrap();
    assert_eq!(
        services
            .group_offsets_with_kafka_python(&group, &topic, &[0, 1])
            .unwrap(),
        read_by_kafka_python(None, Some(9))
    );
    assert_eq!(
        kafka.committed_offsets(&group, &partitions).await.unwrap(),
        BTreeMap::from([(tp(&topic, 1), 9)])
    );

    kafka.delete_offsets(&group, &partitions).await.unwrap();
    assert_eq!(
        services
            .group_offsets_with_kafka_python(&group, &topic, &[0, 1])
            .unwrap(),
        read_by_kafka_python(None, None)
    );
    assert_eq!(
        kafka.committed_offsets(&group, &partitions).await.unwrap(),
        BTreeMap::new()
    );

    // A deleted partition takes a new commit as any other.
    kafka
        .commit_offsets(&group, &BTreeMap::from([(tp(&topic, 0), 3)]))
        .await
        .unwrap();
    assert_eq!(
        services
            .group_offsets_with_kafka_python(&group, &topic, &[0, 1])
            .unwrap(),
        read_by_kafka_python(Some(3), None)
    );

    // Deleting from a group that never had offsets deletes nothing, and says so by not failing.
    kafka
        .delete_offsets(&unique_name("connect-never"), &partitions)
        .await
        .unwrap();
}

#[tokio::test]
async fn partition_offsets_are_the_earliest_and_latest_kafka_python_reads() {
    let services = Services::get();
    let kafka = plaintext(&services).await;
    let topic = unique_name("ends");
    kafka.create_topic(&topic, 2, 1).await.unwrap();
    let partitions = [tp(&topic, 0), tp(&topic, 1)];

    // One record a request: tansu's memory engine answers ListOffsets(latest) with the last
    // batch's base offset + 1 (docs/testing.md), which is the end only for one-record batches.
    const N: i64 = 7;
    let partition = kafka.partition(&topic, 0).await.unwrap();
    for i in 0..N {
        let record = Record {
            key: None,
            value: Some(format!("v{i}").into_bytes()),
            headers: BTreeMap::new(),
            timestamp: Utc::now(),
        };
        partition
            .produce(vec![record], Compression::NoCompression)
            .await
            .unwrap();
    }

    let earliest = kafka
        .offsets_at(&partitions, OffsetPosition::Earliest)
        .await
        .unwrap();
    let latest = kafka
        .offsets_at(&partitions, OffsetPosition::Latest)
        .await
        .unwrap();
    assert_eq!(
        earliest,
        BTreeMap::from([(tp(&topic, 0), 0), (tp(&topic, 1), 0)])
    );
    assert_eq!(
        latest,
        BTreeMap::from([(tp(&topic, 0), N), (tp(&topic, 1), 0)])
    );
    let theirs = services.end_offsets_with_kafka_python(&topic).unwrap();
    let by_partition = |offsets: BTreeMap<TopicPartition, i64>| -> BTreeMap<i32, i64> {
        offsets
            .into_iter()
            .map(|(p, offset)| (p.partition, offset))
            .collect()
    };
    assert_eq!(by_partition(earliest), theirs.earliest);
    assert_eq!(by_partition(latest), theirs.latest);
}

#[tokio::test]
async fn offsets_of_a_partition_that_does_not_exist_fail_within_the_request_timeout() {
    let services = Services::get();
    let limit = Duration::from_secs(2);
    let kafka = kafka(&services.kafka_bootstrap, KafkaSecurity::default(), limit).await;
    // A partition past the topic's last. (Not a topic that does not exist: rskafka's metadata
    // requests allow the broker to create it, and tansu does.)
    let topic = unique_name("two");
    kafka.create_topic(&topic, 2, 1).await.unwrap();
    let started = Instant::now();
    let err = kafka
        .offsets_at(&[tp(&topic, 0), tp(&topic, 5)], OffsetPosition::Latest)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < limit + Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains(&format!("{topic}-5")), "{err}");
}

#[tokio::test]
async fn offsets_are_committed_and_read_over_sasl_ssl() {
    let dir = temp_dir("groups-sasl");
    let brokers = SecureKafka::start(&dir.join("brokers"));
    let protocol = SecurityProtocol::SaslSsl;
    let login = SaslLogin::valid("SCRAM-SHA-512");
    let props = brokers.client_properties(protocol, Some(&login));
    let security = KafkaSecurity::from_props(&props.iter().cloned().collect()).unwrap();
    let kafka = kafka(
        brokers.bootstrap(protocol),
        security,
        Duration::from_secs(20),
    )
    .await;
    let (topic, group) = topic_and_group(&kafka, "sasl", 2).await;

    let offsets = BTreeMap::from([(tp(&topic, 0), 4), (tp(&topic, 1), 6)]);
    kafka.commit_offsets(&group, &offsets).await.unwrap();
    assert_eq!(
        kafka
            .committed_offsets(&group, &[tp(&topic, 0), tp(&topic, 1)])
            .await
            .unwrap(),
        offsets
    );
    assert_eq!(
        brokers
            .group_offsets_with_kafka_python(protocol, Some(&login), &group, &topic, &[0, 1])
            .unwrap(),
        read_by_kafka_python(Some(4), Some(6))
    );
}
