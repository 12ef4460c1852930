//! `GET /connectors/{name}/topics` and `PUT /connectors/{name}/topics/reset` (KIP-558): the
//! topics a connector's tasks used since the last reset. Tracked in memory: they start empty
//! after a worker restart (Kafka Connect keeps them in its status topic).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};

use super::complete;
use super::error::ApiError;
use super::extract::Params;
use crate::herder::{ActiveTopics, Herder};

/// The routes of this module.
pub fn routes() -> Router<Herder> {
    Router::new()
        .route("/connectors/{name}/topics", get(topics))
        .route("/connectors/{name}/topics/reset", put(reset))
}

/// `GET /connectors/{name}/topics`: `{"<name>": {"topics": [...]}}`.
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
