//! `GET /` (the worker's version) and `GET /health` (KIP-1017).

use std::sync::LazyLock;
use std::time::{Instant, UNIX_EPOCH};

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::herder::Herder;
use crate::task::{Outage, TaskId};

/// The commit the worker was built from, `unknown` when not built from a git checkout: set
/// by the build script (`build.rs`).
pub const COMMIT: &str = env!("CONNECT_GIT_COMMIT");

/// When the worker started serving: [`router`](super::router) reads it first.
pub static STARTED: LazyLock<Instant> = LazyLock::new(Instant::now);

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
    /// Ours: how long the worker has been serving, in milliseconds (the web console shows
    /// it; Kafka Connect's clients ignore fields they do not know).
    uptime_ms: u64,
}

/// `GET /health`'s body (KIP-1017), plus the tasks that are stalled.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `healthy`.
    #[schema(example = "healthy")]
    status: &'static str,
    /// Why, for a person to read.
    message: &'static str,
    /// Ours: the tasks retrying an operation that failed with a retriable error
    /// (their external system or Kafka is away). They stay RUNNING meanwhile, as in Kafka
    /// Connect, and the worker stays healthy: restarting it would not bring the system back.
    retrying_tasks: Vec<RetryingTask>,
}

/// A task retrying an operation (`GET /health`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryingTask {
    connector: String,
    task: usize,
    /// `put` or `flush` (sinks), `poll` or `produce` (sources).
    #[schema(example = "put")]
    operation: &'static str,
    /// When its first attempt failed, in milliseconds since the epoch.
    since: u64,
    /// How long it has been retrying, in milliseconds.
    stalled_ms: u64,
    /// The attempts that failed so far.
    attempts: u64,
}

impl RetryingTask {
    fn new(id: TaskId, outage: &Outage) -> Self {
        Self {
            connector: id.connector,
            task: id.task,
            operation: outage.operation.name(),
            since: outage
                .since
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            stalled_ms: outage.stalled_for().as_millis() as u64,
            attempts: outage.attempts,
        }
    }
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
        uptime_ms: u64::try_from(STARTED.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// `GET /health` (KIP-1017). The router exists only once the herder was built and its
/// connectors restored, so a worker that answers has completed startup. Kafka Connect answers
/// 500 `unhealthy` when its herder thread does not answer within 10 s; this herder never
/// holds what `/health` reads across a connector's call (a connector whose `start` hangs
/// blocks only requests that change that connector), so it always answers at once. The
/// answer lists the tasks retrying an operation (`retrying_tasks`, empty when none is).
#[utoipa::path(
    get, path = "/health", tag = "root", operation_id = "healthCheck",
    responses((status = 200, description = "Healthy", body = HealthStatus)),
)]
pub async fn health(State(herder): State<Herder>) -> Json<HealthStatus> {
    Json(HealthStatus {
        status: "healthy",
        message: "Worker has completed startup and is ready to handle requests.",
        retrying_tasks: herder
            .retrying_tasks()
            .into_iter()
            .map(|(id, outage)| RetryingTask::new(id, &outage))
            .collect(),
    })
}
