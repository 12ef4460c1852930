//! The keys every connector takes besides its own (Kafka Connect's `ConnectorConfig`,
//! `SinkConnectorConfig`, `SourceConnectorConfig`), and checking a whole connector
//! configuration: common keys, the connector's own keys, transforms and converters.

use std::sync::Arc;
use std::time::Duration;

use connect_core::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValue, ConfigValues, Importance, Props,
    Validator,
};
use connect_core::plugin::{PluginDescriptor, PluginFactory, PluginKind, Plugins};
use connect_core::transforms::TransformChain;
use regex::Regex;

const COMMON: &str = "Common";
const TRANSFORMS: &str = "Transforms";
const ERRORS: &str = "Error Handling";
const TOPIC_CREATION: &str = "Topic Creation";

/// The longest connector name accepted: names become file, key and metric label values.
const MAX_NAME_LENGTH: usize = 249;

/// Whether `name` can be a connector's name: the one rule for names, applied to requests
/// (`POST /connectors`, `PUT /connectors/{name}/config`, connector files) and to the `name`
/// key (`/config/validate`). A name must come back unchanged from a URL path, a log line and
/// a Redis key. The empty name is allowed here: it is reported as the missing `name`.
pub fn check_name(name: &str) -> Result<(), String> {
    let problem = if name != name.trim() {
        "Connector name must not start or end with whitespace".to_owned()
    } else if name.contains('/') {
        "Connector name should not contain '/'".to_owned()
    } else if name.contains('\\') {
        // WHATWG URL parsers (browsers, fetch) read '\' in an http URL's path as '/'.
        "Connector name should not contain '\\'".to_owned()
    } else if name == "." || name == ".." {
        // Clients remove dot segments from paths (RFC 3986 5.2.4): curl and requests would
        // send /connectors/./config as /connectors/config.
        format!("Connector name must not be '{name}': HTTP clients remove it from URL paths, so the connector could not be reached at /connectors/{name}")
    } else if name.chars().any(char::is_control) {
        "Connector name should not contain control characters".to_owned()
    } else if name.chars().count() > MAX_NAME_LENGTH {
        format!("Connector name must be at most {MAX_NAME_LENGTH} characters")
    } else {
        return Ok(());
    };
    Err(problem)
}

/// Keys of every connector.
pub fn common_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("name", ConfigType::String)
                .validator(Validator::Custom(Arc::new(|value| match value {
                    ConfigValue::String(name) if name.is_empty() => {
                        Err("String may not be empty".to_owned())
                    }
                    other => check_name(&other.to_string()),
                })))
                .importance(Importance::High)
                .doc("Globally unique name to use for this connector.")
                .group(COMMON, 1)
                .display_name("Connector name"),
        )
        .define(
            ConfigKey::new("connector.class", ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc("Name or alias of the class for this connector.")
                .group(COMMON, 2)
                .display_name("Connector class"),
        )
        .define(
            ConfigKey::new("tasks.max", ConfigType::Int)
                .default_value("1")
                .validator(Validator::between(1, 1024))
                .importance(Importance::High)
                .doc("Maximum number of tasks to use for this connector (at most 1024 here).")
                .group(COMMON, 3)
                .display_name("Tasks max"),
        )
        .define(
            ConfigKey::new("tasks.max.enforce", ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc("Fail the connector when it creates more tasks than tasks.max.")
                .group(COMMON, 4),
        )
        .define(
            ConfigKey::new("key.converter", ConfigType::Class)
                .optional()
                .importance(Importance::Low)
                .doc("Converter for record keys; the worker's key.converter when not set.")
                .group(COMMON, 5),
        )
        .define(
            ConfigKey::new("value.converter", ConfigType::Class)
                .optional()
                .importance(Importance::Low)
                .doc("Converter for record values; the worker's value.converter when not set.")
                .group(COMMON, 6),
        )
        .define(
            ConfigKey::new("config.action.reload", ConfigType::String)
                .default_value("restart")
                .validator(Validator::one_of_ignore_case(&["none", "restart"]))
                .importance(Importance::Low)
                .doc("What to do when external configuration providers change a value.")
                .group(COMMON, 7),
        )
        .define(
            ConfigKey::new("transforms", ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("Aliases for the transformations to be applied to records.")
                .group(TRANSFORMS, 1),
        )
        .define(
            ConfigKey::new("predicates", ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("Aliases for the predicates used by transformations.")
                .group(TRANSFORMS, 2),
        )
        .define(
            ConfigKey::new("errors.retry.timeout", ConfigType::Long)
                .default_value("0")
                .validator(Validator::at_least(-1))
                .importance(Importance::Medium)
                .doc("Maximum ms to retry a failed operation (converter, transform); -1 retries forever, 0 never.")
                .group(ERRORS, 1),
        )
        .define(
            ConfigKey::new("errors.retry.delay.max.ms", ConfigType::Long)
                .default_value("60000")
                .validator(Validator::at_least(1))
                .importance(Importance::Medium)
                .doc("Maximum ms between consecutive retries.")
                .group(ERRORS, 2),
        )
        .define(
            ConfigKey::new("errors.tolerance", ConfigType::String)
                .default_value("none")
                .validator(Validator::one_of_ignore_case(&["none", "all"]))
                .importance(Importance::Medium)
                .doc("none: an error converting or transforming a record fails the task. all: such records are skipped.")
                .group(ERRORS, 3),
        )
        .define(
            ConfigKey::new("errors.log.enable", ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Log each tolerated error with the failed operation.")
                .group(ERRORS, 4),
        )
        .define(
            ConfigKey::new("errors.log.include.messages", ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Include the record's topic, partition and offset in the logged error.")
                .group(ERRORS, 5),
        )
}

/// Keys of sink connectors, besides the common ones.
pub fn sink_def() -> ConfigDef {
    common_def()
        .define(
            ConfigKey::new("topics", ConfigType::List)
                .default_value("")
                .importance(Importance::High)
                .doc("Topics to consume, comma-separated. Exactly one of topics and topics.regex.")
                .group(COMMON, 4),
        )
        .define(
            ConfigKey::new("topics.regex", ConfigType::String)
                .default_value("")
                .importance(Importance::High)
                .doc("Regular expression of the topics to consume; new matching topics are picked up.")
                .group(COMMON, 4),
        )
        .define(
            ConfigKey::new("errors.deadletterqueue.topic.name", ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .doc("Topic that receives the records that failed conversion or transformation (and those a task reports), when errors.tolerance=all.")
                .group(ERRORS, 6),
        )
        .define(
            ConfigKey::new("errors.deadletterqueue.topic.replication.factor", ConfigType::Short)
                .default_value("3")
                .importance(Importance::Medium)
                .doc("Replication factor of the dead-letter queue topic when it is created.")
                .group(ERRORS, 7),
        )
        .define(
            ConfigKey::new("errors.deadletterqueue.context.headers.enable", ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Add __connect.errors.* headers describing the failure to dead-letter records.")
                .group(ERRORS, 8),
        )
}

/// Keys of source connectors, besides the common ones.
pub fn source_def() -> ConfigDef {
    common_def()
        .define(
            ConfigKey::new("topic.creation.default.partitions", ConfigType::Int)
                .default_value("1")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("Partitions of the topics this connector creates when they are missing.")
                .group(TOPIC_CREATION, 1),
        )
        .define(
            ConfigKey::new("topic.creation.default.replication.factor", ConfigType::Short)
                .default_value("-1")
                .validator(Validator::at_least(-1))
                .importance(Importance::Low)
                .doc("Replication factor of the topics this connector creates; -1 is the broker's default.")
                .group(TOPIC_CREATION, 2),
        )
}

/// Which records the sink reads.
#[derive(Debug, Clone)]
pub enum TopicSelection {
    Names(Vec<String>),
    Pattern(Regex),
}

impl TopicSelection {
    /// Whether the sink reads `topic`. A pattern must match the whole name, as in Java.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Self::Names(names) => names.iter().any(|n| n == topic),
            Self::Pattern(re) => re
                .find(topic)
                .is_some_and(|m| m.start() == 0 && m.end() == topic.len()),
        }
    }
}

/// How record failures in conversion and transforms are handled.
#[derive(Debug, Clone)]
pub struct ErrorPolicy {
    /// `errors.tolerance=all`.
    pub tolerate_all: bool,
    pub retry_timeout: Option<Duration>,
    pub retry_delay_max: Duration,
    pub log_enable: bool,
    pub log_include_messages: bool,
    /// Sinks only: the dead-letter queue topic and its settings.
    pub dead_letter_queue: Option<DeadLetterQueue>,
}

/// Where failed sink records go.
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    pub topic: String,
    pub replication_factor: i16,
    pub context_headers: bool,
}

/// A checked connector configuration.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub name: String,
    pub plugin: PluginDescriptor,
    pub tasks_max: usize,
    pub tasks_max_enforce: bool,
    pub errors: ErrorPolicy,
    /// Sinks only.
    pub topics: Option<TopicSelection>,
    /// Sources only: partitions and replication factor of topics created when missing.
    pub topic_creation: (i32, i16),
    /// The configuration as given.
    pub props: Props,
}

impl ConnectorConfig {
    /// The connector's kind: source or sink.
    pub fn kind(&self) -> PluginKind {
        self.plugin.kind()
    }
}

/// Checks a connector configuration completely — common keys, the connector's own
/// `validate`, transforms and predicates, converter settings — and reports every problem.
pub fn check(props: &Props, plugins: &Plugins) -> Result<ConnectorConfig, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let class = props.get("connector.class").map(|c| c.trim()).unwrap_or("");
    let plugin = if class.is_empty() {
        None
    } else {
        match plugins.find(class, &[PluginKind::Source, PluginKind::Sink]) {
            Ok(p) => Some(p.clone()),
            Err(e) => {
                errors.add(
                    "connector.class",
                    format!("Invalid value {class} for configuration connector.class: {e}"),
                );
                None
            }
        }
    };
    let def = match plugin.as_ref().map(PluginDescriptor::kind) {
        Some(PluginKind::Source) => source_def(),
        Some(_) => sink_def(),
        None => common_def(),
    };
    let values = match def.parse(props) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if let Some(plugin) = &plugin {
        errors.extend(connector_errors(plugin, props));
    }
    if let Err(e) = TransformChain::from_config(props, plugins) {
        errors.extend(e);
    }
    for key in ["key.converter", "value.converter"] {
        if let Some(name) = props.get(key).map(|c| c.trim()).filter(|c| !c.is_empty()) {
            let settings = connect_core::config::strip_prefix(props, &format!("{key}."));
            if let Err(e) = plugins.converter(name, &settings, key == "key.converter") {
                errors.add(
                    key,
                    format!("Invalid value {name} for configuration {key}: {e}"),
                );
            }
        }
    }
    let topics = match (&plugin, &values) {
        (Some(p), Some(values)) if p.kind() == PluginKind::Sink => sink_topics(values, &mut errors),
        _ => None,
    };
    match (plugin, values) {
        (Some(plugin), Some(values)) if errors.is_empty() => Ok(ConnectorConfig {
            name: values.string("name").unwrap_or_default().to_owned(),
            tasks_max: values.int("tasks.max").unwrap_or(1).max(1) as usize,
            tasks_max_enforce: values.boolean("tasks.max.enforce").unwrap_or(true),
            errors: error_policy(&values),
            topics,
            topic_creation: (
                values.int("topic.creation.default.partitions").unwrap_or(1),
                values
                    .long("topic.creation.default.replication.factor")
                    .and_then(|n| i16::try_from(n).ok())
                    .unwrap_or(-1),
            ),
            plugin,
            props: props.clone(),
        }),
        _ => Err(errors),
    }
}

/// The problems the connector itself finds.
fn connector_errors(plugin: &PluginDescriptor, props: &Props) -> ConfigErrors {
    match &plugin.factory {
        PluginFactory::Source(plugin) => (plugin.validate)(props),
        PluginFactory::Sink(plugin) => (plugin.validate)(props),
        _ => ConfigErrors::default(),
    }
}

fn sink_topics(values: &ConfigValues, errors: &mut ConfigErrors) -> Option<TopicSelection> {
    let names = values.list("topics");
    let pattern = values.string("topics.regex").unwrap_or_default();
    match (names.is_empty(), pattern.is_empty()) {
        (false, true) => Some(TopicSelection::Names(names.to_vec())),
        (true, false) => match Regex::new(pattern) {
            Ok(re) => Some(TopicSelection::Pattern(re)),
            Err(e) => {
                errors.add(
                    "topics.regex",
                    format!("Invalid value {pattern} for configuration topics.regex: {e}"),
                );
                None
            }
        },
        (false, false) => {
            let message =
                "topics and topics.regex are mutually exclusive options, but both are set.";
            errors.add("topics", message);
            errors.add("topics.regex", message);
            None
        }
        (true, true) => {
            let message = "Must configure one of topics or topics.regex";
            errors.add("topics", message);
            errors.add("topics.regex", message);
            None
        }
    }
}

fn error_policy(values: &ConfigValues) -> ErrorPolicy {
    let dlq_topic = values
        .string("errors.deadletterqueue.topic.name")
        .unwrap_or_default();
    ErrorPolicy {
        tolerate_all: values
            .string("errors.tolerance")
            .is_some_and(|t| t.eq_ignore_ascii_case("all")),
        retry_timeout: match values.long("errors.retry.timeout").unwrap_or(0) {
            -1 => None,
            ms => Some(Duration::from_millis(ms.max(0) as u64)),
        },
        retry_delay_max: Duration::from_millis(
            values
                .long("errors.retry.delay.max.ms")
                .unwrap_or(60_000)
                .max(1) as u64,
        ),
        log_enable: values.boolean("errors.log.enable").unwrap_or(false),
        log_include_messages: values
            .boolean("errors.log.include.messages")
            .unwrap_or(false),
        dead_letter_queue: (!dlq_topic.is_empty()).then(|| DeadLetterQueue {
            topic: dlq_topic.to_owned(),
            replication_factor: values
                .long("errors.deadletterqueue.topic.replication.factor")
                .and_then(|n| i16::try_from(n).ok())
                .unwrap_or(3),
            context_headers: values
                .boolean("errors.deadletterqueue.context.headers.enable")
                .unwrap_or(false),
        }),
    }
}
