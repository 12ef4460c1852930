//! Distributed mode: three worker processes with one `group.id` on the real broker form a
//! cluster. Connectors created through any worker run spread over all three, every worker
//! answers reads the same, and the work of a worker killed with SIGKILL moves to the others.
//! Data is read back with redis-cli (the sinks' output) and the internal topics with
//! kafka-python.
//!
//! Small timeouts keep the test short: 6 s sessions, 1 s heartbeats, and no delay before the
//! work of a departed worker is handed out again (`scheduled.rebalance.max.delay.ms=0`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

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
        let mut cluster = Self {
            workers: Vec::new(),
            keys,
            dir: temp_dir(&group),
        };
        for _ in 0..count {
            cluster.add(services);
        }
        cluster
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
