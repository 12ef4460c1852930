//! `FileStreamSinkConnector` and its task: every record's value becomes a line of a file.

use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use connect_core::config::{ConfigDef, Props};
use connect_core::connector::{Connector, Offsets, SinkConnector, SinkTask, SinkTaskContext};
use connect_core::record::SinkRecord;
use connect_core::ConnectError;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::config::{sink_config_def, SinkConfig};

/// How much the task buffers before writing to the file; `flush` writes the rest.
const WRITE_BUFFER: usize = 64 * 1024;

/// Appends the value of every record to a file, one a line; Kafka's
/// `org.apache.kafka.connect.file.FileStreamSinkConnector`.
#[derive(Debug, Default)]
pub struct FileStreamSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for FileStreamSinkConnector {
    fn version(&self) -> &str {
        crate::version()
    }

    fn config_def(&self) -> ConfigDef {
        sink_config_def()
    }

    async fn start(&mut self, props: &Props) -> Result<(), ConnectError> {
        let config = SinkConfig::parse(props)?;
        tracing::info!("Starting file sink connector writing to {}", config.file);
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        // As Kafka: every task gets the connector's configuration, so with several tasks
        // they all append to the same file.
        Ok(vec![self.props.clone(); max_tasks])
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        // Nothing runs in the background.
        Ok(())
    }
}

impl SinkConnector for FileStreamSinkConnector {
    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(FileStreamSinkTask::default())
    }
}

/// The task of [`FileStreamSinkConnector`].
///
/// Writes each value's text ([`Value`](connect_core::data::Value)'s `Display`; `null` for a
/// null value, as Java's `PrintStream.println(null)`) and a `\n`, buffered; `flush` writes the
/// buffer and syncs the file to disk, so the offsets the worker commits afterwards are of
/// records that are safely in the file.
#[derive(Debug, Default)]
pub struct FileStreamSinkTask {
    file: String,
    writer: Option<BufWriter<File>>,
    /// Reused for the text of each record, to avoid an allocation per record.
    line: String,
}

impl FileStreamSinkTask {
    fn writer(&mut self) -> Result<&mut BufWriter<File>, ConnectError> {
        self.writer
            .as_mut()
            .ok_or_else(|| ConnectError::fatal("FileStreamSinkTask was used before it was started"))
    }

    /// Writes out the buffer and syncs the file.
    async fn flush_and_sync(&mut self) -> Result<(), ConnectError> {
        let file = self.file.clone();
        let writer = self.writer()?;
        // Fatal rather than retriable: after a failed write the file may hold part of the
        // batch, and a retry would repeat it. The worker commits nothing past the last good
        // flush, so a restarted task writes from there again.
        let failed = |e: std::io::Error| {
            ConnectError::fatal(format!("Could not flush records to file '{file}'")).with_source(e)
        };
        writer.flush().await.map_err(failed)?;
        writer.get_ref().sync_data().await.map_err(failed)
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(
        &mut self,
        props: &Props,
        _ctx: Arc<dyn SinkTaskContext>,
    ) -> Result<(), ConnectError> {
        let config = SinkConfig::parse(props)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.file)
            .await
            .map_err(|e| {
                ConnectError::fatal(format!(
                    "Couldn't find or create file '{}' for FileStreamSinkTask",
                    config.file
                ))
                .with_source(e)
            })?;
        tracing::debug!("Opened {} for appending", config.file);
        self.writer = Some(BufWriter::with_capacity(WRITE_BUFFER, file));
        self.file = config.file;
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        let mut line = std::mem::take(&mut self.line);
        let file = self.file.clone();
        let writer = self.writer()?;
        for record in records {
            line.clear();
            // Writing to a String cannot fail.
            let _ = writeln!(line, "{}", record.value);
            tracing::trace!("Writing line to {file}: {}", record.value);
            writer.write_all(line.as_bytes()).await.map_err(|e| {
                // Fatal for the reason given in flush_and_sync.
                ConnectError::fatal(format!("Could not write records to file '{file}'"))
                    .with_source(e)
            })?;
        }
        self.line = line;
        Ok(())
    }

    async fn flush(&mut self, _offsets: &Offsets) -> Result<(), ConnectError> {
        tracing::trace!("Flushing output stream for {}", self.file);
        self.flush_and_sync().await
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        // Dropping a tokio BufWriter loses its buffer: write it out first, as Java's close()
        // does.
        let result = match self.writer {
            Some(_) => self.flush_and_sync().await,
            None => Ok(()),
        };
        self.writer = None;
        result
    }
}

#[cfg(test)]
#[path = "sink_tests.rs"]
mod tests;
