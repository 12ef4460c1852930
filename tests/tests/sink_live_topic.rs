//! Sinks reading a topic while a producer writes it: every record arrives.
//!
//! A fetch at the end of a partition that is being written races the producer; a broker may
//! answer it with no records for an offset that holds one (tansu does, about once per 500
//! fetches under this load). A sink that stepped over such an offset lost the first records of
//! a producer batch, silently. Three sinks of different kinds read the same live topic here, and
//! each must see all of it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use connect_e2e::{temp_dir, unique_name, Services, WorkerProcess};
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

const RECORDS: usize = 200_000;
const PARTITIONS: i32 = 4;
/// Records per produce request, all to one partition (the partitions take turns).
const CHUNK: usize = 500;
/// One chunk every 100 ms: 5,000 records a second, 40 s in all.
const CHUNK_INTERVAL: Duration = Duration::from_millis(100);

fn config(topic: &str, extra: &[(&str, &str)]) -> Json {
    let mut config = json!({
        "tasks.max": "1",
        "topics": topic,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    config
}

fn cli(services: &Services, args: &[&str]) -> String {
    services.redis_cli(args).unwrap().trim().to_owned()
}

/// The values of `count` records numbered from `first`: `r<n>`, also their keys.
fn chunk(first: usize, count: usize) -> Vec<Record> {
    let now = chrono::Utc::now();
    (first..first + count)
        .map(|n| Record {
            key: Some(format!("r{n}").into_bytes()),
            value: Some(format!("r{n}").into_bytes()),
            headers: BTreeMap::new(),
            timestamp: now,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_sinks_reading_a_topic_being_written_receive_every_record() {
    let services = Services::get();
    let dir = temp_dir("sink-live");
    let worker = WorkerProcess::start(WORKER, &services, &dir, &[]);
    let id = unique_name("live");
    let kafka = services.kafka().await.unwrap();
    let topic = services
        .create_topic(&kafka, &id, PARTITIONS)
        .await
        .unwrap();
    let counters = format!("{id}-count");
    let set = format!("{id}-set");
    let file = dir.join("sink.txt");

    // Exactly-once: one counter per partition, +1 a record (a value that is not a number
    // counts one event), offsets kept in Redis with the writes.
    worker.create_connector(
        &counters,
        &config(
            &topic,
            &[
                ("connector.class", "RedisSink"),
                ("redis.uri", &services.redis_url),
                ("redis.type", "COUNTER"),
                ("redis.key.template", &format!("{counters}:${{partition}}")),
            ],
        ),
    );
    // At-least-once: every record key into one set.
    worker.create_connector(
        &set,
        &config(
            &topic,
            &[
                ("connector.class", "RedisSink"),
                ("redis.uri", &services.redis_url),
                ("redis.type", "SET"),
                ("redis.keyspace", &set),
                ("redis.exactly.once", "false"),
            ],
        ),
    );
    let file_sink = format!("{id}-file");
    worker.create_connector(
        &file_sink,
        &config(
            &topic,
            &[
                ("connector.class", "FileStreamSink"),
                ("file", file.to_str().unwrap()),
            ],
        ),
    );
    for name in [&counters, &set, &file_sink] {
        worker.wait_for_tasks(name, 1, "RUNNING", Duration::from_secs(30));
    }

    // Produce at a steady rate while the sinks read.
    let mut producers = Vec::new();
    for partition in 0..PARTITIONS {
        producers.push(
            kafka
                .partition_client(topic.as_str(), partition, UnknownTopicHandling::Retry)
                .await
                .unwrap(),
        );
    }
    let started = Instant::now();
    for (n, first) in (0..RECORDS).step_by(CHUNK).enumerate() {
        producers[n % producers.len()]
            .produce(chunk(first, CHUNK), Compression::NoCompression)
            .await
            .unwrap();
        let due = started + CHUNK_INTERVAL * (n as u32 + 1);
        tokio::time::sleep_until(due.into()).await;
    }

    let counter_total = || -> f64 {
        (0..PARTITIONS)
            .map(|p| {
                cli(&services, &["GET", &format!("{counters}:{p}")])
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
            .sum()
    };
    let set_size = || -> usize { cli(&services, &["SCARD", &set]).parse().unwrap_or(0) };
    let file_lines = || -> Vec<String> {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // All three reach the total, or the deadline says how many each received.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let received = (counter_total(), set_size(), file_lines().len());
        if received.0 >= RECORDS as f64 && received.1 >= RECORDS && received.2 >= RECORDS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "records received of {RECORDS} 90 s after the last was produced: exactly-once \
             counters {}, at-least-once set {}, file {} lines",
            received.0,
            received.1,
            received.2
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Exact: the counters counted each record once, per partition as produced.
    for p in 0..PARTITIONS {
        let got: f64 = cli(&services, &["GET", &format!("{counters}:{p}")])
            .parse()
            .unwrap();
        assert_eq!(got, (RECORDS / PARTITIONS as usize) as f64, "partition {p}");
    }
    assert_eq!(set_size(), RECORDS);
    let lines = file_lines();
    let distinct: HashSet<&String> = lines.iter().collect();
    assert_eq!(
        distinct.len(),
        RECORDS,
        "distinct lines in {}",
        file.display()
    );
    assert!(
        (0..RECORDS).all(|n| distinct.contains(&format!("r{n}"))),
        "a record is missing from the file"
    );
    for name in [&counters, &set, &file_sink] {
        assert_eq!(
            worker.status(name)["tasks"][0]["state"],
            "RUNNING",
            "{name}"
        );
    }
}
