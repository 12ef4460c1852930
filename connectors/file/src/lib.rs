//! `connect-file`: the FileStream source and sink connectors, as Apache Kafka ships them, for
//! demos and for testing the runtime without Redis.
//!
//! - [`FileStreamSourceConnector`] (`org.apache.kafka.connect.file.FileStreamSourceConnector`,
//!   also `FileStreamSourceConnector` and `FileStreamSource`): each line of `file` becomes a
//!   string record in `topic`, with source partition `{"filename": <file>}` and source offset
//!   `{"position": <byte position after the line>}`; at most `batch.size` (2000) records a poll,
//!   one task.
//! - [`FileStreamSinkConnector`] (`org.apache.kafka.connect.file.FileStreamSinkConnector`, also
//!   `FileStreamSinkConnector` and `FileStreamSink`): appends each record's value and a newline
//!   to `file`; the worker's `topics` or `topics.regex` choose the records.
//!
//! Unlike Kafka's, both require `file`: this worker runs as a service, where reading the
//! standard input or writing to the standard output is of no use.
//!
//! ```
//! let plugins = connect_file::plugins();
//! let names: Vec<&str> = plugins.iter().flat_map(|p| p.names()).collect();
//! assert!(names.contains(&"FileStreamSource"));
//! assert!(names.contains(&"org.apache.kafka.connect.file.FileStreamSinkConnector"));
//! ```

#![warn(missing_docs)]

mod config;
mod lines;
mod sink;
mod source;
#[cfg(test)]
mod test_dir;

use connect_core::plugin::PluginDescriptor;

pub use config::{
    SinkConfig, SourceConfig, DEFAULT_TASK_BATCH_SIZE, FILE_CONFIG, TASK_BATCH_SIZE_CONFIG,
    TOPIC_CONFIG,
};
pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask, FILENAME_FIELD, POSITION_FIELD};

/// The source connector's class name, as in Kafka.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
/// The sink connector's class name, as in Kafka.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";

/// The version of these connectors: the crate's.
pub fn version() -> &'static str {
    VERSION
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Both connectors, for the worker to register. Their short names (`FileStreamSource`,
/// `FileStreamSinkConnector`, ...) follow from the class names by Kafka Connect's alias rule.
pub fn plugins() -> Vec<PluginDescriptor> {
    vec![
        PluginDescriptor::source::<FileStreamSourceConnector>(SOURCE_CLASS),
        PluginDescriptor::sink::<FileStreamSinkConnector>(SINK_CLASS),
    ]
}

#[cfg(test)]
mod tests {
    use connect_core::config::props;
    use connect_core::plugin::{PluginKind, Plugins};
    use connect_core::testing::check_defaults;

    use super::*;

    #[test]
    fn plugins_resolve_by_every_kafka_name() {
        let mut registry = Plugins::new();
        for plugin in plugins() {
            registry.add(plugin);
        }
        let connectors = [PluginKind::Source, PluginKind::Sink];
        for (name, class, kind) in [
            ("FileStreamSource", SOURCE_CLASS, PluginKind::Source),
            (
                "FileStreamSourceConnector",
                SOURCE_CLASS,
                PluginKind::Source,
            ),
            (SOURCE_CLASS, SOURCE_CLASS, PluginKind::Source),
            ("FileStreamSink", SINK_CLASS, PluginKind::Sink),
            ("FileStreamSinkConnector", SINK_CLASS, PluginKind::Sink),
            (SINK_CLASS, SINK_CLASS, PluginKind::Sink),
        ] {
            let plugin = registry.find(name, &connectors).unwrap();
            assert_eq!(plugin.class, class);
            assert_eq!(plugin.kind(), kind);
        }
    }

    #[test]
    fn descriptors_carry_version_and_keys() {
        let plugins = plugins();
        assert_eq!(plugins.len(), 2);
        for plugin in &plugins {
            assert_eq!(plugin.version, env!("CARGO_PKG_VERSION"));
        }
        let keys = |i: usize| -> Vec<String> {
            plugins[i]
                .config_def
                .keys()
                .iter()
                .map(|k| k.name.clone())
                .collect()
        };
        assert_eq!(keys(0), ["file", "topic", "batch.size"]);
        assert_eq!(keys(1), ["file"]);
        let def = &plugins[0].config_def;
        let batch = def.key(TASK_BATCH_SIZE_CONFIG).unwrap();
        assert_eq!(
            batch.default,
            connect_core::config::DefaultValue::Value("2000".into())
        );
        assert!(def.keys().iter().all(|k| !k.documentation.is_empty()));
    }

    #[test]
    fn served_defaults_are_the_ones_used() {
        let plugins = plugins();
        check_defaults::<SourceConfig>(
            &plugins[0].config_def,
            &props(&[("file", "in.txt"), ("topic", "lines")]),
        )
        .unwrap();
        check_defaults::<SinkConfig>(&plugins[1].config_def, &props(&[("file", "out.txt")]))
            .unwrap();
    }
}
