//! The connector and task traits every connector implements, and the contexts the worker
//! gives its tasks.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{ConfigDef, ConfigErrors, Props};
use crate::data::Text;
use crate::error::ConnectError;
use crate::metrics::{Counter, Gauge};
use crate::record::{SinkRecord, SourceMap, SourceRecord, TopicPartition};

/// What source and sink connectors have in common.
///
/// A connector does not move data: it checks its configuration and splits the work into task
/// configurations. The worker creates one instance per connector, calls [`start`], then
/// [`task_configs`], and [`stop`] when the connector is paused, stopped, reconfigured or
/// deleted.
///
/// [`start`]: Connector::start
/// [`task_configs`]: Connector::task_configs
/// [`stop`]: Connector::stop
#[async_trait]
pub trait Connector: Send + Sync {
    /// The connector's version, shown by `GET /connector-plugins`.
    fn version(&self) -> &str;

    /// The keys the connector accepts. The worker adds its own common keys (`name`,
    /// `connector.class`, `tasks.max`, `transforms`, ...).
    fn config_def(&self) -> ConfigDef;

    /// Checks a configuration and returns every problem found. The default parses it with
    /// [`config_def`](Connector::config_def); override it to add checks across keys.
    fn validate(&self, props: &Props) -> ConfigErrors {
        self.config_def().parse(props).err().unwrap_or_default()
    }

    /// Starts the connector with its configuration.
    async fn start(&mut self, props: &Props) -> Result<(), ConnectError>;

    /// Splits the work into at most `max_tasks` task configurations.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError>;

    /// Stops the connector and releases what it holds.
    async fn stop(&mut self) -> Result<(), ConnectError>;
}

/// A connector that moves data from an outside system into Kafka.
pub trait SourceConnector: Connector {
    /// A new, unstarted task of this connector.
    fn create_task(&self) -> Box<dyn SourceTask>;
}

/// A connector that moves data from Kafka into an outside system.
#[async_trait]
pub trait SinkConnector: Connector {
    /// A new, unstarted task of this connector.
    fn create_task(&self) -> Box<dyn SinkTask>;

    /// `PATCH /connectors/{name}/offsets` changed these partitions' offsets (`None`: reset):
    /// a connector that keeps offsets in its own system changes them there too (Kafka
    /// Connect's `alterOffsets`, KIP-875). Called on a new, unstarted instance while the
    /// connector is stopped, before the worker stores the change; an error cancels it.
    async fn alter_offsets(
        &self,
        props: &Props,
        offsets: &BTreeMap<TopicPartition, Option<i64>>,
    ) -> Result<(), ConnectError> {
        let _ = (props, offsets);
        Ok(())
    }

    /// Every offset of the connector is removed (`DELETE /connectors/{name}/offsets`, or the
    /// connector is deleted): remove those kept in the connector's own system. Called on a
    /// new, unstarted instance.
    async fn reset_offsets(&self, props: &Props) -> Result<(), ConnectError> {
        let _ = props;
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
    /// The last committed offset of a source partition, to resume from after a restart.
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap>;

    /// The task's configuration.
    fn config(&self) -> &Props;

    /// A counter of the task's own, exposed by the worker at `/metrics` as `name` with the
    /// labels `connector` and `task`. Call it once (in `start`) and keep the handle.
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
/// The worker calls [`poll`](SourceTask::poll) in a loop, converts and transforms the
/// records, sends them to Kafka, calls [`commit_record`](SourceTask::commit_record) for each
/// one the broker acknowledged (or [`commit_dropped`](SourceTask::commit_dropped) for one it
/// did not send), stores the source offsets every `offset.flush.interval.ms` and then calls
/// [`commit`](SourceTask::commit). Calls never overlap, but the worker may `poll` the next
/// batch before the records of the previous one are committed: do not infer from a `poll`
/// that earlier records are done with; wait for `commit_record` or `commit_dropped`.
#[async_trait]
pub trait SourceTask: Send {
    /// The task's type name, which the worker adds to each task configuration as
    /// `task.class`, where Kafka Connect puts the task's class name. The default, the Rust
    /// type's path (`connect_file::sink::FileStreamSinkTask`), rarely needs overriding.
    fn task_class(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Starts the task. Read the offsets to resume from through `ctx`.
    async fn start(
        &mut self,
        props: &Props,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<(), ConnectError>;

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

    /// Stops the task and releases what it holds.
    async fn stop(&mut self) -> Result<(), ConnectError>;
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

    /// The task's configuration.
    fn config(&self) -> &Props;

    /// A counter of the task's own, exposed by the worker at `/metrics` as `name` with the
    /// labels `connector` and `task`. Call it once (in `start`) and keep the handle.
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
/// The worker assigns partitions ([`open`]), hands over batches ([`put`]), and every
/// `offset.flush.interval.ms` asks which offsets are safe to commit ([`pre_commit`], which by
/// default calls [`flush`]). Calls never overlap.
///
/// [`open`]: SinkTask::open
/// [`put`]: SinkTask::put
/// [`pre_commit`]: SinkTask::pre_commit
/// [`flush`]: SinkTask::flush
#[async_trait]
pub trait SinkTask: Send {
    /// The task's type name, which the worker adds to each task configuration as
    /// `task.class`, where Kafka Connect puts the task's class name. The default, the Rust
    /// type's path (`connect_file::sink::FileStreamSinkTask`), rarely needs overriding.
    fn task_class(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Starts the task.
    async fn start(
        &mut self,
        props: &Props,
        ctx: Arc<dyn SinkTaskContext>,
    ) -> Result<(), ConnectError>;

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

    /// Stops the task and releases what it holds.
    async fn stop(&mut self) -> Result<(), ConnectError>;
}
