//! Distributed mode: workers with the same `group.id` share connectors and tasks through a
//! Kafka consumer group and keep their state in three topics, as Kafka Connect's distributed
//! workers do, in the same formats (docs/distributed.md).
//!
//! - [`config`]: the worker keys of distributed mode;
//! - [`protocol`]: the group protocol's metadata and assignments, byte for byte;
//! - [`assignor`]: the leader's assignors (eager, incremental cooperative);
//! - [`coordinator`]: a worker's membership loop (on [`crate::kafka::membership`]);
//! - [`topic_log`]: reading and writing a keyed topic; [`internal_topics`]: creating and
//!   checking the three topics;
//! - [`config_records`], [`status_records`], [`offset_store`]: the config, status and offsets
//!   topics' records and what a worker builds from them;
//! - [`start`]: starting a distributed worker. The herder's side is `herder::cluster`.

pub mod assignor;
pub mod config;
pub mod config_records;
pub mod coordinator;
pub mod internal_topics;
pub mod offset_store;
pub mod protocol;
pub mod start;
pub mod status_records;
pub mod topic_log;
