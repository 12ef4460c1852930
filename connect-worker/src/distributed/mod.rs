//! Distributed mode (groundwork): workers that share connectors and tasks through a Kafka
//! consumer group, as Kafka Connect's distributed workers do. So far: the group protocol's
//! wire formats ([`protocol`]; the group membership itself is [`crate::kafka::membership`]),
//! reading and writing a keyed topic ([`topic_log`]), creating and checking the internal
//! topics ([`internal_topics`]) and source offsets in the offsets topic ([`offset_store`]).

pub mod internal_topics;
pub mod offset_store;
pub mod protocol;
pub mod topic_log;
