//! What the herder answers, in Kafka Connect's REST shapes, and how it fails.

use std::collections::BTreeMap;

use serde::Serialize;

use connect_core::config::{ConfigErrors, Props};

/// A connector's kind in REST bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
    Unknown,
}

/// `{"connector","task"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConnectorTaskId {
    pub connector: String,
    pub task: usize,
}

/// `GET /connectors/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConnectorInfo {
    pub name: String,
    #[schema(inline)]
    pub config: Props,
    pub tasks: Vec<ConnectorTaskId>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

/// The state of a connector or task in `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StateInfo {
    /// `UNASSIGNED`, `RUNNING`, `PAUSED`, `STOPPED`, `FAILED` or `RESTARTING`.
    #[schema(value_type = String, example = "RUNNING")]
    pub state: &'static str,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// A task's state in `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TaskState {
    pub id: usize,
    #[serde(flatten)]
    pub state: StateInfo,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: StateInfo,
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

/// `GET /connectors/{name}/tasks` entries.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TaskInfo {
    pub id: ConnectorTaskId,
    #[schema(inline)]
    pub config: Props,
}

/// One partition and offset in `/offsets`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PartitionOffset {
    #[schema(value_type = Object)]
    pub partition: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub offset: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `GET /connectors/{name}/offsets`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConnectorOffsets {
    pub offsets: Vec<PartitionOffset>,
}

/// `GET /connectors/{name}/topics`.
pub type ActiveTopics = BTreeMap<String, BTreeMap<&'static str, Vec<String>>>;

/// Why a request to the herder failed; the REST layer maps each to its status code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HerderError {
    /// 404.
    #[error("Connector {0} not found")]
    NotFound(String),
    /// 404.
    #[error("Task {task} not found for connector {connector}")]
    TaskNotFound { connector: String, task: usize },
    /// 409.
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    /// 409: a change of the connector is still in progress (`doing` names the call and for
    /// how long) and the request could not wait longer for it.
    #[error("Connector {connector} is busy {doing}; try again later")]
    Busy { connector: String, doing: String },
    /// 400, with every problem.
    #[error("Connector configuration is invalid and contains the following {} error(s):\n{errors}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`", errors.len())]
    InvalidConfig { errors: ConfigErrors },
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 404, for plugin names.
    #[error("{0}")]
    PluginNotFound(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}
