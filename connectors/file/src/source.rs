//! `FileStreamSourceConnector` and its task: every line of a file becomes a record.

use std::io::SeekFrom;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use connect_core::config::Props;
use connect_core::connector::{
    Connector, ConnectorContext, SourceConnector, SourceTask, SourceTaskContext,
};
use connect_core::data::{Schema, Text};
use connect_core::record::{ConnectRecord, SourceMap, SourceRecord};
use connect_core::ConnectError;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::time::Instant;

use crate::config::SourceConfig;
use crate::lines::LineBuffer;

/// The source partition key: the file name, as configured.
pub const FILENAME_FIELD: &str = "filename";
/// The source offset key: the byte position just after the record's line.
pub const POSITION_FIELD: &str = "position";

/// How much one read takes from the file. Reads stop once a batch is full, so what is held
/// beyond the lines being returned is at most this plus one incomplete line.
const READ_CHUNK: usize = 64 * 1024;
/// The longest a poll waits for new lines before returning an empty batch (Kafka waits 1 s).
const MAX_POLL_WAIT: Duration = Duration::from_secs(1);
/// The pause between looks at the file while waiting, short so new lines go out promptly.
const IDLE_SLEEP: Duration = Duration::from_millis(100);

/// Reads a file line by line into one topic; Kafka's
/// `org.apache.kafka.connect.file.FileStreamSourceConnector`.
///
/// It has a single task, because the offsets are positions in one byte stream.
#[derive(Debug)]
pub struct FileStreamSourceConnector;

#[async_trait]
impl Connector for FileStreamSourceConnector {
    type Config = SourceConfig;
    const VERSION: &'static str = crate::VERSION;

    async fn start(config: SourceConfig, _ctx: ConnectorContext) -> Result<Self, ConnectError> {
        tracing::info!(
            "Starting file source connector reading from {}",
            config.file
        );
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        // Only one input stream makes sense; the task gets the connector's configuration
        // (the worker adds it under this empty map).
        Ok(std::iter::repeat_n(Props::new(), max_tasks.min(1)).collect())
    }
}

impl SourceConnector for FileStreamSourceConnector {
    type Task = FileStreamSourceTask;
}

/// The task of [`FileStreamSourceConnector`]: emits each complete line as a string record.
///
/// The source partition is `{"filename": <file>}` and each record's offset is
/// `{"position": <byte position after the line>}`, so a restarted task seeks to the committed
/// position and goes on with the next line. A last line without its line end is held back
/// until the line end arrives. A file that does not exist yet is waited for.
pub struct FileStreamSourceTask {
    file_name: String,
    topic: Text,
    batch_size: usize,
    partition: SourceMap,
    /// The committed position to resume from.
    resume_from: u64,
    /// Open once the file exists.
    file: Option<File>,
    lines: LineBuffer,
    chunk: Vec<u8>,
    max_wait: Duration,
    /// Whether the missing file was already reported at `warn`, so a file that takes a while
    /// to appear does not fill the log with one warning per poll.
    missing_reported: bool,
}

impl std::fmt::Debug for FileStreamSourceTask {
    // By hand, to leave out the read buffer's bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStreamSourceTask")
            .field("file", &self.file_name)
            .field("topic", &self.topic)
            .field("batch_size", &self.batch_size)
            .field("resume_from", &self.resume_from)
            .field("open", &self.file.is_some())
            .field("pending_bytes", &self.lines.pending())
            .finish_non_exhaustive()
    }
}

/// The source partition of `file`.
pub(crate) fn source_partition(file: &str) -> SourceMap {
    let mut partition = SourceMap::new();
    partition.insert(FILENAME_FIELD.to_owned(), file.into());
    partition
}

/// The position to resume from given the committed offset: none or a null position means the
/// start of the file; anything but a non-negative integer is an error, as in Kafka.
fn resume_position(offset: Option<&SourceMap>) -> Result<u64, ConnectError> {
    match offset.and_then(|o| o.get(POSITION_FIELD)) {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(position) => position.as_u64().ok_or_else(|| {
            ConnectError::fatal(format!(
                "Offset position is the incorrect type: expected a non-negative integer, \
                 found {position}"
            ))
        }),
    }
}

/// Milliseconds since the Unix epoch, the record timestamp Kafka's task sets.
fn now_millis() -> Option<i64> {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since_epoch.as_millis()).ok()
}

impl FileStreamSourceTask {
    /// Opens the file and seeks to the resume position; leaves `self.file` unset while the
    /// file does not exist.
    async fn open(&mut self) -> Result<(), ConnectError> {
        let name = &self.file_name;
        let mut file = match File::open(name).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.missing_reported {
                    tracing::warn!(
                        "Couldn't find file {name} for FileStreamSourceTask, sleeping to wait for \
                         it to be created"
                    );
                    self.missing_reported = true;
                }
                return Ok(());
            }
            Err(e) => {
                return Err(
                    ConnectError::fatal(format!("Error while trying to open file {name}"))
                        .with_source(e),
                )
            }
        };
        let position = self.resume_from;
        if position > 0 {
            if let Ok(meta) = file.metadata().await {
                if meta.len() < position {
                    // Kafka waits silently here; say why nothing comes.
                    tracing::warn!(
                        "{name} is {} bytes long, shorter than the committed position \
                         {position}: it was truncated or replaced; waiting for it to grow past \
                         that position",
                        meta.len()
                    );
                }
            }
            file.seek(SeekFrom::Start(position)).await.map_err(|e| {
                ConnectError::fatal(format!(
                    "Error while trying to seek to previous offset {position} in file {name}"
                ))
                .with_source(e)
            })?;
            tracing::debug!("Skipped to offset {position} in {name}");
        }
        tracing::debug!("Opened {name} for reading");
        self.missing_reported = false;
        self.lines = LineBuffer::new(position);
        self.chunk = vec![0; READ_CHUNK];
        self.file = Some(file);
        Ok(())
    }

    /// The complete lines available now, at most a batch; reads only as much as needed.
    async fn read_available(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        if self.file.is_none() {
            self.open().await?;
        }
        let Some(file) = &mut self.file else {
            return Ok(Vec::new()); // not created yet
        };
        let mut records = Vec::new();
        while records.len() < self.batch_size {
            if let Some((line, position)) = self.lines.next_line() {
                records.push(record(&self.topic, &self.partition, line, position));
                continue;
            }
            match file.read(&mut self.chunk).await {
                Ok(0) => break, // end of the file for now
                Ok(n) => self.lines.push(&self.chunk[..n]),
                // Hand over the lines already taken from the buffer rather than lose them; a
                // lasting error comes back on the next poll.
                Err(e) if !records.is_empty() => {
                    tracing::warn!("Error while reading {}: {e}", self.file_name);
                    break;
                }
                Err(e) => {
                    return Err(ConnectError::retriable(format!(
                        "Error while reading {}",
                        self.file_name
                    ))
                    .with_source(e))
                }
            }
        }
        tracing::trace!(
            "Read {} lines from {}, {} bytes pending",
            records.len(),
            self.file_name,
            self.lines.pending()
        );
        Ok(records)
    }
}

/// The record of one line.
fn record(topic: &Text, partition: &SourceMap, line: String, position: u64) -> SourceRecord {
    let mut offset = SourceMap::new();
    offset.insert(POSITION_FIELD.to_owned(), position.into());
    let mut record = ConnectRecord::new(topic.clone(), line);
    record.value_schema = Some(Schema::string());
    record.timestamp = now_millis();
    SourceRecord::new(partition.clone(), offset, record)
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    type Config = SourceConfig;

    async fn start(
        config: SourceConfig,
        ctx: Arc<dyn SourceTaskContext>,
    ) -> Result<Self, ConnectError> {
        let partition = source_partition(&config.file);
        let resume_from = resume_position(ctx.offset(&partition).as_ref())?;
        if resume_from > 0 {
            tracing::debug!(
                "Found previous offset {resume_from} for {}, resuming there",
                config.file
            );
        }
        Ok(Self {
            file_name: config.file,
            topic: config.topic.into(),
            batch_size: config.batch_size,
            partition,
            resume_from,
            file: None,
            lines: LineBuffer::default(),
            chunk: Vec::new(),
            max_wait: MAX_POLL_WAIT,
            missing_reported: false,
        })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        // Look again every IDLE_SLEEP while there is nothing, up to max_wait, so new lines go
        // out soon and pause and stop are never held up for long.
        let deadline = Instant::now() + self.max_wait;
        loop {
            let records = self.read_available().await?;
            let now = Instant::now();
            if !records.is_empty() || now >= deadline {
                return Ok(records);
            }
            tokio::time::sleep(IDLE_SLEEP.min(deadline - now)).await;
        }
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        tracing::trace!("Stopping");
        // Close the file now, as Kafka's task does, rather than when the worker drops the task.
        self.file = None;
        Ok(())
    }
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
