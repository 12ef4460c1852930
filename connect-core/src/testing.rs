//! A test kit for connector authors: task contexts that record what a task asks of the worker,
//! functions that start a task the way the worker does, a [`Pipeline`] that runs records
//! through a connector's real converters and transforms in memory, and a check that a
//! configuration's declared defaults are the values its struct gets.
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use connect_core::config::{Config, ConfigKey, ConfigReader, ConfigType, props};
//! use connect_core::connector::{SinkTask, SinkTaskContext};
//! use connect_core::record::{ConnectRecord, SinkRecord, TopicPartition};
//! use connect_core::testing::{self, TestSinkContext};
//! use connect_core::ConnectError;
//!
//! struct Settings { resume_at: i64 }
//! impl Config for Settings {
//!     fn read(c: &mut ConfigReader<'_>) -> Self {
//!         Self { resume_at: c.long(ConfigKey::new("resume.at", ConfigType::Long).default_value("0")) }
//!     }
//! }
//!
//! struct Seeker { ctx: Arc<dyn SinkTaskContext>, resume_at: i64 }
//! #[async_trait]
//! impl SinkTask for Seeker {
//!     type Config = Settings;
//!     async fn start(config: Settings, ctx: Arc<dyn SinkTaskContext>) -> Result<Self, ConnectError> {
//!         Ok(Self { ctx, resume_at: config.resume_at })
//!     }
//!     async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
//!         for p in partitions {
//!             self.ctx.offset(p, self.resume_at);
//!         }
//!         Ok(())
//!     }
//!     async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
//!         let reporter = self.ctx.errant_record_reporter().expect("the kit offers one");
//!         for r in records.iter().filter(|r| r.value.is_null()) {
//!             reporter.report(r, &ConnectError::fatal("no value")).await?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let ctx = TestSinkContext::new();
//! let mut task: Seeker = testing::start_sink_task(&props(&[("resume.at", "42")]), &ctx)
//!     .await
//!     .unwrap();
//! let orders = TopicPartition::new("orders", 0);
//! task.open(&[orders.clone()]).await.unwrap();
//! assert_eq!(ctx.seeks(), [(orders, 42)]);
//! let null = SinkRecord::new("orders".into(), 0, 42, ConnectRecord::new("orders", connect_core::data::Value::Null));
//! task.put(&[null]).await.unwrap();
//! assert_eq!(ctx.errant_records()[0].1, "no value");
//! # });
//! ```

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use bytes::Bytes;

use crate::config::{strip_prefix, Config, ConfigDef, DefaultValue, Props};
use crate::connector::{
    ErrantRecordReporter, SinkTask, SinkTaskContext, SourceTask, SourceTaskContext, TaskIdentity,
};
use crate::converter::{headers_from_kafka, headers_to_kafka, Converter};
use crate::error::ConnectError;
use crate::metrics::{Counter, Gauge};
use crate::plugin::Plugins;
use crate::record::{ConnectRecord, SinkRecord, SourceMap, SourceRecord, TopicPartition};
use crate::transforms::{Outcome, TransformChain};

/// Locks a recorder; a test that panicked while holding it has failed already.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The counters and gauges a task asked for, by name, readable by the test.
#[derive(Default)]
struct Metrics {
    counters: Mutex<BTreeMap<String, Counter>>,
    gauges: Mutex<BTreeMap<String, Gauge>>,
}

impl Metrics {
    fn counter(&self, name: &str) -> Counter {
        lock(&self.counters)
            .entry(name.to_owned())
            .or_insert_with(Counter::detached)
            .clone()
    }

    fn gauge(&self, name: &str) -> Gauge {
        lock(&self.gauges)
            .entry(name.to_owned())
            .or_insert_with(Gauge::detached)
            .clone()
    }

    fn counter_value(&self, name: &str) -> Option<u64> {
        lock(&self.counters).get(name).map(Counter::get)
    }

    fn gauge_value(&self, name: &str) -> Option<i64> {
        lock(&self.gauges).get(name).map(Gauge::get)
    }
}

/// A source task's context: stored offsets given up front, metrics readable afterwards.
pub struct TestSourceContext {
    task: TaskIdentity,
    config: Props,
    offsets: Mutex<Vec<(SourceMap, SourceMap)>>,
    metrics: Metrics,
}

impl Debug for TestSourceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSourceContext")
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

impl Default for TestSourceContext {
    fn default() -> Self {
        Self {
            task: TaskIdentity::new("test", 0, 1),
            config: Props::new(),
            offsets: Mutex::default(),
            metrics: Metrics::default(),
        }
    }
}

impl TestSourceContext {
    /// Task 0 of 1 of connector `test`, with no stored offsets.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A context for task `task` (connector name, number and count).
    pub fn for_task(task: TaskIdentity) -> Arc<Self> {
        Arc::new(Self {
            task,
            ..Self::default()
        })
    }

    /// Stores `offset` as the last committed offset of source partition `partition`.
    pub fn store_offset(&self, partition: SourceMap, offset: SourceMap) {
        let mut offsets = lock(&self.offsets);
        offsets.retain(|(p, _)| *p != partition);
        offsets.push((partition, offset));
    }

    /// The value of the counter the task registered as `name`, if it did.
    pub fn counter_value(&self, name: &str) -> Option<u64> {
        self.metrics.counter_value(name)
    }

    /// The value of the gauge the task registered as `name`, if it did.
    pub fn gauge_value(&self, name: &str) -> Option<i64> {
        self.metrics.gauge_value(name)
    }
}

impl SourceTaskContext for TestSourceContext {
    fn task(&self) -> &TaskIdentity {
        &self.task
    }

    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        lock(&self.offsets)
            .iter()
            .find(|(p, _)| p == partition)
            .map(|(_, o)| o.clone())
    }

    fn config(&self) -> &Props {
        &self.config
    }

    fn counter(&self, name: &str, _help: &str) -> Counter {
        self.metrics.counter(name)
    }

    fn gauge(&self, name: &str, _help: &str) -> Gauge {
        self.metrics.gauge(name)
    }
}

/// What a sink task asked of its context, in order.
#[derive(Debug, Default)]
struct SinkRequests {
    seeks: Vec<(TopicPartition, i64)>,
    paused: Vec<TopicPartition>,
    resumed: Vec<TopicPartition>,
    commit_requests: usize,
    errant: Vec<(SinkRecord, String)>,
}

/// A sink task's context that records seeks, pauses, resumes, commit requests and errant
/// records. Its errant record reporter takes every record (as `errors.tolerance=all` does)
/// unless made strict with [`fail_errant_records`](TestSinkContext::fail_errant_records).
pub struct TestSinkContext {
    task: TaskIdentity,
    config: Props,
    assignment: Mutex<Vec<TopicPartition>>,
    requests: Arc<Mutex<SinkRequests>>,
    strict: Arc<std::sync::atomic::AtomicBool>,
    metrics: Metrics,
}

impl Debug for TestSinkContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSinkContext")
            .field("task", &self.task)
            .field("requests", &*lock(&self.requests))
            .finish_non_exhaustive()
    }
}

impl Default for TestSinkContext {
    fn default() -> Self {
        Self {
            task: TaskIdentity::new("test", 0, 1),
            config: Props::new(),
            assignment: Mutex::default(),
            requests: Arc::default(),
            strict: Arc::default(),
            metrics: Metrics::default(),
        }
    }
}

impl TestSinkContext {
    /// Task 0 of 1 of connector `test`, with nothing assigned.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A context for task `task` (connector name, number and count).
    pub fn for_task(task: TaskIdentity) -> Arc<Self> {
        Arc::new(Self {
            task,
            ..Self::default()
        })
    }

    /// Sets what [`SinkTaskContext::assignment`] answers.
    pub fn assign(&self, partitions: &[TopicPartition]) {
        *lock(&self.assignment) = partitions.to_vec();
    }

    /// Makes the errant record reporter answer with the error, as it does under
    /// `errors.tolerance=none` (the record is still recorded).
    pub fn fail_errant_records(&self) {
        self.strict
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The offsets the task asked to read from, in order.
    pub fn seeks(&self) -> Vec<(TopicPartition, i64)> {
        lock(&self.requests).seeks.clone()
    }

    /// The partitions the task paused, in order.
    pub fn paused(&self) -> Vec<TopicPartition> {
        lock(&self.requests).paused.clone()
    }

    /// The partitions the task resumed, in order.
    pub fn resumed(&self) -> Vec<TopicPartition> {
        lock(&self.requests).resumed.clone()
    }

    /// How many times the task asked for a commit.
    pub fn commit_requests(&self) -> usize {
        lock(&self.requests).commit_requests
    }

    /// The records the task reported as errant, with the error's message.
    pub fn errant_records(&self) -> Vec<(SinkRecord, String)> {
        lock(&self.requests).errant.clone()
    }

    /// The value of the counter the task registered as `name`, if it did.
    pub fn counter_value(&self, name: &str) -> Option<u64> {
        self.metrics.counter_value(name)
    }

    /// The value of the gauge the task registered as `name`, if it did.
    pub fn gauge_value(&self, name: &str) -> Option<i64> {
        self.metrics.gauge_value(name)
    }
}

/// The reporter of a [`TestSinkContext`].
struct Reporter {
    requests: Arc<Mutex<SinkRequests>>,
    strict: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl ErrantRecordReporter for Reporter {
    async fn report(&self, record: &SinkRecord, error: &ConnectError) -> Result<(), ConnectError> {
        lock(&self.requests)
            .errant
            .push((record.clone(), error.to_string()));
        if self.strict.load(std::sync::atomic::Ordering::Relaxed) {
            Err(ConnectError::fatal(format!(
                "Tolerance exceeded in error handler: {error}"
            )))
        } else {
            Ok(())
        }
    }
}

impl SinkTaskContext for TestSinkContext {
    fn task(&self) -> &TaskIdentity {
        &self.task
    }

    fn offset(&self, partition: &TopicPartition, offset: i64) {
        lock(&self.requests).seeks.push((partition.clone(), offset));
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        lock(&self.assignment).clone()
    }

    fn pause(&self, partitions: &[TopicPartition]) {
        lock(&self.requests).paused.extend_from_slice(partitions);
    }

    fn resume(&self, partitions: &[TopicPartition]) {
        lock(&self.requests).resumed.extend_from_slice(partitions);
    }

    fn request_commit(&self) {
        lock(&self.requests).commit_requests += 1;
    }

    fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        Some(Arc::new(Reporter {
            requests: Arc::clone(&self.requests),
            strict: Arc::clone(&self.strict),
        }))
    }

    fn config(&self) -> &Props {
        &self.config
    }

    fn counter(&self, name: &str, _help: &str) -> Counter {
        self.metrics.counter(name)
    }

    fn gauge(&self, name: &str, _help: &str) -> Gauge {
        self.metrics.gauge(name)
    }
}

/// Starts source task `T` as the worker does: parses `props` into its configuration (every
/// problem is a [`ConnectError::Config`]) and builds the task with `ctx`.
pub async fn start_source_task<T: SourceTask>(
    props: &Props,
    ctx: &Arc<TestSourceContext>,
) -> Result<T, ConnectError> {
    let config = T::Config::parse(props)?;
    T::start(config, Arc::clone(ctx) as Arc<dyn SourceTaskContext>).await
}

/// Starts sink task `T` as the worker does; see [`start_source_task`].
pub async fn start_sink_task<T: SinkTask>(
    props: &Props,
    ctx: &Arc<TestSinkContext>,
) -> Result<T, ConnectError> {
    let config = T::Config::parse(props)?;
    T::start(config, Arc::clone(ctx) as Arc<dyn SinkTaskContext>).await
}

/// Checks that configuration `C` gets, for every key of `served` that has a default, the same
/// value whether the key is left out or given its documented default: the defaults the REST
/// API shows are the ones the connector uses. `required` gives the keys without a default.
/// Returns what differs.
pub fn check_defaults<C: Config + Debug>(
    served: &ConfigDef,
    required: &Props,
) -> Result<(), String> {
    let implicit =
        C::parse(required).map_err(|e| format!("the required keys do not parse: {e}"))?;
    let mut explicit_props = required.clone();
    for key in served.keys() {
        if let DefaultValue::Value(default) = &key.default {
            explicit_props
                .entry(key.name.clone())
                .or_insert_with(|| default.clone());
        }
    }
    let explicit = C::parse(&explicit_props)
        .map_err(|e| format!("the documented defaults do not parse: {e}"))?;
    let (implicit, explicit) = (format!("{implicit:#?}"), format!("{explicit:#?}"));
    if implicit == explicit {
        Ok(())
    } else {
        Err(format!(
            "the configuration differs with its documented defaults written out:\nleft out: {implicit}\nwritten: {explicit}"
        ))
    }
}

/// A record as it is in Kafka: what a source task's records become, and what a sink task's
/// records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    /// The topic.
    pub topic: String,
    /// The partition (0 unless a source record or a transform chose one).
    pub partition: i32,
    /// The offset in the partition.
    pub offset: i64,
    /// The key's bytes; `None` for no key.
    pub key: Option<Bytes>,
    /// The value's bytes; `None` for a tombstone.
    pub value: Option<Bytes>,
    /// The headers, in order.
    pub headers: Vec<(String, Bytes)>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
}

impl KafkaRecord {
    /// A record of `topic` partition 0 at `offset` with this key and value and no headers.
    pub fn new(
        topic: impl Into<String>,
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Self {
        Self {
            topic: topic.into(),
            partition: 0,
            offset,
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: Vec::new(),
            timestamp: None,
        }
    }
}

/// The converters and transforms of a connector configuration, run in memory as the worker
/// runs them: a source task's records go through the transforms, then the converters; Kafka
/// records for a sink task go through the converters, then the transforms.
///
/// The configuration names its converters with `key.converter` and `value.converter` (with
/// their settings under `key.converter.` and `value.converter.`), as a connector overrides the
/// worker's; without them both are `JsonConverter` with its defaults. Transforms and predicates
/// are read from `transforms` and `predicates`. Only connect-core's built-in plugins are known.
///
/// ```
/// use connect_core::config::props;
/// use connect_core::record::{ConnectRecord, SourceRecord};
/// use connect_core::testing::{KafkaRecord, Pipeline};
///
/// let pipeline = Pipeline::new(&props(&[
///     ("value.converter", "StringConverter"),
///     ("transforms", "route"),
///     ("transforms.route.type", "RegexRouter"),
///     ("transforms.route.regex", "(.*)"),
///     ("transforms.route.replacement", "copy-of-$1"),
/// ]))
/// .unwrap();
/// let polled = SourceRecord::new(Default::default(), Default::default(),
///     ConnectRecord::new("beats", "tick"));
/// let written = pipeline.to_kafka(vec![polled]).unwrap();
/// assert_eq!(written[0].topic, "copy-of-beats");
/// assert_eq!(written[0].value.as_deref(), Some(&b"tick"[..]));
///
/// let fetched = KafkaRecord::new("orders", 5, None, Some(b"hello"));
/// let for_put = pipeline.to_sink(&[fetched]).unwrap();
/// assert_eq!(for_put[0].topic, "copy-of-orders");
/// assert_eq!(for_put[0].value, "hello".into());
/// assert_eq!(for_put[0].kafka_offset, 5);
/// ```
#[derive(Debug)]
pub struct Pipeline {
    key: Box<dyn Converter>,
    value: Box<dyn Converter>,
    chain: TransformChain,
}

impl Pipeline {
    /// The converters and transforms `props` configures; every problem is a
    /// [`ConnectError::Config`].
    pub fn new(props: &Props) -> Result<Self, ConnectError> {
        let plugins = crate::builtin_plugins();
        let converter = |key: &str, is_key: bool| {
            let name = props
                .get(key)
                .map(|name| name.trim())
                .filter(|name| !name.is_empty())
                .unwrap_or("org.apache.kafka.connect.json.JsonConverter");
            let settings = strip_prefix(props, &format!("{key}."));
            plugins
                .converter(name, &settings, is_key)
                .map_err(|e| ConnectError::config(key, format!("{name}: {e}")))
        };
        Ok(Self {
            key: converter("key.converter", true)?,
            value: converter("value.converter", false)?,
            chain: TransformChain::from_config(props, &plugins as &Plugins)?,
        })
    }

    /// What a source task's records become in Kafka, in order; records a transform drops are
    /// left out. Offsets count from 0 per partition.
    pub fn to_kafka(&self, records: Vec<SourceRecord>) -> Result<Vec<KafkaRecord>, ConnectError> {
        let mut next_offsets: BTreeMap<(String, i32), i64> = BTreeMap::new();
        let mut written = Vec::with_capacity(records.len());
        for mut source in records {
            if self.chain.apply(&mut source.record)? == Outcome::Drop {
                continue;
            }
            let record: &ConnectRecord = &source.record;
            let topic = record.topic.to_string();
            let key = self
                .key
                .from_connect(&topic, record.key_schema.as_deref(), &record.key)?;
            let value =
                self.value
                    .from_connect(&topic, record.value_schema.as_deref(), &record.value)?;
            let partition = record.partition.unwrap_or(0);
            let next = next_offsets.entry((topic.clone(), partition)).or_default();
            let offset = *next;
            *next += 1;
            written.push(KafkaRecord {
                topic,
                partition,
                offset,
                key,
                value,
                headers: headers_to_kafka(&record.headers),
                timestamp: record.timestamp,
            });
        }
        Ok(written)
    }

    /// What a sink task's `put` gets for these Kafka records, in order; records a transform
    /// drops are left out.
    pub fn to_sink(&self, records: &[KafkaRecord]) -> Result<Vec<SinkRecord>, ConnectError> {
        let mut sink_records = Vec::with_capacity(records.len());
        for fetched in records {
            let key = self.key.to_connect(&fetched.topic, fetched.key.clone())?;
            let value = self
                .value
                .to_connect(&fetched.topic, fetched.value.clone())?;
            let headers = headers_from_kafka(&fetched.headers);
            let record = ConnectRecord {
                key_schema: key.schema,
                key: key.value,
                value_schema: value.schema,
                value: value.value,
                timestamp: fetched.timestamp,
                headers,
                ..ConnectRecord::new(fetched.topic.as_str(), crate::data::Value::Null)
            };
            let mut sink = SinkRecord::new(
                fetched.topic.as_str().into(),
                fetched.partition,
                fetched.offset,
                record,
            );
            if self.chain.apply(&mut sink.record)? == Outcome::Keep {
                sink_records.push(sink);
            }
        }
        Ok(sink_records)
    }
}
