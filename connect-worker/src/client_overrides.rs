//! The Kafka client settings of a connector's tasks: the worker's security keys, then the
//! worker's `producer.*` (sources) or `consumer.*` (sinks) ones, then the connector's
//! `producer.override.*` / `consumer.override.*`, which the worker's
//! `connector.client.config.override.policy` allows or refuses as in Kafka Connect (KIP-458).
//!
//! Kafka Connect gives each task a producer or consumer of its own. Here tasks share the
//! worker's connection unless their security settings differ from it; then each task connects
//! with its own. A task's one connection does everything the task does in Kafka (reading,
//! writing, the dead-letter queue, creating topics), so a sink's `producer.override.*` and
//! every `admin.override.*` are checked against the policy but change nothing. Sinks also take
//! the fetch keys `fetch.max.wait.ms` and `max.partition.fetch.bytes`, `auto.offset.reset`
//! (worker `consumer.*`, connector `consumer.override.*`) and the connector's
//! `consumer.override.group.id` (the consumer group of its offsets).

use connect_core::config::{strip_prefix, ConfigErrors, Props};
use connect_core::plugin::PluginKind;

use crate::config::WorkerConfig;
use crate::kafka::fetcher::FetchConfig;
use crate::kafka::security::{self, security_props};
use crate::kafka::KafkaSecurity;

/// The prefixes of the per-connector client settings.
pub const OVERRIDE_PREFIXES: [&str; 3] = [
    "producer.override.",
    "consumer.override.",
    "admin.override.",
];

/// `connector.client.config.override.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverridePolicy {
    /// Any client key may be overridden (Kafka Connect's default since 3.0).
    All,
    /// Only who the client is: `security.protocol`, `sasl.mechanism`, `sasl.jaas.config`.
    Principal,
    /// No client key may be overridden.
    None,
}

impl OverridePolicy {
    /// The policy named `name` (`All`, `Principal`, `None`, or Kafka's class names).
    pub fn parse(name: &str) -> Option<Self> {
        let short = name
            .trim()
            .trim_start_matches("org.apache.kafka.connect.connector.policy.")
            .trim_end_matches("ConnectorClientConfigOverridePolicy");
        match short.to_ascii_lowercase().as_str() {
            "all" => Some(Self::All),
            "principal" => Some(Self::Principal),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Principal => "Principal",
            Self::None => "None",
        }
    }

    fn allows(self, key: &str) -> bool {
        match self {
            Self::All => true,
            Self::Principal => [
                security::SECURITY_PROTOCOL,
                security::SASL_MECHANISM,
                security::SASL_JAAS_CONFIG,
            ]
            .contains(&key),
            Self::None => false,
        }
    }
}

/// The prefix of the worker's and the connector's client keys that apply to a task of `kind`.
fn role_prefix(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Source => "producer.",
        _ => "consumer.",
    }
}

/// Problems with a connector's client overrides (`props` resolved): keys the worker's policy
/// refuses, with Kafka Connect's message, and security settings that do not parse.
pub fn check(props: &Props, kind: PluginKind, worker: &WorkerConfig) -> ConfigErrors {
    let mut errors = ConfigErrors::default();
    let policy = worker.override_policy;
    for prefix in OVERRIDE_PREFIXES {
        for key in strip_prefix(props, prefix).keys() {
            if !policy.allows(key) {
                errors.add(
                    format!("{prefix}{key}"),
                    format!(
                        "The '{}' policy does not allow '{key}' to be overridden in the connector configuration.",
                        policy.name()
                    ),
                );
            }
        }
    }
    if errors.is_empty() {
        if let Err(e) = effective_security(props, kind, worker) {
            errors.extend(e);
        }
        if kind == PluginKind::Sink {
            let own = strip_prefix(props, "consumer.override.");
            if let Err(e) = FetchConfig::from_consumer_props(&own) {
                errors.extend(e.prefixed("consumer.override."));
            }
        }
    }
    errors
}

/// The consumer keys of a sink's tasks (`props` resolved): the worker's `consumer.*`, then
/// the connector's `consumer.override.*`, prefixes removed.
pub fn consumer_props(props: &Props, worker: &WorkerConfig) -> Props {
    let mut consumer = worker.with_prefix("consumer.");
    consumer.extend(strip_prefix(props, "consumer.override."));
    consumer
}

/// The consumer group a sink connector's tasks commit their offsets to:
/// `consumer.override.group.id`, else `connect-<name>`, as Kafka Connect names it (a worker's
/// own `consumer.group.id` is not used for sinks, as in Kafka Connect). `props` resolved.
pub fn sink_group_id(name: &str, props: &Props) -> String {
    match props.get("consumer.override.group.id") {
        Some(group) if !group.trim().is_empty() => group.clone(),
        _ => format!("connect-{name}"),
    }
}

/// The security of a connector's tasks (`props` resolved): `None` when it is the worker's
/// own, so the tasks share its connection.
pub fn task_security(
    props: &Props,
    kind: PluginKind,
    worker: &WorkerConfig,
) -> Result<Option<KafkaSecurity>, ConfigErrors> {
    effective_security(props, kind, worker)
}

fn effective_security(
    props: &Props,
    kind: PluginKind,
    worker: &WorkerConfig,
) -> Result<Option<KafkaSecurity>, ConfigErrors> {
    let base = worker.kafka_security_props();
    let role = role_prefix(kind);
    let worker_role = worker
        .providers
        .resolve(&security_props(&worker.with_prefix(role)))
        .map_err(|e| e.config_errors().prefixed(role))?;
    let override_prefix = format!("{role}override.");
    let connector = security_props(&strip_prefix(props, &override_prefix));
    if worker_role.is_empty() && connector.is_empty() {
        return Ok(None);
    }
    let mut effective = base.clone();
    effective.extend(worker_role);
    effective.extend(connector);
    if effective == base {
        return Ok(None);
    }
    // The worker's keys were checked at its start: a problem here comes from the connector's
    // keys, or is one they made (e.g. sasl.jaas.config missing once the protocol is SASL_SSL).
    KafkaSecurity::from_props(&effective)
        .map(Some)
        .map_err(|errors| errors.prefixed(&override_prefix))
}

/// The override keys of `props` that change nothing here, for a warning when tasks start.
pub fn ignored_overrides(props: &Props, kind: PluginKind) -> Vec<String> {
    let applied = format!("{}override.", role_prefix(kind));
    let mut def = security::config_def();
    if kind == PluginKind::Sink {
        def = def.merge(crate::kafka::fetcher::consumer_def());
    }
    props
        .keys()
        .filter(|key| OVERRIDE_PREFIXES.iter().any(|p| key.starts_with(p)))
        .filter(|key| {
            key.strip_prefix(&applied)
                .is_none_or(|rest| def.key(rest).is_none())
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::props;

    fn worker(extra: &[(&str, &str)]) -> WorkerConfig {
        let mut p = props(&[("offset.storage.file.filename", "/tmp/o")]);
        p.extend(props(extra));
        WorkerConfig::parse(p, []).unwrap()
    }

    const JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" password=\"alice-secret\";";

    #[test]
    fn policies_by_name_and_class() {
        assert_eq!(OverridePolicy::parse("All"), Some(OverridePolicy::All));
        assert_eq!(
            OverridePolicy::parse(
                "org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy"
            ),
            Some(OverridePolicy::Principal)
        );
        assert_eq!(OverridePolicy::parse("none"), Some(OverridePolicy::None));
        assert_eq!(OverridePolicy::parse("Some"), None);
        let errors = WorkerConfig::parse(
            props(&[
                ("offset.storage.file.filename", "/tmp/o"),
                ("connector.client.config.override.policy", "Some"),
            ]),
            [],
        )
        .unwrap_err();
        assert!(errors
            .to_string()
            .contains("must be All, Principal or None"));
    }

    #[test]
    fn the_policy_refuses_keys_with_kafka_connects_message() {
        let connector = props(&[
            ("consumer.override.sasl.mechanism", "PLAIN"),
            ("consumer.override.max.poll.records", "10"),
        ]);
        let w = worker(&[("connector.client.config.override.policy", "Principal")]);
        let errors = check(&connector, PluginKind::Sink, &w);
        let text = errors.to_string();
        assert_eq!(errors.len(), 1, "{text}");
        assert_eq!(
            errors.iter().next().map(|(k, _)| k),
            Some("consumer.override.max.poll.records")
        );
        assert!(text.contains("The 'Principal' policy does not allow 'max.poll.records' to be overridden in the connector configuration."), "{text}");
        let w = worker(&[("connector.client.config.override.policy", "None")]);
        assert_eq!(check(&connector, PluginKind::Sink, &w).len(), 2);
        let w = worker(&[]);
        assert_eq!(
            ignored_overrides(&connector, PluginKind::Sink),
            ["consumer.override.max.poll.records"]
        );
        // All: allowed (a mechanism without a SASL protocol is unused, as in Kafka's clients).
        assert!(check(&connector, PluginKind::Sink, &w).is_empty());
    }

    #[test]
    fn tasks_share_the_worker_connection_unless_security_differs() {
        let w = worker(&[]);
        assert!(task_security(&Props::new(), PluginKind::Source, &w)
            .unwrap()
            .is_none());
        let same = props(&[("producer.override.security.protocol", "PLAINTEXT")]);
        assert!(task_security(&same, PluginKind::Source, &w)
            .unwrap()
            .is_none());
        let sasl = props(&[
            ("producer.override.security.protocol", "SASL_PLAINTEXT"),
            ("producer.override.sasl.mechanism", "PLAIN"),
            ("producer.override.sasl.jaas.config", JAAS),
        ]);
        let security = task_security(&sasl, PluginKind::Source, &w)
            .unwrap()
            .unwrap();
        assert_eq!(security.describe(), "SASL_PLAINTEXT (PLAIN, user 'alice')");
        // A sink reads with consumer.override.*: the producer ones change nothing.
        assert!(task_security(&sasl, PluginKind::Sink, &w)
            .unwrap()
            .is_none());
        assert_eq!(ignored_overrides(&sasl, PluginKind::Sink).len(), 3);
        // The worker's consumer.* keys apply to every sink task.
        let w = worker(&[
            ("consumer.security.protocol", "SASL_PLAINTEXT"),
            ("consumer.sasl.mechanism", "PLAIN"),
            ("consumer.sasl.jaas.config", JAAS),
        ]);
        let security = task_security(&Props::new(), PluginKind::Sink, &w)
            .unwrap()
            .unwrap();
        assert!(security.uses_sasl());
    }

    #[test]
    fn sinks_take_the_fetch_keys_from_the_worker_and_their_overrides() {
        let w = worker(&[("consumer.fetch.max.wait.ms", "100")]);
        let connector = props(&[("consumer.override.max.partition.fetch.bytes", "65536")]);
        let fetch = FetchConfig::from_consumer_props(&consumer_props(&connector, &w)).unwrap();
        assert_eq!(fetch.max_wait, std::time::Duration::from_millis(100));
        assert_eq!(fetch.max_partition_bytes, 65536);
        assert!(ignored_overrides(&connector, PluginKind::Sink).is_empty());
        let bad = props(&[("consumer.override.fetch.max.wait.ms", "0")]);
        let errors = check(&bad, PluginKind::Sink, &w);
        assert_eq!(
            errors.iter().next().map(|(k, _)| k),
            Some("consumer.override.fetch.max.wait.ms")
        );
        let errors = WorkerConfig::parse(
            props(&[
                ("offset.storage.file.filename", "/tmp/o"),
                ("consumer.max.partition.fetch.bytes", "big"),
            ]),
            [],
        )
        .unwrap_err();
        assert!(
            errors
                .to_string()
                .contains("consumer.max.partition.fetch.bytes"),
            "{errors}"
        );
    }

    #[test]
    fn a_wrong_override_is_named_with_its_prefix() {
        let w = worker(&[]);
        let connector = props(&[("consumer.override.security.protocol", "SASL_SSL")]);
        let errors = task_security(&connector, PluginKind::Sink, &w).unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|(k, _)| k).collect();
        assert!(
            keys.contains(&"consumer.override.sasl.mechanism"),
            "{keys:?}"
        );
        let connector = props(&[("consumer.override.security.protocol", "TLS")]);
        let text = check(&connector, PluginKind::Sink, &w).to_string();
        assert!(
            text.contains(
                "Invalid value TLS for configuration consumer.override.security.protocol"
            ),
            "{text}"
        );
    }
}
