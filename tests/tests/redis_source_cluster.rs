//! The stream and list sources against a three-node Redis Cluster of the test's own: streams
//! on different nodes found by a pattern, read one per command; a list and its processing list
//! in one hash slot.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

mod redis_source_support;

use std::time::Duration;

use connect_e2e::{unique_name, PrivateRedis, Services, WorkerProcess};
use redis_source_support::{read_distinct, source_config, temp_dir, wait_until, WORKER};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn streams_and_a_list_across_cluster_nodes() {
    const PER_STREAM: usize = 200;
    const ITEMS: usize = 500;
    let services = Services::get();
    let nodes = PrivateRedis::start_cluster("src-cluster");
    let id = unique_name("cs");
    // Three streams; their names hash to different slots (and, with three masters, mostly
    // different nodes).
    let streams: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|s| format!("{id}-{s}"))
        .collect();
    for stream in &streams {
        for i in 0..PER_STREAM {
            nodes[0].cluster_cli(&["XADD", stream, "*", "n", &i.to_string()]);
        }
    }
    let list = format!("{id}-list");
    for chunk in (0..ITEMS).collect::<Vec<_>>().chunks(100) {
        let mut args = vec!["LPUSH".to_owned(), list.clone()];
        args.extend(chunk.iter().map(|i| format!("i{i}")));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        nodes[0].cluster_cli(&refs);
    }

    let uri = format!(
        "redis://127.0.0.1:{},127.0.0.1:{}",
        nodes[0].port, nodes[1].port
    );
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("src-cluster"), &[]);
    let topic = format!("{id}-entries");
    let mut config = source_config(
        "RedisStreamSource",
        &uri,
        &[
            ("redis.stream.name", &format!("{id}-?")),
            ("topic", &topic),
            ("tasks.max", "2"),
        ],
    );
    config["redis.cluster"] = json!("true");
    worker.create_connector(&format!("{id}-streams"), &config);
    let mut config = source_config(
        "RedisListSource",
        &uri,
        &[("redis.list.name", &list), ("topic", &list)],
    );
    config["redis.cluster"] = json!("true");
    config["value.converter"] = json!("org.apache.kafka.connect.storage.StringConverter");
    worker.create_connector(&format!("{id}-list"), &config);

    let entries = read_distinct(
        &services,
        &topic,
        3 * PER_STREAM,
        Duration::from_secs(60),
        |r| r.key.clone().unwrap_or_default(),
    );
    assert!(entries.len() >= 3 * PER_STREAM);
    for stream in &streams {
        wait_until("no entry pending", Duration::from_secs(30), || {
            nodes[0]
                .cluster_cli(&["XPENDING", stream, "kafka-consumer-group"])
                .starts_with('0')
        });
    }
    let items = read_distinct(&services, &list, ITEMS, Duration::from_secs(60), |r| {
        r.value.clone().unwrap_or_default()
    });
    assert!(items.len() >= ITEMS);
    wait_until(
        "the list and its processing list empty",
        Duration::from_secs(30),
        || {
            nodes[0].cluster_cli(&["LLEN", &list]) == "0"
                && nodes[0].cluster_cli(&["LLEN", &format!("{{{list}}}:processing:0")]) == "0"
        },
    );
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(!log.contains("CROSSSLOT"), "a command spanned hash slots");
}
