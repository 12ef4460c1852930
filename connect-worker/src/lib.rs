//! `connect-worker`: the runtime that hosts connectors (herder, task loops, Kafka I/O, stores,
//! the Kafka Connect-compatible REST API, metrics). Also a library, so a custom binary can run
//! a worker with connectors of its own.
//!
//! The library is the runtime only: `Worker::builder()` knows connect-core's converters,
//! transforms and predicates, and a binary adds the connectors it runs. The shipped ones are in
//! [`builtin_connectors`] (feature `builtin-connectors`); the `connect-worker` binary registers
//! them and allocates with jemalloc (feature `jemalloc`). Both features are on by default.

#[cfg(feature = "builtin-connectors")]
pub mod builtin_connectors;
pub mod cli;
pub mod client_overrides;
pub mod config;
pub mod config_providers;
pub mod connector_config;
pub mod console;
pub mod convert;
pub mod distributed;
pub mod herder;
pub mod kafka;
pub mod logging;
pub mod metrics;
pub mod properties;
pub mod rest;
pub mod status;
pub mod store;
pub mod task;
pub mod worker;
