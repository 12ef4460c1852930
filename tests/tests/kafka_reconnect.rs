//! The worker's Kafka clients survive a broker restart: a private tansu broker (not the shared
//! one, which other tests use) is killed and started again on the same port.
//! A sink whose fetches fail meanwhile says so (`/health`, the retrying gauge, the log).
//! Consumer-group offsets are committed again on new connections to the group's coordinator.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use connect_core::record::TopicPartition;
use connect_e2e::{temp_dir, unique_name, wait_until, PrivateKafka, Services, WorkerProcess};
use connect_worker::kafka::{
    Kafka, KafkaClient, KafkaConfig, Producer, ProducerConfig, ProducerRecord,
};
use serde_json::json;

fn record(topic: &str, n: usize) -> ProducerRecord {
    ProducerRecord {
        topic: topic.into(),
        key: Some(Bytes::from(format!("k{n}"))),
        value: Some(Bytes::from(format!("v{n}"))),
        ..ProducerRecord::default()
    }
}

/// A client of the broker at `port`.
async fn connect(port: u16, client_id: &str) -> Kafka {
    Kafka::connect(KafkaConfig {
        bootstrap_servers: vec![format!("127.0.0.1:{port}")],
        client_id: client_id.into(),
        request_timeout: Duration::from_secs(20),
        security: Default::default(),
    })
    .await
    .unwrap()
}

/// Creates `topic` through `kafka`, retrying for up to 30 s while the broker (re)starts and
/// the client reconnects.
async fn create_topic_retrying(kafka: &Kafka, topic: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match kafka.create_topic(topic, 1, 1).await {
            Ok(_) => return,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "no reconnect: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sink_whose_broker_is_away_shows_it_is_retrying_fetches_and_recovers() {
    let services = Services::get();
    let mut broker = PrivateKafka::start().await;
    let port = broker.port;
    let topic = unique_name("away");
    let kafka = connect(port, "topic-maker").await;
    kafka.create_topic(&topic, 1, 1).await.unwrap();
    let dir = temp_dir("fetch-retry");
    let bootstrap = format!("127.0.0.1:{port}");
    let worker = WorkerProcess::start(
        env!("CARGO_BIN_EXE_e2e-worker"),
        &services,
        &dir,
        &[
            ("bootstrap.servers", &bootstrap),
            ("request.timeout.ms", "2000"),
        ],
    );
    let name = format!("{topic}-file");
    worker.create_connector(
        &name,
        &json!({
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": dir.join("out.txt").to_str().unwrap(),
        }),
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(30));

    broker.kill();
    let fetch_outage = |health: &serde_json::Value| {
        health["retrying_tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["connector"] == json!(name) && t["operation"] == "fetch")
    };
    wait_until(
        "/health to name the sink task as retrying fetches",
        Duration::from_secs(30),
        || fetch_outage(&worker.call("GET", "/health", None, 200)),
    );
    assert_eq!(worker.status(&name)["tasks"][0]["state"], "RUNNING");

    // Back on the same port (the memory engine forgot the topic: it is created again).
    broker.restart().await;
    create_topic_retrying(&kafka, &topic).await;
    wait_until(
        "/health to show no retrying fetch",
        Duration::from_secs(60),
        || !fetch_outage(&worker.call("GET", "/health", None, 200)),
    );
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(
        log.contains("fetch (reading the sink's partitions from Kafka) failed, retrying"),
        "{}",
        worker.log_tail()
    );
    assert!(
        log.contains("fetch succeeded again after"),
        "{}",
        worker.log_tail()
    );
}

#[tokio::test]
async fn the_producer_writes_again_after_the_broker_comes_back() {
    let mut broker = PrivateKafka::start().await;
    let port = broker.port;
    let kafka = connect(port, "reconnect").await;
    kafka.create_topic("survivor", 1, 1).await.unwrap();
    let producer = Producer::new(
        kafka.clone(),
        ProducerConfig {
            metadata_max_age: Duration::ZERO,
            ..ProducerConfig::default()
        },
    );
    producer.send(&[record("survivor", 0)]).await.unwrap();

    // Restart the broker on the same port. Its memory engine forgets the topic, so it is
    // created again, through the same client.
    broker.restart().await;
    create_topic_retrying(&kafka, "survivor").await;
    let metadata = producer.send(&[record("survivor", 1)]).await.unwrap();
    assert_eq!(
        metadata[0].offset, 0,
        "a fresh broker starts the topic at 0"
    );
}

#[tokio::test]
async fn group_offsets_are_committed_again_after_the_broker_comes_back() {
    let services = Services::get();
    let mut broker = PrivateKafka::start().await;
    let port = broker.port;
    let kafka = connect(port, "groups-reconnect").await;
    let topic = unique_name("committed");
    let group = unique_name("connect-reconnect");
    kafka.create_topic(&topic, 1, 1).await.unwrap();
    let partition = TopicPartition::new(topic.as_str(), 0);
    kafka
        .commit_offsets(&group, &BTreeMap::from([(partition.clone(), 3)]))
        .await
        .unwrap();

    // The restarted broker (which forgot everything) is reached on the same port: the
    // connections to the coordinator and to the broker that found it are broken, and are made
    // again within the commit's request timeout.
    broker.restart().await;
    create_topic_retrying(&kafka, &topic).await;
    kafka
        .commit_offsets(&group, &BTreeMap::from([(partition.clone(), 9)]))
        .await
        .unwrap();
    let private = Services {
        kafka_bootstrap: format!("127.0.0.1:{port}"),
        ..services
    };
    let read = private
        .group_offsets_with_kafka_python(&group, &topic, &[0])
        .unwrap();
    assert_eq!(read.admin, BTreeMap::from([(0, 9)]));
    assert_eq!(
        kafka
            .committed_offsets(&group, std::slice::from_ref(&partition))
            .await
            .unwrap(),
        BTreeMap::from([(partition, 9)])
    );
}
