//! The stages a record goes through in a task, with Kafka Connect's names (its `Stage` enum):
//! they name the failed stage in error messages, logs and the `__connect.errors.stage` header
//! of dead-letter records.

use std::fmt;

/// Where in a task's pipeline an operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The key converter (`KEY_CONVERTER`).
    KeyConverter,
    /// The value converter (`VALUE_CONVERTER`).
    ValueConverter,
    /// The header converter (`HEADER_CONVERTER`).
    HeaderConverter,
    /// A single message transform or its predicate (`TRANSFORMATION`).
    Transformation,
    /// A sink task's `put` (`TASK_PUT`).
    TaskPut,
    /// A source task's `poll` (`TASK_POLL`).
    TaskPoll,
    /// Sending records to Kafka (`KAFKA_PRODUCE`).
    KafkaProduce,
    /// Reading records from Kafka (`KAFKA_CONSUME`).
    KafkaConsume,
}

impl Stage {
    /// Kafka Connect's name of the stage.
    pub fn name(self) -> &'static str {
        match self {
            Self::KeyConverter => "KEY_CONVERTER",
            Self::ValueConverter => "VALUE_CONVERTER",
            Self::HeaderConverter => "HEADER_CONVERTER",
            Self::Transformation => "TRANSFORMATION",
            Self::TaskPut => "TASK_PUT",
            Self::TaskPoll => "TASK_POLL",
            Self::KafkaProduce => "KAFKA_PRODUCE",
            Self::KafkaConsume => "KAFKA_CONSUME",
        }
    }

    /// What runs the stage, for the `__connect.errors.class.name` header (where Kafka Connect
    /// puts the executing class).
    pub fn executor(self) -> &'static str {
        match self {
            Self::KeyConverter | Self::ValueConverter | Self::HeaderConverter => "converter",
            Self::Transformation => "transformation",
            Self::TaskPut | Self::TaskPoll => "connector task",
            Self::KafkaProduce | Self::KafkaConsume => "kafka client",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
