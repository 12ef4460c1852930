//! Everything that talks to Kafka. The herder and the task loops see it through two small
//! traits ([`api`]: [`KafkaClient`] for metadata and fetches, [`KafkaProducer`] for produce),
//! implemented on rskafka by the connection ([`Kafka`]) and the batching producer
//! ([`Producer`]); the per-partition fetchers ([`fetcher`]) read through a [`KafkaClient`].
//! rskafka stays inside this module so another client could replace it.

pub mod api;
mod client;
mod cluster_id;
mod coordinator;
mod fetch_answer;
pub mod fetcher;
mod group_offsets;
pub mod membership;
#[cfg(test)]
pub(crate) mod memory;
pub mod partitioner;
pub mod producer;
mod raw_request;
pub mod security;
mod topic_admin;

pub use api::{KafkaClient, KafkaProducer, OffsetPosition};
pub use client::{Kafka, KafkaConfig, KafkaError};
pub use membership::{GroupMember, Heartbeat, Joined, MemberConfig, Synced};
pub use producer::{ProduceError, Producer, ProducerConfig, ProducerRecord};
pub use security::KafkaSecurity;
