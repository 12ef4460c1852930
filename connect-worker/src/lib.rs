//! `connect-worker`: the runtime that hosts connectors (herder, task loops, Kafka I/O, stores,
//! the Kafka Connect-compatible REST API, metrics). Also a library, so a custom binary can run
//! a worker with connectors of its own.

pub mod cli;
pub mod client_overrides;
pub mod config;
pub mod config_providers;
pub mod connector_config;
pub mod convert;
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
