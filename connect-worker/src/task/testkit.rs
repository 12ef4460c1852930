//! What the unit tests of the task loops and the herder run on, without a broker: the
//! in-memory Kafka (`kafka::memory`), the real offset store in a directory of the test's own,
//! and connectors whose tasks do what a test scripts and note what the worker tells them.
//!
//! A test's connector finds its [`Probe`] by the connector's name ([`probe`]), so each test
//! names its connector uniquely.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::watch;

use connect_core::config::Props;
use connect_core::connector::{
    Connector, ConnectorContext, Offsets, RecordMetadata, SinkConnector, SinkTask, SinkTaskContext,
    SourceConnector, SourceTask, SourceTaskContext,
};
use connect_core::data::Value;
use connect_core::plugin::{PluginDescriptor, Plugins};
use connect_core::record::{ConnectRecord, SinkRecord, SourceMap, SourceRecord, TopicPartition};
use connect_core::ConnectError;

use super::{ActiveTopics, Retries, TaskEnv, TaskId, TaskTarget};
use crate::config::WorkerConfig;
use crate::kafka::memory::MemoryKafka;
use crate::metrics::WorkerMetrics;
use crate::status::{SharedStatus, State};
use crate::store::{FileOffsetStore, OffsetStore};

/// The class names of the scripted connectors.
pub(crate) const SOURCE_CLASS: &str = "ScriptedSource";
pub(crate) const SINK_CLASS: &str = "RecordingSink";

/// What a test scripts for its connector's tasks and what they were told.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    /// What the tasks were told, in order.
    calls: Mutex<Vec<String>>,
    /// Source tasks: what the next polls return, in order (then empty batches).
    polls: Mutex<VecDeque<Result<Vec<SourceRecord>, ConnectError>>>,
    /// Sink tasks: how far below each offset it is given `pre_commit` answers (records the
    /// task has not made durable yet).
    held_back: Mutex<i64>,
    pub connector_starts: AtomicUsize,
    pub task_starts: AtomicUsize,
}

impl Probe {
    fn note(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    /// What the tasks were told so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// The next poll returns `result`.
    pub fn then_poll(&self, result: Result<Vec<SourceRecord>, ConnectError>) {
        self.polls.lock().unwrap().push_back(result);
    }

    /// `pre_commit` answers each offset minus `records`.
    pub fn hold_back(&self, records: i64) {
        *self.held_back.lock().unwrap() = records;
    }

    /// Waits until a call satisfies `done`; panics with the calls after `limit`.
    pub async fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let calls = self.calls();
            if done(&calls) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {limit:?}; calls: {calls:#?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

static PROBES: LazyLock<Mutex<BTreeMap<String, Arc<Probe>>>> = LazyLock::new(Mutex::default);

/// The probe of the connector named `connector` (made on first use).
pub(crate) fn probe(connector: &str) -> Arc<Probe> {
    Arc::clone(
        PROBES
            .lock()
            .unwrap()
            .entry(connector.to_owned())
            .or_default(),
    )
}

/// The source partition of the scripted records.
pub(crate) fn source_partition() -> SourceMap {
    let mut partition = SourceMap::new();
    partition.insert("file".into(), "a".into());
    partition
}

/// A source record numbered `seq` (its source offset) for topic `topic`, with `value`.
pub(crate) fn source_record(topic: &str, seq: u64, value: impl Into<Value>) -> SourceRecord {
    let mut offset = SourceMap::new();
    offset.insert("seq".into(), seq.into());
    SourceRecord::new(source_partition(), offset, ConnectRecord::new(topic, value))
}

fn seq(record: &SourceRecord) -> u64 {
    record.source_offset["seq"].as_u64().unwrap()
}

/// A source connector whose one task polls what its probe scripts.
#[derive(Debug)]
pub(crate) struct ScriptedSource;

#[async_trait]
impl Connector for ScriptedSource {
    type Config = ();
    const VERSION: &'static str = "test";

    async fn start(_: (), ctx: ConnectorContext) -> Result<Self, ConnectError> {
        probe(ctx.name())
            .connector_starts
            .fetch_add(1, Ordering::SeqCst);
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(vec![Props::new(); max_tasks.min(1)])
    }
}

impl SourceConnector for ScriptedSource {
    type Task = ScriptedSourceTask;
}

/// Polls what the probe scripts; notes `record <seq> at <topic>-<partition>@<offset>`,
/// `dropped <seq>` and `commit (stored seq <what the offset store holds then>)`.
pub(crate) struct ScriptedSourceTask {
    probe: Arc<Probe>,
    ctx: Arc<dyn SourceTaskContext>,
}

impl std::fmt::Debug for ScriptedSourceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedSourceTask").finish_non_exhaustive()
    }
}

#[async_trait]
impl SourceTask for ScriptedSourceTask {
    type Config = ();

    async fn start(_: (), ctx: Arc<dyn SourceTaskContext>) -> Result<Self, ConnectError> {
        let probe = probe(&ctx.task().connector);
        probe.task_starts.fetch_add(1, Ordering::SeqCst);
        Ok(Self { probe, ctx })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let next = self.probe.polls.lock().unwrap().pop_front();
        match next {
            Some(result) => result,
            None => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok(Vec::new())
            }
        }
    }

    fn commit_record(&mut self, record: &SourceRecord, metadata: &RecordMetadata) {
        self.probe.note(format!(
            "record {} at {}-{}@{}",
            seq(record),
            metadata.topic,
            metadata.partition,
            metadata.offset
        ));
    }

    fn commit_dropped(&mut self, record: &SourceRecord) {
        self.probe.note(format!("dropped {}", seq(record)));
    }

    async fn commit(&mut self) -> Result<(), ConnectError> {
        let stored = self
            .ctx
            .offset(&source_partition())
            .and_then(|o| o.get("seq").and_then(|s| s.as_u64()));
        self.probe.note(format!("commit (stored seq {stored:?})"));
        Ok(())
    }
}

/// A sink connector whose tasks note what they are given.
#[derive(Debug)]
pub(crate) struct RecordingSink;

#[async_trait]
impl Connector for RecordingSink {
    type Config = ();
    const VERSION: &'static str = "test";

    async fn start(_: (), ctx: ConnectorContext) -> Result<Self, ConnectError> {
        probe(ctx.name())
            .connector_starts
            .fetch_add(1, Ordering::SeqCst);
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(vec![Props::new(); max_tasks])
    }
}

impl SinkConnector for RecordingSink {
    type Task = RecordingSinkTask;
}

/// Notes `open [..]`, `put <topic>-<partition>@<offset> <value>` (one per record),
/// `pre_commit {..}` and `close [..]`.
#[derive(Debug)]
pub(crate) struct RecordingSinkTask {
    probe: Arc<Probe>,
}

fn list(partitions: &[TopicPartition]) -> String {
    let names: Vec<String> = partitions.iter().map(ToString::to_string).collect();
    format!("[{}]", names.join(", "))
}

#[async_trait]
impl SinkTask for RecordingSinkTask {
    type Config = ();

    async fn start(_: (), ctx: Arc<dyn SinkTaskContext>) -> Result<Self, ConnectError> {
        let probe = probe(&ctx.task().connector);
        probe.task_starts.fetch_add(1, Ordering::SeqCst);
        Ok(Self { probe })
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        self.probe.note(format!("open {}", list(partitions)));
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        for record in records {
            let value = match &record.record.value {
                Value::String(s) => s.to_string(),
                other => format!("{other:?}"),
            };
            self.probe.note(format!(
                "put {}@{} {value}",
                record.original, record.original_offset
            ));
        }
        Ok(())
    }

    async fn pre_commit(&mut self, offsets: Offsets) -> Result<Offsets, ConnectError> {
        let held_back = *self.probe.held_back.lock().unwrap();
        let safe: Offsets = offsets
            .into_iter()
            .map(|(p, o)| (p, (o - held_back).max(0)))
            .collect();
        let listed: Vec<String> = safe.iter().map(|(p, o)| format!("{p}={o}")).collect();
        self.probe
            .note(format!("pre_commit {{{}}}", listed.join(", ")));
        Ok(safe)
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        self.probe.note(format!("close {}", list(partitions)));
        Ok(())
    }
}

/// The plugins of the tests: Kafka's converters and transforms, and the scripted connectors.
pub(crate) fn plugins() -> Arc<Plugins> {
    let mut plugins = connect_core::builtin_plugins();
    plugins.add(PluginDescriptor::source::<ScriptedSource>(SOURCE_CLASS));
    plugins.add(PluginDescriptor::sink::<RecordingSink>(SINK_CLASS));
    Arc::new(plugins)
}

/// A directory of the test's own, removed when dropped.
#[derive(Debug)]
pub(crate) struct TestDir(pub PathBuf);

impl TestDir {
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("connect-worker-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A worker configuration in `dir`, flushing offsets every 50 ms, stopping tasks within 5 s.
pub(crate) fn worker_config(dir: &TestDir) -> Arc<WorkerConfig> {
    let props = Props::from([
        (
            "offset.storage.file.filename".to_owned(),
            dir.0.join("offsets.json").display().to_string(),
        ),
        (
            "config.storage.file.filename".to_owned(),
            dir.0.join("configs.json").display().to_string(),
        ),
        ("offset.flush.interval.ms".to_owned(), "50".to_owned()),
        (
            "task.shutdown.graceful.timeout.ms".to_owned(),
            "5000".to_owned(),
        ),
        ("listeners".to_owned(), "http://127.0.0.1:0".to_owned()),
    ]);
    Arc::new(WorkerConfig::parse(props, []).unwrap())
}

/// One task of a connector over the in-memory Kafka, driven by the test.
pub(crate) struct TaskHarness {
    pub kafka: Arc<MemoryKafka>,
    pub offsets: Arc<FileOffsetStore>,
    pub status: SharedStatus,
    pub target: watch::Sender<TaskTarget>,
    pub metrics: Arc<WorkerMetrics>,
    pub env: TaskEnv,
    _dir: TestDir,
}

impl TaskHarness {
    /// Task 0 of connector `name` of `class`, configured with `props` (besides `name`,
    /// `connector.class` and `tasks.max=1`), over an empty in-memory Kafka.
    pub fn new(name: &str, class: &str, props: &[(&str, &str)]) -> Self {
        let dir = TestDir::new(name);
        let worker = worker_config(&dir);
        let plugins = plugins();
        let mut connector_props = Props::from([
            ("name".to_owned(), name.to_owned()),
            ("connector.class".to_owned(), class.to_owned()),
            ("tasks.max".to_owned(), "1".to_owned()),
        ]);
        connector_props.extend(
            props
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let connector = crate::connector_config::check(&connector_props, &plugins).unwrap();
        let offsets = Arc::new(FileOffsetStore::open(&worker.offsets_file, "test").unwrap());
        let kafka = MemoryKafka::new();
        let status = SharedStatus::new(State::Unassigned);
        let (target, target_rx) = watch::channel(TaskTarget::Run);
        let metrics = Arc::new(WorkerMetrics::new());
        let id = TaskId {
            connector: name.to_owned(),
            task: 0,
        };
        let env = TaskEnv {
            retries: Retries::new(&id),
            id,
            task_count: 1,
            connector: Arc::new(connector),
            task_props: connector_props,
            plugins,
            worker,
            kafka: Arc::clone(&kafka) as _,
            producer: Arc::clone(&kafka) as _,
            offsets: Arc::clone(&offsets) as Arc<dyn OffsetStore>,
            status: status.clone(),
            target: target_rx,
            active_topics: ActiveTopics::default(),
            metrics: Arc::clone(&metrics),
        };
        Self {
            kafka,
            offsets,
            status,
            target,
            metrics,
            env,
            _dir: dir,
        }
    }

    /// Waits until the task is in `state`; panics after `limit`.
    pub async fn wait_for_state(&self, state: State, limit: Duration) {
        wait_for_status(&self.status, state, limit).await;
    }

    /// The value of the task's metric whose name contains `name` (0 when it has none).
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.metrics.render(&[], None);
        let connector = format!("connector=\"{}\"", self.env.id.connector);
        text.lines()
            .filter(|l| !l.starts_with('#') && l.contains(name) && l.contains(&connector))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// Waits until `status` is `state`; panics with the status after `limit`.
pub(crate) async fn wait_for_status(status: &SharedStatus, state: State, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let now = status.get();
        if now.state == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not {state:?} within {limit:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for a task loop to end after it was told to stop; panics after `limit`.
pub(crate) async fn wait_for_end(loop_task: tokio::task::JoinHandle<()>, limit: Duration) {
    tokio::time::timeout(limit, loop_task)
        .await
        .expect("the task loop ends once stopped")
        .expect("the task loop does not panic");
}
