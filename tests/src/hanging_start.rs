//! `org.example.test.HangingStartSource`: a source connector whose `start` never returns, to
//! check that a stuck connector holds up nothing but the requests that change it. Registered
//! in the `e2e-worker` binary only, never in the shipped `connect-worker`.

use std::sync::Arc;

use async_trait::async_trait;
use connect_core::config::{ConfigDef, Props};
use connect_core::connector::{Connector, SourceConnector, SourceTask, SourceTaskContext};
use connect_core::plugin::PluginDescriptor;
use connect_core::record::SourceRecord;
use connect_core::ConnectError;

/// The connector's class name.
pub const CLASS: &str = "org.example.test.HangingStartSource";

/// The plugin, for `Worker::builder().plugin(..)`.
pub fn plugin() -> PluginDescriptor {
    PluginDescriptor::source(CLASS, || Box::new(HangingStartSource))
}

#[derive(Debug)]
struct HangingStartSource;

#[async_trait]
impl Connector for HangingStartSource {
    fn version(&self) -> &str {
        "0.0.1"
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    async fn start(&mut self, _props: &Props) -> Result<(), ConnectError> {
        std::future::pending().await
    }

    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(Vec::new())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

impl SourceConnector for HangingStartSource {
    fn create_task(&self) -> Box<dyn SourceTask> {
        Box::new(NeverStartedTask)
    }
}

/// What the connector would run if its start returned.
#[derive(Debug)]
struct NeverStartedTask;

#[async_trait]
impl SourceTask for NeverStartedTask {
    async fn start(
        &mut self,
        _props: &Props,
        _ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<(), ConnectError> {
        Err(ConnectError::fatal("HangingStartSource has no tasks"))
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        Ok(Vec::new())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}
