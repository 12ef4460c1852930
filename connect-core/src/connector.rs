//! The connector and task traits every connector implements, and the contexts the worker
//! gives its tasks.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Config, Props};
use crate::data::Text;
use crate::error::ConnectError;
use crate::metrics::{Counter, Gauge};
use crate::record::{SinkRecord, SourceMap, SourceRecord, TopicPartition};

/// What the worker tells a connector about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorContext {
    name: String,
}

impl ConnectorContext {
    /// The context of the connector named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }

    /// The connector's name (its `name` key).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Which task of which connector a task is, and how many tasks its connector runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskIdentity {
    /// The connector's name.
    pub connector: String,
    /// The task's number, from 0.
    pub id: usize,
    /// How many tasks the connector runs: the number of task configurations it made.
    pub count: usize,
}

impl TaskIdentity {
    /// Task `id` of `count` of `connector`.
    pub fn new(connector: impl Into<String>, id: usize, count: usize) -> Self {
        Self {
            connector: connector.into(),
            id,
            count,
        }
    }
}

impl std::fmt::Display for TaskIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.connector, self.id)
    }
}

/// What source and sink connectors have in common.
///
/// A connector does not move data: the worker builds it running from its checked
/// configuration ([`start`]), asks it to split the work into task configurations
/// ([`task_configs`]), and [`stop`]s it when the connector is stopped, reconfigured, restarted
/// or deleted (pausing pauses its tasks only). Each task is then built from its configuration by the connector's task type
/// (see [`SourceTask::start`], [`SinkTask::start`]), possibly on another worker.
///
/// [`start`]: Connector::start
/// [`task_configs`]: Connector::task_configs
/// [`stop`]: Connector::stop
#[async_trait]
pub trait Connector: Send + Sync + Sized + 'static {
    /// The connector's configuration. Its [`Config::definition`] is what
    /// `GET /connector-plugins/{plugin}/config` serves and `/config/validate` checks (beside
    /// the worker's common keys: `name`, `connector.class`, `tasks.max`, `transforms`, ...).
    type Config: Config;

    /// The connector's version, shown by `GET /connector-plugins`; usually
    /// `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;

    /// The connector, started with its configuration (already parsed and checked).
    async fn start(config: Self::Config, ctx: ConnectorContext) -> Result<Self, ConnectError>;

    /// Splits the work into at most `max_tasks` task configurations. Each is given to a task
    /// with the connector's own keys under it, so return only what differs between tasks
    /// (empty maps when nothing does); the worker tells each task its number and the count.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError>;

    /// Stops the connector and releases what it holds. The default does nothing.
    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// A connector that moves data from an outside system into Kafka.
pub trait SourceConnector: Connector {
    /// The connector's tasks.
    type Task: SourceTask;
}

/// A connector that moves data from Kafka into an outside system.
#[async_trait]
pub trait SinkConnector: Connector {
    /// The connector's tasks.
    type Task: SinkTask;

    /// `PATCH /connectors/{name}/offsets` changed these partitions' offsets (`None`: reset):
    /// a connector that keeps offsets in its own system changes them there too (Kafka
    /// Connect's `alterOffsets`, KIP-875). Called while the connector is stopped, before the
    /// worker stores the change; an error cancels it. The default does nothing.
    async fn alter_offsets(
        config: &Self::Config,
        offsets: &BTreeMap<TopicPartition, Option<i64>>,
    ) -> Result<(), ConnectError> {
        let _ = (config, offsets);
        Ok(())
    }

    /// Every offset of the connector is removed (`DELETE /connectors/{name}/offsets`, or the
    /// connector is deleted): remove those kept in the connector's own system. The default
    /// does nothing.
    async fn reset_offsets(config: &Self::Config) -> Result<(), ConnectError> {
        let _ = config;
        Ok(())
    }
}

/// Where a record landed in Kafka, passed to [`SourceTask::commit_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic the record was written to.
    pub topic: Text,
    /// The partition of the topic the record was written to.
    pub partition: i32,
    /// The record's offset within its partition.
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
}

/// What the worker offers a source task.
pub trait SourceTaskContext: Send + Sync {
    /// Which task this is, of which connector, and how many tasks it runs.
    fn task(&self) -> &TaskIdentity;

    /// The last committed offset of a source partition, to resume from after a restart.
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap>;

    /// The task's configuration as written (the connector's keys and the task's own).
    fn config(&self) -> &Props;

    /// A counter of the task's own, exposed by the worker at `/metrics` as `name` with the
    /// labels `connector` and `task`. Call it once (when the task starts) and keep the handle.
    fn counter(&self, name: &str, help: &str) -> Counter {
        let _ = (name, help);
        Counter::detached()
    }

    /// A gauge of the task's own; see [`counter`](SourceTaskContext::counter).
    fn gauge(&self, name: &str, help: &str) -> Gauge {
        let _ = (name, help);
        Gauge::detached()
    }
}

/// Reads records from an outside system.
///
/// The worker builds the task running ([`start`](SourceTask::start)), calls
/// [`poll`](SourceTask::poll) in a loop, converts and transforms the records, sends them to
/// Kafka, calls [`commit_record`](SourceTask::commit_record) for each one the broker
/// acknowledged (or [`commit_dropped`](SourceTask::commit_dropped) for one it did not send),
/// stores the source offsets every `offset.flush.interval.ms` and then calls
/// [`commit`](SourceTask::commit). Calls never overlap, but the worker may `poll` the next
/// batch before the records of the previous one are committed: do not infer from a `poll`
/// that earlier records are done with; wait for `commit_record` or `commit_dropped`.
#[async_trait]
pub trait SourceTask: Send + Sized + 'static {
    /// The task's configuration, read from the connector's keys and the task's own (those of
    /// its entry in [`Connector::task_configs`]). Often the connector's own `Config`.
    type Config: Config;

    /// The task, ready to poll. Read the offsets to resume from through `ctx`, and keep it
    /// if the task needs it later.
    async fn start(
        config: Self::Config,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<Self, ConnectError>;

    /// The next batch of records; empty when there is nothing new.
    ///
    /// It may wait for data, but should return within about a second (an empty batch is
    /// fine) so that pause and stop take effect promptly.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError>;

    /// The broker acknowledged `record`. Called once per record, in the order sent within a
    /// Kafka partition; cheap bookkeeping only (do I/O in [`commit`](SourceTask::commit)).
    fn commit_record(&mut self, record: &SourceRecord, metadata: &RecordMetadata) {
        let _ = (record, metadata);
    }

    /// The worker will not send `record`: a transform dropped it, or `errors.tolerance=all`
    /// skipped it after a transform or converter error. It is done with it, as with
    /// [`commit_record`](SourceTask::commit_record) (Kafka Connect calls `commitRecord` with
    /// no metadata then). Called once per such record, in its batch's order relative to the
    /// `commit_record` calls of the others; cheap bookkeeping only.
    fn commit_dropped(&mut self, record: &SourceRecord) {
        let _ = record;
    }

    /// The offsets of every acknowledged record so far are stored: acknowledge them in the
    /// source system if it needs that (e.g. `XACK`).
    async fn commit(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }

    /// Stops the task and releases what it holds. The default does nothing.
    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// Takes records a sink task could not write, without failing the task (Kafka Connect's
/// `ErrantRecordReporter`, KIP-610): the worker logs them or sends them to the dead-letter
/// queue according to `errors.tolerance` and `errors.deadletterqueue.topic.name`.
#[async_trait]
pub trait ErrantRecordReporter: Send + Sync {
    /// Reports one record and why it failed. With `errors.tolerance=none` this returns the
    /// error, and the task should fail.
    async fn report(&self, record: &SinkRecord, error: &ConnectError) -> Result<(), ConnectError>;
}

/// What the worker offers a sink task.
pub trait SinkTaskContext: Send + Sync {
    /// Which task this is, of which connector, and how many tasks it runs.
    fn task(&self) -> &TaskIdentity;

    /// Asks the worker to read `partition` from `offset` next (e.g. from offsets kept in the
    /// sink's own system). Takes effect before the next `put`.
    fn offset(&self, partition: &TopicPartition, offset: i64);

    /// The partitions assigned to this task.
    fn assignment(&self) -> Vec<TopicPartition>;

    /// Stops fetching from these partitions until resumed.
    fn pause(&self, partitions: &[TopicPartition]);

    /// Resumes fetching from these partitions.
    fn resume(&self, partitions: &[TopicPartition]);

    /// Asks the worker to commit offsets soon instead of at the next flush interval.
    fn request_commit(&self);

    /// The reporter for records the task cannot write, when the worker offers one.
    fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>>;

    /// The task's configuration as written (the connector's keys and the task's own).
    fn config(&self) -> &Props;

    /// A counter of the task's own, exposed by the worker at `/metrics` as `name` with the
    /// labels `connector` and `task`. Call it once (when the task starts) and keep the handle.
    fn counter(&self, name: &str, help: &str) -> Counter {
        let _ = (name, help);
        Counter::detached()
    }

    /// A gauge of the task's own; see [`counter`](SinkTaskContext::counter).
    fn gauge(&self, name: &str, help: &str) -> Gauge {
        let _ = (name, help);
        Gauge::detached()
    }
}

/// Committed Kafka offsets by partition. An offset is that of the next record to read
/// (the last written record's offset + 1), as Kafka commits them.
pub type Offsets = BTreeMap<TopicPartition, i64>;

/// Writes records from Kafka into an outside system.
///
/// The worker builds the task running ([`start`]), assigns partitions ([`open`]), hands over
/// batches ([`put`]), and every `offset.flush.interval.ms` asks which offsets are safe to
/// commit ([`pre_commit`], which by default calls [`flush`]). Calls never overlap.
///
/// [`start`]: SinkTask::start
/// [`open`]: SinkTask::open
/// [`put`]: SinkTask::put
/// [`pre_commit`]: SinkTask::pre_commit
/// [`flush`]: SinkTask::flush
#[async_trait]
pub trait SinkTask: Send + Sized + 'static {
    /// The task's configuration, read from the connector's keys and the task's own (those of
    /// its entry in [`Connector::task_configs`]). Often the connector's own `Config`.
    type Config: Config;

    /// The task, ready to take records. Keep `ctx` to seek, pause or report errant records.
    async fn start(
        config: Self::Config,
        ctx: Arc<dyn SinkTaskContext>,
    ) -> Result<Self, ConnectError>;

    /// These partitions are now assigned to the task; seek them through the context if the
    /// task keeps its own offsets.
    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        let _ = partitions;
        Ok(())
    }

    /// Writes a batch. A retriable error makes the worker hand over the same batch again
    /// after a back-off (the records are borrowed so that costs no copy); a fatal one fails
    /// the task. Records the task cannot write but should not fail on go to the
    /// [`ErrantRecordReporter`].
    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError>;

    /// Makes everything `put` so far durable in the outside system.
    async fn flush(&mut self, offsets: &Offsets) -> Result<(), ConnectError> {
        let _ = offsets;
        Ok(())
    }

    /// The offsets safe to commit, given those of the records `put` so far. The default
    /// flushes and returns them all.
    async fn pre_commit(&mut self, offsets: Offsets) -> Result<Offsets, ConnectError> {
        self.flush(&offsets).await?;
        Ok(offsets)
    }

    /// These partitions are no longer assigned to the task.
    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        let _ = partitions;
        Ok(())
    }

    /// Stops the task and releases what it holds. The default does nothing.
    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}
