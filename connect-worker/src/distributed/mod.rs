//! Distributed mode (groundwork): workers that share connectors and tasks through a Kafka
//! consumer group, as Kafka Connect's distributed workers do. The group protocol's wire
//! formats ([`protocol`]), the leader's assignment ([`assignor`]) and a worker's membership
//! loop ([`coordinator`], on [`crate::kafka::membership`]).

pub mod assignor;
pub mod coordinator;
pub mod protocol;
