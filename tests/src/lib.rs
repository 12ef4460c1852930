//! The end-to-end test harness: reaches the real Kafka-compatible broker (tansu) and the real
//! redis-server that `scripts/services.sh start` runs on loopback, and reads back what our code
//! wrote with clients we did not write (kafka-python, redis-cli).
//!
//! A test that cannot reach a service fails with a message saying how to start it; nothing
//! here skips.

mod certs;
pub mod hanging_start;
mod in_process_worker;
mod private_kafka;
mod private_redis;
mod scrape;
pub mod secure_kafka;
mod worker_process;

pub use certs::TestCa;
pub use in_process_worker::InProcessWorker;
pub use private_kafka::PrivateKafka;
pub use private_redis::{PrivateRedis, TlsFiles};
pub use scrape::Scrape;
pub use worker_process::{free_port, WorkerProcess};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fred::prelude::{Builder, Client as RedisClient, ClientLike, Config as RedisConfig};
use rskafka::client::{Client as KafkaClient, ClientBuilder};
use rskafka::BackoffConfig;

/// A record to produce: partition, key, value.
pub type PlainRecord = (i32, Option<Vec<u8>>, Option<Vec<u8>>);

/// What went wrong while reaching a service or running an independent client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    #[error(
        "cannot read the services env file {path}: {source}. \
         Start the services first: scripts/services.sh start (scripts/test.sh does it for you)"
    )]
    EnvFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the services env file {path} has no {key}; restart the services with scripts/services.sh start")]
    MissingKey { path: PathBuf, key: &'static str },
    #[error("Kafka at {bootstrap}: {source}")]
    Kafka {
        bootstrap: String,
        source: rskafka::client::error::Error,
    },
    #[error("Redis at {url}: {source}")]
    Redis {
        url: String,
        source: fred::error::Error,
    },
    #[error("running {program}: {detail}")]
    Tool { program: String, detail: String },
}

/// The addresses and helper programs of the running services, as `scripts/services.sh`
/// wrote them to its env file.
#[derive(Debug, Clone)]
pub struct Services {
    /// `host:port` of the Kafka-compatible broker.
    pub kafka_bootstrap: String,
    /// `redis://host:port` of the redis-server.
    pub redis_url: String,
    /// The Python interpreter of the virtualenv that has kafka-python.
    pub kafka_python: PathBuf,
    /// `tests/py/kafka_tool.py`, the kafka-python command-line helper.
    pub kafka_tool: PathBuf,
    /// Debian's `redis-cli`.
    pub redis_cli: PathBuf,
    /// The host and port of the redis-server, for `redis-cli -h -p`.
    pub redis_host: String,
    pub redis_port: u16,
}

impl Services {
    /// The env file written by `scripts/services.sh start`: `$CONNECT_SERVICES_ENV` when set,
    /// else `.services/services.env` at the top of the workspace.
    pub fn env_file() -> PathBuf {
        match std::env::var_os("CONNECT_SERVICES_ENV") {
            Some(path) => PathBuf::from(path),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.services/services.env"),
        }
    }

    /// Reads the services' addresses, panicking with instructions when they are not running.
    pub fn get() -> Self {
        match Self::load(&Self::env_file()) {
            Ok(services) => services,
            Err(e) => panic!("{e}"),
        }
    }

    /// Reads the services' addresses from an env file of `KEY=value` lines.
    pub fn load(path: &Path) -> Result<Self, HarnessError> {
        let text = std::fs::read_to_string(path).map_err(|source| HarnessError::EnvFile {
            path: path.to_owned(),
            source,
        })?;
        let vars: BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let get = |key: &'static str| {
            vars.get(key)
                .map(|v| v.to_string())
                .ok_or_else(|| HarnessError::MissingKey {
                    path: path.to_owned(),
                    key,
                })
        };
        let redis_port = get("REDIS_PORT")?;
        Ok(Self {
            kafka_bootstrap: get("KAFKA_BOOTSTRAP")?,
            redis_url: get("REDIS_URL")?,
            kafka_python: get("KAFKA_PYTHON")?.into(),
            kafka_tool: get("KAFKA_TOOL")?.into(),
            redis_cli: get("REDIS_CLI")?.into(),
            redis_host: get("REDIS_HOST")?,
            redis_port: redis_port.parse().map_err(|_| HarnessError::MissingKey {
                path: path.to_owned(),
                key: "REDIS_PORT (a port number)",
            })?,
        })
    }

    /// A connected rskafka client. Its retries stop after 20 s: rskafka's default backoff
    /// retries forever, which would hang a test instead of failing it.
    pub async fn kafka(&self) -> Result<KafkaClient, HarnessError> {
        ClientBuilder::new(vec![self.kafka_bootstrap.clone()])
            .backoff_config(BackoffConfig {
                deadline: Some(Duration::from_secs(20)),
                max_backoff: Duration::from_secs(1),
                ..BackoffConfig::default()
            })
            .build()
            .await
            .map_err(|source| self.kafka_error(source))
    }

    /// Creates a topic of `partitions` partitions named `prefix` plus a suffix unique to this
    /// run ([`unique_name`]) and returns its name.
    pub async fn new_topic(&self, prefix: &str, partitions: i32) -> Result<String, HarnessError> {
        let kafka = self.kafka().await?;
        self.create_topic(&kafka, &unique_name(prefix), partitions)
            .await
    }

    /// Creates a topic (tansu creates none by itself) and returns its name.
    pub async fn create_topic(
        &self,
        client: &KafkaClient,
        name: &str,
        partitions: i32,
    ) -> Result<String, HarnessError> {
        client
            .controller_client()
            .map_err(|source| self.kafka_error(source))?
            .create_topic(name, partitions, 1, 5_000)
            .await
            .map_err(|source| self.kafka_error(source))?;
        Ok(name.to_owned())
    }

    /// Produces records with rskafka (not through our worker), `(partition, key, value)`,
    /// in requests of a few hundred records; for loads too big for kafka-python to be quick.
    pub async fn produce(
        &self,
        client: &KafkaClient,
        topic: &str,
        records: Vec<PlainRecord>,
    ) -> Result<(), HarnessError> {
        use rskafka::client::partition::{Compression, UnknownTopicHandling};
        use rskafka::record::Record;
        let mut by_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
        let now = chrono::Utc::now();
        for (partition, key, value) in records {
            by_partition.entry(partition).or_default().push(Record {
                key,
                value,
                headers: BTreeMap::new(),
                timestamp: now,
            });
        }
        for (partition, records) in by_partition {
            let producer = client
                .partition_client(topic, partition, UnknownTopicHandling::Retry)
                .await
                .map_err(|source| self.kafka_error(source))?;
            let mut records = records.into_iter().peekable();
            while records.peek().is_some() {
                let chunk: Vec<Record> = records.by_ref().take(500).collect();
                producer
                    .produce(chunk, Compression::NoCompression)
                    .await
                    .map_err(|source| self.kafka_error(source))?;
            }
        }
        Ok(())
    }

    fn kafka_error(&self, source: rskafka::client::error::Error) -> HarnessError {
        HarnessError::Kafka {
            bootstrap: self.kafka_bootstrap.clone(),
            source,
        }
    }

    /// A connected fred client.
    pub async fn redis(&self) -> Result<RedisClient, HarnessError> {
        let redis_error = |source| HarnessError::Redis {
            url: self.redis_url.clone(),
            source,
        };
        let config = RedisConfig::from_url(&self.redis_url).map_err(redis_error)?;
        let client = Builder::from_config(config)
            .with_connection_config(|c| c.connection_timeout = Duration::from_secs(5))
            .build()
            .map_err(redis_error)?;
        client.init().await.map_err(redis_error)?;
        Ok(client)
    }

    /// Runs `redis-cli` against the test server and returns its standard output.
    pub fn redis_cli(&self, args: &[&str]) -> Result<String, HarnessError> {
        let port = self.redis_port.to_string();
        let mut all = vec!["-h", &self.redis_host, "-p", &port];
        all.extend_from_slice(args);
        run_tool(Command::new(&self.redis_cli).args(&all))
    }

    /// Reads `count` records of every partition of `topic` from the earliest offset with
    /// kafka-python. Fails when fewer arrive within `timeout`.
    pub fn consume_with_kafka_python(
        &self,
        topic: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ConsumedRecord>, HarnessError> {
        let out = run_tool(
            Command::new(&self.kafka_python)
                .arg(&self.kafka_tool)
                .args(["consume", "--bootstrap", &self.kafka_bootstrap])
                .args(["--topic", topic])
                .args(["--count", &count.to_string()])
                .args(["--timeout", &timeout.as_secs_f64().to_string()]),
        )?;
        consumed_records(&out)
    }
}

impl Services {
    /// The cluster id the broker reports to kafka-python (`KafkaAdminClient.describe_cluster`).
    pub fn cluster_id_with_kafka_python(&self) -> Result<String, HarnessError> {
        let out = run_tool(
            Command::new(&self.kafka_python)
                .arg(&self.kafka_tool)
                .args(["cluster-id", "--bootstrap", &self.kafka_bootstrap])
                .args(["--timeout", "20"]),
        )?;
        Ok(out.trim().to_owned())
    }
}

/// The records `kafka_tool.py consume` printed, one JSON object a line.
fn consumed_records(out: &str) -> Result<Vec<ConsumedRecord>, HarnessError> {
    out.lines()
        .map(|line| {
            serde_json::from_str(line).map_err(|e| HarnessError::Tool {
                program: "kafka_tool.py consume".into(),
                detail: format!("unparsable output line {line:?}: {e}"),
            })
        })
        .collect()
}

impl Services {
    /// Produces JSON lines (`{"key","value","partition"?,"headers"?}`) with kafka-python,
    /// waiting for every acknowledgement.
    pub fn produce_with_kafka_python(&self, topic: &str, lines: &str) -> Result<(), HarnessError> {
        use std::io::Write;
        use std::process::Stdio;
        let program = "kafka_tool.py produce".to_owned();
        let tool_error = |detail: String| HarnessError::Tool {
            program: program.clone(),
            detail,
        };
        let mut child = Command::new(&self.kafka_python)
            .arg(&self.kafka_tool)
            .args([
                "produce",
                "--bootstrap",
                &self.kafka_bootstrap,
                "--topic",
                topic,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| tool_error(e.to_string()))?;
        child
            .stdin
            .take()
            .ok_or_else(|| tool_error("no stdin".into()))?
            .write_all(lines.as_bytes())
            .map_err(|e| tool_error(e.to_string()))?;
        let output = child
            .wait_with_output()
            .map_err(|e| tool_error(e.to_string()))?;
        if !output.status.success() {
            return Err(tool_error(format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(())
    }
}

/// A consumer group's committed offsets of some partitions, as kafka-python reads them
/// (`kafka_tool.py group-offsets`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GroupOffsets {
    /// `KafkaAdminClient.list_consumer_group_offsets(group, partitions=...)`, by partition:
    /// -1 where the group has no offset.
    pub admin: BTreeMap<i32, i64>,
    /// `KafkaConsumer(group_id=group).committed(...)`, by partition: `None` where the group
    /// has no offset.
    pub consumer: BTreeMap<i32, Option<i64>>,
}

/// `kafka_tool.py group-offsets`'s arguments after the bootstrap and security options.
fn group_offsets_args(group: &str, topic: &str, partitions: &[i32]) -> Vec<String> {
    let partitions: Vec<String> = partitions.iter().map(i32::to_string).collect();
    vec![
        "--group".into(),
        group.into(),
        "--topic".into(),
        topic.into(),
        "--partitions".into(),
        partitions.join(","),
        "--timeout".into(),
        "20".into(),
    ]
}

fn parse_tool_json<T: serde::de::DeserializeOwned>(
    command: &str,
    out: &str,
) -> Result<T, HarnessError> {
    serde_json::from_str(out.trim()).map_err(|e| HarnessError::Tool {
        program: format!("kafka_tool.py {command}"),
        detail: format!("unparsable output {out:?}: {e}"),
    })
}

impl Services {
    fn kafka_tool_command(&self, command: &str) -> Command {
        let mut cmd = Command::new(&self.kafka_python);
        cmd.arg(&self.kafka_tool)
            .arg(command)
            .args(["--bootstrap", &self.kafka_bootstrap]);
        cmd
    }

    /// `group`'s committed offsets of `partitions` of `topic`, as kafka-python's admin client
    /// and consumer read them.
    pub fn group_offsets_with_kafka_python(
        &self,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<GroupOffsets, HarnessError> {
        let out = run_tool(
            self.kafka_tool_command("group-offsets")
                .args(group_offsets_args(group, topic, partitions)),
        )?;
        parse_tool_json("group-offsets", &out)
    }

    /// Commits `(partition, offset)`s of `topic` to `group` with kafka-python, as a consumer
    /// outside the group's membership (as a Java worker's sink tasks commit).
    pub fn commit_offsets_with_kafka_python(
        &self,
        group: &str,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> Result<(), HarnessError> {
        let offsets: Vec<String> = offsets.iter().map(|(p, o)| format!("{p}={o}")).collect();
        run_tool(
            self.kafka_tool_command("commit-offsets")
                .args(["--group", group, "--topic", topic])
                .args(["--offsets", &offsets.join(",")])
                .args(["--timeout", "20"]),
        )?;
        Ok(())
    }

    /// Every partition's earliest and latest offset of `topic`, as kafka-python's
    /// `beginning_offsets` and `end_offsets` (ListOffsets) report them.
    pub fn end_offsets_with_kafka_python(&self, topic: &str) -> Result<EndOffsets, HarnessError> {
        let out = run_tool(self.kafka_tool_command("end-offsets").args([
            "--topic",
            topic,
            "--timeout",
            "20",
        ]))?;
        parse_tool_json("end-offsets", &out)
    }
}

/// A consumer group as kafka-python's admin client describes it
/// (`kafka_tool.py describe-group`, DescribeGroups).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GroupDescription {
    /// `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Empty` or `Dead`.
    pub state: String,
    pub protocol_type: String,
    /// The protocol the group runs.
    pub protocol: String,
    /// In member id order.
    pub members: Vec<GroupMemberDescription>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GroupMemberDescription {
    pub member_id: String,
    /// The metadata the member joined with, base64 of the exact bytes.
    pub metadata_b64: Option<String>,
    /// The assignment the leader gave the member, base64 of the exact bytes.
    pub assignment_b64: Option<String>,
}

impl Services {
    /// `group` as kafka-python's admin client describes it.
    pub fn describe_group_with_kafka_python(
        &self,
        group: &str,
    ) -> Result<GroupDescription, HarnessError> {
        let out = run_tool(self.kafka_tool_command("describe-group").args([
            "--group",
            group,
            "--timeout",
            "20",
        ]))?;
        parse_tool_json("describe-group", &out)
    }
}

impl Services {
    /// The end offsets (high watermarks) of partitions `0..partitions` of `topic`, as
    /// kafka-python's fetches report them: the test broker's ListOffsets, which
    /// [`end_offsets_with_kafka_python`](Self::end_offsets_with_kafka_python) asks, is wrong
    /// for a partition whose last batch holds more than one record (docs/testing.md).
    pub fn high_watermarks_with_kafka_python(
        &self,
        topic: &str,
        partitions: i32,
    ) -> Result<Vec<i64>, HarnessError> {
        let out = run_tool(
            self.kafka_tool_command("high-watermarks")
                .args(["--topic", topic])
                .args(["--partitions", &partitions.to_string()])
                .args(["--timeout", "20"]),
        )?;
        let mut ends: BTreeMap<i32, i64> = parse_tool_json("high-watermarks", &out)?;
        (0..partitions)
            .map(|p| {
                ends.remove(&p).ok_or_else(|| HarnessError::Tool {
                    program: "kafka_tool.py high-watermarks".into(),
                    detail: format!("no partition {p} in {out:?}"),
                })
            })
            .collect()
    }
}

impl Services {
    /// Creates `topic` with kafka-python's admin client (replication factor 1) and these
    /// topic configs (`("cleanup.policy", "delete")`, ...): a topic made as a user's tools
    /// make it.
    pub fn create_topic_with_kafka_python(
        &self,
        topic: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), HarnessError> {
        let mut command = self.kafka_tool_command("create-topic");
        command
            .args(["--topic", topic])
            .args(["--partitions", &partitions.to_string()])
            .args(["--timeout", "20"]);
        for (key, value) in configs {
            command.args(["--config", &format!("{key}={value}")]);
        }
        run_tool(&mut command).map(|_| ())
    }

    /// `topic`'s partitions and configs as kafka-python's admin client describes them.
    pub fn describe_topic_with_kafka_python(
        &self,
        topic: &str,
    ) -> Result<TopicDescription, HarnessError> {
        let out = run_tool(self.kafka_tool_command("describe-topic").args([
            "--topic",
            topic,
            "--timeout",
            "20",
        ]))?;
        parse_tool_json("describe-topic", &out)
    }
}

/// A topic as kafka-python's admin client describes it (`kafka_tool.py describe-topic`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct TopicDescription {
    /// Its partitions, sorted.
    pub partitions: Vec<i32>,
    /// Its configs (DescribeConfigs); `None` when the broker answered with an error. The
    /// test broker lists only the configs the topic was created with.
    pub configs: Option<BTreeMap<String, String>>,
}

/// A topic's partitions' earliest and latest offsets, as kafka-python reads them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct EndOffsets {
    pub earliest: BTreeMap<i32, i64>,
    pub latest: BTreeMap<i32, i64>,
}

/// A record as kafka-python read it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ConsumedRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    /// The key as text; `None` when absent or not UTF-8 (then see `key_b64`).
    pub key: Option<String>,
    /// The value as text; `None` when absent (a tombstone) or not UTF-8.
    pub value: Option<String>,
    pub key_b64: Option<String>,
    pub value_b64: Option<String>,
    pub headers: BTreeMap<String, Option<String>>,
}

fn run_tool(command: &mut Command) -> Result<String, HarnessError> {
    let program = format!("{command:?}");
    let output = command.output().map_err(|e| HarnessError::Tool {
        program: program.clone(),
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(HarnessError::Tool {
            program,
            detail: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    String::from_utf8(output.stdout).map_err(|e| HarnessError::Tool {
        program,
        detail: format!("output is not UTF-8: {e}"),
    })
}

/// The commit a worker built from this checkout reports as `commit` in `GET /`: `git
/// rev-parse HEAD` of the checkout, or `unknown` when the sources are not in one (the same
/// rule as connect-worker's build script).
pub fn checkout_commit() -> String {
    let worker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connect-worker");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&worker)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    match git(&["ls-files", "--error-unmatch", "Cargo.toml"]) {
        Some(_) => git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned()),
        None => "unknown".to_owned(),
    }
}

/// The lines of a text file (a FileStreamSink's output), none while it does not exist.
pub fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A new directory, named after `prefix` and unique to this run, under this test process's
/// own folder of the system's temporary directory (`<tmp>/connect-e2e/<pid>/`; see
/// [`run_folder`] for when it goes away).
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = run_folder().join(unique_name(prefix));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}

/// How long the folder of a finished test process is kept, for a look at a failed run's
/// logs and state files.
const KEEP_FINISHED_RUNS: Duration = Duration::from_secs(3600);

/// This test process's folder for temporary directories, `<tmp>/connect-e2e/<pid>`. The tests
/// cannot remove their directories themselves (the worker processes they start outlive many
/// of the `temp_dir` calls' scopes), so the first call removes the folders of earlier test
/// processes instead: those whose process is gone and which nothing was added to for
/// [`KEEP_FINISHED_RUNS`].
fn run_folder() -> &'static Path {
    static FOLDER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FOLDER.get_or_init(|| {
        let base = std::env::temp_dir().join("connect-e2e");
        remove_finished_runs(&base);
        base.join(std::process::id().to_string())
    })
}

fn remove_finished_runs(base: &Path) {
    let Ok(folders) = std::fs::read_dir(base) else {
        return;
    };
    for folder in folders.flatten() {
        let running = folder
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
            .is_some_and(|pid| Path::new("/proc").join(pid.to_string()).exists());
        let idle_long_enough = folder
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|idle| idle >= KEEP_FINISHED_RUNS);
        if !running && idle_long_enough {
            // Best effort: another test process may be removing it at the same time.
            let _ = std::fs::remove_dir_all(folder.path());
        }
    }
}

/// Polls `check` every 100 ms until it returns true; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A name no other test of this run uses, for topics and keys: tests share one broker and one
/// Redis, and run in parallel.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_env_file_says_how_to_start_the_services() {
        let err = Services::load(Path::new("/nonexistent/services.env")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("scripts/services.sh start"), "{msg}");
    }

    #[test]
    fn only_the_folders_of_finished_idle_runs_are_removed() {
        let base = std::env::temp_dir().join(unique_name("run-folders"));
        let idle = std::time::SystemTime::now() - KEEP_FINISHED_RUNS - Duration::from_secs(60);
        let folder = |name: &str, modified: Option<std::time::SystemTime>| {
            let dir = base.join(name);
            std::fs::create_dir_all(dir.join("worker")).unwrap();
            if let Some(t) = modified {
                std::fs::File::open(&dir).unwrap().set_modified(t).unwrap();
            }
            dir
        };
        // No process has pid u32::MAX (Linux pids stay below 2^22).
        let finished_idle = folder(&u32::MAX.to_string(), Some(idle));
        let finished_recent = folder(&(u32::MAX - 1).to_string(), None);
        let running_idle = folder(&std::process::id().to_string(), Some(idle));

        remove_finished_runs(&base);
        let left = (
            finished_idle.exists(),
            finished_recent.exists(),
            running_idle.exists(),
        );
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!(
            left,
            (false, true, true),
            "(finished and idle, finished an instant ago, still running) should be (removed, kept, kept)"
        );
    }

    #[test]
    fn a_missing_key_is_named() {
        let dir = std::env::temp_dir().join(unique_name("harness-env"));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("services.env");
        std::fs::write(&file, "KAFKA_BOOTSTRAP=127.0.0.1:1\n").unwrap();
        let msg = Services::load(&file).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(msg.contains("REDIS_PORT"), "{msg}");
    }
}
