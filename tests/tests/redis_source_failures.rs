//! The Redis sources when Kafka or Redis goes away mid-run: tasks stay RUNNING, nothing is lost
//! and nothing is acknowledged in Redis before Kafka has it. Each test uses a broker or a
//! redis-server of its own, so freezing or stopping it disturbs no other test.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

mod redis_source_support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_e2e::{unique_name, PrivateRedis, Services, WorkerProcess};
use redis_source_support::{
    cli, group_number, pipelined, read_distinct, source_config, temp_dir, wait_until,
    PrivateBroker, WORKER,
};
use serde_json::json;

const GROUP: &str = "kafka-consumer-group";

fn string_values(config: &mut serde_json::Value) {
    config["value.converter"] = json!("org.apache.kafka.connect.storage.StringConverter");
}

/// Whether `/metrics` shows the connector's task 0 retrying (`None`: no such series).
fn retrying(worker: &WorkerProcess, name: &str) -> Option<f64> {
    worker.scrape().get(
        "kafka_connect_connector_task_metrics_retrying",
        &[("connector", name), ("task", "0")],
    )
}

/// Waits until neither connector's task is retrying any more.
fn wait_until_recovered(worker: &WorkerProcess, names: [&str; 2]) {
    wait_until(
        "the retrying gauges back to 0",
        Duration::from_secs(90),
        || names.iter().all(|n| retrying(worker, n) == Some(0.0)),
    );
}

/// Every state of the connector's tasks is RUNNING.
fn assert_running(worker: &WorkerProcess, name: &str) {
    let status = worker.status(name);
    let tasks = status["tasks"].as_array().unwrap();
    assert!(!tasks.is_empty(), "{status}");
    for task in tasks {
        assert_eq!(task["state"], "RUNNING", "{status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_broker_frozen_for_ten_seconds_loses_nothing_and_tasks_stay_running() {
    let services = Services::get();
    let broker = PrivateBroker::start();
    let frozen_services = broker.services(&services);
    let worker = WorkerProcess::start(
        WORKER,
        &frozen_services,
        &temp_dir("freeze"),
        &[("request.timeout.ms", "3000")],
    );
    let id = unique_name("frz");
    let stream = format!("{id}-stream");
    let list = format!("{id}-list");
    let mut stream_config = source_config(
        "RedisStreamSource",
        &services.redis_url,
        &[("redis.stream.name", &stream)],
    );
    string_values(&mut stream_config);
    worker.create_connector(&stream, &stream_config);
    let mut list_config = source_config(
        "RedisListSource",
        &services.redis_url,
        &[("redis.list.name", &list), ("topic", &list)],
    );
    string_values(&mut list_config);
    worker.create_connector(&list, &list_config);
    worker.wait_for_tasks(&stream, 1, "RUNNING", Duration::from_secs(30));
    worker.wait_for_tasks(&list, 1, "RUNNING", Duration::from_secs(30));

    // Entries and items keep coming, ~300 a second each, before, during and after the freeze.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let redis = services.redis().await.unwrap();
        let (stream, list, writing) = (stream.clone(), list.clone(), Arc::clone(&writing));
        tokio::spawn(async move {
            let mut n = 0usize;
            while writing.load(Ordering::Relaxed) {
                pipelined(
                    &redis,
                    [
                        vec![
                            "XADD".into(),
                            stream.clone(),
                            "*".into(),
                            "n".into(),
                            n.to_string(),
                        ],
                        vec!["LPUSH".into(), list.clone(), format!("i{n}")],
                    ],
                )
                .await;
                n += 1;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    broker.freeze();
    let frozen = Instant::now();
    let mut acked_during_freeze = None;
    let mut seen_retrying = [false, false];
    while frozen.elapsed() < Duration::from_secs(10) {
        assert_running(&worker, &stream);
        assert_running(&worker, &list);
        // Produce requests go unanswered for request.timeout.ms (3 s), then are retried.
        for (seen, name) in seen_retrying.iter_mut().zip([&stream, &list]) {
            *seen |= retrying(&worker, name) == Some(1.0);
        }
        // Nothing reaches Kafka now, so nothing may be acknowledged in Redis: what the group
        // has not acknowledged only grows.
        let pending = group_number(&services, &stream, GROUP, "pending");
        let read = group_number(&services, &stream, GROUP, "entries-read");
        let acked = read - pending;
        if let Some(before) = acked_during_freeze {
            assert_eq!(
                acked, before,
                "entries acknowledged while the broker is frozen"
            );
            // And the list's items wait in Redis: nothing is lost, nothing removed early.
            assert!(cli(&services, &["LLEN", &list]).parse::<usize>().unwrap() > 0);
        }
        // The first look may still see the batch Kafka took just before the freeze.
        if frozen.elapsed() > Duration::from_secs(2) {
            acked_during_freeze.get_or_insert(acked);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    broker.thaw();
    assert_eq!(
        seen_retrying,
        [true, true],
        "the retrying gauges during a 10 s freeze; log:\n{}",
        worker.log_tail()
    );
    wait_until_recovered(&worker, [&stream, &list]);
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(
        log.contains("produce succeeded again after "),
        "no recovery line in the log:\n{}",
        worker.log_tail()
    );
    std::thread::sleep(Duration::from_secs(3));
    writing.store(false, Ordering::Relaxed);
    let written = writer.await.unwrap();
    println!("{written} entries and {written} items written around a 10 s freeze");

    wait_until("every entry acknowledged", Duration::from_secs(90), || {
        group_number(&services, &stream, GROUP, "entries-read") >= written
            && group_number(&services, &stream, GROUP, "pending") == 0
    });
    wait_until(
        "the list and processing list empty",
        Duration::from_secs(90),
        || {
            cli(&services, &["LLEN", &list]) == "0"
                && cli(&services, &["LLEN", &format!("{list}:processing:0")]) == "0"
        },
    );
    let entries = read_distinct(
        &frozen_services,
        &stream,
        written,
        Duration::from_secs(60),
        |r| r.key.clone().unwrap_or_default(),
    );
    let items = read_distinct(
        &frozen_services,
        &list,
        written,
        Duration::from_secs(60),
        |r| r.value.clone().unwrap_or_default(),
    );
    let values: HashSet<&str> = items.iter().filter_map(|r| r.value.as_deref()).collect();
    assert!((0..written).all(|n| values.contains(format!("i{n}").as_str())));
    println!(
        "after the freeze: {} records for {written} entries, {} for {written} items",
        entries.len(),
        items.len()
    );
    assert_running(&worker, &stream);
    assert_running(&worker, &list);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_stopped_mid_run_loses_nothing_and_tasks_stay_running() {
    const N: usize = 20_000;
    let services = Services::get();
    let mut redis = PrivateRedis::start(&temp_dir("src-redis-down"), &[]);
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("src-outage"), &[]);
    let id = unique_name("out");
    let (stream, list) = (format!("{id}-stream"), format!("{id}-list"));
    let client = {
        let config = fred::prelude::Config::from_url(&redis.url()).unwrap();
        let client = fred::prelude::Builder::from_config(config).build().unwrap();
        fred::prelude::ClientLike::init(&client).await.unwrap();
        client
    };
    redis_source_support::xadd(&client, &stream, 0..N).await;
    pipelined(
        &client,
        (0..N).collect::<Vec<_>>().chunks(1000).map(|chunk| {
            let mut args = vec!["LPUSH".to_owned(), list.clone()];
            args.extend(chunk.iter().map(|i| format!("i{i}")));
            args
        }),
    )
    .await;
    let extra = [("redis.timeout", "2"), ("batch.size", "100")];
    let mut stream_config = source_config(
        "RedisStreamSource",
        &redis.url(),
        &[&[("redis.stream.name", stream.as_str())][..], &extra].concat(),
    );
    string_values(&mut stream_config);
    let mut list_config = source_config(
        "RedisListSource",
        &redis.url(),
        &[
            &[("redis.list.name", list.as_str()), ("topic", list.as_str())][..],
            &extra,
        ]
        .concat(),
    );
    string_values(&mut list_config);
    worker.create_connector(&stream, &stream_config);
    worker.create_connector(&list, &list_config);
    let len = |r: &PrivateRedis, key: &str| r.cli(&["LLEN", key]).parse::<usize>().unwrap_or(N);
    wait_until("some items taken", Duration::from_secs(60), || {
        len(&redis, &list) < N
    });
    redis.stop();
    let down = Instant::now();
    let mut seen_retrying = [false, false];
    while down.elapsed() < Duration::from_secs(6) {
        assert_running(&worker, &stream);
        assert_running(&worker, &list);
        for (seen, name) in seen_retrying.iter_mut().zip([&stream, &list]) {
            *seen |= retrying(&worker, name) == Some(1.0);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        seen_retrying,
        [true, true],
        "the retrying gauges during a 6 s outage; log:\n{}",
        worker.log_tail()
    );
    redis.start_again();
    wait_until_recovered(&worker, [&stream, &list]);
    wait_until(
        "the list and processing list empty",
        Duration::from_secs(90),
        || len(&redis, &list) == 0 && len(&redis, &format!("{list}:processing:0")) == 0,
    );
    wait_until("no entry pending", Duration::from_secs(90), || {
        let info = redis.cli(&["XINFO", "GROUPS", &stream]);
        let lines: Vec<&str> = info.lines().collect();
        let field = |name: &str| {
            lines
                .iter()
                .position(|l| *l == name)
                .and_then(|i| lines.get(i + 1))
                .and_then(|v| v.parse::<usize>().ok())
        };
        field("entries-read") == Some(N) && field("pending") == Some(0)
    });
    let entries = read_distinct(&services, &stream, N, Duration::from_secs(60), |r| {
        r.key.clone().unwrap_or_default()
    });
    let items = read_distinct(&services, &list, N, Duration::from_secs(60), |r| {
        r.value.clone().unwrap_or_default()
    });
    println!(
        "after a Redis outage: {} records for {N} entries, {} for {N} items",
        entries.len(),
        items.len()
    );
    assert_running(&worker, &stream);
    assert_running(&worker, &list);
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    for line in [
        "poll (reading from the source system) failed, retrying",
        "poll succeeded again after ",
    ] {
        assert!(log.contains(line), "no {line:?} in the log");
    }
}
