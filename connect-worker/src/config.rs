//! The worker configuration: a Java `.properties` file with Kafka Connect's key names, each key
//! also settable from the environment as `CONNECT_` + the key in upper case, as the widely used
//! container images do (`.` -> `_`, `-` -> `__`, `_` -> `___`: `CONNECT_BOOTSTRAP_SERVERS`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::client_overrides::OverridePolicy;
use crate::config_providers::ConfigProviders;
use crate::distributed::config::{DistributedConfig, GROUP_ID};
use crate::kafka::security::security_props;
use crate::kafka::KafkaSecurity;
use connect_core::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props, Validator,
};

/// Keys starting with these are settings of something else (converters, clients) and are
/// passed on rather than checked here.
const PASSED_ON_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "producer.",
    "consumer.",
    "admin.",
    "listeners.https.",
    "config.providers.",
];

/// Kafka Connect keys we accept but that have no effect here; warned about at start.
const IGNORED_KEYS: &[&str] = &[
    "plugin.path",
    "plugin.discovery",
    "header.converter",
    "rest.host.name",
    "rest.port",
    "internal.key.converter",
    "internal.value.converter",
];

/// The worker's keys, their types, defaults and documentation.
pub fn config_def() -> ConfigDef {
    let group = "Worker";
    ConfigDef::new()
        .define(
            ConfigKey::new("bootstrap.servers", ConfigType::List)
                .default_value("localhost:9092")
                .validator(Validator::EachItem(Box::new(Validator::regex(r"[^\s:]+:\d+"))))
                .importance(Importance::High)
                .doc("Kafka brokers to connect to first, as host:port, comma-separated.")
                .group(group, 1),
        )
        .define(
            ConfigKey::new("listeners", ConfigType::List)
                .default_value("http://0.0.0.0:8083")
                .validator(Validator::EachItem(Box::new(Validator::regex(
                    r"https?://[^\s/]*:\d+",
                ))))
                .importance(Importance::High)
                .doc("Where the REST API listens, as http://host:port or https://host:port, comma-separated. HTTPS takes its certificate and key from the listeners.https.* keys (docs/security.md).")
                .group(group, 2),
        )
        .define(
            ConfigKey::new("key.converter", ConfigType::Class)
                .default_value("org.apache.kafka.connect.json.JsonConverter")
                .importance(Importance::High)
                .doc("Converter of record keys, unless a connector sets its own. Its settings are the key.converter.* keys (e.g. key.converter.schemas.enable). Kafka Connect requires it; ours defaults to JsonConverter.")
                .group(group, 3),
        )
        .define(
            ConfigKey::new("value.converter", ConfigType::Class)
                .default_value("org.apache.kafka.connect.json.JsonConverter")
                .importance(Importance::High)
                .doc("Converter of record values, unless a connector sets its own. Its settings are the value.converter.* keys (e.g. value.converter.schemas.enable). Kafka Connect requires it; ours defaults to JsonConverter.")
                .group(group, 4),
        )
        .define(
            ConfigKey::new("offset.storage.file.filename", ConfigType::String)
                // Required by standalone workers (`WorkerConfig::parse`); a distributed one
                // keeps its offsets in Kafka.
                .optional()
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc("Required by a standalone worker (ignored with group.id). File in which source connectors' offsets are stored (one JSON document, written atomically, mode 600); sink connectors' offsets are in their consumer groups (connect-<name>), and sink entries an earlier version wrote here are read once. One worker per file: a lock on FILE.lock stops a second worker. See State files in docs/worker.md.")
                .group(group, 5),
        )
        .define(
            ConfigKey::new("config.storage.file.filename", ConfigType::String)
                .optional()
                .importance(Importance::High)
                .doc("File in which connector configurations and target states are stored, so that connectors created over REST survive a restart (Kafka Connect standalone forgets them): a journal of one JSON line per change, mode 600, locked as the offsets file is. Default: the offsets file name followed by .configs; it must not be the offsets file.")
                .group(group, 6),
        )
        .define(
            ConfigKey::new("offset.flush.interval.ms", ConfigType::Long)
                .default_value("60000")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("How often offsets are committed (and sink tasks flushed).")
                .group(group, 7),
        )
        .define(
            ConfigKey::new("offset.flush.timeout.ms", ConfigType::Long)
                .default_value("5000")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("How long a source task's offset commit waits for outstanding records before it is skipped until the next interval.")
                .group(group, 8),
        )
        .define(
            ConfigKey::new("task.shutdown.graceful.timeout.ms", ConfigType::Long)
                .default_value("5000")
                .validator(Validator::at_least(0))
                .importance(Importance::Low)
                .doc("How long tasks get to finish in-flight work and store offsets when stopping. A REST request waits this + 5 s for a busy connector (A busy connector in docs/rest.md).")
                .group(group, 9),
        )
        .define(
            ConfigKey::new("request.timeout.ms", ConfigType::Long)
                .default_value("30000")
                .validator(Validator::at_least(1))
                .importance(Importance::Low)
                .doc("How long one Kafka operation keeps retrying an unreachable broker before it fails.")
                .group(group, 10),
        )
        .define(
            ConfigKey::new("client.id", ConfigType::String)
                .default_value("connect-worker")
                .importance(Importance::Low)
                .doc("Client id sent to the Kafka brokers.")
                .group(group, 11),
        )
        .define(
            ConfigKey::new("producer.compression.type", ConfigType::String)
                .default_value("none")
                .validator(Validator::one_of(&["none", "gzip", "snappy", "lz4", "zstd"]))
                .importance(Importance::Low)
                .doc("Compression of the record batches sources write to Kafka (any other value stops the start).")
                .group(group, 13),
        )
        .define(
            ConfigKey::new("metrics.listeners", ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("Ours. Extra listeners (http://host:port) that serve only GET /metrics and GET /health, e.g. on a port Prometheus may reach while the REST API stays private. /metrics is on the REST listeners in any case (docs/metrics.md).")
                .group(group, 14),
        )
        .define(
            ConfigKey::new("rest.auth.basic.file", ConfigType::String)
                .default_value("")
                .importance(Importance::High)
                .doc("Ours. File of REST users, one 'user:hash' a line (bcrypt $2b$... or argon2 $argon2id$...; plain text is refused). Set it (or rest.auth.bearer.file) and every request needs credentials (401 otherwise).")
                .group(group, 16),
        )
        .define(
            ConfigKey::new("rest.auth.bearer.file", ConfigType::String)
                .default_value("")
                .importance(Importance::High)
                .doc("Ours. File of REST bearer tokens, one 'name:hash-of-the-token' a line (bcrypt or argon2).")
                .group(group, 17),
        )
        .define(
            ConfigKey::new("rest.auth.health.open", ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc("Ours. Whether GET /health answers without credentials when authentication is on.")
                .group(group, 18),
        )
        .define(
            ConfigKey::new("log.format", ConfigType::String)
                .default_value("text")
                .validator(Validator::one_of_ignore_case(&["text", "json"]))
                .importance(Importance::Low)
                .doc("Ours. The log format on stderr: text (human-readable lines, coloured only when stderr is a terminal and NO_COLOR is unset or empty) or json (one JSON object a line; lines logged by a task carry span.connector and span.task). Levels: RUST_LOG, and /admin/loggers at runtime.")
                .group(group, 15),
        )
        .define(
            ConfigKey::new("topic.creation.enable", ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc("Whether source connectors create their topics when missing (topic.creation.default.partitions, default 1).")
                .group(group, 12),
        )
        .define(
            ConfigKey::new("ui.enabled", ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc("Ours. Whether the worker serves its web console at /ui (docs/console.md). The console's files need no credentials (they hold no data); every call it makes goes to the REST API with the user's credentials.")
                .group(group, 20),
        )
        .define(
            ConfigKey::new(OVERRIDE_POLICY, ConfigType::String)
                .default_value("All")
                .importance(Importance::Medium)
                .doc("Which producer.override.*, consumer.override.* and admin.override.* keys connectors may set: All, Principal (only security.protocol, sasl.mechanism, sasl.jaas.config) or None; also as Kafka's class names (org.apache.kafka.connect.connector.policy.AllConnectorClientConfigOverridePolicy, ...).")
                .group(group, 19),
        )
        .merge(crate::kafka::security::config_def())
        .merge(crate::distributed::config::config_def())
}

/// The worker key naming the client config override policy.
pub const OVERRIDE_POLICY: &str = "connector.client.config.override.policy";

/// The parsed worker configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub bootstrap_servers: Vec<String>,
    /// `host:port` of each listener.
    pub listeners: Vec<String>,
    /// Whether the first listener is `https://`.
    pub listener_https: bool,
    pub key_converter: String,
    pub value_converter: String,
    /// Standalone: the state files (empty in distributed mode).
    pub offsets_file: PathBuf,
    pub configs_file: PathBuf,
    /// Distributed mode's settings, `None` for a standalone worker.
    pub distributed: Option<DistributedConfig>,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    pub task_shutdown_timeout: Duration,
    pub request_timeout: Duration,
    pub client_id: String,
    pub topic_creation_enable: bool,
    /// Serve the web console at `/ui` (`ui.enabled`).
    pub ui_enabled: bool,
    /// `host:port` of each `metrics.listeners` listener.
    pub metrics_listeners: Vec<String>,
    /// Logs as JSON lines (`log.format=json`).
    pub log_json: bool,
    /// `config.providers`: what `${env:...}`, `${file:...}`, `${directory:...}` resolve with.
    pub providers: ConfigProviders,
    /// How the worker's own connection to Kafka is secured (the top-level security keys).
    pub kafka_security: KafkaSecurity,
    /// Which client keys connectors may override.
    pub override_policy: OverridePolicy,
    /// Every key as given (file, then environment), for the passed-on prefixes.
    pub props: Props,
}

impl WorkerConfig {
    /// Parses the file's keys overridden by the `CONNECT_*` environment variables, reporting
    /// every problem at once.
    pub fn parse(
        file: Props,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        let mut props = file;
        props.extend(env_overrides(env));
        // A standalone worker needs its offsets file; reported with every other problem.
        let standalone = props.get(GROUP_ID).is_none_or(|g| g.trim().is_empty());
        let missing_file = standalone
            && props
                .get("offset.storage.file.filename")
                .is_none_or(|f| f.trim().is_empty());
        let values = match config_def().parse(&props) {
            Ok(values) if !missing_file => values,
            parsed => {
                let mut errors = parsed.err().unwrap_or_default();
                if missing_file {
                    errors.add(
                        "offset.storage.file.filename",
                        "Missing required configuration \"offset.storage.file.filename\" which has no default value (a standalone worker keeps source offsets there; set group.id to run distributed instead).",
                    );
                }
                return Err(errors);
            }
        };
        let providers = ConfigProviders::from_worker(&props).map_err(|message| {
            let mut errors = ConfigErrors::default();
            errors.add("config.providers", message);
            errors
        })?;
        let (kafka_security, override_policy) = kafka_settings(&props, &values, &providers)?;
        let millis = |key: &str| Duration::from_millis(values.long(key).unwrap_or(0).max(0) as u64);
        let distributed = DistributedConfig::parse(
            &values,
            values.list("listeners").first().map_or("", String::as_str),
        )?;
        let offsets_file = PathBuf::from(
            values
                .string("offset.storage.file.filename")
                .unwrap_or_default(),
        );
        if distributed.is_some() {
            for key in [
                "offset.storage.file.filename",
                "config.storage.file.filename",
            ] {
                if props.contains_key(key) {
                    tracing::warn!(key, "a distributed worker (group.id is set) keeps its state in Kafka topics: {key} is ignored");
                }
            }
        }
        let configs_file = match values.string("config.storage.file.filename") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => {
                let mut name = offsets_file.clone().into_os_string();
                name.push(".configs");
                PathBuf::from(name)
            }
        };
        if distributed.is_none() && configs_file == offsets_file {
            let mut errors = ConfigErrors::default();
            errors.add(
                "config.storage.file.filename",
                format!(
                    "config.storage.file.filename {} is the offsets file (offset.storage.file.filename) too: the two need files of their own",
                    configs_file.display()
                ),
            );
            return Err(errors);
        }
        Ok(Self {
            bootstrap_servers: values.list("bootstrap.servers").to_vec(),
            listener_https: values
                .list("listeners")
                .first()
                .is_some_and(|l| l.starts_with("https://")),
            listeners: values
                .list("listeners")
                .iter()
                .map(|l| {
                    l.trim_start_matches("http://")
                        .trim_start_matches("https://")
                        .to_owned()
                })
                .collect(),
            key_converter: values
                .string("key.converter")
                .unwrap_or_default()
                .to_owned(),
            value_converter: values
                .string("value.converter")
                .unwrap_or_default()
                .to_owned(),
            offsets_file,
            configs_file,
            distributed,
            offset_flush_interval: millis("offset.flush.interval.ms"),
            offset_flush_timeout: millis("offset.flush.timeout.ms"),
            task_shutdown_timeout: millis("task.shutdown.graceful.timeout.ms"),
            request_timeout: millis("request.timeout.ms"),
            client_id: values.string("client.id").unwrap_or_default().to_owned(),
            topic_creation_enable: values.boolean("topic.creation.enable").unwrap_or(true),
            ui_enabled: values.boolean("ui.enabled").unwrap_or(true),
            metrics_listeners: values
                .list("metrics.listeners")
                .iter()
                .map(|l| l.trim_start_matches("http://").to_owned())
                .collect(),
            log_json: values
                .string("log.format")
                .is_some_and(|f| f.eq_ignore_ascii_case("json")),
            providers,
            kafka_security,
            override_policy,
            props,
        })
    }

    /// The security keys (top-level) of the worker's own Kafka connection, variables resolved.
    pub fn kafka_security_props(&self) -> Props {
        let raw = security_props(&self.props);
        // Resolvable: parse() resolved the same keys already.
        self.providers.resolve(&raw).unwrap_or(raw)
    }

    /// Given keys that mean nothing here: unknown ones (likely typos) and Kafka Connect keys we
    /// ignore, each with the reason, for warnings at start.
    pub fn unused_keys(&self) -> Vec<(String, &'static str)> {
        let def = config_def();
        self.props
            .keys()
            .filter(|k| def.key(k).is_none())
            .filter(|k| !PASSED_ON_PREFIXES.iter().any(|p| k.starts_with(p)))
            .map(|k| {
                let reason = if IGNORED_KEYS.contains(&k.as_str()) {
                    "accepted for compatibility with Kafka Connect; it has no effect here"
                } else {
                    "unknown key; ignored"
                };
                (k.clone(), reason)
            })
            .collect()
    }

    /// The settings under `prefix` (e.g. `value.converter.`), prefix removed.
    pub fn with_prefix(&self, prefix: &str) -> Props {
        connect_core::config::strip_prefix(&self.props, prefix)
    }
}

/// The worker's Kafka security (its config-provider variables resolved) and override policy.
fn kafka_settings(
    props: &Props,
    values: &connect_core::config::ConfigValues,
    providers: &ConfigProviders,
) -> Result<(KafkaSecurity, OverridePolicy), ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let policy_name = values.string(OVERRIDE_POLICY).unwrap_or("All");
    let policy = OverridePolicy::parse(policy_name).unwrap_or_else(|| {
        errors.add(
            OVERRIDE_POLICY,
            format!("Invalid value {policy_name} for configuration {OVERRIDE_POLICY}: must be All, Principal or None"),
        );
        OverridePolicy::All
    });
    let top = security_props(props);
    let security = providers
        .resolve(&top)
        .map_err(|e| e.config_errors())
        .and_then(|resolved| KafkaSecurity::from_props(&resolved));
    // The producer.* / consumer.* security keys that tasks use on top of the worker's.
    for role in ["producer.", "consumer."] {
        let own = security_props(&connect_core::config::strip_prefix(props, role));
        if own.is_empty() {
            continue;
        }
        let mut merged = top.clone();
        merged.extend(own);
        if let Err(e) = providers
            .resolve(&merged)
            .map_err(|e| e.config_errors())
            .and_then(|resolved| KafkaSecurity::from_props(&resolved))
        {
            errors.extend(e.prefixed(role));
        }
    }
    let consumer = connect_core::config::strip_prefix(props, "consumer.");
    if let Err(e) = crate::kafka::fetcher::FetchConfig::from_consumer_props(&consumer) {
        errors.extend(e.prefixed("consumer."));
    }
    match security {
        Ok(security) => errors.into_result((security, policy)),
        Err(e) => {
            errors.extend(e);
            Err(errors)
        }
    }
}

/// The worker keys set by `CONNECT_*` environment variables.
pub fn env_overrides(env: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    env.into_iter()
        .filter_map(|(name, value)| {
            let rest = name.strip_prefix("CONNECT_")?;
            (!rest.is_empty()).then(|| (env_name_to_key(rest), value))
        })
        .collect()
}

/// `BOOTSTRAP_SERVERS` -> `bootstrap.servers`; `__` is `-` and `___` is `_`.
fn env_name_to_key(name: &str) -> String {
    name.to_ascii_lowercase()
        .replace("___", "\u{0}")
        .replace("__", "-")
        .replace('_', ".")
        .replace('\u{0}', "_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::props;

    /// docs/worker.md's key table is generated from `config_def()`, the definitions `--help`
    /// prints too; rerun with UPDATE_DOCS=1 after changing a key.
    #[test]
    fn the_key_table_in_the_docs_is_current() {
        let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/worker.md");
        connect_core::config::check_generated_section(&doc, &config_def().to_markdown()).unwrap();
    }

    #[test]
    fn the_offsets_and_config_files_must_differ() {
        let err = WorkerConfig::parse(
            props(&[
                ("offset.storage.file.filename", "/var/lib/connect/state"),
                ("config.storage.file.filename", "/var/lib/connect/state"),
            ]),
            [],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("config.storage.file.filename /var/lib/connect/state is the offsets file"),
            "{err}"
        );
    }

    #[test]
    fn defaults_and_file_values() {
        let c = WorkerConfig::parse(
            props(&[("offset.storage.file.filename", "/var/lib/connect/offsets")]),
            [],
        )
        .unwrap();
        assert_eq!(c.bootstrap_servers, ["localhost:9092"]);
        assert_eq!(c.listeners, ["0.0.0.0:8083"]);
        assert_eq!(
            c.value_converter,
            "org.apache.kafka.connect.json.JsonConverter"
        );
        assert_eq!(c.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(
            c.configs_file,
            PathBuf::from("/var/lib/connect/offsets.configs")
        );
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let c = WorkerConfig::parse(
            props(&[
                ("offset.storage.file.filename", "/o"),
                ("bootstrap.servers", "a:1"),
            ]),
            [
                ("CONNECT_BOOTSTRAP_SERVERS".to_owned(), "b:2,c:3".to_owned()),
                (
                    "CONNECT_OFFSET_FLUSH_INTERVAL_MS".to_owned(),
                    "1000".to_owned(),
                ),
                (
                    "CONNECT_VALUE_CONVERTER_SCHEMAS_ENABLE".to_owned(),
                    "false".to_owned(),
                ),
                ("HOME".to_owned(), "/root".to_owned()),
            ],
        )
        .unwrap();
        assert_eq!(c.bootstrap_servers, ["b:2", "c:3"]);
        assert_eq!(c.offset_flush_interval, Duration::from_secs(1));
        assert_eq!(
            c.with_prefix("value.converter."),
            props(&[("schemas.enable", "false")])
        );
    }

    #[test]
    fn env_names_follow_the_container_images_rule() {
        assert_eq!(env_name_to_key("BOOTSTRAP_SERVERS"), "bootstrap.servers");
        assert_eq!(env_name_to_key("SOME__DASHED_KEY"), "some-dashed.key");
        assert_eq!(env_name_to_key("UNDER___SCORE"), "under_score");
    }

    #[test]
    fn every_invalid_value_is_reported() {
        let errors = WorkerConfig::parse(
            props(&[
                ("bootstrap.servers", "localhost"),
                ("offset.flush.interval.ms", "soon"),
                ("listeners", "ftp://x:1"),
                ("producer.compression.type", "brotli"),
            ]),
            [],
        )
        .unwrap_err();
        let text = errors.to_string();
        assert!(
            text.contains("Missing required configuration \"offset.storage.file.filename\""),
            "{text}"
        );
        assert!(
            text.contains("Invalid value localhost for configuration bootstrap.servers"),
            "{text}"
        );
        assert!(text.contains("Invalid value soon for configuration offset.flush.interval.ms: Not a number of type LONG"), "{text}");
        assert!(
            text.contains("Invalid value ftp://x:1 for configuration listeners"),
            "{text}"
        );
        assert!(text.contains("Invalid value brotli for configuration producer.compression.type: String must be one of: none, gzip, snappy, lz4, zstd"), "{text}");
        assert_eq!(errors.len(), 5);
    }

    #[test]
    fn unknown_and_ignored_keys_are_reported_for_warnings() {
        let c = WorkerConfig::parse(
            props(&[
                ("offset.storage.file.filename", "/o"),
                ("plugin.path", "/opt"),
                ("bootstrap.server", "typo:1"),
                ("producer.compression.type", "lz4"),
            ]),
            [],
        )
        .unwrap();
        let unused = c.unused_keys();
        assert_eq!(unused.len(), 2);
        assert_eq!(unused[0].0, "bootstrap.server");
        assert!(unused[0].1.starts_with("unknown"));
        assert_eq!(unused[1].0, "plugin.path");
        assert!(unused[1].1.contains("no effect"));
    }
}
