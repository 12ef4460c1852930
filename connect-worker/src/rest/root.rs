//! `GET /` (the worker's version) and `GET /health` (KIP-1017).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::herder::Herder;

/// The commit the worker was built from: `CONNECT_GIT_COMMIT` at build time (a build script
/// or the release pipeline sets it), else `unknown`.
pub const COMMIT: &str = match option_env!("CONNECT_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// The routes of this module.
pub fn routes() -> Router<Herder> {
    Router::new()
        .route("/", get(server_info))
        .route("/health", get(health))
}

/// `GET /`: Kafka Connect's `ServerInfo`.
async fn server_info() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": COMMIT,
        // Kafka Connect reads it with the admin client; rskafka has no DescribeCluster yet.
        "kafka_cluster_id": "unknown",
    }))
}

/// How long `GET /health` waits for the herder, as Kafka Connect's health check (10 s).
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `GET /health` (KIP-1017). The router exists only once the herder was built and its
/// connectors restored, so a worker that answers has completed startup; it is healthy when
/// its herder answers within 10 s, and 500 `unhealthy` otherwise.
pub async fn health(State(herder): State<Herder>) -> (StatusCode, Json<Value>) {
    if herder.responsive(HEALTH_TIMEOUT).await {
        (
            StatusCode::OK,
            Json(json!({
                "status": "healthy",
                "message": "Worker has completed startup and is ready to handle requests.",
            })),
        )
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({
                "status": "unhealthy",
                "message": "Worker was unable to handle this request and may be unable to handle other requests.",
            })),
        )
    }
}
