//! What the Redis source tests share: configs, waiting, writing to Redis fast, reading a topic
//! back with kafka-python until every expected record is there.

#![allow(dead_code)] // each test file uses its own subset

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use connect_e2e::{free_port, ConsumedRecord, Services, WorkerProcess};
use fred::prelude::{Client, ClientLike};
use fred::types::{ClusterHash, CustomCommand, Value as Reply};
use serde_json::{json, Value as Json};

pub const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

pub use connect_e2e::temp_dir;

/// A source connector config: string keys, schemaless JSON values, one task.
pub fn source_config(class: &str, redis_url: &str, extra: &[(&str, &str)]) -> Json {
    let mut config = json!({
        "connector.class": class,
        "tasks.max": "1",
        "redis.uri": redis_url,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    config
}

pub fn cli(services: &Services, args: &[&str]) -> String {
    services.redis_cli(args).unwrap().trim().to_owned()
}

pub use connect_e2e::wait_until;

/// Sends `commands` (each a command and its arguments) in pipelines of 1000.
pub async fn pipelined(redis: &Client, commands: impl IntoIterator<Item = Vec<String>>) {
    let mut commands = commands.into_iter().peekable();
    while commands.peek().is_some() {
        let pipe = redis.pipeline();
        for mut args in commands.by_ref().take(1000) {
            let name = args.remove(0);
            let cmd = CustomCommand::new(name, ClusterHash::FirstKey, false);
            let _: () = pipe.custom(cmd, args).await.unwrap();
        }
        let replies: Vec<Reply> = pipe.all().await.unwrap();
        if let Some(e) = replies
            .iter()
            .find(|r| matches!(r, Reply::String(s) if s.starts_with("ERR")))
        {
            panic!("a pipelined command failed: {e:?}");
        }
    }
}

/// `XADD stream * n <i>` for every i of `range`.
pub async fn xadd(redis: &Client, stream: &str, range: std::ops::Range<usize>) {
    pipelined(
        redis,
        range.map(|i| {
            vec![
                "XADD".into(),
                stream.into(),
                "*".into(),
                "n".into(),
                i.to_string(),
            ]
        }),
    )
    .await;
}

/// A number of `XINFO GROUPS` for `group` (e.g. `pending`, `entries-read`); 0 when missing.
pub fn group_number(services: &Services, stream: &str, group: &str, field: &str) -> usize {
    // redis-cli prints the groups' fields as name and value lines, group after group.
    let out = services
        .redis_cli(&["XINFO", "GROUPS", stream])
        .unwrap_or_default();
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let mut current = "";
    for pair in lines.chunks(2) {
        let [k, v] = pair else { break };
        if *k == "name" {
            current = v;
        } else if current == group && *k == field {
            return v.parse().unwrap_or(0);
        }
    }
    0
}

/// Reads `topic` with kafka-python until `expected` distinct records (by `id_of`) are there;
/// returns every record read (duplicates included).
pub fn read_distinct(
    services: &Services,
    topic: &str,
    expected: usize,
    timeout: Duration,
    id_of: impl Fn(&ConsumedRecord) -> String,
) -> Vec<ConsumedRecord> {
    let deadline = Instant::now() + timeout;
    let mut want = expected;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let records =
            match services.consume_with_kafka_python(topic, want, left.max(Duration::from_secs(1)))
            {
                Ok(records) => records,
                // A topic created a moment ago can trip kafka-python up; try again.
                Err(e) if Instant::now() + Duration::from_secs(1) < deadline => {
                    eprintln!("reading {topic}: {e}; trying again");
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
                Err(e) => panic!("reading {topic}: {e}"),
            };
        let distinct: std::collections::HashSet<String> = records.iter().map(&id_of).collect();
        if distinct.len() >= expected {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} has {} distinct records of {expected}",
            distinct.len()
        );
        // Duplicates took places: ask for that many more.
        want = records.len() + (expected - distinct.len());
    }
}

/// The value of the task metric `name` of `connector` (summed over its tasks) at
/// `GET /metrics`; `None` when it is not there.
pub fn metric(worker: &WorkerProcess, name: &str, connector: &str) -> Option<f64> {
    let (_, text) = worker.request("GET", "/metrics", None).ok()?;
    let label = format!("connector=\"{connector}\"");
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// The value of a record as JSON.
pub fn value(record: &ConsumedRecord) -> Json {
    serde_json::from_str(record.value.as_deref().unwrap_or("null")).unwrap()
}

/// A tansu broker of a test's own (to freeze it without disturbing the other tests); killed
/// when dropped.
pub struct PrivateBroker {
    child: Child,
    pub bootstrap: String,
}

impl PrivateBroker {
    pub fn start() -> Self {
        let env = std::fs::read_to_string(Services::env_file()).unwrap();
        let tansu = env
            .lines()
            .find_map(|l| l.strip_prefix("TANSU_BIN="))
            .expect("TANSU_BIN in the services env file")
            .to_owned();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu)
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the private broker did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
        }
    }

    /// SIGSTOP: the broker keeps its connections open and answers nothing.
    pub fn freeze(&self) {
        signal(self.child.id(), "-STOP");
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        signal(self.child.id(), "-CONT");
    }

    /// The shared services with this broker instead of the shared one.
    pub fn services(&self, services: &Services) -> Services {
        Services {
            kafka_bootstrap: self.bootstrap.clone(),
            ..services.clone()
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid} failed");
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        // No assertion here: a panic while unwinding would abort the test run.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
