//! The Redis list source (a queue, at-least-once) and pub/sub source (at-most-once) end to end:
//! the worker run as a process and driven over REST, Kafka read back with kafka-python, Redis
//! checked with redis-cli.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

mod redis_source_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use connect_e2e::{unique_name, Services, WorkerProcess};
use fred::prelude::Client;
use redis_source_support::{
    cli, metric, pipelined, read_distinct, source_config, temp_dir, wait_until, WORKER,
};

fn len(services: &Services, key: &str) -> usize {
    cli(services, &["LLEN", key]).parse().unwrap_or(usize::MAX)
}

#[tokio::test(flavor = "multi_thread")]
async fn list_items_survive_a_kill_9_and_leftovers_go_first() {
    const ITEMS: usize = 50_000;
    let services = Services::get();
    let redis = services.redis().await.unwrap();
    let list = unique_name("jobs");
    // Left over by an earlier run: in task 0's processing list, and in that of a task 7 that
    // no longer exists (the connector runs 2).
    cli(
        &services,
        &["RPUSH", &format!("{list}:processing:0"), "left-1", "left-0"],
    );
    cli(
        &services,
        &[
            "RPUSH",
            &format!("{list}:processing:7"),
            "orphan-1",
            "orphan-0",
        ],
    );
    // Producers LPUSH; the source takes from the right: oldest first.
    push_items(&redis, &list, ITEMS).await;

    let dir = temp_dir("list-kill");
    let mut worker = WorkerProcess::start(WORKER, &services, &dir, &[]);
    let name = format!("{list}-source");
    worker.create_connector(
        &name,
        &source_config(
            "RedisListSource",
            &services.redis_url,
            &[
                ("redis.list.name", &list),
                ("topic", &list),
                ("tasks.max", "2"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.storage.StringConverter",
                ),
            ],
        ),
    );
    let started = Instant::now();
    wait_until("half the items taken", Duration::from_secs(120), || {
        len(&services, &list) <= ITEMS / 2
    });
    let half = started.elapsed();
    worker.kill9();
    let left = len(&services, &list);
    assert!(
        left > 0,
        "the source finished before the kill; the test proves nothing"
    );
    let in_processing = len(&services, &format!("{list}:processing:0"))
        + len(&services, &format!("{list}:processing:1"));
    println!(
        "{} items taken in {half:?} ({:.0} items/s), {in_processing} in processing lists at the kill",
        ITEMS - left,
        (ITEMS - left) as f64 / half.as_secs_f64()
    );

    worker.restart();
    wait_until(
        "the list and processing lists empty",
        Duration::from_secs(120),
        || {
            len(&services, &list) == 0
                && len(&services, &format!("{list}:processing:0")) == 0
                && len(&services, &format!("{list}:processing:1")) == 0
        },
    );
    println!(
        "{ITEMS} items taken {:?} after the start",
        started.elapsed()
    );
    assert_eq!(
        cli(&services, &["EXISTS", &format!("{list}:processing:7")]),
        "0"
    );

    let expected = ITEMS + 4;
    let records = read_distinct(&services, &list, expected, Duration::from_secs(120), |r| {
        r.value.clone().unwrap_or_default()
    });
    let values: HashSet<&str> = records.iter().filter_map(|r| r.value.as_deref()).collect();
    for i in 0..ITEMS {
        assert!(
            values.contains(format!("item-{i}").as_str()),
            "item-{i} is missing"
        );
    }
    for extra in ["left-0", "left-1", "orphan-0", "orphan-1"] {
        assert!(values.contains(extra), "{extra} is missing");
    }
    let recovered = metric(&worker, "redis_source_list_recovered_total", &name).unwrap();
    assert!(recovered >= 4.0, "{recovered} items recovered");
    println!(
        "{} records for {expected} items ({} duplicates from the kill)",
        records.len(),
        records.len() - expected
    );
    // Task 0's leftovers went out before the items of its first BLMOVE, oldest first.
    let position = |v: &str| {
        records
            .iter()
            .position(|r| r.value.as_deref() == Some(v))
            .unwrap()
    };
    assert!(position("left-0") < position("left-1"));
    worker.wait_for_tasks(&name, 2, "RUNNING", Duration::from_secs(10));
}

/// Items whose records a transform drops (here: all of them) are removed from the processing
/// list once the worker says so (`commit_dropped`): nothing is left behind.
#[tokio::test(flavor = "multi_thread")]
async fn list_items_a_transform_drops_are_removed_from_the_processing_list() {
    const ITEMS: usize = 3_000;
    let services = Services::get();
    let redis = services.redis().await.unwrap();
    let list = unique_name("dropped-jobs");
    push_items(&redis, &list, ITEMS).await;
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("list-filter"), &[]);
    let name = format!("{list}-source");
    worker.create_connector(
        &name,
        &source_config(
            "RedisListSource",
            &services.redis_url,
            &[
                ("redis.list.name", &list),
                ("topic", &list),
                ("batch.size", "200"),
                ("transforms", "drop"),
                (
                    "transforms.drop.type",
                    "org.apache.kafka.connect.transforms.Filter",
                ),
            ],
        ),
    );
    let processing = format!("{list}:processing:0");
    wait_until(
        "the list and the processing list empty",
        Duration::from_secs(60),
        || len(&services, &list) == 0 && len(&services, &processing) == 0,
    );
    wait_until(
        "every item counted as removed",
        Duration::from_secs(10),
        || metric(&worker, "redis_source_list_removed_total", &name) == Some(ITEMS as f64),
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn pubsub_messages_arrive_and_a_full_buffer_drops_and_says_so() {
    let services = Services::get();
    let redis = services.redis().await.unwrap();
    let id = unique_name("ps");
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("pubsub"), &[]);
    let news = format!("{id}-news");
    let name = format!("{id}-source");
    worker.create_connector(
        &name,
        &source_config(
            "com.redis.kafka.connect.RedisPubSubSourceConnector",
            &services.redis_url,
            &[
                ("redis.channels", &format!("{news},{id}-events.*")),
                ("topic", &id),
                (
                    "value.converter",
                    "org.apache.kafka.connect.storage.StringConverter",
                ),
            ],
        ),
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(30));
    // Published at a pace a subscriber keeps up with: every message arrives.
    const MESSAGES: usize = 1000;
    for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(20) {
        pipelined(
            &redis,
            chunk.iter().map(|i| {
                let channel = if i % 2 == 0 {
                    news.clone()
                } else {
                    format!("{id}-events.{i}")
                };
                vec!["PUBLISH".to_owned(), channel, format!("m{i}")]
            }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let records = read_distinct(&services, &id, MESSAGES, Duration::from_secs(60), |r| {
        r.value.clone().unwrap_or_default()
    });
    assert_eq!(records.len(), MESSAGES, "at most once: no message twice");
    let odd = records
        .iter()
        .find(|r| r.value.as_deref() == Some("m7"))
        .unwrap();
    assert_eq!(
        odd.key.as_deref(),
        Some(format!("{id}-events.7").as_str()),
        "the key is the channel"
    );

    // A buffer of 10 and a burst of messages: some are dropped, counted and reported, the
    // task keeps running and memory stays bounded.
    let burst = format!("{id}-burst");
    let small = format!("{id}-small");
    worker.create_connector(
        &small,
        &source_config(
            "RedisPubSubSource",
            &services.redis_url,
            &[
                ("redis.channels", &burst),
                ("topic", &burst),
                ("redis.pubsub.buffer.size", "10"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.storage.StringConverter",
                ),
            ],
        ),
    );
    worker.wait_for_tasks(&small, 1, "RUNNING", Duration::from_secs(30));
    const BURST: usize = 20_000;
    pipelined(
        &redis,
        (0..BURST).map(|i| vec!["PUBLISH".to_owned(), burst.clone(), format!("b{i}")]),
    )
    .await;
    wait_until("the drops reported", Duration::from_secs(30), || {
        std::fs::read_to_string(worker.log_path())
            .unwrap()
            .contains("dropped pub/sub messages")
    });
    let records = services
        .consume_with_kafka_python(&burst, 1, Duration::from_secs(30))
        .unwrap();
    assert!(!records.is_empty());
    let dropped = metric(&worker, "redis_source_messages_dropped_total", &small).unwrap();
    assert!(dropped > 0.0 && dropped < BURST as f64, "{dropped} dropped");
    assert_eq!(
        metric(&worker, "redis_source_messages_dropped_total", &name),
        Some(0.0)
    );
    worker.wait_for_tasks(&small, 1, "RUNNING", Duration::from_secs(5));
}

/// LPUSHes `item-0` .. `item-{count-1}` onto `list`, a thousand a command.
async fn push_items(redis: &Client, list: &str, count: usize) {
    pipelined(
        redis,
        (0..count).collect::<Vec<_>>().chunks(1000).map(|chunk| {
            let mut args = vec!["LPUSH".to_owned(), list.to_owned()];
            args.extend(chunk.iter().map(|i| format!("item-{i}")));
            args
        }),
    )
    .await;
}
