//! `GET /metrics`: every metric in Prometheus' text format (`docs/metrics.md`), on the REST
//! listener and on the `metrics.listeners`.

use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::herder::Herder;

/// Prometheus' text exposition format.
pub const CONTENT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Herder> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// What a `metrics.listeners` listener serves: `/metrics` and `/health`, nothing that
/// manages connectors.
pub fn router(herder: Herder) -> Router {
    let (router, _) = routes()
        .routes(routes!(super::root::health))
        .split_for_parts();
    router.with_state(herder)
}

/// Every metric in Prometheus' text format (`docs/metrics.md`), or with `name[]` only the
/// families named.
#[utoipa::path(
    get, path = "/metrics", tag = "root", operation_id = "metrics",
    params(("name[]" = Option<Vec<String>>, Query, explode, description = "Only these metric families (repeat the parameter for several; names not exported are ignored), as Prometheus' Python client answers it; every family when absent")),
    responses((status = 200, description = "Prometheus' text exposition format, Kafka Connect's metric names", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)),
)]
async fn metrics(State(herder): State<Herder>, RawQuery(query): RawQuery) -> impl IntoResponse {
    let names: Vec<String> = super::extract::query_pairs(query.as_deref())
        .into_iter()
        .filter(|(key, _)| key == "name[]")
        .map(|(_, value)| value)
        .collect();
    ([(CONTENT_TYPE, CONTENT)], herder.metrics_text(&names).await)
}
