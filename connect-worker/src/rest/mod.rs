//! The Kafka Connect-compatible REST API: the same paths, JSON shapes, status codes and error
//! bodies as Kafka Connect 3.9, so existing clients, scripts and UIs work unchanged.
//!
//! One module per resource: [`root`] (`/`, `/health`), [`connectors`] (`/connectors/...`),
//! [`offsets`] (`/connectors/{name}/offsets`), [`plugins`] (`/connector-plugins/...`).
//! Requests are read by [`extract`] and [`body`], which answer every malformed request with a
//! JSON 400 before anything changes; [`mask`] hides secrets in echoed configurations;
//! [`error`] is the one error body, `{"error_code", "message"}`.
//!
//! To add a resource, give it a `routes() -> OpenApiRouter<Herder>` that registers each
//! handler with `routes!` (its path and methods come from its `#[utoipa::path]` attribute)
//! and merge it in [`api`]: the router and the OpenAPI description ([`openapi`],
//! `GET /openapi.json`, `docs/openapi.json`) are built from the same registrations. Path
//! parameters are named `{name}` (connector), `{task}` and `{plugin}` everywhere: the router
//! refuses the same segment under two names.
//!
//! Herder calls run in tasks of their own ([`complete`]): a client that disconnects must not
//! cancel a connector half-way through being created, stopped or deleted.

pub mod auth;
pub mod body;
pub mod connectors;
pub mod error;
pub mod extract;
pub mod forward;
pub mod loggers;
pub mod mask;
pub mod metrics;
pub mod offsets;
pub mod openapi;
pub mod plugins;
pub mod root;
pub mod tls;
pub mod topics;

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::uri::PathAndQuery;
use axum::http::{StatusCode, Uri};
use axum::Router;
use tower::ServiceBuilder;
use utoipa_axum::router::OpenApiRouter;

pub use error::{ApiError, ErrorMessage};

use crate::herder::{Herder, HerderError};

/// The largest request body accepted (1 MiB); larger ones get a 413. Connector
/// configurations are a few KiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How long a request waits for the herder before answering 500, as Kafka Connect's
/// `DEFAULT_REST_REQUEST_TIMEOUT_MS` (90 s). The operation itself goes on. A last resort: the
/// herder bounds its waits for a busy connector well below this (docs/rest.md).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Every route with its description.
pub fn api() -> OpenApiRouter<Herder> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(root::routes())
        .merge(connectors::routes())
        .merge(offsets::routes())
        .merge(plugins::routes())
        .merge(topics::routes())
        .merge(loggers::routes())
        .merge(metrics::routes())
        .merge(openapi::routes())
}

/// The whole API over `herder`.
pub fn router(herder: Herder) -> Router {
    LazyLock::force(&root::STARTED);
    let (routes, _) = api().split_for_parts();
    let api = routes
        .fallback(not_found)
        // After the routes: it applies to the routes registered so far.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Distributed mode: writes run on the worker that must carry them out.
        .layer(axum::middleware::from_fn_with_state(
            herder.clone(),
            forward::route,
        ))
        .with_state(herder);
    // The path is normalised before routing, which a layer on `api` would run after.
    Router::new().fallback_service(
        ServiceBuilder::new()
            .map_request(strip_trailing_slash)
            .service(api),
    )
}

/// `router` behind the authenticator, when there is one.
pub fn secured(router: Router, auth: Option<std::sync::Arc<auth::Authenticator>>) -> Router {
    match auth {
        Some(auth) => router.layer(axum::middleware::from_fn_with_state(auth, auth::require)),
        None => router,
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish.
pub async fn serve<L>(
    listener: L,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Runs a herder operation in a task of its own and waits up to [`REQUEST_TIMEOUT`] for it.
/// The task is not cancelled with the request: creating, stopping or deleting a connector
/// always runs to its end, whether or not the client still waits.
pub async fn complete<T, F, Fut>(herder: &Herder, operation: F) -> Result<T, ApiError>
where
    F: FnOnce(Herder) -> Fut,
    Fut: Future<Output = Result<T, HerderError>> + Send + 'static,
    T: Send + 'static,
{
    let task = tokio::spawn(operation(herder.clone()));
    match tokio::time::timeout(REQUEST_TIMEOUT, task).await {
        Ok(Ok(result)) => result.map_err(ApiError::from),
        Ok(Err(join)) => Err(ApiError::internal(format!("The request failed: {join}"))),
        Err(_) => Err(ApiError::internal("Request timed out")),
    }
}

/// Unknown paths: Jersey's message, as Kafka Connect answers them.
async fn not_found() -> ApiError {
    ApiError::not_found("HTTP 404 Not Found")
}

/// Known paths with another method; axum adds the `Allow` header.
async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

/// `/connectors/` is `/connectors`, as in Jersey, which matches paths with or without a
/// trailing slash (many tutorials `POST /connectors/`).
fn strip_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() <= 1 || !path.ends_with('/') {
        return request;
    }
    let trimmed = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(pq) = PathAndQuery::try_from(path_and_query) {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn stripped(uri: &str) -> String {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        strip_trailing_slash(request).uri().to_string()
    }

    #[test]
    fn trailing_slashes_are_removed_but_the_root_stays() {
        assert_eq!(stripped("/connectors/"), "/connectors");
        assert_eq!(
            stripped("/connectors//?expand=info"),
            "/connectors?expand=info"
        );
        assert_eq!(stripped("/connectors/a"), "/connectors/a");
        assert_eq!(stripped("/"), "/");
        assert_eq!(stripped("//"), "/");
        assert_eq!(
            stripped("http://h:1/connectors/?x"),
            "http://h:1/connectors?x"
        );
    }
}
