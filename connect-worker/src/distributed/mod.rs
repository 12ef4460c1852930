//! Distributed mode (groundwork): workers that share connectors and tasks through a Kafka
//! consumer group, as Kafka Connect's distributed workers do. For now the group protocol's
//! wire formats ([`protocol`]; the group membership itself is [`crate::kafka::membership`])
//! and the records of the config and status topics with the state a worker builds from them
//! ([`config_records`], [`status_records`]).

pub mod config_records;
pub mod protocol;
pub mod status_records;
