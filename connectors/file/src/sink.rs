//! `FileStreamSinkConnector` and its task: every record's value becomes a line of a file.

use std::fmt::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use connect_core::config::Props;
use connect_core::connector::{
    Connector, ConnectorContext, Offsets, SinkConnector, SinkTask, SinkTaskContext,
};
use connect_core::record::SinkRecord;
use connect_core::ConnectError;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::config::SinkConfig;

/// How much the task buffers before writing to the file; `flush` writes the rest.
const WRITE_BUFFER: usize = 64 * 1024;

/// Appends the value of every record to a file, one a line; Kafka's
/// `org.apache.kafka.connect.file.FileStreamSinkConnector`.
#[derive(Debug)]
pub struct FileStreamSinkConnector;

#[async_trait]
impl Connector for FileStreamSinkConnector {
    type Config = SinkConfig;
    const VERSION: &'static str = crate::VERSION;

    async fn start(config: SinkConfig, _ctx: ConnectorContext) -> Result<Self, ConnectError> {
        tracing::info!("Starting file sink connector writing to {}", config.file);
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        // As Kafka: every task gets the connector's configuration (the worker adds it under
        // these empty maps), so with several tasks they all append to the same file.
        Ok(vec![Props::new(); max_tasks])
    }
}

impl SinkConnector for FileStreamSinkConnector {
    type Task = FileStreamSinkTask;
}

/// The task of [`FileStreamSinkConnector`].
///
/// Writes each value's text ([`Value`](connect_core::data::Value)'s `Display`; `null` for a
/// null value, as Java's `PrintStream.println(null)`) and a `\n`, buffered; `flush` writes the
/// buffer and syncs the file to disk, so the offsets the worker commits afterwards are of
/// records that are safely in the file.
#[derive(Debug)]
pub struct FileStreamSinkTask {
    file: String,
    writer: BufWriter<File>,
    /// Reused for the text of each record, to avoid an allocation per record.
    line: String,
}

impl FileStreamSinkTask {
    /// Writes out the buffer and syncs the file.
    async fn flush_and_sync(&mut self) -> Result<(), ConnectError> {
        // Fatal rather than retriable: after a failed write the file may hold part of the
        // batch, and a retry would repeat it. The worker commits nothing past the last good
        // flush, so a restarted task writes from there again.
        let file = &self.file;
        let failed = |e: std::io::Error| {
            ConnectError::fatal(format!("Could not flush records to file '{file}'")).with_source(e)
        };
        self.writer.flush().await.map_err(failed)?;
        self.writer.get_ref().sync_data().await.map_err(failed)
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    type Config = SinkConfig;

    async fn start(
        config: SinkConfig,
        _ctx: Arc<dyn SinkTaskContext>,
    ) -> Result<Self, ConnectError> {
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
        Ok(Self {
            file: config.file,
            writer: BufWriter::with_capacity(WRITE_BUFFER, file),
            line: String::new(),
        })
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        for record in records {
            self.line.clear();
            // Writing to a String cannot fail.
            let _ = writeln!(self.line, "{}", record.value);
            tracing::trace!("Writing line to {}: {}", self.file, record.value);
            if let Err(e) = self.writer.write_all(self.line.as_bytes()).await {
                // Fatal for the reason given in flush_and_sync.
                return Err(ConnectError::fatal(format!(
                    "Could not write records to file '{}'",
                    self.file
                ))
                .with_source(e));
            }
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &Offsets) -> Result<(), ConnectError> {
        tracing::trace!("Flushing output stream for {}", self.file);
        self.flush_and_sync().await
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        // Dropping a tokio BufWriter loses its buffer: write it out first, as Java's close()
        // does. The file is closed when the task is dropped.
        self.flush_and_sync().await
    }
}

#[cfg(test)]
#[path = "sink_tests.rs"]
mod tests;
