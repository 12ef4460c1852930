//! `GET|PATCH|DELETE /connectors/{name}/offsets` (KIP-875): read, alter and reset a
//! connector's offsets. The herder allows changes only while the connector is STOPPED.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body;
use super::complete;
use super::error::ApiError;
use super::extract::{JsonBody, Params};
use super::openapi::{AlterOffsetsRequestDoc, Message};
use super::ErrorMessage;
use crate::herder::{ConnectorOffsets, Herder};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Herder> {
    OpenApiRouter::new().routes(routes!(offsets, alter, reset))
}

/// `GET /connectors/{name}/offsets`: `{"offsets": [{"partition", "offset"}]}`.
#[utoipa::path(
    get, path = "/connectors/{name}/offsets", tag = "offsets", operation_id = "getOffsets",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-stopped")),
    responses((status = 200, description = "The committed offsets (a sink's: its consumer group's)", body = ConnectorOffsets), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
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
#[utoipa::path(
    patch, path = "/connectors/{name}/offsets", tag = "offsets", operation_id = "alterConnectorOffsets",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-stopped")),
    request_body(content = AlterOffsetsRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "Altered", body = Message),
        (status = 400, description = "No offsets given, a malformed entry, a sink partition Kafka does not have, or the connector is not STOPPED", body = ErrorMessage),
        (status = 404, description = "No connector of that name", body = ErrorMessage),
    ),
)]
async fn alter(
    State(herder): State<Herder>,
    Params(name): Params<String>,
    JsonBody(request): JsonBody,
) -> Result<Json<Message>, ApiError> {
    let offsets = body::offsets(request)?;
    let message = complete(&herder, move |h| async move {
        h.alter_offsets(&name, offsets).await
    })
    .await?;
    Ok(Json(Message {
        message: message.to_owned(),
    }))
}

/// `DELETE /connectors/{name}/offsets`: 200 `{"message"}`.
#[utoipa::path(
    delete, path = "/connectors/{name}/offsets", tag = "offsets", operation_id = "resetConnectorOffsets",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-stopped")),
    responses(
        (status = 200, description = "Reset", body = Message),
        (status = 400, description = "The connector is not STOPPED", body = ErrorMessage),
        (status = 404, description = "No connector of that name", body = ErrorMessage),
    ),
)]
async fn reset(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<Json<Message>, ApiError> {
    let message = complete(
        &herder,
        move |h| async move { h.reset_offsets(&name).await },
    )
    .await?;
    Ok(Json(Message {
        message: message.to_owned(),
    }))
}
