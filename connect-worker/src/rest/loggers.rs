//! `GET /admin/loggers`, `GET|PUT /admin/loggers/{logger}` (KIP-495): log levels, changed at
//! runtime. Loggers are `tracing` targets (module paths) and `root`.

use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::extract::{query_pairs, JsonBody, Params};
use super::openapi::{LoggerLevelDoc, LoggerLevelRequestDoc};
use super::ErrorMessage;
use crate::herder::Herder;
use crate::logging::{self, LevelError, LogLevels};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Herder> {
    OpenApiRouter::new()
        .routes(routes!(all))
        .routes(routes!(one, set))
}

fn levels() -> Result<&'static LogLevels, ApiError> {
    logging::levels().ok_or_else(|| {
        ApiError::internal(
            "Log levels are not managed by this process (logging was set up elsewhere)",
        )
    })
}

/// `{"<logger>": {"level", "last_modified"}}`.
#[utoipa::path(
    get, path = "/admin/loggers", tag = "loggers", operation_id = "listLoggers",
    responses((status = 200, description = "Every logger with a level set, and `root`", body = std::collections::BTreeMap<String, LoggerLevelDoc>)),
)]
async fn all() -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(levels()?.all())))
}

/// `{"level", "last_modified"}` of one logger (its own or its nearest parent's), the same
/// object as in the list: Kafka Connect 3.7+ answers the whole `LoggerLevel` here too.
#[utoipa::path(
    get, path = "/admin/loggers/{logger}", tag = "loggers", operation_id = "getLogger",
    params(("logger" = String, Path, description = "A `tracing` target (`connect_worker::task::sink`) or `root`", example = "connect_worker::rest")),
    responses(
        (status = 200, description = "The level that applies to the logger (its own or its nearest parent's) and when it was last changed", body = LoggerLevelDoc),
        (status = 404, description = "No such logger", body = ErrorMessage),
    ),
)]
async fn one(Params(logger): Params<String>) -> Result<Json<Value>, ApiError> {
    let level = levels()?
        .get(&logger)
        .ok_or_else(|| ApiError::not_found(format!("Logger {logger} not found.")))?;
    Ok(Json(json!(level)))
}

/// Sets a level: 200 with the loggers affected (`scope=worker`, the default), or 204 for
/// `scope=cluster` (one worker is the whole cluster in standalone mode).
#[utoipa::path(
    put, path = "/admin/loggers/{logger}", tag = "loggers", operation_id = "setLevel",
    params(("logger" = String, Path, description = "A `tracing` target (`connect_worker::task::sink`) or `root`", example = "connect_worker::rest"), ("scope" = Option<String>, Query, description = "`worker` (the default) or `cluster`; one worker is the whole cluster here")),
    request_body(content = LoggerLevelRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "scope=worker: the loggers whose level changed", body = Vec<String>),
        (status = 204, description = "scope=cluster: changed"),
        (status = 400, description = "No level given, or an invalid logger name", body = ErrorMessage),
        (status = 404, description = "Not a log level", body = ErrorMessage),
    ),
)]
async fn set(
    Params(logger): Params<String>,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let cluster = query_pairs(query.as_deref())
        .into_iter()
        .any(|(k, v)| k == "scope" && v.eq_ignore_ascii_case("cluster"));
    let level = body
        .get("level")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("The request body must specify a log level"))?;
    let affected = levels()?.set(&logger, level).map_err(|e| match e {
        LevelError::InvalidLevel(_) => ApiError::not_found(e.to_string()),
        LevelError::InvalidLogger(_) => ApiError::bad_request(e.to_string()),
        _ => ApiError::internal(e.to_string()),
    })?;
    if cluster {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok((StatusCode::OK, Json(json!(affected))).into_response())
}
