//! One request of an API rskafka has no method for (the consumer-group APIs, and topic
//! creation with configs and DescribeConfigs for the internal topics): the message is
//! kafka-protocol's, encoded in the highest version both we and the broker speak and sent on one
//! of rskafka's own connections (`RawConnection`, vendor/rskafka/PATCHED.md), so TLS, SASL and
//! the client id are those of every other request; the answer is decoded in the same version.

use std::ops::RangeInclusive;
use std::time::Duration;

use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, FindCoordinatorRequest, FindCoordinatorResponse, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    MetadataRequest, MetadataResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest, OffsetFetchResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use rskafka::client::error::{Error as RsError, ProtocolError, RequestContext, RequestError};
use rskafka::client::raw::RawConnection;

/// A request we send and the answer it gets. kafka-protocol's own `Request` trait needs its
/// `broker` feature (decoding requests), which the worker has no use for.
pub(crate) trait Request: Encodable + HeaderVersion {
    const KEY: ApiKey;
    type Response: Decodable + HeaderVersion;
}

impl Request for FindCoordinatorRequest {
    const KEY: ApiKey = ApiKey::FindCoordinator;
    type Response = FindCoordinatorResponse;
}

impl Request for OffsetFetchRequest {
    const KEY: ApiKey = ApiKey::OffsetFetch;
    type Response = OffsetFetchResponse;
}

impl Request for OffsetCommitRequest {
    const KEY: ApiKey = ApiKey::OffsetCommit;
    type Response = OffsetCommitResponse;
}

impl Request for OffsetDeleteRequest {
    const KEY: ApiKey = ApiKey::OffsetDelete;
    type Response = OffsetDeleteResponse;
}

impl Request for JoinGroupRequest {
    const KEY: ApiKey = ApiKey::JoinGroup;
    type Response = JoinGroupResponse;
}

impl Request for SyncGroupRequest {
    const KEY: ApiKey = ApiKey::SyncGroup;
    type Response = SyncGroupResponse;
}

impl Request for HeartbeatRequest {
    const KEY: ApiKey = ApiKey::Heartbeat;
    type Response = HeartbeatResponse;
}

impl Request for LeaveGroupRequest {
    const KEY: ApiKey = ApiKey::LeaveGroup;
    type Response = LeaveGroupResponse;
}

impl Request for MetadataRequest {
    const KEY: ApiKey = ApiKey::Metadata;
    type Response = MetadataResponse;
}

impl Request for CreateTopicsRequest {
    const KEY: ApiKey = ApiKey::CreateTopics;
    type Response = CreateTopicsResponse;
}

impl Request for DescribeConfigsRequest {
    const KEY: ApiKey = ApiKey::DescribeConfigs;
    type Response = DescribeConfigsResponse;
}

/// Sends `request` on `connection` in the highest of `versions` the broker speaks and returns
/// the decoded answer with the version spoken. `versions` must be versions whose fields mean
/// what the caller reads (the callers pin them). An answer that does not decode is
/// [`RsError::InvalidResponse`]; no answer within `limit` is [`RsError::Timeout`] (retriable,
/// like a broken connection).
pub(crate) async fn send<R>(
    connection: &RawConnection,
    versions: RangeInclusive<i16>,
    request: &R,
    limit: Duration,
) -> Result<(i16, R::Response), RsError>
where
    R: Request + Sync,
{
    let first_flexible = first_flexible_version::<R>(&versions);
    let encode = |version: i16, buf: &mut Vec<u8>| {
        request
            .encode(buf, version)
            .map_err(|e| format!("{:?}: {e:#}", R::KEY).into())
    };
    let sent = connection.request(R::KEY as i16, versions, first_flexible, encode);
    let answer = tokio::time::timeout(limit, sent)
        .await
        .map_err(|_| RsError::Timeout)?
        .map_err(RsError::Request)?;
    let mut body = answer.body;
    let response = R::Response::decode(&mut body, answer.version).map_err(|e| {
        RsError::InvalidResponse(format!(
            "cannot read the broker's {:?} v{} answer: {e:#}",
            R::KEY,
            answer.version
        ))
    })?;
    Ok((answer.version, response))
}

/// The first version of `versions` in which `R`'s headers are flexible (tagged fields), or
/// past the range when none is.
fn first_flexible_version<R: HeaderVersion>(versions: &RangeInclusive<i16>) -> i16 {
    versions
        .clone()
        .find(|&version| R::header_version(version) >= 2)
        .unwrap_or(i16::MAX)
}

/// The error an answer's error code stands for (`None` for 0, no error), in the form of
/// rskafka's own errors, so that [`KafkaError::is_retriable`](super::KafkaError::is_retriable)
/// and [`KafkaError::protocol_error`](super::KafkaError::protocol_error) work on it.
pub(crate) fn answered_error(
    code: i16,
    message: Option<&str>,
    request: RequestContext,
) -> Option<RsError> {
    let protocol_error = ProtocolError::new(code)?;
    Some(RsError::ServerError {
        protocol_error,
        error_message: message.map(str::to_owned),
        request,
        response: None,
        is_virtual: false,
    })
}

/// Whether the broker speaks none of the versions asked for (nothing was sent).
pub(crate) fn is_unsupported(error: &RsError) -> bool {
    matches!(error, RsError::Request(RequestError::NoVersionMatch { .. }))
}

#[cfg(test)]
mod tests {
    use kafka_protocol::protocol::Message;

    use super::*;

    /// Request and response headers turn flexible at the same version (the rule
    /// `RawConnection` relies on), for every version kafka-protocol knows of the APIs we send.
    fn headers_turn_flexible_together<R: Request + Message>() {
        for version in R::VERSIONS.min..=R::VERSIONS.max {
            assert_eq!(
                R::header_version(version) >= 2,
                R::Response::header_version(version) >= 1,
                "{:?} v{version}",
                R::KEY
            );
        }
    }

    #[test]
    fn request_and_response_headers_turn_flexible_together() {
        headers_turn_flexible_together::<FindCoordinatorRequest>();
        headers_turn_flexible_together::<OffsetFetchRequest>();
        headers_turn_flexible_together::<OffsetCommitRequest>();
        headers_turn_flexible_together::<OffsetDeleteRequest>();
        headers_turn_flexible_together::<JoinGroupRequest>();
        headers_turn_flexible_together::<SyncGroupRequest>();
        headers_turn_flexible_together::<HeartbeatRequest>();
        headers_turn_flexible_together::<LeaveGroupRequest>();
        headers_turn_flexible_together::<MetadataRequest>();
        headers_turn_flexible_together::<CreateTopicsRequest>();
        headers_turn_flexible_together::<DescribeConfigsRequest>();
    }

    #[test]
    fn the_first_flexible_version_is_that_of_the_api() {
        // FindCoordinator v3, OffsetFetch v6 and OffsetCommit v8 are the first flexible ones.
        assert_eq!(
            first_flexible_version::<FindCoordinatorRequest>(&(1..=3)),
            3
        );
        assert_eq!(first_flexible_version::<OffsetFetchRequest>(&(1..=7)), 6);
        assert_eq!(first_flexible_version::<OffsetCommitRequest>(&(2..=9)), 8);
        assert_eq!(
            first_flexible_version::<OffsetCommitRequest>(&(2..=7)),
            i16::MAX
        );
        // OffsetDelete has a single, non-flexible version.
        assert_eq!(
            first_flexible_version::<OffsetDeleteRequest>(&(0..=0)),
            i16::MAX
        );
    }
}
