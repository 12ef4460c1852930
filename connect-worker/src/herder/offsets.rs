//! `GET|PATCH|DELETE /connectors/{name}/offsets` (KIP-875): reading, altering and resetting a
//! connector's stored offsets. Changes are allowed only while the connector is STOPPED.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;

use connect_core::plugin::{PluginFactory, PluginKind};
use connect_core::record::{SourceMap, TopicPartition};

use super::slot::{Slot, Step};
use super::{ConnectorOffsets, Herder, HerderError, PartitionOffset, Result};
use crate::config_providers::ConfigProviders;
use crate::connector_config::ConnectorConfig;
use crate::store::TargetState;

/// The answer to a successful alter.
pub const ALTERED: &str = "The offsets for this connector have been altered successfully";
/// The answer to a successful reset.
pub const RESET: &str = "The offsets for this connector have been reset successfully";

impl Herder {
    /// The connector's stored offsets.
    pub async fn offsets(&self, name: &str) -> Result<ConnectorOffsets> {
        self.slot(name)?;
        Ok(ConnectorOffsets {
            offsets: self
                .shared
                .offsets
                .all(name)
                .into_iter()
                .map(|(partition, offset)| PartitionOffset {
                    partition,
                    offset: Some(offset),
                })
                .collect(),
        })
    }

    /// Alters offsets (`None` removes a partition's offset); the connector must be STOPPED.
    /// A sink's own `alter_offsets` runs with the connector locked, as a lifecycle call does.
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<PartitionOffset>,
    ) -> Result<&'static str> {
        let slot = self.slot(name)?;
        let connector = self.lock(&slot).await?;
        require_stopped(name, connector.target)?;
        if offsets.is_empty() {
            return Err(HerderError::BadRequest(
                "Partitions / offsets need to be provided for an alter offsets request".into(),
            ));
        }
        if connector.config.kind() == PluginKind::Sink {
            for entry in &offsets {
                check_sink_offset(entry)?;
            }
        }
        let herder = self.clone();
        let held = Arc::clone(&slot);
        let name = name.to_owned();
        let altered = self
            .carry_out(&slot, async move {
                let config = Arc::clone(&connector.config);
                let result = herder.write_offsets(&held, &name, &config, offsets).await;
                drop(connector);
                result
            })
            .await?;
        altered.unwrap_or_else(|| Err(slot.busy()))
    }

    /// The sink's own offsets first (it may refuse them), then the worker's.
    async fn write_offsets(
        &self,
        slot: &Slot,
        name: &str,
        config: &ConnectorConfig,
        offsets: Vec<PartitionOffset>,
    ) -> Result<&'static str> {
        if let PluginFactory::Sink(plugin) = &config.plugin.factory {
            let changes: BTreeMap<TopicPartition, Option<i64>> = offsets
                .iter()
                .filter_map(|e| {
                    let topic = e.partition.get("kafka_topic")?.as_str()?;
                    let partition =
                        i32::try_from(e.partition.get("kafka_partition")?.as_i64()?).ok()?;
                    let offset = e
                        .offset
                        .as_ref()
                        .and_then(|o| o.get("kafka_offset")?.as_i64());
                    Some((TopicPartition::new(topic, partition), offset))
                })
                .collect();
            let props = self
                .shared
                .worker
                .providers
                .resolve(&config.props)
                .map_err(|e| HerderError::Internal(e.to_string()))?;
            slot.during(
                Step::AlteringOffsets,
                (plugin.alter_offsets)(props, changes),
            )
            .await
            .map_err(|e| {
                HerderError::Internal(format!(
                    "Failed to alter offsets for connector {name}: {}",
                    e.trace()
                ))
            })?;
        }
        let changes = offsets
            .into_iter()
            .map(|e| (e.partition, e.offset))
            .collect();
        self.shared
            .offsets
            .put(name, changes)
            .map_err(|e| HerderError::Internal(e.to_string()))?;
        Ok(ALTERED)
    }

    /// Removes every offset of the connector; it must be STOPPED.
    pub async fn reset_offsets(&self, name: &str) -> Result<&'static str> {
        let slot = self.slot(name)?;
        let connector = self.lock(&slot).await?;
        require_stopped(name, connector.target)?;
        let herder = self.clone();
        let held = Arc::clone(&slot);
        let name = name.to_owned();
        let reset = self
            .carry_out(&slot, async move {
                let config = Arc::clone(&connector.config);
                let result = herder.remove_offsets(&held, &name, &config).await;
                drop(connector);
                result
            })
            .await?;
        reset.unwrap_or_else(|| Err(slot.busy()))
    }

    /// The sink's own offsets first, then the worker's.
    async fn remove_offsets(
        &self,
        slot: &Slot,
        name: &str,
        config: &ConnectorConfig,
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
        self.shared
            .offsets
            .remove_connector(name)
            .map_err(|e| HerderError::Internal(e.to_string()))?;
        Ok(RESET)
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

/// A sink offset must name a topic and partition and give a non-negative offset (or null).
fn check_sink_offset(entry: &PartitionOffset) -> Result<()> {
    let bad = |message: String| Err(HerderError::BadRequest(message));
    let partition: &SourceMap = &entry.partition;
    match (partition.get("kafka_topic"), partition.get("kafka_partition")) {
        (Some(Json::String(topic)), Some(p)) if !topic.is_empty() => {
            if !p.as_i64().is_some_and(|p| (0..=i64::from(i32::MAX)).contains(&p)) {
                return bad(format!(
                    "Failed to parse the following Kafka partition value in the provided offsets: '{p}'. Partition values for sink connectors need to be integers."
                ));
            }
        }
        _ => {
            return bad(
                "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'".into(),
            )
        }
    }
    match &entry.offset {
        None => Ok(()),
        Some(offset) => match offset.get("kafka_offset") {
            Some(o) if o.as_i64().is_some_and(|o| o >= 0) => Ok(()),
            Some(o) => bad(format!(
                "Failed to parse the following Kafka offset value in the provided offsets: '{o}'. Offset values for sink connectors need to be non-negative integers."
            )),
            None => bad(
                "The offset for a sink connector should either be null or contain the key 'kafka_offset'".into(),
            ),
        },
    }
}
