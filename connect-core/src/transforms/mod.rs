//! Single message transforms and predicates, Kafka's built-in set, and the chain a
//! connector's `transforms` / `predicates` keys describe.
//!
//! Every transform accepts Kafka's class name (`org.apache.kafka.connect.transforms.InsertField$Value`)
//! and its simple name (`InsertField$Value`), with the same configuration keys as Kafka's.
//! Transforms work on records with a schema (structs) and without one (maps), as Kafka's do.

mod chain;
mod registry;
mod support;

mod cast;
mod drop_headers;
mod extract_field;
mod filter;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod java_date_format;
mod mask_field;
mod predicates;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
mod timestamp_converter;
mod timestamp_router;
mod value_to_key;

use std::fmt;

use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::ConnectRecord;

pub use chain::TransformChain;

/// Whether a record goes on after a transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Pass the (possibly changed) record on.
    Keep,
    /// Drop the record (e.g. `Filter`).
    Drop,
}

/// Changes one record at a time (Kafka Connect's `Transformation`). Built from its
/// configuration by its factory, so it is never half-configured.
pub trait Transformation: Send + Sync + fmt::Debug {
    /// Changes `record` in place, or asks to drop it. An error names what in the record did
    /// not fit; the worker's `errors.tolerance` decides whether it fails the task.
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError>;
}

/// A condition on a record, deciding whether a transform applies to it.
pub trait Predicate: Send + Sync + fmt::Debug {
    /// True when the record matches.
    fn test(&self, record: &ConnectRecord) -> bool;
}

/// Kafka's built-in transforms and predicates, as plugins.
pub fn builtin_plugins() -> Vec<PluginDescriptor> {
    [
        cast::plugins(),
        drop_headers::plugins(),
        extract_field::plugins(),
        filter::plugins(),
        flatten::plugins(),
        header_from::plugins(),
        hoist_field::plugins(),
        insert_field::plugins(),
        insert_header::plugins(),
        mask_field::plugins(),
        predicates::plugins(),
        regex_router::plugins(),
        replace_field::plugins(),
        set_schema_metadata::plugins(),
        timestamp_converter::plugins(),
        timestamp_router::plugins(),
        value_to_key::plugins(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
