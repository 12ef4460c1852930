//! Connectors and tasks as the worker holds them: started, behind object-safe traits, with
//! their configuration types erased. Connector authors implement [`crate::connector`]'s
//! traits; every such type is one of these through the blanket implementations below.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Config, ConfigErrors, Props};
use crate::connector::{
    Connector, ConnectorContext, Offsets, RecordMetadata, SinkConnector, SinkTask, SinkTaskContext,
    SourceConnector, SourceTask, SourceTaskContext,
};
use crate::error::ConnectError;
use crate::record::{SinkRecord, SourceRecord, TopicPartition};

/// A future the worker can spawn.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A started connector.
#[async_trait]
pub trait RunningConnector: Send + Sync {
    /// [`Connector::task_configs`].
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError>;
    /// [`Connector::stop`].
    async fn stop(&mut self) -> Result<(), ConnectError>;
}

#[async_trait]
impl<C: Connector> RunningConnector for C {
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Connector::task_configs(self, max_tasks)
    }
    async fn stop(&mut self) -> Result<(), ConnectError> {
        Connector::stop(self).await
    }
}

/// A started source task.
#[async_trait]
pub trait RunningSourceTask: Send {
    /// [`SourceTask::poll`].
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError>;
    /// [`SourceTask::commit_record`].
    fn commit_record(&mut self, record: &SourceRecord, metadata: &RecordMetadata);
    /// [`SourceTask::commit_dropped`].
    fn commit_dropped(&mut self, record: &SourceRecord);
    /// [`SourceTask::commit`].
    async fn commit(&mut self) -> Result<(), ConnectError>;
    /// [`SourceTask::stop`].
    async fn stop(&mut self) -> Result<(), ConnectError>;
}

#[async_trait]
impl<T: SourceTask> RunningSourceTask for T {
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        SourceTask::poll(self).await
    }
    fn commit_record(&mut self, record: &SourceRecord, metadata: &RecordMetadata) {
        SourceTask::commit_record(self, record, metadata)
    }
    fn commit_dropped(&mut self, record: &SourceRecord) {
        SourceTask::commit_dropped(self, record)
    }
    async fn commit(&mut self) -> Result<(), ConnectError> {
        SourceTask::commit(self).await
    }
    async fn stop(&mut self) -> Result<(), ConnectError> {
        SourceTask::stop(self).await
    }
}

/// A started sink task.
#[async_trait]
pub trait RunningSinkTask: Send {
    /// [`SinkTask::open`].
    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError>;
    /// [`SinkTask::put`].
    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError>;
    /// [`SinkTask::pre_commit`].
    async fn pre_commit(&mut self, offsets: Offsets) -> Result<Offsets, ConnectError>;
    /// [`SinkTask::close`].
    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError>;
    /// [`SinkTask::stop`].
    async fn stop(&mut self) -> Result<(), ConnectError>;
}

#[async_trait]
impl<T: SinkTask> RunningSinkTask for T {
    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        SinkTask::open(self, partitions).await
    }
    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        SinkTask::put(self, records).await
    }
    async fn pre_commit(&mut self, offsets: Offsets) -> Result<Offsets, ConnectError> {
        SinkTask::pre_commit(self, offsets).await
    }
    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        SinkTask::close(self, partitions).await
    }
    async fn stop(&mut self) -> Result<(), ConnectError> {
        SinkTask::stop(self).await
    }
}

/// Checks a connector configuration as written.
pub type Validate = fn(&Props) -> ConfigErrors;
/// Starts a connector from its configuration as written.
pub type StartConnector =
    fn(Props, ConnectorContext) -> BoxFuture<Result<Box<dyn RunningConnector>, ConnectError>>;
/// Starts a source task from its configuration as written.
pub type StartSourceTask = fn(
    Props,
    Arc<dyn SourceTaskContext>,
) -> BoxFuture<Result<Box<dyn RunningSourceTask>, ConnectError>>;
/// Starts a sink task from its configuration as written.
pub type StartSinkTask = fn(
    Props,
    Arc<dyn SinkTaskContext>,
) -> BoxFuture<Result<Box<dyn RunningSinkTask>, ConnectError>>;
/// [`SinkConnector::alter_offsets`] with the connector's configuration as written.
pub type AlterOffsets =
    fn(Props, BTreeMap<TopicPartition, Option<i64>>) -> BoxFuture<Result<(), ConnectError>>;
/// [`SinkConnector::reset_offsets`] with the connector's configuration as written.
pub type ResetOffsets = fn(Props) -> BoxFuture<Result<(), ConnectError>>;

/// How the worker starts a source connector and its tasks.
#[derive(Debug, Clone, Copy)]
pub struct SourcePlugin {
    /// Every problem of a connector configuration, checks across keys included.
    pub validate: Validate,
    /// Starts the connector.
    pub start_connector: StartConnector,
    /// Starts one of its tasks.
    pub start_task: StartSourceTask,
    /// The task type's name, shown as `task.class` in task configurations.
    pub task_class: &'static str,
}

impl SourcePlugin {
    /// The plugin of source connector `C`.
    pub fn of<C: SourceConnector>() -> Self {
        Self {
            validate: validate::<C::Config>,
            start_connector: start_connector::<C>,
            start_task: start_source_task::<C::Task>,
            task_class: std::any::type_name::<C::Task>(),
        }
    }
}

/// How the worker starts a sink connector and its tasks, and changes the offsets it keeps.
#[derive(Debug, Clone, Copy)]
pub struct SinkPlugin {
    /// Every problem of a connector configuration, checks across keys included.
    pub validate: Validate,
    /// Starts the connector.
    pub start_connector: StartConnector,
    /// Starts one of its tasks.
    pub start_task: StartSinkTask,
    /// Changes the offsets the connector keeps in its own system.
    pub alter_offsets: AlterOffsets,
    /// Removes the offsets the connector keeps in its own system.
    pub reset_offsets: ResetOffsets,
    /// The task type's name, shown as `task.class` in task configurations.
    pub task_class: &'static str,
}

impl SinkPlugin {
    /// The plugin of sink connector `C`.
    pub fn of<C: SinkConnector>() -> Self {
        Self {
            validate: validate::<C::Config>,
            start_connector: start_connector::<C>,
            start_task: start_sink_task::<C::Task>,
            alter_offsets: alter_offsets::<C>,
            reset_offsets: reset_offsets::<C>,
            task_class: std::any::type_name::<C::Task>(),
        }
    }
}

fn validate<C: Config>(props: &Props) -> ConfigErrors {
    C::parse(props).err().unwrap_or_default()
}

fn start_connector<C: Connector>(
    props: Props,
    ctx: ConnectorContext,
) -> BoxFuture<Result<Box<dyn RunningConnector>, ConnectError>> {
    Box::pin(async move {
        let config = C::Config::parse(&props)?;
        let connector = C::start(config, ctx).await?;
        Ok(Box::new(connector) as Box<dyn RunningConnector>)
    })
}

fn start_source_task<T: SourceTask>(
    props: Props,
    ctx: Arc<dyn SourceTaskContext>,
) -> BoxFuture<Result<Box<dyn RunningSourceTask>, ConnectError>> {
    Box::pin(async move {
        let config = T::Config::parse(&props)?;
        let task = T::start(config, ctx).await?;
        Ok(Box::new(task) as Box<dyn RunningSourceTask>)
    })
}

fn start_sink_task<T: SinkTask>(
    props: Props,
    ctx: Arc<dyn SinkTaskContext>,
) -> BoxFuture<Result<Box<dyn RunningSinkTask>, ConnectError>> {
    Box::pin(async move {
        let config = T::Config::parse(&props)?;
        let task = T::start(config, ctx).await?;
        Ok(Box::new(task) as Box<dyn RunningSinkTask>)
    })
}

fn alter_offsets<C: SinkConnector>(
    props: Props,
    offsets: BTreeMap<TopicPartition, Option<i64>>,
) -> BoxFuture<Result<(), ConnectError>> {
    Box::pin(async move {
        let config = C::Config::parse(&props)?;
        C::alter_offsets(&config, &offsets).await
    })
}

fn reset_offsets<C: SinkConnector>(props: Props) -> BoxFuture<Result<(), ConnectError>> {
    Box::pin(async move {
        let config = C::Config::parse(&props)?;
        C::reset_offsets(&config).await
    })
}
