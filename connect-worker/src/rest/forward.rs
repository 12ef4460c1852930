//! Distributed mode: REST writes go to the worker that must carry them out, as in Kafka
//! Connect. Most go to the leader (creating, changing, stopping, deleting, restarting a
//! connector, its offsets, the internal task-configuration call); a task's restart goes to the
//! worker that runs it; pause and resume, and every read, are answered by any worker.
//!
//! A layer in front of the routes asks the herder where each request must run
//! ([`Herder::request_target`]) and, when it is another worker, sends it there and relays the
//! answer: same method, path, query and body, the `Authorization` header and nothing else of
//! the client's, plus a `forward` query parameter that bounds the hops to two (absent from a
//! client: forwarded with `forward=true`; received with `true`: forwarded once more with
//! `false`; received with `false` and still elsewhere: 409).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::error::ApiError;
use super::extract::query_pairs;
use super::BODY_LIMIT;
use crate::herder::{Herder, RequestTarget};

/// How long a forwarded request may take, connection included: the leader's own bound on a
/// request ([`super::REQUEST_TIMEOUT`]) plus a margin.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(95);

/// The layer: runs the request here, forwards it, or answers 409.
pub async fn route(State(herder): State<Herder>, request: Request, next: Next) -> Response {
    let pairs = query_pairs(request.uri().query());
    let forward = pairs
        .iter()
        .find(|(k, _)| k == "forward")
        .map(|(_, v)| v.eq_ignore_ascii_case("true"));
    match herder.request_target(request.method(), request.uri().path()) {
        RequestTarget::Here => next.run(request).await,
        RequestTarget::Conflict(message) => {
            ApiError::new(StatusCode::CONFLICT, message).into_response()
        }
        RequestTarget::Worker(url) => {
            let next_forward = match forward {
                None => true,
                Some(true) => false,
                Some(false) => {
                    return ApiError::new(
                        StatusCode::CONFLICT,
                        "Cannot complete request because of a conflicting operation (e.g. worker rebalance)",
                    )
                    .into_response()
                }
            };
            let mut query: Vec<(String, String)> =
                pairs.into_iter().filter(|(k, _)| k != "forward").collect();
            query.push(("forward".into(), next_forward.to_string()));
            match forward_to(&url, request, &query).await {
                Ok(response) => response,
                Err(e) => {
                    ApiError::internal(format!("IO Error trying to forward REST request: {e}"))
                        .into_response()
                }
            }
        }
    }
}

/// Sends `request` to the worker at `base` (its advertised URL) with `query`, and relays the
/// status, the `Location` header and the body of its answer.
async fn forward_to(
    base: &str,
    request: Request,
    query: &[(String, String)],
) -> Result<Response, String> {
    let (parts, body) = request.into_parts();
    let body = http_body_util::Limited::new(body, BODY_LIMIT)
        .collect()
        .await
        .map_err(|e| format!("cannot read the request body: {e}"))?
        .to_bytes();
    let query = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let path = format!("{}?{query}", parts.uri.path());
    let answer = send(
        base,
        parts.method.clone(),
        &path,
        parts.headers.get(header::AUTHORIZATION).cloned(),
        (!body.is_empty()).then_some(body),
    )
    .await?;
    let mut response = Response::builder().status(answer.status);
    if let Some(location) = answer.location {
        response = response.header(header::LOCATION, location);
    }
    if !answer.body.is_empty() {
        response = response.header(header::CONTENT_TYPE, "application/json");
    }
    response
        .body(Body::from(answer.body))
        .map_err(|e| format!("cannot relay the answer: {e}"))
}

/// What another worker answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<HeaderValue>,
    pub body: bytes::Bytes,
}

/// One HTTP/1.1 request to another worker, on a connection of its own, bounded by
/// [`FORWARD_TIMEOUT`]. `base` is the worker's advertised URL (`http://host:port/`, the
/// trailing slash optional); `path` starts with `/`.
pub async fn send(
    base: &str,
    method: Method,
    path: &str,
    authorization: Option<HeaderValue>,
    body: Option<bytes::Bytes>,
) -> Result<Answer, String> {
    tokio::time::timeout(
        FORWARD_TIMEOUT,
        send_now(base, method, path, authorization, body),
    )
    .await
    .unwrap_or_else(|_| Err(format!("no answer from {base} within {FORWARD_TIMEOUT:?}")))
}

async fn send_now(
    base: &str,
    method: Method,
    path: &str,
    authorization: Option<HeaderValue>,
    body: Option<bytes::Bytes>,
) -> Result<Answer, String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| {
            format!("cannot reach {base}: forwarding to a worker whose advertised URL is not http:// is not supported yet (set rest.advertised.listener=http on every worker)")
        })?
        .trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("cannot talk HTTP to {authority}: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "a connection to another worker ended with an error");
        }
    });
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, authority)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "kafka-connect");
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Full::new(body)),
        None => request.body(http_body_util::Full::new(bytes::Bytes::new())),
    }
    .map_err(|e| format!("cannot build the request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{authority} did not answer: {e}"))?;
    let status = response.status();
    let location = response.headers().get(header::LOCATION).cloned();
    let body = http_body_util::Limited::new(response.into_body(), BODY_LIMIT)
        .collect()
        .await
        .map_err(|e| format!("cannot read the answer of {authority}: {e}"))?
        .to_bytes();
    Ok(Answer {
        status,
        location,
        body,
    })
}

/// Percent-encoding of a query key or value, or a path segment (everything but unreserved
/// characters).
pub fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_so_they_decode_the_same() {
        let raw = "a b&c=d/é";
        let encoded = encode(raw);
        assert_eq!(encoded, "a%20b%26c%3Dd%2F%C3%A9");
        let decoded = query_pairs(Some(&format!("k={encoded}")));
        assert_eq!(decoded, vec![("k".to_owned(), raw.to_owned())]);
    }
}
