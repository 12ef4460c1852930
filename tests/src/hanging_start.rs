//! `org.example.test.HangingStartSource`: a source connector whose `start` never returns, to
//! check that a stuck connector holds up nothing but the requests that change it. Registered
//! in the `e2e-worker` binary only, never in the shipped `connect-worker`.

use std::sync::Arc;

use async_trait::async_trait;
use connect_core::config::Props;
use connect_core::connector::{
    Connector, ConnectorContext, SourceConnector, SourceTask, SourceTaskContext,
};
use connect_core::plugin::PluginDescriptor;
use connect_core::record::SourceRecord;
use connect_core::ConnectError;

/// The connector's class name.
pub const CLASS: &str = "org.example.test.HangingStartSource";

/// The plugin, for `Worker::builder().plugin(..)`.
pub fn plugin() -> PluginDescriptor {
    PluginDescriptor::source::<HangingStartSource>(CLASS)
}

#[derive(Debug)]
struct HangingStartSource;

#[async_trait]
impl Connector for HangingStartSource {
    type Config = ();
    const VERSION: &'static str = "0.0.1";

    async fn start(_: (), _: ConnectorContext) -> Result<Self, ConnectError> {
        std::future::pending().await
    }

    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(Vec::new())
    }
}

impl SourceConnector for HangingStartSource {
    type Task = NeverStartedTask;
}

/// What the connector would run if its start returned.
#[derive(Debug)]
struct NeverStartedTask;

#[async_trait]
impl SourceTask for NeverStartedTask {
    type Config = ();

    async fn start(_: (), _: Arc<dyn SourceTaskContext>) -> Result<Self, ConnectError> {
        Err(ConnectError::fatal("HangingStartSource has no tasks"))
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        Ok(Vec::new())
    }
}
