//! Distributed mode: three worker processes with one `group.id` on the real broker form a
//! cluster. Connectors created through any worker run spread over all three, every worker
//! answers reads the same, and the work of a worker killed with SIGKILL moves to the others.
//! Data is read back with redis-cli (the sinks' output) and the internal topics with
//! kafka-python.
//!
//! Small timeouts keep the test short: 6 s sessions, 1 s heartbeats, and no delay before the
//! work of a departed worker is handed out again (`scheduled.rebalance.max.delay.ms=0`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

// The Redis source tests' helpers; this file uses a few of them (and none of its re-exports).
#[allow(unused_imports)]
mod redis_source_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use connect_e2e::{temp_dir, unique_name, Services, WorkerProcess};
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

/// The session timeout the tests give the workers.
const SESSION: Duration = Duration::from_secs(6);

/// Three (or more) workers of one group, each with a directory of its own.
struct Cluster {
    workers: Vec<WorkerProcess>,
    keys: Vec<(String, String)>,
    dir: PathBuf,
}

impl Cluster {
    /// `count` workers of a new group with new internal topics.
    fn start(services: &Services, name: &str, count: usize, extra: &[(&str, &str)]) -> Self {
        let mut cluster = Self::new(name, extra);
        for _ in 0..count {
            cluster.add(services);
        }
        cluster
    }

    /// A new group with new internal topics and no worker yet.
    fn new(name: &str, extra: &[(&str, &str)]) -> Self {
        let group = unique_name(name);
        let mut keys: Vec<(String, String)> = vec![
            ("group.id".into(), group.clone()),
            ("config.storage.topic".into(), format!("{group}-configs")),
            ("offset.storage.topic".into(), format!("{group}-offsets")),
            ("status.storage.topic".into(), format!("{group}-status")),
            ("config.storage.replication.factor".into(), "1".into()),
            ("offset.storage.replication.factor".into(), "1".into()),
            ("status.storage.replication.factor".into(), "1".into()),
            ("offset.storage.partitions".into(), "5".into()),
            ("status.storage.partitions".into(), "2".into()),
            ("session.timeout.ms".into(), SESSION.as_millis().to_string()),
            ("heartbeat.interval.ms".into(), "1000".into()),
            ("rebalance.timeout.ms".into(), "10000".into()),
            ("scheduled.rebalance.max.delay.ms".into(), "0".into()),
            ("offset.flush.interval.ms".into(), "500".into()),
            (
                "key.converter".into(),
                "org.apache.kafka.connect.storage.StringConverter".into(),
            ),
            (
                "value.converter".into(),
                "org.apache.kafka.connect.storage.StringConverter".into(),
            ),
        ];
        for (k, v) in extra {
            keys.retain(|(key, _)| key != k);
            keys.push((k.to_string(), v.to_string()));
        }
        Self {
            workers: Vec::new(),
            keys,
            dir: temp_dir(&group),
        }
    }

    /// The value of one of the worker keys (an internal topic's name).
    fn key(&self, key: &str) -> &str {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    /// Starts one more worker.
    fn add(&mut self, services: &Services) -> usize {
        let index = self.workers.len();
        let keys: Vec<(&str, &str)> = self
            .keys
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let dir = self.dir.join(format!("worker-{index}"));
        self.workers
            .push(WorkerProcess::start(WORKER, services, &dir, &keys));
        index
    }

    /// Creates a connector through `worker`, trying again while the cluster answers 409 (it
    /// is still forming or rebalancing: no leader is known yet, as Kafka Connect answers).
    fn create(&self, worker: usize, name: &str, config: &Json) {
        let body = json!({ "name": name, "config": config });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (code, text) = self.workers[worker]
                .request("POST", "/connectors", Some(&body))
                .unwrap_or((0, String::new()));
            match code {
                201 => return,
                409 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                _ => panic!(
                    "POST /connectors through worker {worker} answered {code}: {text}\n{}",
                    self.logs()
                ),
            }
        }
    }

    /// The `worker_id` a worker shows in statuses.
    fn worker_id(&self, index: usize) -> String {
        self.workers[index]
            .url()
            .trim_start_matches("http://")
            .to_owned()
    }

    /// Waits until `worker` shows the connector RUNNING with `tasks` RUNNING tasks, all on
    /// workers in `on` (worker ids), and returns the status and how long it took.
    fn wait_running(
        &self,
        worker: usize,
        name: &str,
        tasks: usize,
        on: &BTreeSet<String>,
        timeout: Duration,
    ) -> (Json, Duration) {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < timeout {
            let (code, text) = self.workers[worker]
                .request("GET", &format!("/connectors/{name}/status"), None)
                .unwrap_or((0, String::new()));
            if code == 200 {
                let status: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
                let running = |s: &Json| {
                    s["state"] == "RUNNING"
                        && on.contains(s["worker_id"].as_str().unwrap_or_default())
                };
                let all_tasks = status["tasks"]
                    .as_array()
                    .is_some_and(|t| t.len() == tasks && t.iter().all(running));
                if running(&status["connector"]) && all_tasks {
                    return (status, started.elapsed());
                }
            }
            last = format!("{code} {text}");
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{name} was not RUNNING with {tasks} RUNNING tasks on {on:?} within {timeout:?}: {last}\n{}",
            self.logs()
        );
    }

    fn ids(&self, indices: &[usize]) -> BTreeSet<String> {
        indices.iter().map(|&i| self.worker_id(i)).collect()
    }

    fn logs(&self) -> String {
        self.workers
            .iter()
            .enumerate()
            .map(|(i, w)| format!("--- worker {i} ---\n{}", w.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A Redis sink of `tasks` tasks writing each record as a string key.
fn redis_sink(services: &Services, topic: &str, keyspace: &str, tasks: usize) -> Json {
    json!({
        "connector.class": "RedisSink",
        "topics": topic,
        "tasks.max": tasks.to_string(),
        "redis.uri": services.redis_url,
        "redis.type": "STRING",
        "redis.keyspace": keyspace,
    })
}

/// Produces key `k<i>` value `v<i>` for i in `range`, spread over `partitions`.
async fn produce(services: &Services, topic: &str, partitions: i32, range: std::ops::Range<usize>) {
    let kafka = services.kafka().await.unwrap();
    let records = range
        .map(|i| {
            (
                (i % partitions as usize) as i32,
                Some(format!("k{i}").into_bytes()),
                Some(format!("v{i}").into_bytes()),
            )
        })
        .collect();
    services.produce(&kafka, topic, records).await.unwrap();
}

/// Waits until Redis holds `count` keys under `keyspace:` (redis-cli), within `timeout`.
fn wait_for_keys(services: &Services, keyspace: &str, count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let keys = services
            .redis_cli(&["--scan", "--pattern", &format!("{keyspace}:*")])
            .unwrap();
        let found = keys.lines().filter(|l| !l.trim().is_empty()).count();
        if found >= count {
            assert_eq!(found, count, "more keys than records under {keyspace}:");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{found} of {count} keys under {keyspace}: within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_created_through_one_worker_runs_spread_over_three() {
    let services = Services::get();
    let cluster = Cluster::start(&services, "spread", 3, &[]);
    let topic = services.new_topic("spread", 6).await.unwrap();
    let keyspace = unique_name("spread");
    cluster.create(1, "spread", &redis_sink(&services, &topic, &keyspace, 6));

    let everyone = cluster.ids(&[0, 1, 2]);
    let (status, took) = cluster.wait_running(1, "spread", 6, &everyone, Duration::from_secs(60));
    println!("six tasks RUNNING {took:?} after the create");
    let owners: BTreeSet<&str> = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["worker_id"].as_str().unwrap())
        .collect();
    assert_eq!(owners.len(), 3, "tasks on three workers: {status}");

    // Every worker answers reads the same.
    for worker in &cluster.workers {
        assert_eq!(
            worker.call("GET", "/connectors", None, 200),
            json!(["spread"])
        );
        let info = worker.call("GET", "/connectors/spread", None, 200);
        assert_eq!(info["tasks"].as_array().map(Vec::len), Some(6), "{info}");
        assert_eq!(info["config"]["redis.keyspace"], json!(keyspace));
    }
    cluster.wait_running(0, "spread", 6, &everyone, Duration::from_secs(10));
    cluster.wait_running(2, "spread", 6, &everyone, Duration::from_secs(10));

    // The tasks work: every record reaches Redis.
    produce(&services, &topic, 6, 0..600).await;
    wait_for_keys(&services, &keyspace, 600, Duration::from_secs(60));

    // Kafka Connect's rebalance metrics: every worker names the same leader (one of them) and
    // has completed a rebalance; none is rebalancing now.
    let leaders: BTreeSet<String> = cluster
        .workers
        .iter()
        .map(|w| {
            let scrape = w.scrape();
            let completed = scrape
                .get(
                    "kafka_connect_connect_worker_rebalance_metrics_completed_rebalances_total",
                    &[],
                )
                .unwrap_or(0.0);
            assert!(completed >= 1.0, "no completed rebalance on {}", w.url());
            assert_eq!(
                scrape.get(
                    "kafka_connect_connect_worker_rebalance_metrics_rebalancing",
                    &[]
                ),
                Some(0.0)
            );
            scrape
                .0
                .iter()
                .find(|(name, _, _)| {
                    name == "kafka_connect_connect_worker_rebalance_metrics_leader_name"
                })
                .and_then(|(_, labels, _)| labels.get("leader_name").cloned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    let leader = leaders.into_iter().next().unwrap_or_default();
    assert!(
        (0..3).any(|i| leader == format!("http://{}/", cluster.worker_id(i))),
        "the leader {leader} is none of the workers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_work_of_a_killed_worker_moves_to_the_survivors() {
    let services = Services::get();
    let mut cluster = Cluster::start(&services, "failover", 3, &[]);
    let topic = services.new_topic("failover", 6).await.unwrap();
    let keyspace = unique_name("failover");
    cluster.create(2, "failover", &redis_sink(&services, &topic, &keyspace, 6));
    let everyone = cluster.ids(&[0, 1, 2]);
    cluster.wait_running(2, "failover", 6, &everyone, Duration::from_secs(60));
    produce(&services, &topic, 6, 0..300).await;
    wait_for_keys(&services, &keyspace, 300, Duration::from_secs(60));

    // Worker 0 joined first: the leader.
    cluster.workers[0].kill9();
    let killed = Instant::now();
    let survivors = cluster.ids(&[1, 2]);
    let limit = SESSION + Duration::from_secs(10);
    let (_, _) = cluster.wait_running(1, "failover", 6, &survivors, limit + Duration::from_secs(5));
    println!(
        "every task RUNNING on the two survivors {:?} after the kill (limit {limit:?})",
        killed.elapsed()
    );
    assert!(killed.elapsed() <= limit + Duration::from_secs(5));

    // The records written meanwhile arrive, and a new leader answers writes.
    produce(&services, &topic, 6, 300..600).await;
    wait_for_keys(&services, &keyspace, 600, Duration::from_secs(60));
    let second = unique_name("after");
    cluster.create(
        2,
        "after-failover",
        &redis_sink(&services, &topic, &second, 2),
    );
    cluster.wait_running(1, "after-failover", 2, &survivors, Duration::from_secs(60));
}

/// How many task starts a worker has attempted since its process started.
const STARTUPS: &str = "kafka_connect_connect_worker_metrics_task_startup_attempts_total";

/// Every record of `topic` (of `partitions` partitions) as kafka-python reads it, partition by
/// partition in offset order: the key as text and the value parsed as JSON (`None` for a
/// tombstone).
fn dump(services: &Services, topic: &str, partitions: i32) -> Vec<(String, Option<Json>)> {
    let ends = services
        .high_watermarks_with_kafka_python(topic, partitions)
        .unwrap();
    let total: i64 = ends.iter().sum();
    let mut records = services
        .consume_with_kafka_python(topic, total as usize, Duration::from_secs(20))
        .unwrap();
    records.sort_by_key(|r| (r.partition, r.offset));
    records
        .into_iter()
        .map(|r| {
            let key = r
                .key
                .unwrap_or_else(|| panic!("a record of {topic} without a text key"));
            let value = r
                .value
                .map(|v| serde_json::from_str(&v).unwrap_or_else(|e| panic!("{key}: {e} in {v}")));
            (key, value)
        })
        .collect()
}

/// The last value of `key` in `records`.
fn last<'a>(records: &'a [(String, Option<Json>)], key: &str) -> Option<&'a Json> {
    records
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.as_ref())
}

/// The sorted keys of a JSON object.
fn fields(value: &Json) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Waits until `worker` shows the connector and its `tasks` tasks all in `state`.
fn wait_state(cluster: &Cluster, worker: usize, name: &str, tasks: usize, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        let (code, text) = cluster.workers[worker]
            .request("GET", &format!("/connectors/{name}/status"), None)
            .unwrap_or((0, String::new()));
        let status: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        let all = status["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == tasks && t.iter().all(|t| t["state"] == state));
        if code == 200 && status["connector"]["state"] == state && all {
            return;
        }
        last = format!("{code} {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{name} not {state} within 30 s: {last}\n{}", cluster.logs());
}

/// A request through `worker` that must answer `expected`, tried again while the cluster
/// answers 409 (rebalancing).
fn write(cluster: &Cluster, worker: usize, method: &str, path: &str, expected: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, text) = cluster.workers[worker]
            .request(method, path, None)
            .unwrap_or((0, String::new()));
        if code == expected {
            return;
        }
        assert!(
            code == 409 && Instant::now() < deadline,
            "{method} {path} through worker {worker} answered {code}: {text}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_internal_topics_hold_kafka_connects_records() {
    let services = Services::get();
    let cluster = Cluster::start(&services, "records", 2, &[]);
    let topic = services.new_topic("records", 2).await.unwrap();
    let keyspace = unique_name("records");
    cluster.create(0, "sink", &redis_sink(&services, &topic, &keyspace, 2));
    let input = cluster.dir.join("input.txt");
    std::fs::write(&input, "one\ntwo\nthree\n").unwrap();
    let input = input.display().to_string();
    let lines = services.new_topic("records-lines", 1).await.unwrap();
    cluster.create(
        1,
        "source",
        &json!({"connector.class": "FileStreamSource", "file": input, "topic": lines}),
    );
    let everyone = cluster.ids(&[0, 1]);
    cluster.wait_running(0, "sink", 2, &everyone, Duration::from_secs(60));
    cluster.wait_running(0, "source", 1, &everyone, Duration::from_secs(60));

    // The source's offset reaches the offsets topic: key [connector, partition], value the
    // offset object (the byte position after the third line).
    let offsets_topic = cluster.key("offset.storage.topic").to_owned();
    let offset_key = json!(["source", {"filename": input}]);
    wait_until_true("the source's offset in the offsets topic", || {
        let records = dump(&services, &offsets_topic, 5);
        for (key, _) in &records {
            let key: Json = serde_json::from_str(key).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(key, offset_key, "an unexpected key in {offsets_topic}");
        }
        records.last().and_then(|(_, v)| v.clone()) == Some(json!({"position": 14}))
    });

    write(&cluster, 1, "PUT", "/connectors/source/pause", 202);
    // Both workers: the one that does not run the task answers from the status topic, so
    // PAUSED has been written there before the resume.
    wait_state(&cluster, 0, "source", 1, "PAUSED");
    wait_state(&cluster, 1, "source", 1, "PAUSED");
    write(&cluster, 0, "PUT", "/connectors/source/resume", 202);
    cluster.wait_running(1, "source", 1, &everyone, Duration::from_secs(30));

    // The config topic: exactly Kafka Connect's keys and value shapes, in its order.
    let configs = dump(&services, cluster.key("config.storage.topic"), 1);
    let keys: Vec<&str> = configs.iter().map(|(k, _)| k.as_str()).collect();
    println!("config topic keys: {keys:?}");
    for key in &keys {
        assert!(
            ["connector-", "task-", "commit-", "target-state-"]
                .iter()
                .any(|p| key.starts_with(p)),
            "an unexpected key {key} in the config topic: {keys:?}"
        );
    }
    let position = |key: &str| keys.iter().position(|k| *k == key).unwrap();
    let connector = last(&configs, "connector-sink").unwrap();
    assert_eq!(fields(connector), ["properties"], "{connector}");
    let props = &connector["properties"];
    assert_eq!(props["connector.class"], "RedisSink", "{connector}");
    assert_eq!(props["tasks.max"], "2", "{connector}");
    assert_eq!(props["redis.keyspace"], json!(keyspace), "{connector}");
    assert!(props.as_object().unwrap().values().all(Json::is_string));
    for task in 0..2 {
        let record = last(&configs, &format!("task-sink-{task}")).unwrap();
        assert_eq!(fields(record), ["properties"], "{record}");
        assert_eq!(record["properties"]["topics"], json!(topic), "{record}");
        assert!(record["properties"]["task.class"].is_string(), "{record}");
        assert!(position(&format!("task-sink-{task}")) < position("commit-sink"));
    }
    assert!(last(&configs, "task-sink-2").is_none(), "{keys:?}");
    assert_eq!(last(&configs, "commit-sink"), Some(&json!({"tasks": 2})));
    assert_eq!(last(&configs, "commit-source"), Some(&json!({"tasks": 1})));
    let source_states: Vec<&Json> = configs
        .iter()
        .filter(|(k, _)| k == "target-state-source")
        .filter_map(|(_, v)| v.as_ref())
        .collect();
    assert!(
        source_states.ends_with(&[
            &json!({"state": "PAUSED", "state.v2": "PAUSED"}),
            &json!({"state": "STARTED", "state.v2": "STARTED"}),
        ]),
        "target-state-source values: {source_states:?}"
    );

    // The status topic: Kafka Connect's status keys, each value exactly state, trace,
    // worker_id and generation.
    let statuses = dump(&services, cluster.key("status.storage.topic"), 2);
    for key in [
        "status-connector-sink",
        "status-connector-source",
        "status-task-sink-0",
        "status-task-sink-1",
        "status-task-source-0",
    ] {
        let status = last(&statuses, key).unwrap_or_else(|| panic!("no {key}: {statuses:?}"));
        assert_eq!(
            fields(status),
            ["generation", "state", "trace", "worker_id"],
            "{key}: {status}"
        );
        assert_eq!(status["state"], "RUNNING", "{key}: {status}");
        assert!(status["trace"].is_null(), "{key}: {status}");
        assert!(status["generation"].is_i64(), "{key}: {status}");
        assert!(
            everyone.contains(status["worker_id"].as_str().unwrap_or_default()),
            "{key}: {status} not from one of {everyone:?}"
        );
    }
    assert!(
        statuses.iter().any(|(k, v)| k == "status-task-source-0"
            && v.as_ref().is_some_and(|v| v["state"] == "PAUSED")),
        "no PAUSED status of the source's task: {statuses:?}"
    );
}

/// Polls `check` every 300 ms for up to 30 s.
fn wait_until_true(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "no {what} within 30 s");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_reads_a_config_topic_written_by_hand() {
    let services = Services::get();
    let mut cluster = Cluster::new("by-hand", &[]);
    let config_topic = cluster.key("config.storage.topic").to_owned();
    services
        .create_topic_with_kafka_python(&config_topic, 1, &[("cleanup.policy", "compact")])
        .unwrap();
    let topic = services.new_topic("by-hand", 1).await.unwrap();
    let output = cluster.dir.join("output.txt");
    let output_path = output.display().to_string();
    // What a Java worker writes for `POST /connectors` of a one-task FileStreamSink: the
    // config, the task's config (the connector's plus task.class), then the commit.
    let config = json!({
        "name": "by-hand",
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "tasks.max": "1",
        "topics": topic,
        "file": output_path,
    });
    let mut task = config.clone();
    task["task.class"] = json!("org.apache.kafka.connect.file.FileStreamSinkTask");
    let lines: Vec<String> = [
        ("connector-by-hand", json!({ "properties": config })),
        ("task-by-hand-0", json!({ "properties": task })),
        ("commit-by-hand", json!({"tasks": 1})),
    ]
    .iter()
    .map(|(key, value)| json!({"key": key, "value": value.to_string()}).to_string())
    .collect();
    services
        .produce_with_kafka_python(&config_topic, &lines.join("\n"))
        .unwrap();

    cluster.add(&services);
    cluster.add(&services);
    let started = Instant::now();
    let everyone = cluster.ids(&[0, 1]);
    cluster.wait_running(1, "by-hand", 1, &everyone, Duration::from_secs(40));
    println!(
        "by-hand RUNNING {:?} after the workers started",
        started.elapsed()
    );
    assert_eq!(
        cluster.workers[0].call("GET", "/connectors", None, 200),
        json!(["by-hand"])
    );

    let records: Vec<String> = (0..20)
        .map(|i| json!({"key": format!("k{i}"), "value": format!("line {i}")}).to_string())
        .collect();
    services
        .produce_with_kafka_python(&topic, &records.join("\n"))
        .unwrap();
    wait_until_true("20 lines in the sink's file", || {
        connect_e2e::lines_of(&output).len() >= 20
    });
    let expected: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
    assert_eq!(connect_e2e::lines_of(&output), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_a_worker_that_runs_tasks_moves_them() {
    let services = Services::get();
    let mut cluster = Cluster::start(&services, "kill-member", 3, &[]);
    let topic = services.new_topic("kill-member", 6).await.unwrap();
    let keyspace = unique_name("kill-member");
    cluster.create(
        0,
        "kill-member",
        &redis_sink(&services, &topic, &keyspace, 6),
    );
    let everyone = cluster.ids(&[0, 1, 2]);
    let (status, _) = cluster.wait_running(0, "kill-member", 6, &everyone, Duration::from_secs(60));
    let victim = cluster.worker_id(2);
    assert!(
        status["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["worker_id"] == json!(victim)),
        "worker 2 runs no task; killing it proves nothing: {status}"
    );

    // Worker 2 joined last: not the leader.
    cluster.workers[2].kill9();
    let killed = Instant::now();
    let survivors = cluster.ids(&[0, 1]);
    let limit = SESSION + Duration::from_secs(10);
    cluster.wait_running(0, "kill-member", 6, &survivors, limit);
    println!(
        "every task RUNNING on the two survivors {:?} after the kill (limit {limit:?})",
        killed.elapsed()
    );
    produce(&services, &topic, 6, 0..300).await;
    wait_for_keys(&services, &keyspace, 300, Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_restart_loses_nothing() {
    const BATCH: usize = 200;
    let services = Services::get();
    let mut cluster = Cluster::start(&services, "rolling", 3, &[]);
    let topic = services.new_topic("rolling", 4).await.unwrap();
    let keyspace = unique_name("rolling");
    cluster.create(0, "rolling", &redis_sink(&services, &topic, &keyspace, 4));
    let everyone = cluster.ids(&[0, 1, 2]);
    cluster.wait_running(0, "rolling", 4, &everyone, Duration::from_secs(60));
    produce(&services, &topic, 4, 0..BATCH).await;

    for worker in 0..3 {
        let restarted = Instant::now();
        cluster.workers[worker].restart_gracefully();
        produce(
            &services,
            &topic,
            4,
            (worker + 1) * BATCH..(worker + 2) * BATCH,
        )
        .await;
        // The statuses read RUNNING before the rebalance too: wait until the new process has
        // started a task of its own (its counters start at zero) and shows it RUNNING.
        let id = cluster.worker_id(worker);
        let deadline = Duration::from_secs(30);
        loop {
            let left = deadline.saturating_sub(restarted.elapsed());
            let (status, _) = cluster.wait_running(worker, "rolling", 4, &everyone, left);
            let started = cluster.workers[worker]
                .scrape()
                .get(STARTUPS, &[])
                .unwrap_or(0.0);
            let runs_one = status["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["worker_id"] == json!(id));
            if started >= 1.0 && runs_one {
                break;
            }
            assert!(
                restarted.elapsed() < deadline,
                "worker {worker} got no task back within {deadline:?}: {status}\n{}",
                cluster.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        println!(
            "worker {worker} restarted, every task RUNNING and one on it {:?} after its SIGTERM",
            restarted.elapsed()
        );
    }
    wait_for_keys(&services, &keyspace, 4 * BATCH, Duration::from_secs(30));
    cluster.wait_running(1, "rolling", 4, &everyone, Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fourth_worker_takes_work_without_restarting_the_rest() {
    let services = Services::get();
    let mut cluster = Cluster::start(&services, "grow", 3, &[]);
    let topic = services.new_topic("grow", 6).await.unwrap();
    let keyspace = unique_name("grow");
    cluster.create(0, "grow", &redis_sink(&services, &topic, &keyspace, 6));
    let three = cluster.ids(&[0, 1, 2]);
    let (before, _) = cluster.wait_running(0, "grow", 6, &three, Duration::from_secs(60));
    let startups = |cluster: &Cluster| -> f64 {
        cluster
            .workers
            .iter()
            .map(|w| w.scrape().get(STARTUPS, &[]).unwrap_or(0.0))
            .sum()
    };
    let startups_before = startups(&cluster);
    let owners = |status: &Json| -> Vec<String> {
        status["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["worker_id"].as_str().unwrap().to_owned())
            .collect()
    };

    cluster.add(&services);
    let added = Instant::now();
    let newcomer = cluster.worker_id(3);
    let four = cluster.ids(&[0, 1, 2, 3]);
    let deadline = Duration::from_secs(30);
    let after = loop {
        let left = deadline.saturating_sub(added.elapsed());
        let (status, _) = cluster.wait_running(0, "grow", 6, &four, left);
        if owners(&status).contains(&newcomer) {
            break status;
        }
        assert!(
            added.elapsed() < deadline,
            "no task on the fourth worker within {deadline:?}: {status}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    println!(
        "a task RUNNING on the fourth worker {:?} after it started",
        added.elapsed()
    );
    let moved = owners(&before)
        .iter()
        .zip(owners(&after))
        .filter(|(b, a)| *b != a)
        .count();
    assert!(
        (1..=2).contains(&moved),
        "{moved} tasks moved: before {before}, after {after}"
    );
    // Only the moved tasks started again: the others kept running where they were.
    assert_eq!(
        startups(&cluster) - startups_before,
        moved as f64,
        "task starts across the four workers; before {before}, after {after}"
    );

    produce(&services, &topic, 6, 0..300).await;
    wait_for_keys(&services, &keyspace, 300, Duration::from_secs(30));
}

/// The counters `c0..c<keys>` under `keyspace:` as redis-cli reads them (0 when absent).
fn counters(services: &Services, keyspace: &str, keys: usize) -> Vec<f64> {
    let names: Vec<String> = (0..keys).map(|k| format!("{keyspace}:c{k}")).collect();
    let mut args = vec!["MGET"];
    args.extend(names.iter().map(String::as_str));
    let out = services.redis_cli(&args).unwrap();
    out.lines()
        .map(|l| l.trim().parse().unwrap_or(0.0))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exactly_once_sink_counts_every_record_once_across_a_kill_and_a_new_worker() {
    const RECORDS: usize = 200_000;
    const KEYS: usize = 100;
    let services = Services::get();
    let mut cluster = Cluster::start(&services, "eos-move", 3, &[]);
    let topic = services.new_topic("eos-move", 4).await.unwrap();
    let keyspace = unique_name("eos-move");
    let mut config = redis_sink(&services, &topic, &keyspace, 4);
    config["redis.type"] = json!("COUNTER");
    config["redis.exactly.once"] = json!("true");
    cluster.create(0, "eos-move", &config);
    let everyone = cluster.ids(&[0, 1, 2]);
    cluster.wait_running(0, "eos-move", 4, &everyone, Duration::from_secs(60));

    // Record i adds 1 to counter c<i % KEYS>: each ends at RECORDS / KEYS exactly.
    let kafka = services.kafka().await.unwrap();
    let records = (0..RECORDS)
        .map(|i| {
            (
                (i % 4) as i32,
                Some(format!("c{}", i % KEYS).into_bytes()),
                Some(b"1".to_vec()),
            )
        })
        .collect();
    services.produce(&kafka, &topic, records).await.unwrap();

    // Mid-run: a worker running tasks is killed and a fourth one joins.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let total: f64 = counters(&services, &keyspace, KEYS).iter().sum();
        if total >= (RECORDS / 10) as f64 {
            assert!(
                total < RECORDS as f64,
                "the sink finished before the kill: make it slower"
            );
            println!("{total} records counted when worker 1 is killed");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sink counted {total} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster.workers[1].kill9();
    cluster.add(&services);

    let expected = (RECORDS / KEYS) as f64;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let values = counters(&services, &keyspace, KEYS);
        assert!(
            values.iter().all(|v| *v <= expected),
            "a record was counted twice: {values:?}"
        );
        if values.iter().all(|v| *v == expected) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every record counted within 180 s: {values:?}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    cluster.wait_running(
        0,
        "eos-move",
        4,
        &cluster.ids(&[0, 2, 3]),
        Duration::from_secs(30),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_source_moved_by_a_kill_delivers_every_entry_and_leaves_none_pending() {
    use redis_source_support::{group_number, read_distinct, source_config, value, xadd};
    const ENTRIES: usize = 50_000;
    const GROUP: &str = "kafka-consumer-group";
    let services = Services::get();
    let redis = services.redis().await.unwrap();
    let stream = unique_name("dist-orders");
    xadd(&redis, &stream, 0..ENTRIES).await;
    let mut cluster = Cluster::start(&services, "stream-move", 3, &[]);
    let config = source_config(
        "RedisStreamSource",
        &services.redis_url,
        &[("redis.stream.name", &stream), ("tasks.max", "2")],
    );
    cluster.create(0, "stream-move", &config);
    let entries_read = || group_number(&services, &stream, GROUP, "entries-read");
    let pending = || group_number(&services, &stream, GROUP, "pending");
    let deadline = Instant::now() + Duration::from_secs(120);
    while entries_read() < ENTRIES / 4 {
        assert!(
            Instant::now() < deadline,
            "a quarter of the entries not read in 120 s\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Kill a worker that runs one of the source's tasks.
    let status = cluster.workers[0].status("stream-move");
    let owner = status["tasks"][0]["worker_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let victim = (0..3).find(|&i| cluster.worker_id(i) == owner).unwrap_or(1);
    let at_kill = entries_read();
    assert!(
        at_kill < ENTRIES,
        "the source finished before the kill; the test proves nothing"
    );
    cluster.workers[victim].kill9();
    let killed = Instant::now();
    println!("{at_kill} of {ENTRIES} entries read when worker {victim} (running task 0) is killed");

    let deadline = Instant::now() + Duration::from_secs(180);
    while !(entries_read() >= ENTRIES && pending() == 0) {
        assert!(
            Instant::now() < deadline,
            "{} read, {} pending 180 s after the kill\n{}",
            entries_read(),
            pending(),
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "every entry read and acknowledged {:?} after the kill",
        killed.elapsed()
    );
    let records = read_distinct(&services, &stream, ENTRIES, Duration::from_secs(120), |r| {
        r.key.clone().unwrap_or_default()
    });
    let numbers: BTreeSet<usize> = records
        .iter()
        .map(|r| {
            value(r)["body"]["n"]
                .as_str()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers.len(), ENTRIES, "every entry is in Kafka");
    println!("{} records in Kafka for {ENTRIES} entries", records.len());
    let survivors: Vec<usize> = (0..3).filter(|&i| i != victim).collect();
    cluster.wait_running(
        survivors[0],
        "stream-move",
        2,
        &cluster.ids(&survivors),
        Duration::from_secs(30),
    );
}
