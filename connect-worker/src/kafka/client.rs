//! The connection to the Kafka cluster: metadata, topic creation and per-partition clients.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rskafka::client::error::{Error as RsError, ProtocolError, RequestError};
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::BackoffConfig;

use connect_core::record::TopicPartition;
use connect_core::ConnectError;

use super::api::{Fetched, KafkaClient, OffsetPosition, PartitionRead};
use super::cluster_id::ClusterId;
use super::coordinator::Coordinators;
use super::fetch_answer::{consume, Consumed};
use super::group_offsets;
use super::KafkaSecurity;

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port` of one or more brokers (`bootstrap.servers`).
    pub bootstrap_servers: Vec<String>,
    /// Sent to the brokers with every request.
    pub client_id: String,
    /// How long one operation retries a broker that does not answer before it fails.
    /// rskafka retries forever by default, which would hide a dead broker.
    pub request_timeout: Duration,
    /// TLS and SASL (`security.protocol` and the keys that go with it).
    pub security: KafkaSecurity,
}

/// A Kafka operation that failed, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct KafkaError {
    pub context: String,
    #[source]
    pub source: RsError,
}

impl KafkaError {
    pub(crate) fn new(context: impl Into<String>, source: RsError) -> Self {
        Self {
            context: context.into(),
            source,
        }
    }

    /// The broker's protocol error, if it answered with one.
    pub fn protocol_error(&self) -> Option<ProtocolError> {
        match &self.source {
            RsError::ServerError { protocol_error, .. } => Some(*protocol_error),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retriable(&self) -> bool {
        is_retriable(&self.source)
    }

    /// Whether the broker refused for want of permission (topic or cluster authorization).
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self.protocol_error(),
            Some(
                ProtocolError::TopicAuthorizationFailed | ProtocolError::ClusterAuthorizationFailed
            )
        )
    }

    /// Whether the broker does not take the request: it speaks none of its versions.
    pub fn is_unsupported(&self) -> bool {
        super::raw_request::is_unsupported(&self.source)
            || self.protocol_error() == Some(ProtocolError::UnsupportedVersion)
    }

    /// `topic` does not exist (or has no partitions yet), as a broker says
    /// UNKNOWN_TOPIC_OR_PARTITION: retriable, since it may be being created.
    pub(crate) fn unknown_topic(context: impl Into<String>, topic: &str) -> Self {
        Self::new(
            context,
            RsError::ServerError {
                protocol_error: ProtocolError::UnknownTopicOrPartition,
                error_message: None,
                request: rskafka::client::error::RequestContext::Topic(topic.to_owned()),
                response: None,
                is_virtual: true,
            },
        )
    }

    /// An operation that had no answer within `limit`: rskafka may keep reconnecting to a
    /// broker that is gone for longer than its deadline says. Retriable.
    pub(crate) fn timed_out(context: impl Into<String>, limit: Duration) -> Self {
        Self::new(
            context,
            RsError::RetryFailed(rskafka::BackoffError::DeadlineExceded {
                deadline: limit,
                source: format!("no answer from the broker within {limit:?}").into(),
            }),
        )
    }
}

/// Whether trying again later may succeed: connection problems, timeouts and the broker errors
/// Kafka marks retriable (leader moves, not enough replicas, a group coordinator moving or
/// loading, ...). A request the broker speaks no version of, or that cannot be encoded, is
/// not.
pub(crate) fn is_retriable(error: &RsError) -> bool {
    match error {
        RsError::InvalidResponse(_) => false,
        RsError::Request(RequestError::NoVersionMatch { .. } | RequestError::EncodeError(_)) => {
            false
        }
        RsError::ServerError { protocol_error, .. } => matches!(
            protocol_error,
            ProtocolError::UnknownServerError
                | ProtocolError::CorruptMessage
                | ProtocolError::UnknownTopicOrPartition
                | ProtocolError::LeaderNotAvailable
                | ProtocolError::NotLeaderOrFollower
                | ProtocolError::RequestTimedOut
                | ProtocolError::BrokerNotAvailable
                | ProtocolError::ReplicaNotAvailable
                | ProtocolError::NetworkException
                | ProtocolError::CoordinatorLoadInProgress
                | ProtocolError::CoordinatorNotAvailable
                | ProtocolError::NotCoordinator
                | ProtocolError::NotEnoughReplicas
                | ProtocolError::NotEnoughReplicasAfterAppend
                | ProtocolError::NotController
                | ProtocolError::KafkaStorageError
                | ProtocolError::FencedLeaderEpoch
                | ProtocolError::UnknownLeaderEpoch
                | ProtocolError::OffsetNotAvailable
                | ProtocolError::PreferredLeaderNotAvailable
                | ProtocolError::ThrottlingQuotaExceeded
                | ProtocolError::UnstableOffsetCommit
        ),
        _ => true,
    }
}

impl From<KafkaError> for ConnectError {
    fn from(e: KafkaError) -> Self {
        let message = e.context.clone();
        if e.is_retriable() {
            ConnectError::retriable(message).with_source(e.source)
        } else {
            ConnectError::fatal(message).with_source(e.source)
        }
    }
}

/// Partition clients by topic and partition.
type PartitionClients = HashMap<(String, i32), Arc<PartitionClient>>;

/// The worker's connection to Kafka, shared by every task. Partition clients are created once
/// and reused, and so are consumer groups' coordinators and the connections to them.
#[derive(Clone)]
pub struct Kafka {
    pub(super) client: Arc<Client>,
    partitions: Arc<Mutex<PartitionClients>>,
    coordinators: Arc<Coordinators>,
    config: KafkaConfig,
    cluster_id: ClusterId,
}

impl std::fmt::Debug for Kafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kafka")
            .field("bootstrap_servers", &self.config.bootstrap_servers)
            .finish_non_exhaustive()
    }
}

impl Kafka {
    /// How long one operation may retry a broker that does not answer (`request.timeout.ms`).
    pub fn request_timeout(&self) -> Duration {
        self.config.request_timeout
    }

    /// Connects to the cluster.
    pub async fn connect(config: KafkaConfig) -> Result<Self, KafkaError> {
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            deadline: Some(config.request_timeout),
        };
        let builder = ClientBuilder::new(config.bootstrap_servers.clone())
            .client_id(config.client_id.clone())
            .backoff_config(backoff);
        let client = config.security.apply(builder).build().await.map_err(|e| {
            // rskafka's message ends in the handshake's own words ("Sasl handshake failed",
            // "InvalidCertificate(UnknownIssuer)"); the context says what was tried.
            KafkaError::new(
                format!(
                    "cannot connect to Kafka at {} with security.protocol={}",
                    config.bootstrap_servers.join(","),
                    config.security.describe()
                ),
                e,
            )
        })?;
        let client = Arc::new(client);
        Ok(Self {
            coordinators: Arc::new(Coordinators::new(
                Arc::clone(&client),
                config.request_timeout,
            )),
            client,
            partitions: Arc::default(),
            config,
            cluster_id: ClusterId::default(),
        })
    }

    /// A member of consumer group `group`, on a new connection to its coordinator; it joins
    /// with [`GroupMember::join`](super::GroupMember::join).
    pub async fn group_member(
        &self,
        group: &str,
        config: super::MemberConfig,
    ) -> Result<super::GroupMember, KafkaError> {
        super::GroupMember::connect(
            &self.client,
            Arc::clone(&self.coordinators),
            group,
            config,
            self.config.request_timeout,
        )
        .await
    }

    /// The cluster's id, once a broker told it ([`Kafka::look_up_cluster_id`]).
    pub fn cluster_id(&self) -> Option<String> {
        self.cluster_id.get()
    }

    /// Asks a broker for the cluster's id: once now, and while none answers, again in the
    /// background. Never fails: the id is unknown until a broker tells it (always with SASL,
    /// which that lookup does not speak).
    pub async fn look_up_cluster_id(&self) {
        self.cluster_id.look_up(&self.config).await;
    }

    /// Every topic with its partitions.
    pub async fn topics(&self) -> Result<Vec<(String, Vec<i32>)>, KafkaError> {
        let topics = self
            .client
            .list_topics()
            .await
            .map_err(|e| KafkaError::new("cannot list topics", e))?;
        Ok(topics
            .into_iter()
            .map(|t| (t.name, t.partitions.into_iter().collect()))
            .collect())
    }

    /// Creates a topic; `Ok(false)` when it already existed.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<bool, KafkaError> {
        let context = || format!("cannot create topic {name}");
        let controller = self
            .client
            .controller_client()
            .map_err(|e| KafkaError::new(context(), e))?;
        let timeout_ms = i32::try_from(self.config.request_timeout.as_millis()).unwrap_or(i32::MAX);
        match controller
            .create_topic(name, partitions, replication_factor, timeout_ms)
            .await
        {
            Ok(()) => Ok(true),
            Err(RsError::ServerError {
                protocol_error: ProtocolError::TopicAlreadyExists,
                ..
            }) => Ok(false),
            Err(e) => Err(KafkaError::new(context(), e)),
        }
    }

    /// The client of one partition, created on first use.
    pub async fn partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<PartitionClient>, KafkaError> {
        let key = (topic.to_owned(), partition);
        if let Some(client) = self.lock_partitions().get(&key) {
            return Ok(Arc::clone(client));
        }
        let client = self
            .client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| {
                KafkaError::new(format!("cannot reach partition {topic}-{partition}"), e)
            })?;
        let client = Arc::new(client);
        self.lock_partitions().insert(key, Arc::clone(&client));
        Ok(client)
    }

    fn lock_partitions(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, i32), Arc<PartitionClient>>> {
        // A poisoned lock only means another task panicked mid-insert; the map is still valid.
        self.partitions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl KafkaClient for Kafka {
    fn cluster_id(&self) -> Option<String> {
        Kafka::cluster_id(self)
    }

    async fn topics(&self) -> Result<Vec<(String, Vec<i32>)>, KafkaError> {
        Kafka::topics(self).await
    }

    async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<bool, KafkaError> {
        Kafka::create_topic(self, name, partitions, replication_factor).await
    }

    /// A fetch with no answer within `request.timeout.ms` + `max_wait` is stalled, whatever
    /// rskafka still tries: it fails (retriable), so a sink waiting for a broker that is gone
    /// shows as such.
    async fn fetch(
        &self,
        partition: &TopicPartition,
        offset: i64,
        max_bytes: i32,
        max_wait: Duration,
    ) -> Result<Fetched, KafkaError> {
        let max_wait_ms = i32::try_from(max_wait.as_millis())
            .unwrap_or(i32::MAX)
            .max(1);
        let fetch = async {
            let client = self
                .partition(&partition.topic, partition.partition)
                .await?;
            match client
                .fetch_batches(offset, 1..max_bytes, max_wait_ms)
                .await
            {
                Ok(fetched) => {
                    let high_watermark = fetched.high_watermark;
                    let readable_end = fetched.last_stable_offset.unwrap_or(high_watermark);
                    let Consumed {
                        records,
                        next_offset,
                    } = consume(fetched, offset);
                    Ok(Fetched::Read(PartitionRead {
                        records,
                        next_offset,
                        high_watermark,
                        readable_end,
                    }))
                }
                Err(RsError::ServerError {
                    protocol_error: ProtocolError::OffsetOutOfRange,
                    ..
                }) => {
                    let earliest = client.get_offset(OffsetAt::Earliest).await.map_err(|e| {
                        KafkaError::new(
                            format!("cannot read the earliest offset of {partition}"),
                            e,
                        )
                    })?;
                    Ok(Fetched::OutOfRange { earliest })
                }
                Err(e) => Err(KafkaError::new(format!("cannot fetch from {partition}"), e)),
            }
        };
        let stall_limit = self.request_timeout() + max_wait;
        tokio::time::timeout(stall_limit, fetch)
            .await
            .unwrap_or_else(|_| {
                Err(KafkaError::timed_out(
                    format!("cannot fetch from {partition}"),
                    stall_limit,
                ))
            })
    }

    /// One ListOffsets per partition, sent together (rskafka's partition clients, which follow
    /// leader moves); no answer within `request.timeout.ms` fails the call (retriable).
    async fn offsets_at(
        &self,
        partitions: &[TopicPartition],
        at: OffsetPosition,
    ) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
        let (offset_at, which) = match at {
            OffsetPosition::Earliest => (OffsetAt::Earliest, "earliest"),
            OffsetPosition::Latest => (OffsetAt::Latest, "latest"),
        };
        let offsets = partitions.iter().map(|partition| async move {
            let client = self
                .partition(&partition.topic, partition.partition)
                .await?;
            let offset = client.get_offset(offset_at).await.map_err(|e| {
                KafkaError::new(format!("cannot read the {which} offset of {partition}"), e)
            })?;
            Ok::<_, KafkaError>((partition.clone(), offset))
        });
        let limit = self.request_timeout();
        tokio::time::timeout(limit, futures::future::try_join_all(offsets))
            .await
            .unwrap_or_else(|_| {
                Err(KafkaError::timed_out(
                    format!(
                        "cannot read the {which} offsets of {} partitions",
                        partitions.len()
                    ),
                    limit,
                ))
            })
            .map(|offsets| offsets.into_iter().collect())
    }

    async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>, KafkaError> {
        group_offsets::committed_offsets(&self.coordinators, group, partitions).await
    }

    async fn commit_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<(), KafkaError> {
        group_offsets::commit_offsets(&self.coordinators, group, offsets).await
    }

    async fn delete_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<(), KafkaError> {
        group_offsets::delete_offsets(&self.coordinators, group, partitions).await
    }
}
