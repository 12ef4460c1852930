//! The worker keys of distributed mode, with Kafka Connect's names and defaults
//! (`connect-distributed.properties` work as they are). A worker whose properties set
//! `group.id` runs distributed; without it these keys mean nothing and it runs standalone.

use std::time::Duration;

use connect_core::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Validator};

use super::internal_topics::{InternalTopic, CONFIG_TOPIC, OFFSET_TOPIC, STATUS_TOPIC};
use super::protocol::ConnectProtocol;

/// Names of the keys used in more than one place.
pub const GROUP_ID: &str = "group.id";

/// The distributed-mode keys, their types, defaults and documentation.
pub fn config_def() -> ConfigDef {
    let group = "Distributed";
    // Positive, or -1 for the broker's default (0 is refused in `parse`).
    let partitions = || Validator::at_least(-1);
    let ms = |key: &str, default: &str, order: i32, doc: &str| {
        ConfigKey::new(key, ConfigType::Int)
            .default_value(default)
            .validator(Validator::at_least(0))
            .importance(Importance::Medium)
            .doc(doc)
            .group(group, order)
    };
    ConfigDef::new()
        .define(
            ConfigKey::new(GROUP_ID, ConfigType::String)
                .optional()
                .importance(Importance::High)
                .doc("Set it and the worker runs distributed: workers with the same group.id form one cluster through Kafka's group coordinator, share the connectors and tasks, and keep configurations, statuses and source offsets in the three storage topics (docs/distributed.md). Without it the worker runs standalone.")
                .group(group, 1),
        )
        .define(
            ConfigKey::new(CONFIG_TOPIC, ConfigType::String)
                .optional()
                .importance(Importance::High)
                .doc("Distributed: the topic of connector configurations and target states (one partition, compacted; created when missing). Required with group.id.")
                .group(group, 2),
        )
        .define(
            ConfigKey::new(OFFSET_TOPIC, ConfigType::String)
                .optional()
                .importance(Importance::High)
                .doc("Distributed: the topic of source connectors' offsets (compacted; created when missing). Required with group.id. Sink connectors' offsets are in their consumer groups.")
                .group(group, 3),
        )
        .define(
            ConfigKey::new(STATUS_TOPIC, ConfigType::String)
                .optional()
                .importance(Importance::High)
                .doc("Distributed: the topic of connector and task statuses (compacted; created when missing). Required with group.id.")
                .group(group, 4),
        )
        .define(
            ConfigKey::new("config.storage.replication.factor", ConfigType::Short)
                .default_value("3")
                .validator(partitions())
                .importance(Importance::Low)
                .doc("Distributed: the replication factor of the config topic when the worker creates it (-1: the broker's default).")
                .group(group, 5),
        )
        .define(
            ConfigKey::new("offset.storage.replication.factor", ConfigType::Short)
                .default_value("3")
                .validator(partitions())
                .importance(Importance::Low)
                .doc("Distributed: the replication factor of the offsets topic when the worker creates it (-1: the broker's default).")
                .group(group, 6),
        )
        .define(
            ConfigKey::new("offset.storage.partitions", ConfigType::Int)
                .default_value("25")
                .validator(partitions())
                .importance(Importance::Low)
                .doc("Distributed: the partitions of the offsets topic when the worker creates it (-1: the broker's default).")
                .group(group, 7),
        )
        .define(
            ConfigKey::new("status.storage.replication.factor", ConfigType::Short)
                .default_value("3")
                .validator(partitions())
                .importance(Importance::Low)
                .doc("Distributed: the replication factor of the status topic when the worker creates it (-1: the broker's default).")
                .group(group, 8),
        )
        .define(
            ConfigKey::new("status.storage.partitions", ConfigType::Int)
                .default_value("5")
                .validator(partitions())
                .importance(Importance::Low)
                .doc("Distributed: the partitions of the status topic when the worker creates it (-1: the broker's default).")
                .group(group, 9),
        )
        .define(ms(
            "session.timeout.ms",
            "10000",
            10,
            "Distributed: a worker that sends no heartbeat for this long is dropped from the group and its work moves to the others.",
        ))
        .define(ms(
            "heartbeat.interval.ms",
            "3000",
            11,
            "Distributed: how often a worker tells the group coordinator it is alive; under a third of session.timeout.ms.",
        ))
        .define(ms(
            "rebalance.timeout.ms",
            "60000",
            12,
            "Distributed: how long the coordinator waits for every worker to rejoin during a rebalance.",
        ))
        .define(ms(
            "scheduled.rebalance.max.delay.ms",
            "300000",
            13,
            "Distributed (connect.protocol=compatible): how long the work of a worker that left waits for it to come back before it is spread over the others (0: at once).",
        ))
        .define(ms(
            "worker.sync.timeout.ms",
            "3000",
            14,
            "Distributed: how long a worker may take to read the config topic to the end before it acts on an assignment; past it the worker leaves the group and tries again.",
        ))
        .define(
            ConfigKey::new("connect.protocol", ConfigType::String)
                .default_value("compatible")
                .validator(Validator::one_of_ignore_case(&["eager", "compatible", "sessioned"]))
                .importance(Importance::Low)
                .doc("Distributed: the group protocol: compatible (incremental cooperative rebalancing: only the work that moves is stopped) or eager (every worker stops everything at each rebalance). sessioned (Kafka Connect's default, which signs internal requests) is not supported and runs as compatible, as a Java cluster with a worker that lacks it does.")
                .group(group, 15),
        )
        .define(
            ConfigKey::new("rest.advertised.host.name", ConfigType::String)
                .optional()
                .importance(Importance::Low)
                .doc("Distributed: the host other workers reach this worker's REST API at (forwarded requests, task configurations). Default: the first listener's host, or localhost for 0.0.0.0.")
                .group(group, 16),
        )
        .define(
            ConfigKey::new("rest.advertised.port", ConfigType::Int)
                .optional()
                .validator(Validator::between(1, 65535))
                .importance(Importance::Low)
                .doc("Distributed: the port other workers reach this worker's REST API at. Default: the first listener's port.")
                .group(group, 17),
        )
        .define(
            ConfigKey::new("rest.advertised.listener", ConfigType::String)
                .optional()
                .validator(Validator::one_of_ignore_case(&["http", "https"]))
                .importance(Importance::Low)
                .doc("Distributed: the scheme other workers reach this worker's REST API with. Default: the first listener's.")
                .group(group, 18),
        )
}

/// The settings of a distributed worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributedConfig {
    pub group_id: String,
    pub config_topic: InternalTopic,
    pub offset_topic: InternalTopic,
    pub status_topic: InternalTopic,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
    pub max_delay: Duration,
    pub sync_timeout: Duration,
    pub protocol: ConnectProtocol,
    /// The REST URL other workers reach this one at, ending with `/` as Java's do.
    pub advertised_url: String,
    /// `host:port` of [`DistributedConfig::advertised_url`]: the `worker_id` of statuses.
    pub worker_id: String,
}

impl DistributedConfig {
    /// The distributed settings, `None` for a standalone worker (no `group.id`). `listener` is
    /// the first REST listener as given (`http://host:port`).
    pub fn parse(
        values: &connect_core::config::ConfigValues,
        listener: &str,
    ) -> Result<Option<Self>, ConfigErrors> {
        let Some(group_id) = values.string(GROUP_ID).filter(|g| !g.trim().is_empty()) else {
            return Ok(None);
        };
        let mut errors = ConfigErrors::default();
        let mut topic = |key: &'static str, partitions: Option<&str>, rf: &str| {
            let name = values.string(key).unwrap_or_default().trim().to_owned();
            if name.is_empty() {
                errors.add(
                    key,
                    format!("Missing required configuration \"{key}\" which has no default value (a distributed worker, with group.id, keeps its state in three topics)."),
                );
            }
            let partitions = partitions.and_then(|k| values.int(k).map(|n| (k, n)));
            let replication_factor = values.long(rf).unwrap_or(3) as i16;
            for (setting, value) in [
                partitions.unwrap_or(("", 1)),
                (rf, replication_factor.into()),
            ] {
                if value == 0 {
                    errors.add(
                        setting,
                        format!("{setting} must be positive, or -1 for the broker's default"),
                    );
                }
            }
            let partitions = partitions.map_or(1, |(_, n)| n);
            match key {
                CONFIG_TOPIC => InternalTopic::config(name, replication_factor),
                OFFSET_TOPIC => InternalTopic::offsets(name, partitions, replication_factor),
                _ => InternalTopic::status(name, partitions, replication_factor),
            }
        };
        let config_topic = topic(CONFIG_TOPIC, None, "config.storage.replication.factor");
        let offset_topic = topic(
            OFFSET_TOPIC,
            Some("offset.storage.partitions"),
            "offset.storage.replication.factor",
        );
        let status_topic = topic(
            STATUS_TOPIC,
            Some("status.storage.partitions"),
            "status.storage.replication.factor",
        );
        let topics = [&config_topic, &offset_topic, &status_topic];
        for (i, a) in topics.iter().enumerate() {
            for b in &topics[i + 1..] {
                if !a.name.is_empty() && a.name == b.name {
                    errors.add(
                        b.key,
                        format!("{} and {} are both '{}': the three storage topics must be different topics", a.key, b.key, a.name),
                    );
                }
            }
        }
        let ms = |key: &str| Duration::from_millis(values.int(key).unwrap_or(0).max(0) as u64);
        let session_timeout = ms("session.timeout.ms");
        let heartbeat_interval = ms("heartbeat.interval.ms");
        if heartbeat_interval >= session_timeout {
            errors.add(
                "heartbeat.interval.ms",
                format!("heartbeat.interval.ms ({heartbeat_interval:?}) must be lower than session.timeout.ms ({session_timeout:?}), usually under a third of it"),
            );
        }
        let protocol = match values
            .string("connect.protocol")
            .unwrap_or("compatible")
            .to_ascii_lowercase()
            .as_str()
        {
            "eager" => ConnectProtocol::Eager,
            _ => ConnectProtocol::Compatible,
        };
        let (scheme, host, port) = split_listener(listener);
        let scheme = values
            .string("rest.advertised.listener")
            .map(str::to_ascii_lowercase)
            .unwrap_or(scheme);
        let host = values
            .string("rest.advertised.host.name")
            .map(str::to_owned)
            .unwrap_or(host);
        let port = values
            .int("rest.advertised.port")
            .map(|p| p.to_string())
            .unwrap_or(port);
        let worker_id = format!("{host}:{port}");
        errors.into_result(Some(Self {
            group_id: group_id.to_owned(),
            config_topic,
            offset_topic,
            status_topic,
            session_timeout,
            heartbeat_interval,
            rebalance_timeout: ms("rebalance.timeout.ms"),
            max_delay: ms("scheduled.rebalance.max.delay.ms"),
            sync_timeout: ms("worker.sync.timeout.ms"),
            protocol,
            advertised_url: format!("{scheme}://{worker_id}/"),
            worker_id,
        }))
    }
}

/// Scheme, host and port of a listener `scheme://host:port`; a wildcard host is advertised as
/// `localhost` (the worker cannot know which of its addresses others reach).
fn split_listener(listener: &str) -> (String, String, String) {
    let (scheme, rest) = listener.split_once("://").unwrap_or(("http", listener));
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "8083"));
    let host = match host {
        "" | "0.0.0.0" | "[::]" => "localhost",
        other => other,
    };
    (
        scheme.to_ascii_lowercase(),
        host.to_owned(),
        port.to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::Props;

    fn parse(pairs: &[(&str, &str)]) -> Result<Option<DistributedConfig>, ConfigErrors> {
        let props: Props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let values = config_def().parse(&props)?;
        DistributedConfig::parse(&values, "http://0.0.0.0:8083")
    }

    const CLUSTER: &[(&str, &str)] = &[
        ("group.id", "connect-cluster"),
        ("config.storage.topic", "connect-configs"),
        ("offset.storage.topic", "connect-offsets"),
        ("status.storage.topic", "connect-status"),
    ];

    #[test]
    fn without_a_group_id_the_worker_is_standalone() {
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(parse(&[("group.id", " ")]).unwrap(), None);
    }

    #[test]
    fn kafka_connect_defaults_apply() {
        let config = parse(CLUSTER).unwrap().unwrap();
        assert_eq!(config.group_id, "connect-cluster");
        assert_eq!(config.config_topic.partitions, 1);
        assert_eq!(config.offset_topic.partitions, 25);
        assert_eq!(config.status_topic.partitions, 5);
        assert_eq!(config.status_topic.replication_factor, 3);
        assert_eq!(config.session_timeout, Duration::from_secs(10));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(config.rebalance_timeout, Duration::from_secs(60));
        assert_eq!(config.max_delay, Duration::from_secs(300));
        assert_eq!(config.sync_timeout, Duration::from_secs(3));
        assert_eq!(config.protocol, ConnectProtocol::Compatible);
        assert_eq!(config.advertised_url, "http://localhost:8083/");
        assert_eq!(config.worker_id, "localhost:8083");
    }

    #[test]
    fn the_advertised_url_takes_each_override() {
        let mut pairs = CLUSTER.to_vec();
        pairs.extend([
            ("rest.advertised.host.name", "w1.example"),
            ("rest.advertised.port", "9000"),
            ("rest.advertised.listener", "HTTPS"),
            ("connect.protocol", "eager"),
        ]);
        let config = parse(&pairs).unwrap().unwrap();
        assert_eq!(config.advertised_url, "https://w1.example:9000/");
        assert_eq!(config.worker_id, "w1.example:9000");
        assert_eq!(config.protocol, ConnectProtocol::Eager);
    }

    #[test]
    fn missing_or_shared_topics_are_named() {
        let errors = parse(&[
            ("group.id", "g"),
            ("config.storage.topic", "t"),
            ("status.storage.topic", "t"),
        ])
        .unwrap_err()
        .to_string();
        assert!(errors.contains("offset.storage.topic"), "{errors}");
        assert!(errors.contains("must be different topics"), "{errors}");
        let mut pairs = CLUSTER.to_vec();
        pairs.push(("heartbeat.interval.ms", "10000"));
        let errors = parse(&pairs).unwrap_err().to_string();
        assert!(errors.contains("heartbeat.interval.ms"), "{errors}");
    }
}
