//! `connect-core`: the connector SDK.
//!
//! Every connector crate, ours and third parties', depends on this crate only. It has the
//! connector and task traits ([`connector`]), records ([`record`]) and values with Kafka
//! Connect's types ([`data`]), configuration definitions ([`config`]), converters
//! ([`converter`]), transforms and predicates ([`transforms`]), and the plugin descriptors a
//! worker registers ([`plugin`]). It opens no sockets and runs no runtime of its own.
//!
//! Errors ([`ConnectError`]) come in three kinds the worker treats differently: retriable
//! (back off, retry the same batch), fatal (the task fails, with the message as its trace) and
//! configuration errors (HTTP 400, every problem listed).

pub mod config;
pub mod connector;
pub mod converter;
pub mod data;
mod error;
pub mod plugin;
pub mod record;
pub mod transforms;

pub use error::{BoxError, ConnectError};

/// Every plugin this crate ships: Kafka's converters, transforms and predicates.
pub fn builtin_plugins() -> plugin::Plugins {
    let mut plugins = plugin::Plugins::new();
    for p in converter::builtin_plugins()
        .into_iter()
        .chain(transforms::builtin_plugins())
    {
        plugins.add(p);
    }
    plugins
}
