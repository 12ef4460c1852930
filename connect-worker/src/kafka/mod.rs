//! Everything that talks to Kafka, on rskafka: the connection and metadata ([`Kafka`]), the
//! batching producer ([`Producer`]), per-partition fetchers ([`fetcher`]) and Kafka's
//! partitioner. rskafka stays inside this module so another client could replace it.

mod client;
mod cluster_id;
mod fetch_answer;
pub mod fetcher;
pub mod partitioner;
pub mod producer;
pub mod security;

pub use client::{Kafka, KafkaConfig, KafkaError};
pub use producer::{ProduceError, Producer, ProducerConfig, ProducerRecord};
pub use security::KafkaSecurity;
