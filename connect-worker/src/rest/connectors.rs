//! `/connectors` and `/connectors/{name}/...` except offsets: creating, reading, updating and
//! deleting connectors, their status and tasks, restarts, pause, resume and stop. Every
//! configuration in a response goes through [`masked`] first.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use connect_core::config::Props;
use connect_core::plugin::Plugins;

use super::body;
use super::complete;
use super::error::ApiError;
use super::extract::{bool_param, query_pairs, task_id, JsonBody, Params};
use super::mask::{hide, masked, secret_keys};
use super::openapi::{
    ConfigPatchDoc, ConnectorConfigDoc, ConnectorListDoc, CreateConnectorRequestDoc,
};
use super::ErrorMessage;
use crate::herder::{ConnectorInfo, ConnectorStateInfo, Herder, HerderError, TaskInfo, TaskState};
use crate::store::TargetState;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Herder> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(info, destroy))
        .routes(routes!(config, put_config, patch_config))
        .routes(routes!(status))
        .routes(routes!(tasks, put_tasks))
        .routes(routes!(tasks_config))
        .routes(routes!(task_status))
        .routes(routes!(restart_task))
        .routes(routes!(restart))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(stop))
}

type Result<T> = std::result::Result<T, ApiError>;

/// `GET /connectors`, or with `?expand=status` / `?expand=info` (repeatable) an object keyed
/// by connector name. As in Kafka Connect, any `expand` key switches to the object form,
/// unknown expansions are ignored and connectors deleted meanwhile are left out.
#[utoipa::path(
    get, path = "/connectors", tag = "connectors", operation_id = "listConnectors",
    params(("expand" = Option<Vec<String>>, Query, explode, description = "`status` and/or `info` (repeat the parameter for both): answer an object keyed by connector name with each connector's status and/or info; other values are ignored")),
    responses((status = 200, description = "The connectors' names, or with `expand` an object keyed by name", body = ConnectorListDoc)),
)]
async fn list(State(herder): State<Herder>, RawQuery(query): RawQuery) -> Result<Json<Value>> {
    let pairs = query_pairs(query.as_deref());
    if !pairs.iter().any(|(k, _)| k == "expand") {
        let names = complete(&herder, |h| async move { Ok(h.connector_names().await) }).await?;
        return Ok(Json(Value::from(names)));
    }
    let mut expansions: Vec<String> = Vec::new();
    for (_, value) in pairs.into_iter().filter(|(k, _)| k == "expand") {
        if !expansions.contains(&value) {
            expansions.push(value);
        }
    }
    let body = complete(&herder, move |h| async move {
        let mut body = Map::new();
        'connectors: for name in h.connector_names().await {
            let mut entry = Map::new();
            for expansion in &expansions {
                let value = match expansion.as_str() {
                    "status" => h.status(&name).await.and_then(to_json),
                    "info" => h
                        .info(&name)
                        .await
                        .map(|info| masked_info(info, h.plugins()))
                        .and_then(to_json),
                    _ => continue,
                };
                match value {
                    Ok(value) => {
                        entry.insert(expansion.clone(), value);
                    }
                    Err(HerderError::NotFound(_)) => continue 'connectors,
                    Err(e) => return Err(e),
                }
            }
            body.insert(name, Value::Object(entry));
        }
        Ok(Value::Object(body))
    })
    .await?;
    Ok(Json(body))
}

/// `POST /connectors`: 201 with `Location` and the new connector's info.
#[utoipa::path(
    post, path = "/connectors", tag = "connectors", operation_id = "createConnector",
    params(("forward" = Option<bool>, Query, description = "Distributed mode: set by the worker that forwards the request to the one that must carry it out (true: it may be forwarded once more; false: it may not). Ignored by a standalone worker")),
    request_body(content = CreateConnectorRequestDoc, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ConnectorInfo, headers(("Location" = String, description = "`/connectors/{name}`, the name percent-encoded"))),
        (status = 400, description = "The body is malformed, or the configuration or name is invalid (every problem is listed; nothing is created)", body = ErrorMessage),
        (status = 409, description = "A connector of that name exists", body = ErrorMessage),
    ),
)]
async fn create(State(herder): State<Herder>, JsonBody(request): JsonBody) -> Result<Response> {
    let request = body::create_request(request)?;
    let name = request.name.clone();
    let info = complete(&herder, move |h| async move {
        h.create(&request.name, request.config, request.initial_state)
            .await
    })
    .await?;
    Ok(created(&name, masked_info(info, herder.plugins())))
}

/// `GET /connectors/{name}`.
#[utoipa::path(
    get, path = "/connectors/{name}", tag = "connectors", operation_id = "getConnector",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink")),
    responses((status = 200, description = "The connector's configuration (secrets hidden) and tasks", body = ConnectorInfo), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn info(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<Json<ConnectorInfo>> {
    let info = complete(&herder, move |h| async move { h.info(&name).await }).await?;
    Ok(Json(masked_info(info, herder.plugins())))
}

/// `DELETE /connectors/{name}`: 204. Offsets are kept, as in Kafka Connect.
#[utoipa::path(
    delete, path = "/connectors/{name}", tag = "connectors", operation_id = "destroyConnector",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-created"), ("forward" = Option<bool>, Query, description = "Distributed mode: set by the worker that forwards the request to the one that must carry it out (true: it may be forwarded once more; false: it may not). Ignored by a standalone worker")),
    responses((status = 204, description = "Deleted; its offsets are kept"), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn destroy(State(herder): State<Herder>, Params(name): Params<String>) -> Result<StatusCode> {
    complete(&herder, move |h| async move { h.delete(&name).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/config`: the flat configuration.
#[utoipa::path(
    get, path = "/connectors/{name}/config", tag = "connectors", operation_id = "getConnectorConfig",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink")),
    responses((status = 200, description = "The flat configuration, secrets hidden", body = BTreeMap<String, String>), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn config(State(herder): State<Herder>, Params(name): Params<String>) -> Result<Response> {
    let config = complete(&herder, move |h| async move { h.config(&name).await }).await?;
    Ok(Json(masked(config, herder.plugins())).into_response())
}

/// `PUT /connectors/{name}/config`: 201 (with `Location`) when created, else 200.
#[utoipa::path(
    put, path = "/connectors/{name}/config", tag = "connectors", operation_id = "putConnectorConfig",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink"), ("forward" = Option<bool>, Query, description = "Distributed mode: set by the worker that forwards the request to the one that must carry it out (true: it may be forwarded once more; false: it may not). Ignored by a standalone worker")),
    request_body(content = ConnectorConfigDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated", body = ConnectorInfo),
        (status = 201, description = "Created", body = ConnectorInfo, headers(("Location" = String, description = "`/connectors/{name}`, the name percent-encoded"))),
        (status = 400, description = "The body is malformed, or the configuration is invalid, or its `name` differs from the path's", body = ErrorMessage),
    ),
)]
async fn put_config(
    State(herder): State<Herder>,
    Params(name): Params<String>,
    JsonBody(config): JsonBody,
) -> Result<Response> {
    let props = body::config_map(config, "The connector configuration")?;
    let target = name.clone();
    let (was_created, info) = complete(&herder, move |h| async move {
        h.put_config(&target, props).await
    })
    .await?;
    let info = masked_info(info, herder.plugins());
    Ok(if was_created {
        created(&name, info)
    } else {
        Json(info).into_response()
    })
}

/// `PATCH /connectors/{name}/config` (KIP-477): changes some keys, `null` removes one.
#[utoipa::path(
    patch, path = "/connectors/{name}/config", tag = "connectors", operation_id = "patchConnectorConfig",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink"), ("forward" = Option<bool>, Query, description = "Distributed mode: set by the worker that forwards the request to the one that must carry it out (true: it may be forwarded once more; false: it may not). Ignored by a standalone worker")),
    request_body(content = ConfigPatchDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated", body = ConnectorInfo),
        (status = 400, description = "The body is malformed, or the patched configuration is invalid", body = ErrorMessage),
        (status = 404, description = "No connector of that name", body = ErrorMessage),
    ),
)]
async fn patch_config(
    State(herder): State<Herder>,
    Params(name): Params<String>,
    JsonBody(patch): JsonBody,
) -> Result<Json<ConnectorInfo>> {
    let patch = body::config_patch(patch)?;
    let info = complete(&herder, move |h| async move {
        h.patch_config(&name, patch).await
    })
    .await?;
    Ok(Json(masked_info(info, herder.plugins())))
}

/// `GET /connectors/{name}/status`.
#[utoipa::path(
    get, path = "/connectors/{name}/status", tag = "connectors", operation_id = "getConnectorStatus",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink")),
    responses((status = 200, description = "The connector's and its tasks' states", body = ConnectorStateInfo), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn status(State(herder): State<Herder>, Params(name): Params<String>) -> Result<Response> {
    let status = complete(&herder, move |h| async move { h.status(&name).await }).await?;
    Ok(Json(status).into_response())
}

/// `GET /connectors/{name}/tasks`: each task's id and configuration.
#[utoipa::path(
    get, path = "/connectors/{name}/tasks", tag = "connectors", operation_id = "getTaskConfigs",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink")),
    responses((status = 200, description = "Each task's id and configuration, secrets hidden", body = Vec<TaskInfo>), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn tasks(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<Json<Vec<TaskInfo>>> {
    Ok(Json(masked_tasks(&herder, name).await?))
}

/// `POST /connectors/{name}/tasks` (internal, distributed mode): the worker that runs a
/// connector sends the task configurations it generated to the leader, which commits them to
/// the config topic.
#[utoipa::path(
    post, path = "/connectors/{name}/tasks", tag = "connectors", operation_id = "putTaskConfigs",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink"), ("forward" = Option<bool>, Query, description = "Set by the worker that forwards the request")),
    request_body(content = Vec<BTreeMap<String, String>>, content_type = "application/json"),
    responses(
        (status = 204, description = "Committed"),
        (status = 400, description = "Not a list of configurations, a standalone worker, or a stopped connector", body = ErrorMessage),
        (status = 404, description = "No connector of that name", body = ErrorMessage),
    ),
)]
async fn put_tasks(
    State(herder): State<Herder>,
    Params(name): Params<String>,
    JsonBody(configs): JsonBody,
) -> Result<StatusCode> {
    let Value::Array(items) = configs else {
        return Err(ApiError::bad_request(
            "Task configurations must be a JSON array of objects of strings",
        ));
    };
    let configs = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| body::config_map(item, &format!("task configuration {i}")))
        .collect::<Result<Vec<Props>>>()?;
    complete(&herder, move |h| async move {
        h.put_task_configs(&name, configs).await
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/tasks-config` (deprecated by KIP-970): the task configurations
/// keyed by `<connector>-<task>`, as Jackson prints Kafka's `ConnectorTaskId` map keys.
#[utoipa::path(
    get, path = "/connectors/{name}/tasks-config", tag = "connectors", operation_id = "getTasksConfig",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink")),
    responses((status = 200, description = "Deprecated (KIP-970): the task configurations keyed by `<connector>-<task>`", body = BTreeMap<String, BTreeMap<String, String>>), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn tasks_config(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<Json<Value>> {
    tracing::warn!("The 'GET /connectors/{{connector}}/tasks-config' endpoint is deprecated; use 'GET /connectors/{{connector}}/tasks' instead");
    let mut body = Map::new();
    for task in masked_tasks(&herder, name).await? {
        let key = format!("{}-{}", task.id.connector, task.id.task);
        body.insert(
            key,
            Value::from_iter(task.config.into_iter().map(|(k, v)| (k, Value::String(v)))),
        );
    }
    Ok(Json(Value::Object(body)))
}

/// `GET /connectors/{name}/tasks/{task}/status`.
#[utoipa::path(
    get, path = "/connectors/{name}/tasks/{task}/status", tag = "connectors", operation_id = "getTaskStatus",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink"), ("task" = u64, Path, description = "The task's number, from 0", example = 0)),
    responses(
        (status = 200, description = "The task's state", body = TaskState),
        (status = 400, description = "The task id is not a non-negative integer", body = ErrorMessage),
        (status = 404, description = "No such connector or task", body = ErrorMessage),
    ),
)]
async fn task_status(
    State(herder): State<Herder>,
    Params((name, task)): Params<(String, String)>,
) -> Result<Response> {
    let task = task_id(&task)?;
    let state = complete(
        &herder,
        move |h| async move { h.task_status(&name, task).await },
    )
    .await?;
    Ok(Json(state).into_response())
}

/// `POST /connectors/{name}/tasks/{task}/restart`: 204.
#[utoipa::path(
    post, path = "/connectors/{name}/tasks/{task}/restart", tag = "connectors", operation_id = "restartTask",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink"), ("task" = u64, Path, description = "The task's number, from 0", example = 0), ("forward" = Option<bool>, Query, description = "Distributed mode: set by the worker that forwards the request to the one that must carry it out (true: it may be forwarded once more; false: it may not). Ignored by a standalone worker")),
    responses(
        (status = 204, description = "Restarted"),
        (status = 400, description = "The task id is not a non-negative integer", body = ErrorMessage),
        (status = 404, description = "No such connector or task", body = ErrorMessage),
    ),
)]
async fn restart_task(
    State(herder): State<Herder>,
    Params((name, task)): Params<(String, String)>,
) -> Result<StatusCode> {
    let task = task_id(&task)?;
    complete(&herder, move |h| async move {
        h.restart_task(&name, task).await
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /connectors/{name}/restart?includeTasks=&onlyFailed=` (KIP-745): both false (the
/// default) restarts the connector only and answers 204 without a body, as before KIP-745;
/// otherwise 202 with the status, the instances being restarted shown as RESTARTING.
#[utoipa::path(
    post, path = "/connectors/{name}/restart", tag = "connectors", operation_id = "restartConnector",
    params(
        ("name" = String, Path, description = "The connector's name", example = "fuzz-sink"),
        ("includeTasks" = Option<bool>, Query, description = "Restart the tasks too (KIP-745); default false"),
        ("onlyFailed" = Option<bool>, Query, description = "Restart only the FAILED instances; default false"),
        ("forward" = Option<bool>, Query, description = "Distributed mode: set by the worker that forwards the request to the one that must carry it out (true: it may be forwarded once more; false: it may not). Ignored by a standalone worker"),
    ),
    responses(
        (status = 202, description = "With `includeTasks` or `onlyFailed`: the status, the instances being restarted as RESTARTING", body = ConnectorStateInfo),
        (status = 204, description = "Both false: the connector (only) was restarted"),
        (status = 400, description = "A flag is neither true nor false", body = ErrorMessage),
        (status = 404, description = "No connector of that name", body = ErrorMessage),
    ),
)]
async fn restart(
    State(herder): State<Herder>,
    Params(name): Params<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(query.as_deref());
    let include_tasks = bool_param(&pairs, "includeTasks", false)?;
    let only_failed = bool_param(&pairs, "onlyFailed", false)?;
    let answer = complete(&herder, move |h| async move {
        h.restart(&name, include_tasks, only_failed).await
    })
    .await?;
    Ok(match answer {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(status) => (StatusCode::ACCEPTED, Json(status)).into_response(),
    })
}

/// `PUT /connectors/{name}/pause`: 202; idempotent.
#[utoipa::path(
    put, path = "/connectors/{name}/pause", tag = "connectors", operation_id = "pauseConnector",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink")),
    responses((status = 202, description = "Pausing (idempotent)"), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn pause(State(herder): State<Herder>, Params(name): Params<String>) -> Result<StatusCode> {
    set_target(&herder, name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/resume`: 202; idempotent.
#[utoipa::path(
    put, path = "/connectors/{name}/resume", tag = "connectors", operation_id = "resumeConnector",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink")),
    responses((status = 202, description = "Resuming (idempotent)"), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn resume(State(herder): State<Herder>, Params(name): Params<String>) -> Result<StatusCode> {
    set_target(&herder, name, TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/stop` (KIP-875): 204; idempotent.
#[utoipa::path(
    put, path = "/connectors/{name}/stop", tag = "connectors", operation_id = "stopConnector",
    params(("name" = String, Path, description = "The connector's name", example = "fuzz-sink")),
    responses((status = 204, description = "Stopped: the tasks are shut down (idempotent)"), (status = 404, description = "No connector of that name", body = ErrorMessage)),
)]
async fn stop(State(herder): State<Herder>, Params(name): Params<String>) -> Result<StatusCode> {
    set_target(&herder, name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_target(herder: &Herder, name: String, target: TargetState) -> Result<()> {
    complete(
        herder,
        move |h| async move { h.set_target(&name, target).await },
    )
    .await
}

/// The connector's tasks with their configurations masked by the connector's secret keys:
/// task configurations reuse the connector's key names but need not carry `connector.class`.
async fn masked_tasks(herder: &Herder, name: String) -> Result<Vec<TaskInfo>> {
    complete(herder, move |h| async move {
        let config = h.config(&name).await?;
        let secrets = secret_keys(&config, h.plugins());
        let mut tasks = h.task_infos(&name).await?;
        for task in &mut tasks {
            let mut own = secret_keys(&task.config, h.plugins());
            own.extend(secrets.iter().cloned());
            hide(&mut task.config, &own);
        }
        Ok(tasks)
    })
    .await
}

fn masked_info(mut info: ConnectorInfo, plugins: &Plugins) -> ConnectorInfo {
    info.config = masked(info.config, plugins);
    info
}

fn to_json<T: serde::Serialize>(value: T) -> std::result::Result<Value, HerderError> {
    serde_json::to_value(value).map_err(|e| HerderError::Internal(e.to_string()))
}

/// 201 with `Location: /connectors/{name}` (the name percent-encoded, so any name makes a
/// valid header) and the connector's info.
fn created(name: &str, info: ConnectorInfo) -> Response {
    let mut response = (StatusCode::CREATED, Json(info)).into_response();
    if let Ok(location) = HeaderValue::try_from(format!("/connectors/{}", encode_segment(name))) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Percent-encodes everything in a path segment but RFC 3986's unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_segments_are_percent_encoded() {
        assert_eq!(encode_segment("file-sink_1.a~"), "file-sink_1.a~");
        assert_eq!(encode_segment("a b/é"), "a%20b%2F%C3%A9");
    }
}
