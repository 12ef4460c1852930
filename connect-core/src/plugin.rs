//! Plugin descriptors and the registry that resolves the names users write in configs.
//!
//! A plugin resolves by its full class name, its simple name (after the last `.`), the simple
//! name without a `Connector` suffix, and any extra alias, as in Kafka Connect:
//! `org.apache.kafka.connect.file.FileStreamSinkConnector`, `FileStreamSinkConnector` and
//! `FileStreamSink` all name the same connector.

use std::fmt;
use std::sync::Arc;

use crate::config::Config;
use crate::config::{ConfigDef, ConfigErrors, Props};
use crate::connector::{Connector, SinkConnector, SourceConnector};
use crate::converter::Converter;
use crate::running::{SinkPlugin, SourcePlugin};
use crate::transforms::{Predicate, Transformation};

/// The kind of a plugin, as `GET /connector-plugins` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// A source connector (`source`).
    Source,
    /// A sink connector (`sink`).
    Sink,
    /// A key or value converter (`converter`).
    Converter,
    /// A header converter (`header_converter`).
    HeaderConverter,
    /// A single message transform (`transformation`).
    Transformation,
    /// A predicate for conditional transforms (`predicate`).
    Predicate,
}

impl PluginKind {
    /// The name in REST bodies: `source`, `sink`, `converter`, `header_converter`,
    /// `transformation`, `predicate`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Sink => "sink",
            Self::Converter => "converter",
            Self::HeaderConverter => "header_converter",
            Self::Transformation => "transformation",
            Self::Predicate => "predicate",
        }
    }

    /// Whether this is a connector kind.
    pub fn is_connector(self) -> bool {
        matches!(self, Self::Source | Self::Sink)
    }
}

/// Builds a converter from its settings; `true` for keys, `false` for values.
pub type ConverterFactory =
    Arc<dyn Fn(&Props, bool) -> Result<Box<dyn Converter>, ConfigErrors> + Send + Sync>;
/// Builds a transform from its settings (the `transforms.<alias>.` keys, prefix removed).
pub type TransformationFactory =
    Arc<dyn Fn(&Props) -> Result<Box<dyn Transformation>, ConfigErrors> + Send + Sync>;
/// Builds a predicate from its settings (the `predicates.<alias>.` keys, prefix removed).
pub type PredicateFactory =
    Arc<dyn Fn(&Props) -> Result<Box<dyn Predicate>, ConfigErrors> + Send + Sync>;

/// How a plugin is instantiated; also tells its kind.
#[derive(Clone)]
#[non_exhaustive]
pub enum PluginFactory {
    /// Starts source connectors and their tasks.
    Source(SourcePlugin),
    /// Starts sink connectors and their tasks.
    Sink(SinkPlugin),
    /// Builds key or value converters.
    Converter(ConverterFactory),
    /// Builds header converters.
    HeaderConverter(ConverterFactory),
    /// Builds transforms.
    Transformation(TransformationFactory),
    /// Builds predicates.
    Predicate(PredicateFactory),
}

impl fmt::Debug for PluginFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PluginFactory({})", self.kind().name())
    }
}

impl PluginFactory {
    /// The kind of plugin this factory makes.
    pub fn kind(&self) -> PluginKind {
        match self {
            Self::Source(_) => PluginKind::Source,
            Self::Sink(_) => PluginKind::Sink,
            Self::Converter(_) => PluginKind::Converter,
            Self::HeaderConverter(_) => PluginKind::HeaderConverter,
            Self::Transformation(_) => PluginKind::Transformation,
            Self::Predicate(_) => PluginKind::Predicate,
        }
    }
}

/// A plugin: its names, kind, version, configuration keys and factory.
#[derive(Debug, Clone)]
pub struct PluginDescriptor {
    /// The full class name (`com.redis.kafka.connect.RedisSinkConnector`).
    pub class: String,
    /// Extra names that resolve to this plugin, beyond the derived ones.
    pub aliases: Vec<String>,
    /// The plugin's version, as `GET /connector-plugins` shows it.
    pub version: String,
    /// The plugin's configuration keys.
    pub config_def: ConfigDef,
    /// How to instantiate the plugin; also tells its kind.
    pub factory: PluginFactory,
}

impl PluginDescriptor {
    /// The source connector `C`, named `class`; its version and keys come from the type.
    pub fn source<C: SourceConnector>(class: impl Into<String>) -> Self {
        Self::new(
            class,
            C::VERSION,
            <C as Connector>::Config::definition(),
            PluginFactory::Source(SourcePlugin::of::<C>()),
        )
    }

    /// The sink connector `C`, named `class`; its version and keys come from the type.
    pub fn sink<C: SinkConnector>(class: impl Into<String>) -> Self {
        Self::new(
            class,
            C::VERSION,
            <C as Connector>::Config::definition(),
            PluginFactory::Sink(SinkPlugin::of::<C>()),
        )
    }

    /// A converter, header converter, transform or predicate plugin.
    pub fn new(
        class: impl Into<String>,
        version: impl Into<String>,
        config_def: ConfigDef,
        factory: PluginFactory,
    ) -> Self {
        Self {
            class: class.into(),
            aliases: Vec::new(),
            version: version.into(),
            config_def,
            factory,
        }
    }

    /// This descriptor with an extra alias.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// The plugin's kind.
    pub fn kind(&self) -> PluginKind {
        self.factory.kind()
    }

    /// The class name after its package: `InsertField$Value`, `RedisSinkConnector`.
    pub fn simple_name(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }

    /// Every name that resolves to this plugin.
    pub fn names(&self) -> Vec<&str> {
        let simple = self.simple_name();
        let mut names = vec![self.class.as_str(), simple];
        if let Some(short) = simple.strip_suffix("Connector").filter(|s| !s.is_empty()) {
            names.push(short);
        }
        names.extend(self.aliases.iter().map(String::as_str));
        names.dedup();
        names
    }

    /// Whether `name` resolves to this plugin.
    pub fn matches(&self, name: &str) -> bool {
        self.names().contains(&name)
    }
}

/// Why a plugin name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// No plugin of the wanted kind has this name.
    #[error("Failed to find any class that implements {kind} and which name matches {name}")]
    NotFound {
        /// The name looked up.
        name: String,
        /// The Java interface of the wanted kind (`Connector`, `Converter`, ...).
        kind: &'static str,
    },
    /// Several plugins of the wanted kind share this name.
    #[error("{name} names more than one {kind} plugin ({candidates}); use the full class name")]
    Ambiguous {
        /// The name looked up.
        name: String,
        /// The Java interface of the wanted kind (`Connector`, `Converter`, ...).
        kind: &'static str,
        /// The full class names of the matching plugins, comma-separated.
        candidates: String,
    },
}

/// The plugins a worker knows, looked up by any of their names.
#[derive(Debug, Clone, Default)]
pub struct Plugins {
    plugins: Vec<PluginDescriptor>,
}

impl Plugins {
    /// No plugins.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plugin.
    pub fn add(&mut self, plugin: PluginDescriptor) -> &mut Self {
        self.plugins.push(plugin);
        self
    }

    /// Every plugin, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = &PluginDescriptor> {
        self.plugins.iter()
    }

    /// The plugin of one of `kinds` that `name` names. A full class name wins over aliases;
    /// an alias shared by several plugins is an error.
    pub fn find(&self, name: &str, kinds: &[PluginKind]) -> Result<&PluginDescriptor, PluginError> {
        let candidates = || {
            self.plugins
                .iter()
                .filter(move |p| kinds.contains(&p.kind()))
        };
        if let Some(exact) = candidates().find(|p| p.class == name) {
            return Ok(exact);
        }
        let kind = kinds.first().map_or("plugin", |k| kind_interface(*k));
        let mut matching = candidates().filter(|p| p.matches(name));
        match (matching.next(), matching.next()) {
            (Some(only), None) => Ok(only),
            (None, _) => Err(PluginError::NotFound {
                name: name.to_owned(),
                kind,
            }),
            (Some(first), Some(second)) => Err(PluginError::Ambiguous {
                name: name.to_owned(),
                kind,
                candidates: [first, second]
                    .into_iter()
                    .chain(matching)
                    .map(|p| p.class.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

impl Plugins {
    /// Builds the key (`is_key`) or value converter `name` with its settings; the error says
    /// why it could not be built.
    pub fn converter(
        &self,
        name: &str,
        settings: &Props,
        is_key: bool,
    ) -> Result<Box<dyn Converter>, String> {
        let plugin = self
            .find(name, &[PluginKind::Converter])
            .map_err(|e| e.to_string())?;
        match &plugin.factory {
            PluginFactory::Converter(make) => make(settings, is_key).map_err(|e| e.to_string()),
            _ => Err(format!("{name} is not a converter")),
        }
    }
}

/// The Java interface a kind of plugin implements, as Kafka Connect names it in errors.
fn kind_interface(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Source | PluginKind::Sink => "Connector",
        PluginKind::Converter => "Converter",
        PluginKind::HeaderConverter => "HeaderConverter",
        PluginKind::Transformation => "Transformation",
        PluginKind::Predicate => "Predicate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ConnectRecord;

    #[derive(Debug)]
    struct Always;
    impl Predicate for Always {
        fn test(&self, _: &ConnectRecord) -> bool {
            true
        }
    }

    fn predicate(class: &str) -> PluginDescriptor {
        PluginDescriptor::new(
            class,
            "1.0",
            ConfigDef::new(),
            PluginFactory::Predicate(Arc::new(|_| Ok(Box::new(Always)))),
        )
    }

    #[test]
    fn names_follow_kafka_connects_alias_rule() {
        let p = predicate("org.example.FileStreamSinkConnector").alias("Files");
        assert_eq!(
            p.names(),
            [
                "org.example.FileStreamSinkConnector",
                "FileStreamSinkConnector",
                "FileStreamSink",
                "Files"
            ]
        );
        let t = predicate("org.apache.kafka.connect.transforms.InsertField$Value");
        assert!(t.matches("InsertField$Value"));
        assert!(!t.matches("InsertField"));
    }

    #[test]
    fn find_resolves_names_and_reports_missing_and_ambiguous_ones() {
        let mut plugins = Plugins::new();
        plugins
            .add(predicate("a.Same"))
            .add(predicate("b.Same"))
            .add(predicate("c.Unique"));
        let kinds = [PluginKind::Predicate];
        assert_eq!(plugins.find("Unique", &kinds).unwrap().class, "c.Unique");
        assert_eq!(plugins.find("b.Same", &kinds).unwrap().class, "b.Same");
        assert_eq!(
            plugins.find("Same", &kinds).unwrap_err().to_string(),
            "Same names more than one Predicate plugin (a.Same, b.Same); use the full class name"
        );
        assert_eq!(
            plugins.find("Nope", &kinds).unwrap_err().to_string(),
            "Failed to find any class that implements Predicate and which name matches Nope"
        );
        assert!(plugins.find("Unique", &[PluginKind::Source]).is_err());
    }
}
