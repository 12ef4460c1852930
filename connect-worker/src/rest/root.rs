//! `GET /` (the worker's version) and `GET /health` (KIP-1017).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::herder::Herder;

/// The commit the worker was built from, `unknown` when not built from a git checkout: set
/// by the build script (`build.rs`).
pub const COMMIT: &str = env!("CONNECT_GIT_COMMIT");

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Herder> {
    OpenApiRouter::new()
        .routes(routes!(server_info))
        .routes(routes!(health))
}

/// Kafka Connect's `ServerInfo`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerInfo {
    /// The worker's version.
    version: &'static str,
    /// The commit it was built from, or `unknown`.
    commit: &'static str,
    /// The Kafka cluster's id, `unknown` until a broker told it (always with SASL).
    kafka_cluster_id: String,
}

/// `GET /health`'s body (KIP-1017).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `healthy` or `unhealthy`.
    #[schema(example = "healthy")]
    status: &'static str,
    /// Why, for a person to read.
    message: &'static str,
}

/// `GET /`: Kafka Connect's `ServerInfo`.
#[utoipa::path(
    get, path = "/", tag = "root", operation_id = "serverInfo",
    responses((status = 200, description = "The worker's version", body = ServerInfo)),
)]
async fn server_info(State(herder): State<Herder>) -> Json<ServerInfo> {
    Json(ServerInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: COMMIT,
        // Looked up in the background (`kafka::cluster_id`): this never waits for a broker.
        kafka_cluster_id: herder
            .kafka_cluster_id()
            .unwrap_or_else(|| "unknown".to_owned()),
    })
}

/// How long `GET /health` waits for the herder, as Kafka Connect's health check (10 s).
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `GET /health` (KIP-1017). The router exists only once the herder was built and its
/// connectors restored, so a worker that answers has completed startup; it is healthy when
/// its herder answers within 10 s, and 500 `unhealthy` otherwise.
#[utoipa::path(
    get, path = "/health", tag = "root", operation_id = "healthCheck",
    responses(
        (status = 200, description = "Healthy", body = HealthStatus),
        (status = 500, description = "Unhealthy: the herder did not answer within 10 s", body = HealthStatus),
    ),
)]
pub async fn health(State(herder): State<Herder>) -> (StatusCode, Json<HealthStatus>) {
    if herder.responsive(HEALTH_TIMEOUT).await {
        (
            StatusCode::OK,
            Json(HealthStatus {
                status: "healthy",
                message: "Worker has completed startup and is ready to handle requests.",
            }),
        )
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(HealthStatus {
                status: "unhealthy",
                message: "Worker was unable to handle this request and may be unable to handle other requests.",
            }),
        )
    }
}
