//! Distributed mode (groundwork): workers that share connectors and tasks through a Kafka
//! consumer group, as Kafka Connect's distributed workers do. For now the group protocol's
//! wire formats ([`protocol`]) and the leader's assignors ([`assignor`]); the group membership
//! itself is [`crate::kafka::membership`].

pub mod assignor;
pub mod protocol;
