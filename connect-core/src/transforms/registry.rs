//! Helpers to describe the built-in transforms and predicates as plugins.

use std::sync::Arc;

use crate::config::{ConfigDef, ConfigErrors, Props};
use crate::plugin::{PluginDescriptor, PluginFactory};
use crate::record::RecordPart;

use super::{Predicate, Transformation};

/// The package of Kafka's built-in transforms.
pub(crate) const TRANSFORMS: &str = "org.apache.kafka.connect.transforms";
/// The package of Kafka's built-in predicates.
pub(crate) const PREDICATES: &str = "org.apache.kafka.connect.transforms.predicates";

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds a transform that works on the key or the value.
pub(crate) type PartBuilder =
    fn(&Props, RecordPart) -> Result<Box<dyn Transformation>, ConfigErrors>;

/// The `$Key` and `$Value` variants of a transform (`InsertField$Key`, `InsertField$Value`).
pub(crate) fn key_and_value(
    simple_name: &str,
    config_def: ConfigDef,
    build: PartBuilder,
) -> Vec<PluginDescriptor> {
    [("Key", RecordPart::Key), ("Value", RecordPart::Value)]
        .into_iter()
        .map(|(suffix, part)| {
            PluginDescriptor::new(
                format!("{TRANSFORMS}.{simple_name}${suffix}"),
                VERSION,
                config_def.clone(),
                PluginFactory::Transformation(Arc::new(move |props: &Props| build(props, part))),
            )
        })
        .collect()
}

/// A transform without `$Key`/`$Value` variants (`RegexRouter`, `Filter`, ...).
pub(crate) fn transform(
    simple_name: &str,
    config_def: ConfigDef,
    build: fn(&Props) -> Result<Box<dyn Transformation>, ConfigErrors>,
) -> PluginDescriptor {
    PluginDescriptor::new(
        format!("{TRANSFORMS}.{simple_name}"),
        VERSION,
        config_def,
        PluginFactory::Transformation(Arc::new(build)),
    )
}

/// A predicate (`TopicNameMatches`, ...).
pub(crate) fn predicate(
    simple_name: &str,
    config_def: ConfigDef,
    build: fn(&Props) -> Result<Box<dyn Predicate>, ConfigErrors>,
) -> PluginDescriptor {
    PluginDescriptor::new(
        format!("{PREDICATES}.{simple_name}"),
        VERSION,
        config_def,
        PluginFactory::Predicate(Arc::new(build)),
    )
}
