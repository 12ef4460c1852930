//! Starting a distributed worker: the internal topics, the three stores read to their end, the
//! group membership, and the herder's loop.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use connect_core::plugin::Plugins;

use super::assignor::ConfigView;
use super::config::DistributedConfig;
use super::config_records::ClusterConfig;
use super::coordinator::{ConfigSource, Coordinator, CoordinatorConfig};
use super::internal_topics;
use super::offset_store::KafkaOffsetStore;
use super::status_records::StatusView;
use super::topic_log::TopicLog;
use crate::config::WorkerConfig;
use crate::herder::cluster::{self, Cluster};
use crate::herder::Herder;
use crate::kafka::{Kafka, KafkaClient, KafkaProducer, Producer};
use crate::store::{ConfigStore, ConnectorRecord, StoreError};
use crate::worker::WorkerError;

/// Connects to Kafka, makes sure of the internal topics, reads them, joins the group and
/// returns the herder (its loop running).
pub async fn herder(
    plugins: Plugins,
    config: &WorkerConfig,
    distributed: DistributedConfig,
) -> Result<Herder, WorkerError> {
    let kafka = Kafka::connect(crate::worker::kafka_config(config)).await?;
    kafka.look_up_cluster_id().await;
    for topic in [
        &distributed.config_topic,
        &distributed.offset_topic,
        &distributed.status_topic,
    ] {
        internal_topics::ensure_topic(&kafka, topic, config.request_timeout)
            .await
            .map_err(|e| WorkerError::Cluster(e.to_string()))?;
    }
    let producer = Arc::new(Producer::new(
        kafka.clone(),
        crate::worker::producer_config(config),
    ));
    let client: Arc<dyn KafkaClient> = Arc::new(kafka.clone());
    let writer: Arc<dyn KafkaProducer> = producer.clone();
    let read_within = config.request_timeout;
    let cluster_error = |what: &str, e: &dyn std::fmt::Display| {
        WorkerError::Cluster(format!("cannot read {what}: {e}"))
    };

    let offsets = KafkaOffsetStore::start(
        Arc::clone(&client),
        Arc::clone(&writer),
        &distributed.offset_topic.name,
        read_within,
    )
    .await
    .map_err(|e| cluster_error("the offsets topic", &e))?;

    let statuses = Arc::new(Mutex::new(StatusView::default()));
    let status_log = TopicLog::start(
        Arc::clone(&client),
        Arc::clone(&writer),
        &distributed.status_topic.name,
        cluster::status_applier(Arc::clone(&statuses)),
        read_within,
    )
    .await
    .map_err(|e| cluster_error("the status topic", &e))?;

    let snapshot = Arc::new(Mutex::new(ClusterConfig::default()));
    let live = Arc::new(AtomicBool::new(false));
    let (changes, changes_rx) = tokio::sync::mpsc::unbounded_channel();
    let config_log = TopicLog::start(
        Arc::clone(&client),
        Arc::clone(&writer),
        &distributed.config_topic.name,
        cluster::config_applier(Arc::clone(&snapshot), Arc::clone(&live), changes),
        read_within,
    )
    .await
    .map_err(|e| cluster_error("the config topic", &e))?;
    live.store(true, std::sync::atomic::Ordering::SeqCst);
    tracing::info!(
        group = %distributed.group_id,
        connectors = snapshot.lock().map(|s| s.connectors().count()).unwrap_or(0),
        "read the cluster's configurations; joining the group"
    );

    let (coordinator, events) = Coordinator::start(
        kafka.clone(),
        CoordinatorConfig {
            group_id: distributed.group_id.clone(),
            url: distributed.advertised_url.clone(),
            protocol: distributed.protocol,
            session_timeout: distributed.session_timeout,
            heartbeat_interval: distributed.heartbeat_interval,
            rebalance_timeout: distributed.rebalance_timeout,
            max_delay: distributed.max_delay,
        },
        Arc::new(SnapshotSource(Arc::clone(&snapshot))),
    );
    let worker_id = distributed.worker_id.clone();
    let cluster = Cluster::new(
        distributed,
        snapshot,
        statuses,
        config_log,
        status_log,
        coordinator,
    );
    let herder = Herder::new(
        Arc::new(plugins),
        Arc::new(config.clone()),
        kafka,
        producer,
        Arc::new(offsets),
        Arc::new(InTheConfigTopic),
        worker_id,
    )
    .into_distributed(Arc::new(cluster));
    tokio::spawn(cluster::run(herder.clone(), events, changes_rx));
    Ok(herder)
}

/// What the coordinator reads of the config topic: the offset read so far and, for the
/// leader, what to assign.
struct SnapshotSource(Arc<Mutex<ClusterConfig>>);

impl ConfigSource for SnapshotSource {
    fn config_offset(&self) -> i64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).offset()
    }

    fn config_view(&self) -> ConfigView {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).view()
    }
}

/// The file config store's place in a distributed herder, never used: configurations are
/// written to the config topic (`herder::cluster`).
#[derive(Debug)]
struct InTheConfigTopic;

impl ConfigStore for InTheConfigTopic {
    fn all(&self) -> std::collections::BTreeMap<String, ConnectorRecord> {
        Default::default()
    }

    fn put(&self, name: &str, _: ConnectorRecord) -> Result<(), StoreError> {
        Err(StoreError::Corrupt {
            path: "config topic".into(),
            message: format!(
                "connector {name}: a distributed worker writes configurations to the config topic"
            ),
        })
    }

    fn remove(&self, name: &str) -> Result<(), StoreError> {
        self.put(
            name,
            ConnectorRecord {
                config: Default::default(),
                target_state: crate::store::TargetState::Started,
            },
        )
    }
}
