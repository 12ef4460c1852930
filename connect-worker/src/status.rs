//! Connector and task states, as Kafka Connect reports them in `/status`.

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// The state of a connector or task (`docs/connect.html` §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    /// Connectors only: their tasks are shut down and gone from the status.
    Stopped,
    Failed,
    Restarting,
}

impl State {
    /// The name in REST bodies and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unassigned => "UNASSIGNED",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Stopped => "STOPPED",
            Self::Failed => "FAILED",
            Self::Restarting => "RESTARTING",
        }
    }
}

/// A state with the error that caused a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    /// The failure's message and causes, shown as `trace` when FAILED.
    pub trace: Option<String>,
}

/// A status shared between the task or connector that changes it and the REST API that reads it.
#[derive(Debug, Clone)]
pub struct SharedStatus(Arc<Mutex<Status>>);

impl SharedStatus {
    /// A status in `state`.
    pub fn new(state: State) -> Self {
        Self(Arc::new(Mutex::new(Status { state, trace: None })))
    }

    /// The current status.
    pub fn get(&self) -> Status {
        self.lock().clone()
    }

    /// Moves to `state`, clearing any trace.
    pub fn set(&self, state: State) {
        *self.lock() = Status { state, trace: None };
    }

    /// Moves to FAILED with this trace.
    pub fn fail(&self, trace: impl Into<String>) {
        *self.lock() = Status {
            state: State::Failed,
            trace: Some(trace.into()),
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
