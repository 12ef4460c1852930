//! The Redis stream source end to end: entries written with XADD, the worker run as a process
//! and driven over REST, Kafka read back with kafka-python, the consumer group checked with
//! XINFO/XPENDING.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

mod redis_source_support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use connect_e2e::{unique_name, ConsumedRecord, Services, WorkerProcess};
use redis_source_support::{
    cli, group_number, metric, read_distinct, source_config, temp_dir, value, wait_until, xadd,
    WORKER,
};
use serde_json::json;

const GROUP: &str = "kafka-consumer-group";

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_entries_arrive_and_a_kill_9_loses_none() {
    const ENTRIES: usize = 100_000;
    let services = Services::get();
    let redis = services.redis().await.unwrap();
    let stream = unique_name("orders");
    xadd(&redis, &stream, 0..ENTRIES).await;

    let dir = temp_dir("stream-kill");
    let mut worker = WorkerProcess::start(WORKER, &services, &dir, &[]);
    let name = format!("{stream}-source");
    let config = source_config(
        "RedisStreamSource",
        &services.redis_url,
        &[("redis.stream.name", &stream), ("tasks.max", "2")],
    );
    let started = Instant::now();
    worker.create_connector(&name, &config);
    let entries_read = || group_number(&services, &stream, GROUP, "entries-read");
    let pending = || group_number(&services, &stream, GROUP, "pending");
    wait_until(
        "half the entries read by the group",
        Duration::from_secs(120),
        || entries_read() >= ENTRIES / 2,
    );
    let half = started.elapsed();
    worker.kill9();
    let at_kill = entries_read();
    let pending_at_kill = pending();
    assert!(
        at_kill < ENTRIES,
        "the source finished before the kill; the test proves nothing"
    );
    println!(
        "{at_kill} of {ENTRIES} entries read in {half:?} ({:.0} entries/s) when killed, {pending_at_kill} pending",
        at_kill as f64 / half.as_secs_f64()
    );

    worker.restart();
    wait_until(
        "every entry read and acknowledged",
        Duration::from_secs(180),
        || entries_read() >= ENTRIES && pending() == 0,
    );
    println!(
        "all {ENTRIES} entries read and acknowledged {:?} after the start",
        started.elapsed()
    );

    let records = read_distinct(&services, &stream, ENTRIES, Duration::from_secs(120), |r| {
        r.key.clone().unwrap_or_default()
    });
    let mut numbers = HashSet::new();
    for record in &records {
        let v = value(record);
        assert_eq!(v["stream"], json!(stream));
        assert_eq!(v["id"], json!(record.key));
        numbers.insert(v["body"]["n"].as_str().unwrap().parse::<usize>().unwrap());
    }
    assert_eq!(numbers.len(), ENTRIES, "every entry is in Kafka");
    assert!(numbers.iter().all(|n| *n < ENTRIES));
    println!(
        "{} records in Kafka for {ENTRIES} entries ({} duplicates from the kill)",
        records.len(),
        records.len() - ENTRIES
    );
    // Nothing left pending for any consumer of the group.
    assert_nothing_pending(&services, &stream);
    worker.wait_for_tasks(&name, 2, "RUNNING", Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_pending_for_a_dead_consumer_are_claimed_and_delivered() {
    let services = Services::get();
    let stream = unique_name("claims");
    let group = "claimers";
    cli(
        &services,
        &["XGROUP", "CREATE", &stream, group, "0", "MKSTREAM"],
    );
    for i in 0..20 {
        cli(&services, &["XADD", &stream, "*", "n", &i.to_string()]);
    }
    // A consumer takes every entry and dies without acknowledging them.
    let taken = cli(
        &services,
        &[
            "XREADGROUP",
            "GROUP",
            group,
            "dead",
            "COUNT",
            "100",
            "STREAMS",
            &stream,
            ">",
        ],
    );
    assert!(taken.contains("19"), "{taken}");
    assert!(cli(&services, &["XPENDING", &stream, group]).starts_with("20"));

    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("stream-claim"), &[]);
    let name = format!("{stream}-source");
    worker.create_connector(
        &name,
        &source_config(
            "com.redis.kafka.connect.RedisStreamSourceConnector",
            &services.redis_url,
            &[
                ("redis.stream.name", &stream),
                ("redis.stream.consumer.group", group),
                ("redis.stream.claim.idle.ms", "1500"),
            ],
        ),
    );
    for i in 20..25 {
        cli(&services, &["XADD", &stream, "*", "n", &i.to_string()]);
    }
    let records = read_distinct(&services, &stream, 25, Duration::from_secs(60), |r| {
        r.key.clone().unwrap_or_default()
    });
    let numbers: HashSet<String> = records
        .iter()
        .map(|r| value(r)["body"]["n"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), 25);
    wait_until("no entry pending", Duration::from_secs(30), || {
        cli(&services, &["XPENDING", &stream, group]).starts_with('0')
    });
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(
        log.contains("claimed entries pending longer than"),
        "no claim in the log"
    );
    assert_eq!(
        metric(&worker, "redis_source_stream_claimed_total", &name),
        Some(20.0)
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn patterns_key_fields_bodies_and_the_java_value_schema() {
    let services = Services::get();
    let prefix = unique_name("pat");
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("stream-pattern"), &[]);
    let (a, b, c) = (
        format!("{prefix}-a"),
        format!("{prefix}-b"),
        format!("{prefix}-c"),
    );
    cli(&services, &["XADD", &a, "*", "user", "u1", "n", "1"]);
    cli(&services, &["XADD", &b, "*", "user", "u2", "n", "2"]);
    // Not a stream: the pattern must skip it.
    cli(&services, &["SET", &format!("{prefix}-string"), "x"]);

    // A pattern, a body field as the key, the plain body as the value, one topic per stream.
    let name = format!("{prefix}-source");
    worker.create_connector(
        &name,
        &source_config(
            "RedisStreamSourceConnector",
            &services.redis_url,
            &[
                ("redis.stream.name", &format!("{prefix}-*")),
                ("topic", "t${stream}"),
                ("redis.stream.key.field", "user"),
                ("redis.stream.value.format", "body"),
                ("redis.stream.pattern.refresh.ms", "500"),
            ],
        ),
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(30));
    // A stream created after the start is picked up.
    cli(&services, &["XADD", &c, "*", "user", "u3", "n", "3"]);
    let expected = BTreeMap::from([(&a, "u1"), (&b, "u2"), (&c, "u3")]);
    for (stream, user) in expected {
        let topic = format!("t{stream}");
        let records = services
            .consume_with_kafka_python(&topic, 1, Duration::from_secs(30))
            .unwrap();
        assert_eq!(records[0].key.as_deref(), Some(user), "{topic}");
        assert_eq!(value(&records[0])["user"], json!(user), "{topic}");
    }

    // The Java connector's value with its schema, through JsonConverter with schemas.
    let single = format!("{prefix}-java");
    cli(&services, &["XADD", &single, "*", "f", "v"]);
    let mut config = source_config(
        "RedisStreamSource",
        &services.redis_url,
        &[
            ("redis.stream.name", &single),
            ("topic", &format!("{single}-out")),
        ],
    );
    config["value.converter.schemas.enable"] = json!("true");
    worker.create_connector(&format!("{single}-source"), &config);
    let records = services
        .consume_with_kafka_python(&format!("{single}-out"), 1, Duration::from_secs(30))
        .unwrap();
    let envelope = value(&records[0]);
    assert_eq!(
        envelope["schema"]["name"],
        "com.redis.kafka.connect.stream.Value"
    );
    let fields: Vec<&str> = envelope["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["id", "body", "stream"]);
    assert_eq!(envelope["payload"]["body"], json!({"f": "v"}));
    assert_eq!(envelope["payload"]["stream"], json!(single));
    assert_eq!(envelope["payload"]["id"], json!(records[0].key));
}

/// Entries a transform drops are acknowledged (`commit_dropped`), and only they and the
/// entries Kafka has: nothing stays pending, while the worker polls one batch ahead.
#[tokio::test(flavor = "multi_thread")]
async fn entries_a_transform_drops_are_acknowledged_not_left_pending() {
    const ENTRIES: usize = 2_000;
    let services = Services::get();
    let redis = services.redis().await.unwrap();
    let kept = unique_name("kept");
    let dropped = unique_name("filtered");
    xadd(&redis, &kept, 0..ENTRIES).await;
    xadd(&redis, &dropped, 0..ENTRIES).await;

    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("stream-filter"), &[]);
    let name = format!("{kept}-source");
    let streams = format!("{kept},{dropped}");
    worker.create_connector(
        &name,
        &source_config(
            "RedisStreamSource",
            &services.redis_url,
            &[
                ("redis.stream.name", &streams),
                ("batch.size", "100"),
                ("transforms", "drop"),
                (
                    "transforms.drop.type",
                    "org.apache.kafka.connect.transforms.Filter",
                ),
                ("transforms.drop.predicate", "isFiltered"),
                ("predicates", "isFiltered"),
                (
                    "predicates.isFiltered.type",
                    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
                ),
                ("predicates.isFiltered.pattern", &dropped),
            ],
        ),
    );
    let records = read_distinct(&services, &kept, ENTRIES, Duration::from_secs(60), |r| {
        r.key.clone().unwrap_or_default()
    });
    assert_eq!(records.len(), ENTRIES);
    for stream in [&kept, &dropped] {
        wait_until(
            &format!("every entry of {stream} read and acknowledged"),
            Duration::from_secs(30),
            || {
                group_number(&services, stream, GROUP, "entries-read") >= ENTRIES
                    && group_number(&services, stream, GROUP, "pending") == 0
            },
        );
        assert_nothing_pending(&services, stream);
    }
    wait_until(
        "every entry counted as acknowledged",
        Duration::from_secs(10),
        || {
            metric(&worker, "redis_source_stream_acknowledged_total", &name)
                == Some((2 * ENTRIES) as f64)
        },
    );
    // The filtered stream's records never reached Kafka.
    let topics = worker.request("GET", &format!("/connectors/{name}/topics"), None);
    let (_, body) = topics.unwrap();
    assert!(!body.contains(&dropped), "{body}");
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
}

/// The reads sent ahead hand out the entries in the stream's order: every partition of the
/// topic holds its entries in the order they were added, each once.
#[tokio::test(flavor = "multi_thread")]
async fn entries_read_ahead_reach_kafka_in_the_streams_order() {
    const ENTRIES: usize = 30_000;
    let services = Services::get();
    // Small batches: many polls, each with reads ahead.
    let (worker, stream, name) =
        start_stream_source(&services, "ordered", ENTRIES, &[("batch.size", "300")]).await;
    let records = read_distinct(&services, &stream, ENTRIES, Duration::from_secs(90), |r| {
        r.key.clone().unwrap_or_default()
    });
    assert_eq!(records.len(), ENTRIES, "no entry twice");
    let mut partitions: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
    for record in &records {
        let n = value(record)["body"]["n"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        partitions
            .entry(record.partition)
            .or_default()
            .push((record.offset, n));
    }
    for (partition, mut entries) in partitions {
        entries.sort_unstable();
        let out_of_order = entries.windows(2).find(|pair| pair[0].1 >= pair[1].1);
        assert!(
            out_of_order.is_none(),
            "partition {partition}: entry {:?} comes after {:?} (offset, entry number)",
            out_of_order.map(|pair| pair[1]),
            out_of_order.map(|pair| pair[0]),
        );
    }
    wait_until("every entry acknowledged", Duration::from_secs(30), || {
        group_number(&services, &stream, GROUP, "pending") == 0
    });
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
}

/// A graceful stop while a read is ahead (the task has entries Redis delivered and the worker
/// never saw): they stay pending for the consumer and the restarted task delivers them.
#[tokio::test(flavor = "multi_thread")]
async fn a_task_restarted_mid_stream_loses_nothing_and_leaves_nothing_pending() {
    const ENTRIES: usize = 60_000;
    let services = Services::get();
    let (worker, stream, name) =
        start_stream_source(&services, "restarted", ENTRIES, &[("batch.size", "500")]).await;
    let entries_read = || group_number(&services, &stream, GROUP, "entries-read");
    let pending = || group_number(&services, &stream, GROUP, "pending");
    wait_until("10,000 entries read", Duration::from_secs(60), || {
        entries_read() >= 10_000
    });
    worker.call(
        "POST",
        &format!("/connectors/{name}/restart?includeTasks=true"),
        None,
        202,
    );
    let at_restart = entries_read();
    assert!(
        at_restart < ENTRIES,
        "the source finished before the restart; the test proves nothing"
    );
    wait_until(
        "every entry read and acknowledged",
        Duration::from_secs(120),
        || entries_read() >= ENTRIES && pending() == 0,
    );
    let records = read_distinct(&services, &stream, ENTRIES, Duration::from_secs(60), |r| {
        r.key.clone().unwrap_or_default()
    });
    assert_eq!(
        entry_numbers(&records).len(),
        ENTRIES,
        "every entry is in Kafka"
    );
    println!(
        "{at_restart} entries read at the restart; {} records for {ENTRIES} entries",
        records.len()
    );
    assert_nothing_pending(&services, &stream);
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(10));
}

/// At most once (`NOACK`), nothing is read ahead: every entry arrives once, nothing pending.
#[tokio::test(flavor = "multi_thread")]
async fn at_most_once_delivers_each_entry_once_and_leaves_nothing_pending() {
    const ENTRIES: usize = 5_000;
    let services = Services::get();
    let (worker, stream, name) = start_stream_source(
        &services,
        "noack",
        ENTRIES,
        &[
            ("redis.stream.delivery", "at-most-once"),
            ("batch.size", "700"),
        ],
    )
    .await;
    let records = read_distinct(&services, &stream, ENTRIES, Duration::from_secs(60), |r| {
        r.key.clone().unwrap_or_default()
    });
    assert_eq!(records.len(), ENTRIES, "no entry twice");
    assert_eq!(entry_numbers(&records), (0..ENTRIES).collect());
    assert_nothing_pending(&services, &stream);
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
}

/// A stream of `entries` numbered entries and a worker with a one-task source reading it (the
/// stream's name is also the topic's); the worker, the stream and the connector's name.
async fn start_stream_source(
    services: &Services,
    prefix: &str,
    entries: usize,
    extra: &[(&str, &str)],
) -> (WorkerProcess, String, String) {
    let redis = services.redis().await.unwrap();
    let stream = unique_name(prefix);
    xadd(&redis, &stream, 0..entries).await;
    let worker = WorkerProcess::start(WORKER, services, &temp_dir(prefix), &[]);
    let name = format!("{stream}-source");
    let mut settings = vec![("redis.stream.name", stream.as_str())];
    settings.extend_from_slice(extra);
    worker.create_connector(
        &name,
        &source_config("RedisStreamSource", &services.redis_url, &settings),
    );
    (worker, stream, name)
}

/// The entry numbers (`n` in the body) of the records.
fn entry_numbers(records: &[ConsumedRecord]) -> HashSet<usize> {
    records
        .iter()
        .map(|r| value(r)["body"]["n"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn assert_nothing_pending(services: &Services, stream: &str) {
    assert_eq!(
        cli(services, &["XPENDING", stream, GROUP]).lines().next(),
        Some("0"),
        "entries pending in {stream}"
    );
}
