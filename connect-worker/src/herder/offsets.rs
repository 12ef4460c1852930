//! `GET|PATCH|DELETE /connectors/{name}/offsets` (KIP-875): reading, altering and resetting a
//! connector's offsets. Changes are allowed only while the connector is STOPPED.
//!
//! A source's offsets are in the worker's offset store. A sink's are the committed offsets of
//! its consumer group (`connect-<name>`, or `consumer.override.group.id`), as in Kafka
//! Connect, where Kafka's own tools see them. Sinks used to keep them in the offset store; a
//! sink task still starts a partition from such a legacy entry while its group has no offset
//! for it, so GET shows the entry in the group's place, and PATCH / DELETE remove the entries
//! of the partitions they change (else a reset partition would resume from its old entry).
//!
//! Each Kafka call is bounded by `request.timeout.ms`: an unreachable cluster is a 500 that
//! says what failed, never a request that hangs.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use connect_core::plugin::{PluginFactory, PluginKind};
use connect_core::record::{SourceMap, TopicPartition};

use super::assign::partitions_of;
use super::slot::{Slot, Step};
use super::{ConnectorOffsets, Herder, HerderError, PartitionOffset, Result};
use crate::client_overrides::sink_group_id;
use crate::config_providers::ConfigProviders;
use crate::connector_config::ConnectorConfig;
use crate::kafka::KafkaError;
use crate::store::TargetState;
use crate::task::sink::{offset_value, partition_key};

/// The answer to a successful alter.
pub const ALTERED: &str = "The offsets for this connector have been altered successfully";
/// The answer to a successful reset.
pub const RESET: &str = "The offsets for this connector have been reset successfully";

/// The Kafka calls a sink's offsets change makes after the connector's own call (a commit and
/// a delete at most), each bounded by `request.timeout.ms`: the request waits for them on top
/// of the connector's call.
const GROUP_WRITES: u32 = 2;

/// What a sink's PATCH or DELETE does to its consumer group, decided before the connector's
/// own call (the group cannot change meanwhile: the connector is STOPPED and locked).
#[derive(Debug, Default)]
struct GroupChange {
    group: String,
    /// Offsets to commit.
    commit: BTreeMap<TopicPartition, i64>,
    /// Partitions whose offsets to delete: only those the group holds, since Kafka refuses
    /// to delete the offsets of a group it does not know (GROUP_ID_NOT_FOUND).
    delete: Vec<TopicPartition>,
    /// What a failure is reported as (Kafka Connect's message).
    failed: String,
}

impl Herder {
    /// The connector's offsets: a source's stored ones, a sink's from its consumer group.
    pub async fn offsets(&self, name: &str) -> Result<ConnectorOffsets> {
        let config = Arc::clone(&self.offsets_slot(name)?.view().config);
        if config.kind() == PluginKind::Sink {
            return self.sink_offsets(name, &config).await;
        }
        Ok(ConnectorOffsets {
            offsets: self
                .shared
                .offsets
                .all(name)
                .await
                .map_err(|e| {
                    HerderError::Internal(format!(
                        "Failed to retrieve offsets for source connector {name}: {e}"
                    ))
                })?
                .into_iter()
                .map(|(partition, offset)| PartitionOffset {
                    partition,
                    offset: Some(offset),
                })
                .collect(),
        })
    }

    /// The group's committed offset of every partition of the sink's topics, by topic then
    /// partition; a partition the group has no offset for shows its legacy entry, if any.
    async fn sink_offsets(&self, name: &str, config: &ConnectorConfig) -> Result<ConnectorOffsets> {
        let failed = format!("Failed to retrieve consumer group offsets for sink connector {name}");
        let group = self.sink_group(config)?;
        let partitions = self.sink_partitions(config, &failed).await?;
        let committed = self.committed(&group, &partitions, &failed).await?;
        let legacy = crate::task::sink::legacy_offsets(&*self.shared.offsets, name)
            .await
            .map_err(|e| HerderError::Internal(format!("{failed}: {e}")))?;
        let offsets = partitions
            .iter()
            .filter_map(|p| {
                let offset = committed.get(p).or_else(|| legacy.get(p)).copied()?;
                Some(PartitionOffset {
                    partition: partition_key(p),
                    offset: Some(offset_value(offset)),
                })
            })
            .collect();
        Ok(ConnectorOffsets { offsets })
    }

    /// Alters offsets (`None` removes a partition's offset); the connector must be STOPPED.
    /// A sink's own `alter_offsets` runs first, with the connector locked as a lifecycle call
    /// does (it may refuse the change); then its group's offsets are committed and deleted.
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<PartitionOffset>,
    ) -> Result<&'static str> {
        let slot = self.offsets_slot(name)?;
        let connector = self.lock(&slot).await?;
        require_stopped(name, connector.target)?;
        if offsets.is_empty() {
            return Err(HerderError::BadRequest(
                "Partitions / offsets need to be provided for an alter offsets request".into(),
            ));
        }
        let config = Arc::clone(&connector.config);
        if config.kind() != PluginKind::Sink {
            let changes = offsets
                .into_iter()
                .map(|e| (e.partition, e.offset))
                .collect();
            self.shared
                .offsets
                .put(name, changes)
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            return Ok(ALTERED);
        }
        let changes = sink_changes(&offsets)?;
        let failed = format!("Failed to alter consumer group offsets for connector {name}");
        let group = self.sink_group(&config)?;
        let resets: Vec<TopicPartition> = changes
            .iter()
            .filter(|(_, offset)| offset.is_none())
            .map(|(p, _)| p.clone())
            .collect();
        let in_group = slot
            .during(Step::ChangingGroupOffsets, async {
                let topics = self.ask_kafka(&failed, self.shared.kafka.topics()).await?;
                require_existing(&failed, &topics, changes.keys())?;
                self.committed(&group, &resets, &failed).await
            })
            .await?;
        let change = GroupChange {
            group,
            commit: changes
                .iter()
                .filter_map(|(p, offset)| Some((p.clone(), (*offset)?)))
                .collect(),
            delete: in_group.into_keys().collect(),
            failed,
        };
        let herder = self.clone();
        let held = Arc::clone(&slot);
        let name = name.to_owned();
        let altered = self
            .carry_out_within(&slot, self.group_change_wait(), async move {
                let result = herder
                    .alter_sink_offsets(&held, &name, &config, changes, change)
                    .await;
                drop(connector);
                result
            })
            .await?;
        altered.unwrap_or_else(|| Err(slot.busy()))
    }

    /// The sink's own offsets first (it may refuse them), then its group's, then the legacy
    /// entries of the partitions changed.
    async fn alter_sink_offsets(
        &self,
        slot: &Slot,
        name: &str,
        config: &ConnectorConfig,
        changes: BTreeMap<TopicPartition, Option<i64>>,
        group: GroupChange,
    ) -> Result<&'static str> {
        if let PluginFactory::Sink(plugin) = &config.plugin.factory {
            let props = self
                .shared
                .worker
                .providers
                .resolve(&config.props)
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            slot.during(
                Step::AlteringOffsets,
                (plugin.alter_offsets)(props, changes.clone()),
            )
            .await
            .map_err(|e| {
                HerderError::Internal(format!(
                    "Failed to alter offsets for connector {name}: {}",
                    e.trace()
                ))
            })?;
        }
        self.change_group(slot, &group).await?;
        let superseded = changes
            .into_keys()
            .map(|p| (partition_key(&p), None))
            .collect();
        self.shared
            .offsets
            .put(name, superseded)
            .await
            .map_err(|e| HerderError::Internal(e.to_string()))?;
        Ok(ALTERED)
    }

    /// Removes every offset of the connector; it must be STOPPED. A sink's own
    /// `reset_offsets` runs first; then its group's offsets of the partitions of its topics
    /// are deleted, as Kafka Connect deletes the group.
    pub async fn reset_offsets(&self, name: &str) -> Result<&'static str> {
        let slot = self.offsets_slot(name)?;
        let connector = self.lock(&slot).await?;
        require_stopped(name, connector.target)?;
        let config = Arc::clone(&connector.config);
        if config.kind() != PluginKind::Sink {
            self.shared
                .offsets
                .remove_connector(name)
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            return Ok(RESET);
        }
        let group = self.sink_group(&config)?;
        let listing =
            format!("Failed to list offsets prior to resetting offsets for sink connector {name}");
        let in_group = slot
            .during(Step::ChangingGroupOffsets, async {
                let partitions = self.sink_partitions(&config, &listing).await?;
                self.committed(&group, &partitions, &listing).await
            })
            .await?;
        let change = GroupChange {
            group,
            delete: in_group.into_keys().collect(),
            failed: format!("Failed to reset consumer group offsets for sink connector {name}"),
            ..GroupChange::default()
        };
        let herder = self.clone();
        let held = Arc::clone(&slot);
        let name = name.to_owned();
        let reset = self
            .carry_out_within(&slot, self.group_change_wait(), async move {
                let result = herder
                    .reset_sink_offsets(&held, &name, &config, change)
                    .await;
                drop(connector);
                result
            })
            .await?;
        reset.unwrap_or_else(|| Err(slot.busy()))
    }

    /// The sink's own offsets first, then its group's, then every legacy entry of it.
    async fn reset_sink_offsets(
        &self,
        slot: &Slot,
        name: &str,
        config: &ConnectorConfig,
        group: GroupChange,
    ) -> Result<&'static str> {
        slot.during(
            Step::ResettingOffsets,
            reset_external_offsets(config, &self.shared.worker.providers),
        )
        .await
        .map_err(|e| {
            HerderError::Internal(format!(
                "Failed to reset offsets for connector {name}: {}",
                e.trace()
            ))
        })?;
        self.change_group(slot, &group).await?;
        self.shared
            .offsets
            .remove_connector(name)
            .await
            .map_err(|e| HerderError::Internal(e.to_string()))?;
        Ok(RESET)
    }

    /// Commits and deletes a sink's group offsets.
    async fn change_group(&self, slot: &Slot, change: &GroupChange) -> Result<()> {
        let kafka = &self.shared.kafka;
        slot.during(Step::ChangingGroupOffsets, async {
            if !change.commit.is_empty() {
                let commit = kafka.commit_offsets(&change.group, &change.commit);
                self.ask_kafka(&change.failed, commit).await?;
            }
            if !change.delete.is_empty() {
                let delete = kafka.delete_offsets(&change.group, &change.delete);
                self.ask_kafka(&change.failed, delete).await?;
            }
            Ok(())
        })
        .await
    }

    /// How long a sink's PATCH or DELETE waits for its calls: the connector's own, then its
    /// group's.
    fn group_change_wait(&self) -> Duration {
        self.lifecycle_wait() + self.shared.worker.request_timeout * GROUP_WRITES
    }

    /// The sink's consumer group (its configuration's variables resolved, as its tasks see it).
    fn sink_group(&self, config: &ConnectorConfig) -> Result<String> {
        let props = self
            .shared
            .worker
            .providers
            .resolve(&config.props)
            .map_err(|e| HerderError::Internal(e.to_string()))?;
        Ok(sink_group_id(&config.name, &props))
    }

    /// Every partition of the sink's topics in the cluster (`topics.regex` matched against
    /// its topics), by topic then partition.
    async fn sink_partitions(
        &self,
        config: &ConnectorConfig,
        failed: &str,
    ) -> Result<Vec<TopicPartition>> {
        let Some(selection) = &config.topics else {
            return Ok(Vec::new());
        };
        let topics = self.ask_kafka(failed, self.shared.kafka.topics()).await?;
        Ok(partitions_of(&topics, selection))
    }

    /// The offsets `group` holds of `partitions` (none asked for none).
    async fn committed(
        &self,
        group: &str,
        partitions: &[TopicPartition],
        failed: &str,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        if partitions.is_empty() {
            return Ok(BTreeMap::new());
        }
        let call = self.shared.kafka.committed_offsets(group, partitions);
        self.ask_kafka(failed, call).await
    }

    /// One Kafka call of an offsets request, bounded by `request.timeout.ms` (rskafka may
    /// keep reconnecting to a broker that is gone for longer than its own deadline): a
    /// failure is a 500 that starts with `failed` and says why.
    async fn ask_kafka<T>(
        &self,
        failed: &str,
        call: impl Future<Output = std::result::Result<T, KafkaError>>,
    ) -> Result<T> {
        let limit = self.shared.worker.request_timeout;
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(HerderError::Internal(format!("{failed}: {e}"))),
            Err(_) => Err(HerderError::Internal(format!(
                "{failed}: no answer from Kafka within {} ms (request.timeout.ms)",
                limit.as_millis()
            ))),
        }
    }
}

/// Lets a sink remove the offsets it keeps in its own system (the Redis sink's, for one).
pub(super) async fn reset_external_offsets(
    config: &ConnectorConfig,
    providers: &ConfigProviders,
) -> std::result::Result<(), connect_core::ConnectError> {
    match &config.plugin.factory {
        PluginFactory::Sink(plugin) => {
            let props = providers
                .resolve(&config.props)
                .map_err(|e| connect_core::ConnectError::fatal(e.to_string()))?;
            (plugin.reset_offsets)(props).await
        }
        _ => Ok(()),
    }
}

fn require_stopped(name: &str, target: TargetState) -> Result<()> {
    if target == TargetState::Stopped {
        return Ok(());
    }
    Err(HerderError::BadRequest(format!(
        "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
    )))
}

/// A sink's PATCH entries as partitions and offsets, each checked ([`check_sink_offset`]).
fn sink_changes(entries: &[PartitionOffset]) -> Result<BTreeMap<TopicPartition, Option<i64>>> {
    entries.iter().map(check_sink_offset).collect()
}

/// A sink offset must name a topic and partition and give a non-negative offset (or null):
/// the partition and the offset it gives.
fn check_sink_offset(entry: &PartitionOffset) -> Result<(TopicPartition, Option<i64>)> {
    let bad = |message: String| Err(HerderError::BadRequest(message));
    let partition: &SourceMap = &entry.partition;
    let partition = match (partition.get("kafka_topic"), partition.get("kafka_partition")) {
        (Some(Json::String(topic)), Some(p)) if !topic.is_empty() => {
            match p.as_i64().and_then(|p| i32::try_from(p).ok()).filter(|p| *p >= 0) {
                Some(p) => TopicPartition::new(topic.as_str(), p),
                None => return bad(format!(
                    "Failed to parse the following Kafka partition value in the provided offsets: '{p}'. Partition values for sink connectors need to be integers."
                )),
            }
        }
        _ => {
            return bad(
                "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'".into(),
            )
        }
    };
    match &entry.offset {
        None => Ok((partition, None)),
        Some(offset) => match offset.get("kafka_offset") {
            Some(o) => match o.as_i64().filter(|o| *o >= 0) {
                Some(o) => Ok((partition, Some(o))),
                None => bad(format!(
                    "Failed to parse the following Kafka offset value in the provided offsets: '{o}'. Offset values for sink connectors need to be non-negative integers."
                )),
            },
            None => bad(
                "The offset for a sink connector should either be null or contain the key 'kafka_offset'".into(),
            ),
        },
    }
}

/// Kafka refuses to commit or delete offsets of partitions it does not have
/// (UNKNOWN_TOPIC_OR_PARTITION), which fails Kafka Connect's alter: refused here before
/// anything changes, naming them.
fn require_existing<'a>(
    failed: &str,
    topics: &[(String, Vec<i32>)],
    partitions: impl Iterator<Item = &'a TopicPartition>,
) -> Result<()> {
    let missing: Vec<String> = partitions
        .filter(|p| {
            !topics
                .iter()
                .any(|(topic, ps)| *topic == *p.topic && ps.contains(&p.partition))
        })
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(HerderError::BadRequest(format!(
        "{failed}: these topic partitions do not exist in the Kafka cluster: {}",
        missing.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    //! The offsets requests over the in-memory Kafka: a sink's offsets in its consumer group,
    //! its legacy offset-store entries, and the connector's own `alter_offsets` /
    //! `reset_offsets`.

    use std::sync::{LazyLock, Mutex};
    use std::time::Instant;

    use async_trait::async_trait;
    use serde_json::json;

    use connect_core::config::{Config, ConfigKey, ConfigReader, ConfigType, Props};
    use connect_core::connector::{Connector, ConnectorContext, SinkConnector};
    use connect_core::plugin::{PluginDescriptor, Plugins};
    use connect_core::ConnectError;

    use super::*;
    use crate::kafka::api::{Fetched, OffsetPosition};
    use crate::kafka::memory::{Failure, MemoryKafka};
    use crate::kafka::KafkaClient;
    use crate::store::{FileConfigStore, FileOffsetStore, OffsetStore};
    use crate::task::testkit::{
        probe, worker_config, RecordingSinkTask, ScriptedSource, TestDir, SOURCE_CLASS,
    };

    const SINK: &str = "GuardedSink";
    /// The bound of every wait.
    const LIMIT: Duration = Duration::from_secs(10);

    /// What each connector's `alter_offsets` / `reset_offsets` were called with, by name.
    static CALLS: LazyLock<Mutex<BTreeMap<String, Vec<String>>>> = LazyLock::new(Mutex::default);

    fn calls(connector: &str) -> Vec<String> {
        CALLS
            .lock()
            .unwrap()
            .get(connector)
            .cloned()
            .unwrap_or_default()
    }

    fn note(connector: &str, call: String) {
        CALLS
            .lock()
            .unwrap()
            .entry(connector.to_owned())
            .or_default()
            .push(call);
    }

    /// A sink that notes its `alter_offsets` and `reset_offsets` calls, and refuses them with
    /// `refuse=true`; its tasks are the test kit's recording ones.
    #[derive(Debug)]
    struct GuardedSink;

    struct GuardedConfig {
        name: String,
        refuse: bool,
    }

    impl Config for GuardedConfig {
        fn read(c: &mut ConfigReader<'_>) -> Self {
            Self {
                name: c.raw("name").unwrap_or_default().to_owned(),
                refuse: c
                    .boolean(ConfigKey::new("refuse", ConfigType::Boolean).default_value("false")),
            }
        }
    }

    impl GuardedConfig {
        fn answer(&self) -> std::result::Result<(), ConnectError> {
            if self.refuse {
                return Err(ConnectError::fatal(
                    "the sink refuses to change its offsets",
                ));
            }
            Ok(())
        }
    }

    #[async_trait]
    impl Connector for GuardedSink {
        type Config = GuardedConfig;
        const VERSION: &'static str = "test";

        async fn start(
            _: GuardedConfig,
            _: ConnectorContext,
        ) -> std::result::Result<Self, ConnectError> {
            Ok(Self)
        }

        fn task_configs(&self, max_tasks: usize) -> std::result::Result<Vec<Props>, ConnectError> {
            Ok(vec![Props::new(); max_tasks])
        }
    }

    #[async_trait]
    impl SinkConnector for GuardedSink {
        type Task = RecordingSinkTask;

        async fn alter_offsets(
            config: &GuardedConfig,
            offsets: &BTreeMap<TopicPartition, Option<i64>>,
        ) -> std::result::Result<(), ConnectError> {
            let listed: Vec<String> = offsets
                .iter()
                .map(|(p, o)| match o {
                    Some(o) => format!("{p}={o}"),
                    None => format!("{p}=null"),
                })
                .collect();
            note(&config.name, format!("alter {}", listed.join(" ")));
            config.answer()
        }

        async fn reset_offsets(config: &GuardedConfig) -> std::result::Result<(), ConnectError> {
            note(&config.name, "reset".into());
            config.answer()
        }
    }

    /// A cluster that never answers: a broker that holds connections open without a word.
    #[derive(Debug)]
    struct SilentKafka;

    #[async_trait]
    impl KafkaClient for SilentKafka {
        fn cluster_id(&self) -> Option<String> {
            None
        }

        async fn topics(&self) -> std::result::Result<Vec<(String, Vec<i32>)>, KafkaError> {
            std::future::pending().await
        }

        async fn create_topic(
            &self,
            _: &str,
            _: i32,
            _: i16,
        ) -> std::result::Result<bool, KafkaError> {
            std::future::pending().await
        }

        async fn fetch(
            &self,
            _: &TopicPartition,
            _: i64,
            _: i32,
            _: Duration,
        ) -> std::result::Result<Fetched, KafkaError> {
            std::future::pending().await
        }

        async fn offsets_at(
            &self,
            _: &[TopicPartition],
            _: OffsetPosition,
        ) -> std::result::Result<BTreeMap<TopicPartition, i64>, KafkaError> {
            std::future::pending().await
        }

        async fn committed_offsets(
            &self,
            _: &str,
            _: &[TopicPartition],
        ) -> std::result::Result<BTreeMap<TopicPartition, i64>, KafkaError> {
            std::future::pending().await
        }

        async fn commit_offsets(
            &self,
            _: &str,
            _: &BTreeMap<TopicPartition, i64>,
        ) -> std::result::Result<(), KafkaError> {
            std::future::pending().await
        }

        async fn delete_offsets(
            &self,
            _: &str,
            _: &[TopicPartition],
        ) -> std::result::Result<(), KafkaError> {
            std::future::pending().await
        }
    }

    /// A herder over the in-memory Kafka, with the worker's offset store at hand.
    struct Fixture {
        herder: Herder,
        kafka: Arc<MemoryKafka>,
        offsets: Arc<FileOffsetStore>,
        _dir: TestDir,
    }

    impl Fixture {
        fn new(name: &str) -> Self {
            let kafka = MemoryKafka::new();
            let (herder, offsets, dir) =
                herder_over(name, Arc::clone(&kafka) as _, Duration::from_secs(30));
            Self {
                herder,
                kafka,
                offsets,
                _dir: dir,
            }
        }

        /// Creates a STOPPED sink with these keys besides the class and converters.
        async fn stopped_sink(&self, name: &str, keys: &[(&str, &str)]) {
            self.herder
                .create(name, sink_props(keys), TargetState::Stopped)
                .await
                .unwrap();
        }

        /// Writes legacy offset-store entries for a sink, as sinks did before groups.
        async fn legacy(&self, name: &str, entries: &[(&str, i32, i64)]) {
            let entries = entries
                .iter()
                .map(|(topic, p, o)| {
                    let tp = TopicPartition::new(*topic, *p);
                    (partition_key(&tp), Some(offset_value(*o)))
                })
                .collect();
            self.offsets.put(name, entries).await.unwrap();
        }

        async fn commit(&self, group: &str, offsets: &[(&str, i32, i64)]) {
            let offsets = offsets
                .iter()
                .map(|(topic, p, o)| (TopicPartition::new(*topic, *p), *o))
                .collect();
            self.kafka.commit_offsets(group, &offsets).await.unwrap();
        }

        fn group(&self, group: &str) -> Vec<(String, i64)> {
            self.kafka
                .group_offsets(group)
                .into_iter()
                .map(|(p, o)| (p.to_string(), o))
                .collect()
        }

        /// The legacy entries of a connector, as `topic-partition=offset`.
        async fn legacy_entries(&self, name: &str) -> Vec<String> {
            self.offsets
                .all(name)
                .await
                .unwrap()
                .into_iter()
                .map(|(p, o)| {
                    format!(
                        "{}-{}={}",
                        p["kafka_topic"].as_str().unwrap(),
                        p["kafka_partition"],
                        o["kafka_offset"]
                    )
                })
                .collect()
        }

        async fn get(&self, name: &str) -> Json {
            serde_json::to_value(self.herder.offsets(name).await.unwrap()).unwrap()
        }
    }

    fn herder_over(
        name: &str,
        kafka: Arc<dyn KafkaClient>,
        request_timeout: Duration,
    ) -> (Herder, Arc<FileOffsetStore>, TestDir) {
        let dir = TestDir::new(&format!("offsets-{name}"));
        let mut worker = (*worker_config(&dir)).clone();
        worker.request_timeout = request_timeout;
        let offsets = Arc::new(FileOffsetStore::open(&worker.offsets_file, "test").unwrap());
        let configs = Arc::new(FileConfigStore::open(&worker.configs_file, "test").unwrap());
        let mut plugins: Plugins = connect_core::builtin_plugins();
        plugins.add(PluginDescriptor::sink::<GuardedSink>(SINK));
        plugins.add(PluginDescriptor::source::<ScriptedSource>(SOURCE_CLASS));
        let herder = Herder::with_clients(
            Arc::new(plugins),
            Arc::new(worker),
            kafka,
            MemoryKafka::new(),
            Arc::clone(&offsets) as _,
            configs,
            "test:0".into(),
        );
        (herder, offsets, dir)
    }

    fn sink_props(keys: &[(&str, &str)]) -> Props {
        let string = "org.apache.kafka.connect.storage.StringConverter";
        let mut props = Props::from([
            ("connector.class".to_owned(), SINK.to_owned()),
            ("tasks.max".to_owned(), "1".to_owned()),
            ("key.converter".to_owned(), string.to_owned()),
            ("value.converter".to_owned(), string.to_owned()),
        ]);
        props.extend(keys.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        props
    }

    /// One `/offsets` entry of a sink.
    fn entry(topic: &str, partition: i32, offset: Option<i64>) -> Json {
        json!({
            "partition": {"kafka_topic": topic, "kafka_partition": partition},
            "offset": offset.map(|o| json!({"kafka_offset": o})),
        })
    }

    /// PATCH entries from their JSON.
    fn patch(entries: &[Json]) -> Vec<PartitionOffset> {
        entries
            .iter()
            .map(|e| PartitionOffset {
                partition: e["partition"].as_object().unwrap().clone(),
                offset: e["offset"].as_object().cloned(),
            })
            .collect()
    }

    /// `request`'s answer; panics if there is none within [`LIMIT`].
    async fn bounded<T>(request: impl Future<Output = T>) -> T {
        tokio::time::timeout(LIMIT, request)
            .await
            .expect("an answer within the limit")
    }

    fn bad_request(e: HerderError) -> String {
        match e {
            HerderError::BadRequest(message) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    fn internal(e: HerderError) -> String {
        match e {
            HerderError::Internal(message) => message,
            other => panic!("expected a 500, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_sink_shows_its_groups_offsets_and_legacy_entries_where_the_group_has_none() {
        let name = "offsets-get";
        let f = Fixture::new(name);
        f.kafka.create("orders", 2);
        f.kafka.create("orders-eu", 1);
        f.kafka.create("users", 1);
        f.stopped_sink(name, &[("topics.regex", "orders.*")]).await;
        let group = format!("connect-{name}");
        // users-0 is not the sink's: not shown. orders-0 has no group offset: its legacy
        // entry is where the sink resumes. orders-1's group offset wins over its entry.
        f.commit(
            &group,
            &[("orders", 1, 7), ("orders-eu", 0, 3), ("users", 0, 5)],
        )
        .await;
        f.legacy(name, &[("orders", 0, 4), ("orders", 1, 99)]).await;
        assert_eq!(
            f.get(name).await,
            json!({"offsets": [
                entry("orders", 0, Some(4)),
                entry("orders", 1, Some(7)),
                entry("orders-eu", 0, Some(3)),
            ]})
        );

        // Nothing committed and no entry: no offsets.
        let fresh = "offsets-get-fresh";
        f.stopped_sink(fresh, &[("topics", "orders,missing")]).await;
        assert_eq!(f.get(fresh).await, json!({"offsets": []}));
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn patch_commits_and_deletes_group_offsets_and_removes_their_legacy_entries() {
        let name = "offsets-patch";
        let f = Fixture::new(name);
        f.kafka.create("t", 3);
        f.stopped_sink(name, &[("topics", "t")]).await;
        let group = format!("connect-{name}");
        f.commit(&group, &[("t", 1, 9)]).await;
        f.legacy(name, &[("t", 0, 4), ("t", 1, 2), ("t", 2, 8)])
            .await;

        let answer = f
            .herder
            .alter_offsets(name, patch(&[entry("t", 0, Some(6)), entry("t", 1, None)]))
            .await
            .unwrap();
        assert_eq!(answer, ALTERED);
        // The connector's own alter_offsets saw the change first.
        assert_eq!(calls(name), ["alter t-0=6 t-1=null"]);
        assert_eq!(f.group(&group), [("t-0".to_owned(), 6)]);
        // The entries of the partitions changed are gone; t-2's stays (the sink resumes there).
        assert_eq!(f.legacy_entries(name).await, ["t-2=8"]);
        assert_eq!(
            f.get(name).await,
            json!({"offsets": [entry("t", 0, Some(6)), entry("t", 2, Some(8))]})
        );

        // A null for a partition only the legacy entry held removes that entry.
        f.herder
            .alter_offsets(name, patch(&[entry("t", 2, None)]))
            .await
            .unwrap();
        assert!(f.legacy_entries(name).await.is_empty());
        assert_eq!(
            f.get(name).await,
            json!({"offsets": [entry("t", 0, Some(6))]})
        );
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn a_sink_with_consumer_override_group_id_uses_that_group() {
        let name = "offsets-override";
        let f = Fixture::new(name);
        f.kafka.create("t", 1);
        f.stopped_sink(
            name,
            &[("topics", "t"), ("consumer.override.group.id", "custom")],
        )
        .await;
        f.herder
            .alter_offsets(name, patch(&[entry("t", 0, Some(11))]))
            .await
            .unwrap();
        assert_eq!(f.group("custom"), [("t-0".to_owned(), 11)]);
        assert!(f.group(&format!("connect-{name}")).is_empty());
        assert_eq!(
            f.get(name).await,
            json!({"offsets": [entry("t", 0, Some(11))]})
        );
        f.herder.reset_offsets(name).await.unwrap();
        assert!(f.group("custom").is_empty());
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn patch_of_partitions_kafka_does_not_have_is_refused_and_changes_nothing() {
        let name = "offsets-patch-missing";
        let f = Fixture::new(name);
        f.kafka.create("t", 1);
        f.stopped_sink(name, &[("topics", "t")]).await;
        f.legacy(name, &[("t", 0, 4)]).await;
        let error = f
            .herder
            .alter_offsets(
                name,
                patch(&[
                    entry("t", 0, Some(1)),
                    entry("t", 5, Some(1)),
                    entry("ghost", 0, None),
                ]),
            )
            .await
            .unwrap_err();
        assert_eq!(
            bad_request(error),
            format!("Failed to alter consumer group offsets for connector {name}: these topic partitions do not exist in the Kafka cluster: ghost-0, t-5")
        );
        assert!(calls(name).is_empty(), "{:?}", calls(name));
        assert!(f.group(&format!("connect-{name}")).is_empty());
        assert_eq!(f.legacy_entries(name).await, ["t-0=4"]);

        // Malformed entries are refused as before, naming the problem.
        let error = f
            .herder
            .alter_offsets(
                name,
                patch(&[json!({"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": -1}})]),
            )
            .await
            .unwrap_err();
        assert_eq!(
            bad_request(error),
            "Failed to parse the following Kafka offset value in the provided offsets: '-1'. Offset values for sink connectors need to be non-negative integers."
        );
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn a_sink_that_refuses_the_change_keeps_its_group_and_legacy_entries() {
        let name = "offsets-refused";
        let f = Fixture::new(name);
        f.kafka.create("t", 1);
        f.stopped_sink(name, &[("topics", "t"), ("refuse", "true")])
            .await;
        let group = format!("connect-{name}");
        f.commit(&group, &[("t", 0, 3)]).await;
        f.legacy(name, &[("t", 0, 4)]).await;

        let error = f
            .herder
            .alter_offsets(name, patch(&[entry("t", 0, Some(1))]))
            .await
            .unwrap_err();
        let message = internal(error);
        assert!(
            message.starts_with(&format!("Failed to alter offsets for connector {name}: "))
                && message.contains("the sink refuses to change its offsets"),
            "{message}"
        );
        let error = f.herder.reset_offsets(name).await.unwrap_err();
        let message = internal(error);
        assert!(
            message.starts_with(&format!("Failed to reset offsets for connector {name}: ")),
            "{message}"
        );
        assert_eq!(f.group(&group), [("t-0".to_owned(), 3)]);
        assert_eq!(f.legacy_entries(name).await, ["t-0=4"]);
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn a_failed_group_commit_is_a_500_and_keeps_the_legacy_entries() {
        let name = "offsets-commit-fails";
        let f = Fixture::new(name);
        f.kafka.create("t", 1);
        f.stopped_sink(name, &[("topics", "t")]).await;
        f.legacy(name, &[("t", 0, 4)]).await;
        f.kafka.fail_next_commits(1, Failure::Fatal);

        let error = f
            .herder
            .alter_offsets(name, patch(&[entry("t", 0, Some(1))]))
            .await
            .unwrap_err();
        let message = internal(error);
        assert!(
            message.starts_with(&format!(
                "Failed to alter consumer group offsets for connector {name}: "
            )) && message.contains("injected: invalid response"),
            "{message}"
        );
        assert!(f.group(&format!("connect-{name}")).is_empty());
        // Still where the sink resumes.
        assert_eq!(f.legacy_entries(name).await, ["t-0=4"]);
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn delete_clears_the_group_and_every_legacy_entry_and_the_sink_starts_over() {
        let name = "offsets-reset";
        let f = Fixture::new(name);
        f.kafka.create("t", 2);
        f.kafka.create("other", 1);
        f.kafka.append("t", 0, "first");
        f.kafka.append("t", 0, "second");
        f.stopped_sink(name, &[("topics", "t")]).await;
        let group = format!("connect-{name}");
        f.commit(&group, &[("t", 0, 2), ("t", 1, 5)]).await;
        f.legacy(name, &[("t", 0, 1), ("gone", 0, 7)]).await;
        // The same group's offsets of a topic the sink does not read are not its to reset.
        f.commit(&group, &[("other", 0, 1)]).await;

        assert_eq!(f.herder.reset_offsets(name).await.unwrap(), RESET);
        assert_eq!(calls(name), ["reset"]);
        assert_eq!(f.group(&group), [("other-0".to_owned(), 1)]);
        assert!(f.legacy_entries(name).await.is_empty());
        assert_eq!(f.get(name).await, json!({"offsets": []}));
        // Idempotent, as in Kafka Connect.
        assert_eq!(f.herder.reset_offsets(name).await.unwrap(), RESET);

        // Resumed, the sink reads from the earliest offset (consumer.auto.offset.reset's
        // default), not from an old offset.
        f.herder
            .set_target(name, TargetState::Started)
            .await
            .unwrap();
        probe(name)
            .wait_for("the first record", LIMIT, |calls| {
                calls.iter().any(|c| c == "put t-0@0 first")
            })
            .await;
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn offsets_cannot_change_unless_the_sink_is_stopped() {
        let name = "offsets-running";
        let f = Fixture::new(name);
        f.kafka.create("t", 1);
        f.herder
            .create(name, sink_props(&[("topics", "t")]), TargetState::Started)
            .await
            .unwrap();
        let stopped_first = format!("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint");
        for target in [TargetState::Started, TargetState::Paused] {
            f.herder.set_target(name, target).await.unwrap();
            let error = f
                .herder
                .alter_offsets(name, patch(&[entry("t", 0, Some(1))]))
                .await
                .unwrap_err();
            assert_eq!(bad_request(error), stopped_first);
            let error = f.herder.reset_offsets(name).await.unwrap_err();
            assert_eq!(bad_request(error), stopped_first);
        }
        assert!(calls(name).is_empty(), "{:?}", calls(name));
        assert!(f.group(&format!("connect-{name}")).is_empty());
        assert!(matches!(
            f.herder.offsets("ghost").await,
            Err(HerderError::NotFound(_))
        ));
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn deleting_a_sink_leaves_its_group() {
        let name = "offsets-deleted";
        let f = Fixture::new(name);
        f.kafka.create("t", 1);
        f.stopped_sink(name, &[("topics", "t")]).await;
        let group = format!("connect-{name}");
        f.commit(&group, &[("t", 0, 3)]).await;
        f.herder.delete(name).await.unwrap();
        assert_eq!(f.group(&group), [("t-0".to_owned(), 3)]);
        // Created again, it has its offsets back, as in Kafka Connect.
        f.stopped_sink(name, &[("topics", "t")]).await;
        assert_eq!(
            f.get(name).await,
            json!({"offsets": [entry("t", 0, Some(3))]})
        );
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn a_sources_offsets_stay_in_the_offset_store() {
        let name = "offsets-source";
        let f = Fixture::new(name);
        let props = Props::from([
            ("connector.class".to_owned(), SOURCE_CLASS.to_owned()),
            ("tasks.max".to_owned(), "1".to_owned()),
        ]);
        f.herder
            .create(name, props, TargetState::Stopped)
            .await
            .unwrap();
        let entry = json!({"partition": {"file": "a"}, "offset": {"seq": 3}});
        f.herder
            .alter_offsets(name, patch(std::slice::from_ref(&entry)))
            .await
            .unwrap();
        assert_eq!(f.offsets.all(name).await.unwrap().len(), 1);
        assert_eq!(f.get(name).await, json!({"offsets": [entry]}));
        assert_eq!(f.kafka.commit_calls(), 0);
        f.herder.reset_offsets(name).await.unwrap();
        assert!(f.offsets.all(name).await.unwrap().is_empty());
        f.herder.shutdown().await;
    }

    #[tokio::test]
    async fn an_unreachable_kafka_is_a_500_within_the_request_timeout() {
        let name = "offsets-silent";
        let (herder, _offsets, _dir) =
            herder_over(name, Arc::new(SilentKafka), Duration::from_millis(200));
        herder
            .create(name, sink_props(&[("topics", "t")]), TargetState::Stopped)
            .await
            .unwrap();
        let silence = "no answer from Kafka within 200 ms (request.timeout.ms)";
        let started = Instant::now();
        let error = bounded(herder.offsets(name)).await.unwrap_err();
        assert_eq!(
            internal(error),
            format!(
                "Failed to retrieve consumer group offsets for sink connector {name}: {silence}"
            )
        );
        let error = bounded(herder.alter_offsets(name, patch(&[entry("t", 0, Some(1))])))
            .await
            .unwrap_err();
        assert_eq!(
            internal(error),
            format!("Failed to alter consumer group offsets for connector {name}: {silence}")
        );
        let error = bounded(herder.reset_offsets(name)).await.unwrap_err();
        assert_eq!(
            internal(error),
            format!("Failed to list offsets prior to resetting offsets for sink connector {name}: {silence}")
        );
        assert!(started.elapsed() < LIMIT, "{:?}", started.elapsed());
        // Nothing reached the connector.
        assert!(calls(name).is_empty(), "{:?}", calls(name));
        herder.shutdown().await;
    }
}
