//! Where the worker keeps what must survive a restart: offsets, and connector configurations
//! with their target states. Behind traits: the file stores here serve standalone mode, the
//! distributed mode keeps source offsets in a Kafka topic (`distributed::offset_store`).

//!
//! Every state file is created with mode 600 (it holds secrets) and locked for one worker at a
//! time (`lock.rs`).

mod configs;
mod file;
mod journal;
mod lock;
mod offsets;

pub use configs::{ConfigStore, ConnectorRecord, FileConfigStore, TargetState};
pub use file::write_atomically;
pub use lock::StateFileLock;
pub use offsets::{FileOffsetStore, OffsetStore, SourceOffsets};

/// A store that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid store file: {message}")]
    Corrupt { path: String, message: String },
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
    /// A topic-backed store (distributed mode) could not be read to its end.
    #[error(transparent)]
    TopicRead(#[from] crate::kafka::KafkaError),
    /// A topic-backed store's records could not be written.
    #[error(transparent)]
    TopicWrite(#[from] crate::kafka::ProduceError),
    #[error("{path} is in use by another worker ({holder}; lock file {lock}): two workers must not share state files; stop that worker or give this one files of its own")]
    Locked {
        path: String,
        lock: String,
        holder: String,
    },
}
