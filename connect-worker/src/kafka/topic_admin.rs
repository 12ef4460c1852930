//! Topic administration rskafka has no method for, sent as raw requests
//! ([`raw_request`](super::raw_request)): creating a topic **with configs** (rskafka's
//! `create_topic` sends none, and Kafka Connect's internal topics need
//! `cleanup.policy=compact`), and reading a topic's configs (DescribeConfigs), as Kafka's
//! admin client does.
//!
//! CreateTopics goes to the controller, found in a Metadata answer: brokers that are not
//! the controller answer NOT_CONTROLLER on ZooKeeper-based clusters (KRaft brokers forward
//! it themselves).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    CreateTopicsRequest, DescribeConfigsRequest, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rskafka::client::error::{Error as RsError, ProtocolError, RequestContext};
use rskafka::client::raw::RawConnection;
use tokio::time::Instant;

use super::coordinator::time_left;
use super::raw_request::{self, answered_error};
use super::{Kafka, KafkaError};

/// Metadata v1 is the first with the controller's id (and where an empty topic list asks
/// for no topic); v12 is the last the test broker speaks.
const METADATA_VERSIONS: RangeInclusive<i16> = 1..=12;
/// CreateTopics v2 is the oldest kafka-protocol encodes; v4 and later take -1 partitions or
/// replication factor for the broker's defaults.
const CREATE_TOPICS_VERSIONS: RangeInclusive<i16> = 2..=7;
/// DescribeConfigs v1 is the oldest kafka-protocol encodes.
const DESCRIBE_CONFIGS_VERSIONS: RangeInclusive<i16> = 1..=4;
/// DescribeConfigs' resource type of a topic.
const TOPIC_RESOURCE: i8 = 2;
/// The pauses before a failed request is sent again: 50 ms, doubling up to 1 s.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LAST_PAUSE: Duration = Duration::from_secs(1);

impl Kafka {
    /// Creates a topic with these topic configs (`cleanup.policy` and the like); `Ok(false)`
    /// when it already existed. Partitions or replication factor -1 take the broker's
    /// defaults. Failures the broker may get over (NOT_CONTROLLER, a broken connection, ...)
    /// are tried again within `request.timeout.ms`, and so is INVALID_REPLICATION_FACTOR, as
    /// Kafka Connect does (brokers may still be joining the cluster); the broker's refusal is
    /// the error, with the broker's message.
    pub async fn create_topic_with_configs(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
    ) -> Result<bool, KafkaError> {
        let context = || format!("cannot create topic {name}");
        let timeout_ms = i32::try_from(self.request_timeout().as_millis()).unwrap_or(i32::MAX);
        let topic = CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_owned())))
            .with_num_partitions(partitions)
            .with_replication_factor(replication_factor)
            .with_configs(
                configs
                    .iter()
                    .map(|(key, value)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(key.clone()))
                            .with_value(Some(StrBytes::from_string(value.clone())))
                    })
                    .collect(),
            );
        let request = &CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(timeout_ms);
        let created = self
            .retrying(
                |deadline| async move {
                    let controller = self.controller(deadline).await?;
                    let (_, answer) = raw_request::send(
                        &controller,
                        CREATE_TOPICS_VERSIONS,
                        request,
                        time_left(deadline),
                    )
                    .await?;
                    let result = answer
                        .topics
                        .into_iter()
                        .find(|t| t.name.0.as_str() == name)
                        .ok_or_else(|| {
                            RsError::InvalidResponse(format!(
                                "the CreateTopics answer has no topic {name}"
                            ))
                        })?;
                    match answered_error(
                        result.error_code,
                        result.error_message.as_deref(),
                        RequestContext::Topic(name.to_owned()),
                    ) {
                        None => Ok(true),
                        Some(RsError::ServerError {
                            protocol_error: ProtocolError::TopicAlreadyExists,
                            ..
                        }) => Ok(false),
                        Some(refused) => Err(refused),
                    }
                },
                is_invalid_replication_factor,
            )
            .await
            .map_err(|e| KafkaError::new(context(), e))?;
        if created {
            // rskafka's metadata cache learns of the topic (its partition clients use it).
            let _ = self.topics().await;
        }
        Ok(created)
    }

    /// A topic's configs as the broker describes them (DescribeConfigs), the explicit ones
    /// and the broker's defaults alike (configs without a value are left out). `Ok(None)`
    /// when the broker cannot tell: it does not speak DescribeConfigs, or does not allow this
    /// client to describe the topic. A topic that does not exist is an error
    /// (UNKNOWN_TOPIC_OR_PARTITION).
    pub async fn topic_configs(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, KafkaError> {
        let context = || format!("cannot describe the configs of topic {name}");
        let request = &DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(TOPIC_RESOURCE)
                .with_resource_name(StrBytes::from_string(name.to_owned()))
                .with_configuration_keys(None),
        ]);
        let described = self
            .retrying(
                |deadline| async move {
                    let broker =
                        tokio::time::timeout(time_left(deadline), self.client.any_broker())
                            .await
                            .unwrap_or(Err(RsError::Timeout))?;
                    let (_, answer) = raw_request::send(
                        &broker,
                        DESCRIBE_CONFIGS_VERSIONS,
                        request,
                        time_left(deadline),
                    )
                    .await?;
                    let result = answer.results.into_iter().next().ok_or_else(|| {
                        RsError::InvalidResponse("the DescribeConfigs answer has no result".into())
                    })?;
                    match answered_error(
                        result.error_code,
                        result.error_message.as_deref(),
                        RequestContext::Topic(name.to_owned()),
                    ) {
                        None => Ok(Some(
                            result
                                .configs
                                .into_iter()
                                .filter_map(|c| Some((c.name.to_string(), c.value?.to_string())))
                                .collect(),
                        )),
                        Some(error) => Err(error),
                    }
                },
                |_| false,
            )
            .await;
        match described.map_err(|e| KafkaError::new(context(), e)) {
            Err(e) if e.is_unsupported() || e.is_unauthorized() => {
                tracing::debug!(topic = name, error = %e, "the broker does not describe the topic's configs");
                Ok(None)
            }
            described => described,
        }
    }

    /// A connection to the cluster's controller.
    async fn controller(&self, deadline: Instant) -> Result<RawConnection, RsError> {
        let broker = tokio::time::timeout(time_left(deadline), self.client.any_broker())
            .await
            .unwrap_or(Err(RsError::Timeout))?;
        let request = MetadataRequest::default().with_topics(Some(Vec::new()));
        let (_, answer) =
            raw_request::send(&broker, METADATA_VERSIONS, &request, time_left(deadline)).await?;
        let controller = answer.controller_id.0;
        if controller < 0 {
            // No controller known (yet): as a broker that is not it would answer.
            return Err(RsError::ServerError {
                protocol_error: ProtocolError::NotController,
                error_message: Some("the cluster's metadata names no controller".into()),
                request: RequestContext::Topic(String::new()),
                response: None,
                is_virtual: true,
            });
        }
        let connected = tokio::time::timeout(
            time_left(deadline),
            self.client.connect_to_broker(controller),
        )
        .await
        .unwrap_or(Err(RsError::Timeout))?;
        connected.ok_or_else(|| RsError::ServerError {
            protocol_error: ProtocolError::NotController,
            error_message: Some(format!(
                "the controller, broker {controller}, is not in the cluster's metadata"
            )),
            request: RequestContext::Topic(String::new()),
            response: None,
            is_virtual: true,
        })
    }

    /// Runs `request` until it succeeds, fails for good (an error neither retriable nor
    /// `also_retried`), or `request.timeout.ms` has passed (then its last error); each call
    /// gets the deadline.
    async fn retrying<T, F, Fut>(
        &self,
        mut request: F,
        also_retried: fn(&RsError) -> bool,
    ) -> Result<T, RsError>
    where
        F: FnMut(Instant) -> Fut,
        Fut: std::future::Future<Output = Result<T, RsError>>,
    {
        let deadline = Instant::now() + self.request_timeout();
        let mut pause = FIRST_PAUSE;
        loop {
            let error = match tokio::time::timeout_at(deadline, request(deadline)).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(e)) => e,
                Err(_) => RsError::Timeout,
            };
            let retried = super::client::is_retriable(&error) || also_retried(&error);
            if !retried || Instant::now() + pause >= deadline {
                return Err(error);
            }
            tracing::debug!(%error, ?pause, "topic administration request failed; asking again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LAST_PAUSE);
        }
    }
}

fn is_invalid_replication_factor(error: &RsError) -> bool {
    matches!(
        error,
        RsError::ServerError {
            protocol_error: ProtocolError::InvalidReplicationFactor,
            ..
        }
    )
}
