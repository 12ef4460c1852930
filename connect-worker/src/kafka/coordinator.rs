//! Where a consumer group's requests go: the group's coordinator, found with FindCoordinator
//! (key type group) on any broker and remembered per group, reached on a connection to that
//! broker which every group request to it shares (apart from rskafka's produce and fetch
//! connections).
//!
//! [`Coordinators::call`] sends a group request there. When the answer says the coordinator
//! moved, is not available yet or is still loading the group (NOT_COORDINATOR,
//! COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS), or the connection broke or did not
//! answer, it finds the coordinator again and sends the request again after a short pause, as
//! Kafka's clients do, for as long as the client's request timeout allows.
//!
//! Group membership (JoinGroup, which holds its connection until the rebalance ends) needs a
//! connection of its own to the coordinator: [`Coordinators::node_of`], then rskafka's
//! `Client::connect_to_broker`, which always opens a new one.

use std::collections::HashMap;
use std::future::Future;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::FindCoordinatorRequest;
use rskafka::client::error::{Error as RsError, ProtocolError, RequestContext, RequestError};
use rskafka::client::raw::RawConnection;
use rskafka::client::Client;
use tokio::time::Instant;

use super::raw_request::{self, answered_error};
use super::KafkaError;

/// FindCoordinator v1 to v3 ask for one key and carry `key_type`; v4 and later ask for a batch
/// of keys (every broker since Kafka 0.11 speaks v1, Kafka 4 still speaks v3).
const FIND_COORDINATOR_VERSIONS: RangeInclusive<i16> = 1..=3;
/// FindCoordinator's key type of a consumer group (1 is a transactional id).
const GROUP_KEY_TYPE: i8 = 0;
/// The pauses before a group request is sent again: 50 ms, doubling up to 1 s.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LAST_PAUSE: Duration = Duration::from_secs(1);

/// The coordinators of the groups this worker talks to, and the connections to them.
#[derive(Debug)]
pub(crate) struct Coordinators {
    client: Arc<Client>,
    /// How long one [`call`](Self::call) may take, retries included (`request.timeout.ms`).
    request_timeout: Duration,
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    /// Each group's coordinator, by node id.
    nodes: HashMap<String, i32>,
    /// The connection to each coordinator, by node id.
    connections: HashMap<i32, RawConnection>,
}

/// What a failed group request calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The error is the answer: the caller gets it.
    GiveUp,
    /// The coordinator moved, is not there yet or is loading: find it again, ask again.
    FindCoordinator,
    /// The connection broke or did not answer: connect again (to the coordinator found again,
    /// which may be why it broke), ask again.
    Reconnect,
}

fn next_step(error: &RsError) -> Next {
    match error {
        RsError::ServerError {
            protocol_error:
                ProtocolError::NotCoordinator
                | ProtocolError::CoordinatorNotAvailable
                | ProtocolError::CoordinatorLoadInProgress,
            ..
        } => Next::FindCoordinator,
        RsError::Request(RequestError::IO(_) | RequestError::Poisoned(_))
        | RsError::Connection(_)
        | RsError::Timeout => Next::Reconnect,
        _ => Next::GiveUp,
    }
}

impl Coordinators {
    pub(crate) fn new(client: Arc<Client>, request_timeout: Duration) -> Self {
        Self {
            client,
            request_timeout,
            known: Mutex::default(),
        }
    }

    /// Sends a request to `group`'s coordinator: `request` gets the connection and the time
    /// left, and returns the decoded answer or what went wrong. A coordinator that moved, is
    /// unavailable or loading, or a connection that broke, is found (or connected) again and
    /// `request` called again after a pause, until the request timeout has passed; then the
    /// last error is returned.
    pub(crate) async fn call<T, F, Fut>(&self, group: &str, mut request: F) -> Result<T, KafkaError>
    where
        F: FnMut(RawConnection, Duration) -> Fut,
        Fut: Future<Output = Result<T, KafkaError>>,
    {
        let deadline = Instant::now() + self.request_timeout;
        let mut pause = FIRST_PAUSE;
        loop {
            let error = match self.connection(group, deadline).await {
                Ok((node, connection)) => match request(connection, time_left(deadline)).await {
                    Ok(answer) => return Ok(answer),
                    Err(e) => {
                        self.forget(group, node, next_step(&e.source));
                        e
                    }
                },
                Err(e) => e,
            };
            if next_step(&error.source) == Next::GiveUp || Instant::now() + pause >= deadline {
                return Err(error);
            }
            tracing::debug!(%group, %error, ?pause, "consumer group request failed; asking again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LAST_PAUSE);
        }
    }

    /// The node id of `group`'s coordinator, from what is known or a FindCoordinator.
    pub(crate) async fn node_of(&self, group: &str, deadline: Instant) -> Result<i32, KafkaError> {
        if let Some(node) = self.known().nodes.get(group) {
            return Ok(*node);
        }
        let context = || format!("cannot find the coordinator of consumer group {group}");
        let broker = tokio::time::timeout(time_left(deadline), self.client.any_broker())
            .await
            .unwrap_or(Err(RsError::Timeout))
            .map_err(|e| KafkaError::new(context(), e))?;
        let request = FindCoordinatorRequest::default()
            .with_key(group.to_owned().into())
            .with_key_type(GROUP_KEY_TYPE);
        let (_, answer) = raw_request::send(
            &broker,
            FIND_COORDINATOR_VERSIONS,
            &request,
            time_left(deadline),
        )
        .await
        .map_err(|e| KafkaError::new(context(), e))?;
        if let Some(error) = answered_error(
            answer.error_code,
            answer.error_message.as_deref(),
            RequestContext::Group(group.to_owned()),
        ) {
            return Err(KafkaError::new(context(), error));
        }
        let node = answer.node_id.0;
        tracing::debug!(%group, node, "consumer group coordinator");
        self.known().nodes.insert(group.to_owned(), node);
        Ok(node)
    }

    /// Forgets `group`'s coordinator, which said it is no longer it: the next request finds
    /// it again.
    pub(crate) fn forget_coordinator(&self, group: &str) {
        self.known().nodes.remove(group);
    }

    /// The coordinator of `group` and the connection to it, connected if need be.
    async fn connection(
        &self,
        group: &str,
        deadline: Instant,
    ) -> Result<(i32, RawConnection), KafkaError> {
        let node = self.node_of(group, deadline).await?;
        if let Some(connection) = self.known().connections.get(&node) {
            return Ok((node, connection.clone()));
        }
        let connection = connect_to_coordinator(&self.client, group, node, deadline)
            .await
            .inspect_err(|_| self.forget(group, node, Next::FindCoordinator))?;
        // Another request may have connected meanwhile: keep one connection per broker.
        let connection = self
            .known()
            .connections
            .entry(node)
            .or_insert(connection)
            .clone();
        Ok((node, connection))
    }

    /// Forgets what `step` says is stale: the group's coordinator, and with
    /// [`Next::Reconnect`] the connection to `node`.
    fn forget(&self, group: &str, node: i32, step: Next) {
        let mut known = self.known();
        match step {
            Next::GiveUp => {}
            Next::FindCoordinator => {
                known.nodes.remove(group);
            }
            Next::Reconnect => {
                known.nodes.remove(group);
                known.connections.remove(&node);
            }
        }
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        // A poisoned lock only means a panic elsewhere mid-update; the maps are still valid.
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A new connection to broker `node`, the coordinator of `group`, within `deadline`. A broker
/// missing from the metadata (it left, or has not joined yet) fails as if it had answered
/// COORDINATOR_NOT_AVAILABLE; the caller forgets the coordinator on any failure.
pub(crate) async fn connect_to_coordinator(
    client: &Client,
    group: &str,
    node: i32,
    deadline: Instant,
) -> Result<RawConnection, KafkaError> {
    let context =
        || format!("cannot reach broker {node}, the coordinator of consumer group {group}");
    let connected = tokio::time::timeout(time_left(deadline), client.connect_to_broker(node))
        .await
        .unwrap_or(Err(RsError::Timeout))
        .map_err(|e| KafkaError::new(context(), e))?;
    connected.ok_or_else(|| {
        let error = RsError::ServerError {
            protocol_error: ProtocolError::CoordinatorNotAvailable,
            error_message: Some(format!("broker {node} is not in the cluster's metadata")),
            request: RequestContext::Group(group.to_owned()),
            response: None,
            is_virtual: true,
        };
        KafkaError::new(context(), error)
    })
}

/// What is left of the time until `deadline` (zero once it passed).
pub(crate) fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::super::client::is_retriable;
    use super::*;

    fn server_error(protocol_error: ProtocolError) -> RsError {
        RsError::ServerError {
            protocol_error,
            error_message: None,
            request: RequestContext::Group("g".into()),
            response: None,
            is_virtual: false,
        }
    }

    #[test]
    fn a_coordinator_that_moved_or_loads_is_found_again() {
        for moved in [
            ProtocolError::NotCoordinator,
            ProtocolError::CoordinatorNotAvailable,
            ProtocolError::CoordinatorLoadInProgress,
        ] {
            assert_eq!(
                next_step(&server_error(moved)),
                Next::FindCoordinator,
                "{moved:?}"
            );
            // Still so when the request timeout ran out first: the caller may try later.
            assert!(is_retriable(&server_error(moved)), "{moved:?}");
        }
    }

    #[test]
    fn a_broken_or_silent_connection_is_made_again() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(
            next_step(&RsError::Request(RequestError::IO(reset))),
            Next::Reconnect
        );
        assert_eq!(next_step(&RsError::Timeout), Next::Reconnect);
    }

    #[test]
    fn other_answers_are_the_callers() {
        for answer in [
            server_error(ProtocolError::GroupAuthorizationFailed),
            server_error(ProtocolError::UnknownTopicOrPartition),
            server_error(ProtocolError::IllegalGeneration),
            RsError::InvalidResponse("garbled".into()),
        ] {
            assert_eq!(next_step(&answer), Next::GiveUp, "{answer}");
        }
    }
}
