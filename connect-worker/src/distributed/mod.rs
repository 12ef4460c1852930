//! Distributed mode (groundwork): workers that share connectors and tasks through a Kafka
//! consumer group, as Kafka Connect's distributed workers do. For now only the group
//! protocol's wire formats ([`protocol`]); the group membership itself is
//! [`crate::kafka::membership`].

pub mod config;
pub mod protocol;
pub mod start;
