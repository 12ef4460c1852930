//! `GET|PATCH|DELETE /connectors/{name}/offsets` (KIP-875): read, alter and reset a
//! connector's offsets. The herder allows changes only while the connector is STOPPED.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body;
use super::complete;
use super::error::ApiError;
use super::extract::{JsonBody, Params};
use crate::herder::{ConnectorOffsets, Herder};

/// The routes of this module.
pub fn routes() -> Router<Herder> {
    Router::new().route(
        "/connectors/{name}/offsets",
        get(offsets).patch(alter).delete(reset),
    )
}

/// `GET /connectors/{name}/offsets`: `{"offsets": [{"partition", "offset"}]}`.
async fn offsets(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<Json<ConnectorOffsets>, ApiError> {
    let offsets = complete(&herder, move |h| async move { h.offsets(&name).await }).await?;
    Ok(Json(offsets))
}

/// `PATCH /connectors/{name}/offsets`: 200 `{"message"}`. The body is checked before the
/// connector is looked up, as in Kafka Connect: a missing or empty `offsets` list is a 400
/// even for an unknown connector.
async fn alter(
    State(herder): State<Herder>,
    Params(name): Params<String>,
    JsonBody(request): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let offsets = body::offsets(request)?;
    let message = complete(&herder, move |h| async move {
        h.alter_offsets(&name, offsets).await
    })
    .await?;
    Ok(Json(json!({ "message": message })))
}

/// `DELETE /connectors/{name}/offsets`: 200 `{"message"}`.
async fn reset(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<Json<Value>, ApiError> {
    let message = complete(
        &herder,
        move |h| async move { h.reset_offsets(&name).await },
    )
    .await?;
    Ok(Json(json!({ "message": message })))
}
