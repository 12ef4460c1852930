//! Connector and task states, as Kafka Connect reports them in `/status`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A status and how long it spent running and paused (for `running-ratio`/`pause-ratio`).
#[derive(Debug)]
struct Tracked {
    status: Status,
    created: Instant,
    since: Instant,
    running: Duration,
    paused: Duration,
}

/// A status shared between the task or connector that changes it and the REST API that reads it.
#[derive(Debug, Clone)]
pub struct SharedStatus(Arc<Mutex<Tracked>>);

impl SharedStatus {
    /// A status in `state`.
    pub fn new(state: State) -> Self {
        let now = Instant::now();
        Self(Arc::new(Mutex::new(Tracked {
            status: Status { state, trace: None },
            created: now,
            since: now,
            running: Duration::ZERO,
            paused: Duration::ZERO,
        })))
    }

    /// The current status.
    pub fn get(&self) -> Status {
        self.lock().status.clone()
    }

    /// Moves to `state`, clearing any trace.
    pub fn set(&self, state: State) {
        self.change(Status { state, trace: None });
    }

    /// Moves to FAILED with this trace.
    pub fn fail(&self, trace: impl Into<String>) {
        self.change(Status {
            state: State::Failed,
            trace: Some(trace.into()),
        });
    }

    /// The fractions of its life spent RUNNING and PAUSED.
    pub fn ratios(&self) -> (f64, f64) {
        let t = self.lock();
        let now = Instant::now();
        let current = now.duration_since(t.since);
        let (mut running, mut paused) = (t.running, t.paused);
        match t.status.state {
            State::Running => running += current,
            State::Paused => paused += current,
            _ => {}
        }
        let life = now.duration_since(t.created).as_secs_f64();
        if life <= 0.0 {
            return (0.0, 0.0);
        }
        (running.as_secs_f64() / life, paused.as_secs_f64() / life)
    }

    fn change(&self, status: Status) {
        let mut t = self.lock();
        let now = Instant::now();
        let spent = now.duration_since(t.since);
        match t.status.state {
            State::Running => t.running += spent,
            State::Paused => t.paused += spent,
            _ => {}
        }
        t.since = now;
        t.status = status;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
