//! The worker's Kafka clients survive a broker restart: a private tansu broker (not the shared
//! one, which other tests use) is killed and started again on the same port.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use connect_e2e::Services;
use connect_worker::kafka::{Kafka, KafkaConfig, Producer, ProducerConfig, ProducerRecord};

fn tansu_bin() -> String {
    let env = std::fs::read_to_string(Services::env_file()).unwrap();
    env.lines()
        .find_map(|l| l.strip_prefix("TANSU_BIN="))
        .expect("TANSU_BIN in the services env file")
        .to_owned()
}

fn start_broker(port: u16) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    Command::new(tansu_bin())
        .args(["broker", "--storage-engine", "memory://tansu/"])
        .args(["--listener-url", &url, "--advertised-listener-url", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Kills the broker when the test ends, whatever happens.
struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the private broker did not listen on {port}");
}

fn record(topic: &str, n: usize) -> ProducerRecord {
    ProducerRecord {
        topic: topic.into(),
        key: Some(Bytes::from(format!("k{n}"))),
        value: Some(Bytes::from(format!("v{n}"))),
        ..ProducerRecord::default()
    }
}

#[tokio::test]
async fn the_producer_writes_again_after_the_broker_comes_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut broker = Broker(start_broker(port));
    wait_for_port(port).await;
    let kafka = Kafka::connect(KafkaConfig {
        bootstrap_servers: vec![format!("127.0.0.1:{port}")],
        client_id: "reconnect".into(),
        request_timeout: Duration::from_secs(20),
        security: Default::default(),
    })
    .await
    .unwrap();
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
    let _ = broker.0.kill();
    let _ = broker.0.wait();
    broker.0 = start_broker(port);
    wait_for_port(port).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match kafka.create_topic("survivor", 1, 1).await {
            Ok(_) => break,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "no reconnect: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let metadata = producer.send(&[record("survivor", 1)]).await.unwrap();
    assert_eq!(
        metadata[0].offset, 0,
        "a fresh broker starts the topic at 0"
    );
}
