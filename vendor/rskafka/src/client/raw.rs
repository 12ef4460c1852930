//! Requests rskafka has no method for, sent over rskafka's own broker connections (added by
//! connect-rs, see PATCHED.md). The caller encodes the request body and decodes the response
//! body; the connection brings what every other request gets: TLS, SASL, the client id and
//! the versions the broker said it speaks.

use std::ops::RangeInclusive;
use std::sync::Arc;

use bytes::Bytes;

use crate::connection::{BrokerCache, BrokerCacheGeneration, BrokerConnection, BrokerConnector};
use crate::messenger::RequestError;

use super::{Client, error::Result};

/// A connection to one broker. Clones share the connection, and requests on it are pipelined.
#[derive(Debug, Clone)]
pub struct RawConnection {
    messenger: BrokerConnection,
    /// Set when this is rskafka's cached connection to an arbitrary broker, which is dropped
    /// from the cache when it breaks so that the next user connects again.
    cached: Option<(Arc<BrokerConnector>, BrokerCacheGeneration)>,
}

/// What [`RawConnection::request`] got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The version the request was sent in, and the response body is in.
    pub version: i16,
    /// The response body (what follows the response header), undecoded.
    pub body: Bytes,
}

impl RawConnection {
    /// Sends a request of `api_key` in the highest of `versions` the broker speaks, its body
    /// written by `encode_body` for that version, and returns the response body. From
    /// `first_flexible_version` on, the request header is v2 and the response header v1 (true
    /// of every API but ApiVersions, which is not to be sent this way). No version in common
    /// is [`RequestError::NoVersionMatch`]; nothing is sent then.
    pub async fn request<F>(
        &self,
        api_key: i16,
        versions: RangeInclusive<i16>,
        first_flexible_version: i16,
        encode_body: F,
    ) -> Result<RawResponse, RequestError>
    where
        F: FnOnce(i16, &mut Vec<u8>) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
            + Send,
    {
        let result = self
            .messenger
            .request_raw(api_key, versions, first_flexible_version, encode_body)
            .await;
        if let (Err(RequestError::Poisoned(_) | RequestError::IO(_)), Some((connector, r#gen))) =
            (&result, &self.cached)
        {
            let connector: &BrokerConnector = connector;
            connector
                .invalidate("raw request: arbitrary broker connection is broken", *r#gen)
                .await;
        }
        let (version, body) = result?;
        Ok(RawResponse { version, body })
    }
}

impl Client {
    /// A connection to some broker of the cluster (added by connect-rs): the one rskafka keeps
    /// for its metadata requests, connected first if need be (retried as the client's backoff
    /// says).
    pub async fn any_broker(&self) -> Result<RawConnection> {
        let connector: &BrokerConnector = &self.brokers;
        let (messenger, r#gen) = connector.get().await?;
        Ok(RawConnection {
            messenger,
            cached: Some((Arc::clone(&self.brokers), r#gen)),
        })
    }

    /// A new connection to the broker with node id `broker_id`, of the caller's own (added by
    /// connect-rs): nothing else sends on it, so a request that blocks its connection (such as
    /// JoinGroup) holds up nobody else. `Ok(None)` when the cluster's metadata, read again if
    /// the broker is not in it, has no such broker. One attempt to connect, not retried.
    pub async fn connect_to_broker(&self, broker_id: i32) -> Result<Option<RawConnection>> {
        let mut messenger = self.brokers.connect(broker_id).await?;
        if messenger.is_none() {
            self.brokers.refresh_metadata().await?;
            messenger = self.brokers.connect(broker_id).await?;
        }
        Ok(messenger.map(|messenger| RawConnection {
            messenger,
            cached: None,
        }))
    }
}
