//! `GET /connectors/{name}/topics` and `PUT /connectors/{name}/topics/reset` (KIP-558): the
//! topics a connector's tasks used since the last reset. Tracked in memory: they start empty
//! after a worker restart (Kafka Connect keeps them in its status topic).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::complete;
use super::error::ApiError;
use super::extract::Params;
use super::openapi::ConnectorTopicsDoc;
use super::ErrorMessage;
use crate::herder::{ActiveTopics, Herder};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Herder> {
    OpenApiRouter::new()
        .routes(routes!(topics))
        .routes(routes!(reset))
}

/// `GET /connectors/{name}/topics`: `{"<name>": {"topics": [...]}}`.
#[utoipa::path(
    get, path = "/connectors/{name}/topics", tag = "topics", operation_id = "getConnectorActiveTopics",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-source")),
    responses((status = 200, description = "The topics used since the last reset, keyed by connector name", body = std::collections::BTreeMap<String, ConnectorTopicsDoc>), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn topics(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<Json<ActiveTopics>, ApiError> {
    let topics = complete(
        &herder,
        move |h| async move { h.active_topics(&name).await },
    )
    .await?;
    Ok(Json(topics))
}

/// `PUT /connectors/{name}/topics/reset`: 202.
#[utoipa::path(
    put, path = "/connectors/{name}/topics/reset", tag = "topics", operation_id = "resetConnectorActiveTopics",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-source")),
    responses((status = 202, description = "Reset"), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn reset(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<StatusCode, ApiError> {
    complete(&herder, move |h| async move {
        h.reset_active_topics(&name).await
    })
    .await?;
    Ok(StatusCode::ACCEPTED)
}
