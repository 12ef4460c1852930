//! The Redis sink through TLS: a redis-server with a TLS port only, requiring client
//! certificates, and an ACL user; the sink trusts the test CA (`redis.cacert`) and presents
//! its certificate (`redis.key.cert`, `redis.key.file`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::time::Duration;

use connect_e2e::{
    temp_dir, unique_name, wait_until, PrivateRedis, Services, TestCa, TlsFiles, WorkerProcess,
};
use serde_json::json;

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

#[tokio::test(flavor = "multi_thread")]
async fn the_sink_writes_through_tls_with_a_client_certificate_and_an_acl_user() {
    let services = Services::get();
    let dir = temp_dir("redis-tls");
    let ca = TestCa::new(&dir);
    let (server_cert, server_key) = ca.issue("server", &["127.0.0.1", "localhost"]);
    let (client_cert, client_key) = ca.issue("client", &["connect-worker"]);
    let files = TlsFiles {
        ca: ca.ca_path(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    };
    let redis = PrivateRedis::start_tls(&dir.join("redis"), files.clone(), "sink", "sink-password");
    let worker = WorkerProcess::start(WORKER, &services, &dir.join("worker"), &[]);
    let kafka = services.kafka().await.unwrap();
    let topic = services
        .create_topic(&kafka, &unique_name("tls"), 1)
        .await
        .unwrap();
    let config = |name: &str, with_client_cert: bool| {
        let mut config = json!({
            "connector.class": "RedisSink",
            "topics": topic,
            "redis.uri": format!("rediss://sink:sink-password@127.0.0.1:{}", redis.port),
            "redis.cacert": files.ca,
            "redis.type": "STRING",
            "redis.keyspace": name,
            "redis.timeout": "2",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        });
        if with_client_cert {
            config["redis.key.cert"] = json!(files.client_cert);
            config["redis.key.file"] = json!(files.client_key);
        }
        config
    };
    let good = unique_name("tls-sink");
    worker.create_connector(&good, &config(&good, true));
    // Without a client certificate, the server ends the handshake: a clear task error.
    let refused = unique_name("tls-no-cert");
    worker.create_connector(&refused, &config(&refused, false));

    services
        .produce(
            &kafka,
            &topic,
            vec![(0, Some(b"k".to_vec()), Some(b"over tls".to_vec()))],
        )
        .await
        .unwrap();
    wait_until(
        "the record, written over TLS",
        Duration::from_secs(30),
        || redis.cli(&["GET", &format!("{good}:k")]) == "over tls",
    );
    worker.wait_for_tasks(&good, 1, "RUNNING", Duration::from_secs(5));
    worker.wait_for_tasks(&refused, 1, "FAILED", Duration::from_secs(30));
    let trace = worker.status(&refused)["tasks"][0]["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        trace.contains("cannot connect to Redis at rediss://sink:********@127.0.0.1"),
        "{trace}"
    );
    assert!(!trace.contains("sink-password"), "{trace}");
}
