//! `connect-worker`: the runtime that hosts connectors (herder, task loops, Kafka I/O, stores,
//! the Kafka Connect-compatible REST API, metrics). Also a library, so a custom binary can run
//! a worker with connectors of its own.

pub mod config;
pub mod kafka;
pub mod properties;
pub mod store;
