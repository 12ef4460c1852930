//! `GET /metrics`: every metric in Prometheus' text format (`docs/metrics.md`), on the REST
//! listener and on the `metrics.listeners`.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::herder::Herder;

/// Prometheus' text exposition format.
pub const CONTENT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The routes of this module.
pub fn routes() -> Router<Herder> {
    Router::new().route("/metrics", get(metrics))
}

/// What a `metrics.listeners` listener serves: `/metrics` and `/health`, nothing that
/// manages connectors.
pub fn router(herder: Herder) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(super::root::health))
        .with_state(herder)
}

async fn metrics(State(herder): State<Herder>) -> impl IntoResponse {
    ([(CONTENT_TYPE, CONTENT)], herder.metrics_text().await)
}
