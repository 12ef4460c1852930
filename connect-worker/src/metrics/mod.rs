//! Prometheus metrics with Kafka Connect's groups and names: `kafka_connect_<group>_<metric>`
//! with dashes as underscores, labelled `connector` and `task` (`docs/metrics.md`).
//!
//! Counters and per-task gauges live in [`TaskMetrics`] handles that a task resolves once at
//! start, so the hot path touches atomics only. What describes state (connector and task
//! status, task counts, running ratios) is read from the herder when `/metrics` is scraped.

mod custom;
mod rebalance;
mod task;

use std::sync::{Arc, Mutex};

use prometheus::{
    Encoder, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub use custom::CustomMetrics;
pub use rebalance::RebalanceSnapshot;
pub use task::{CustomFactory, ErrorMetrics, SinkMetrics, SourceMetrics, Stat, TaskMetrics};

const PREFIX: &str = "kafka_connect";

/// One connector's state as the scrape sees it.
#[derive(Debug, Clone)]
pub struct ConnectorSnapshot {
    pub name: String,
    pub class: String,
    pub kind: &'static str,
    pub version: String,
    pub state: &'static str,
    /// Whether the connector's instance runs on this worker. A distributed worker also knows
    /// connectors that run elsewhere (it may run some of their tasks); Kafka Connect counts
    /// and describes a connector only on the worker that runs it.
    pub runs_here: bool,
    pub tasks: Vec<TaskSnapshot>,
}

/// One task's state as the scrape sees it.
#[derive(Debug, Clone)]
pub struct TaskSnapshot {
    pub id: usize,
    pub state: &'static str,
    pub running_ratio: f64,
    pub pause_ratio: f64,
    /// Whether it retries an operation that failed with a retriable error.
    pub retrying: bool,
    /// The failed attempts it retried since it started.
    pub retry_attempts: u64,
}

/// The task states Kafka Connect counts per connector (`connector-<state>-task-count`).
const TASK_STATES: [&str; 5] = ["running", "paused", "failed", "unassigned", "restarting"];

/// Every metric family of a worker, registered in its own registry.
#[derive(Debug)]
pub struct WorkerMetrics {
    registry: Registry,
    // connect-worker-metrics
    connector_count: IntGauge,
    task_count: IntGauge,
    pub(crate) connector_startup_attempts: IntCounter,
    pub(crate) connector_startup_success: IntCounter,
    pub(crate) connector_startup_failure: IntCounter,
    pub(crate) task_startup_attempts: IntCounter,
    pub(crate) task_startup_success: IntCounter,
    pub(crate) task_startup_failure: IntCounter,
    connector_task_counts: IntGaugeVec,
    connector_total_task_count: IntGaugeVec,
    // connector-metrics
    connector_status: IntGaugeVec,
    connector_type: IntGaugeVec,
    connector_class: IntGaugeVec,
    connector_version: IntGaugeVec,
    // connector-task-metrics, state part
    task_status: IntGaugeVec,
    running_ratio: GaugeVec,
    pause_ratio: GaugeVec,
    // ours: a RUNNING task that moves nothing
    task_retrying: IntGaugeVec,
    task_retry_attempts: IntCounterVec,
    /// One scrape at a time sets the state families and reads them back (the retry
    /// counters are set from the herder's numbers, which two interleaved scrapes would add
    /// twice).
    scrape: Mutex<()>,
    // connect-worker-rebalance-metrics (distributed workers)
    rebalance: rebalance::Families,
    pub(crate) task: task::Families,
    pub(crate) custom: CustomMetrics,
}

fn name(group: &str, metric: &str) -> String {
    format!(
        "{PREFIX}_{}_{}",
        group.replace('-', "_"),
        metric.replace('-', "_")
    )
}

/// Registers a collector; the names are ours and fixed, so a clash is a programming error
/// caught by the unit tests.
fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    if let Err(e) = registry.register(Box::new(c.clone())) {
        tracing::error!(error = %e, "cannot register a metric");
    }
    c
}

impl WorkerMetrics {
    /// Creates and registers every family.
    #[allow(clippy::expect_used)] // names and labels are constants; the tests build them
    pub fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        let counter = |group: &str, metric: &str, help: &str| {
            register(
                r,
                IntCounter::with_opts(Opts::new(name(group, metric), help)).expect("valid counter"),
            )
        };
        let gauge = |group: &str, metric: &str, help: &str| {
            register(
                r,
                IntGauge::with_opts(Opts::new(name(group, metric), help)).expect("valid gauge"),
            )
        };
        let gauge_vec = |group: &str, metric: &str, help: &str, labels: &[&str]| {
            register(
                r,
                IntGaugeVec::new(Opts::new(name(group, metric), help), labels)
                    .expect("valid gauge"),
            )
        };
        let float_vec = |group: &str, metric: &str, help: &str| {
            register(
                r,
                GaugeVec::new(Opts::new(name(group, metric), help), &["connector", "task"])
                    .expect("valid gauge"),
            )
        };
        let w = "connect-worker-metrics";
        let c = "connector-metrics";
        let t = "connector-task-metrics";
        Self {
            connector_count: gauge(w, "connector-count", "The number of connectors run in this worker."),
            task_count: gauge(w, "task-count", "The number of tasks run in this worker."),
            connector_startup_attempts: counter(w, "connector-startup-attempts-total", "The total number of connector startups that this worker has attempted."),
            connector_startup_success: counter(w, "connector-startup-success-total", "The total number of connector starts that succeeded."),
            connector_startup_failure: counter(w, "connector-startup-failure-total", "The total number of connector starts that failed."),
            task_startup_attempts: counter(w, "task-startup-attempts-total", "The total number of task startups that this worker has attempted."),
            task_startup_success: counter(w, "task-startup-success-total", "The total number of task starts that succeeded."),
            task_startup_failure: counter(w, "task-startup-failure-total", "The total number of task starts that failed."),
            connector_task_counts: gauge_vec(w, "connector-task-count", "The number of tasks of the connector in each state (Kafka Connect's connector-<state>-task-count).", &["connector", "state"]),
            connector_total_task_count: gauge_vec(w, "connector-total-task-count", "The number of tasks of the connector on the worker.", &["connector"]),
            connector_status: gauge_vec(c, "status", "1 for the connector's status (label status: running, paused, stopped, failed, unassigned, restarting).", &["connector", "status"]),
            connector_type: gauge_vec(c, "connector-type", "1, with the connector's type (source or sink) as a label.", &["connector", "connector_type"]),
            connector_class: gauge_vec(c, "connector-class", "1, with the connector's class as a label.", &["connector", "connector_class"]),
            connector_version: gauge_vec(c, "connector-version", "1, with the connector's version as a label.", &["connector", "connector_version"]),
            task_status: gauge_vec(t, "status", "1 for the task's status (label status).", &["connector", "task", "status"]),
            running_ratio: float_vec(t, "running-ratio", "The fraction of time this task has spent in the running state."),
            pause_ratio: float_vec(t, "pause-ratio", "The fraction of time this task has spent in the pause state."),
            task_retrying: gauge_vec(t, "retrying", "1 while the task retries an operation that failed with a retriable error (put, flush, poll, produce: its external system or Kafka is away), 0 otherwise. The task stays RUNNING meanwhile.", &["connector", "task"]),
            task_retry_attempts: register(r, IntCounterVec::new(Opts::new(name(t, "retry-attempts-total"), "The failed attempts of put, flush, poll and produce that the task retried."), &["connector", "task"]).expect("valid counter")),
            scrape: Mutex::new(()),
            rebalance: rebalance::Families::new(r),
            task: task::Families::new(r),
            custom: CustomMetrics::new(registry.clone()),
            registry,
        }
    }

    /// The Prometheus text exposition of every metric, with the state gauges set from
    /// `connectors` and, on a distributed worker, the rebalance gauges from `rebalance` first.
    pub fn render(
        &self,
        connectors: &[ConnectorSnapshot],
        rebalance: Option<&RebalanceSnapshot>,
    ) -> String {
        self.render_only(connectors, rebalance, &[])
    }

    /// [`render`](Self::render) restricted to the families named in `names` (every family
    /// when it is empty), as Prometheus' Python client answers `?name[]=`: a reader that
    /// needs a few series (the web console) does not pay for the whole exposition.
    pub fn render_only(
        &self,
        connectors: &[ConnectorSnapshot],
        rebalance: Option<&RebalanceSnapshot>,
        names: &[String],
    ) -> String {
        let _one_scrape = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.update_states(connectors);
        self.rebalance.update(rebalance);
        let mut families = self.registry.gather();
        if !names.is_empty() {
            families.retain(|family| names.iter().any(|n| n == family.name()));
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn update_states(&self, connectors: &[ConnectorSnapshot]) {
        for vec in [
            &self.connector_task_counts,
            &self.connector_total_task_count,
            &self.connector_status,
            &self.connector_type,
            &self.connector_class,
            &self.connector_version,
            &self.task_status,
            &self.task_retrying,
        ] {
            vec.reset();
        }
        self.task_retry_attempts.reset();
        self.running_ratio.reset();
        self.pause_ratio.reset();
        self.connector_count
            .set(connectors.iter().filter(|c| c.runs_here).count() as i64);
        self.task_count
            .set(connectors.iter().map(|c| c.tasks.len() as i64).sum());
        for c in connectors {
            let n = c.name.as_str();
            if c.runs_here {
                self.connector_status
                    .with_label_values(&[n, &c.state.to_ascii_lowercase()])
                    .set(1);
                self.connector_type.with_label_values(&[n, c.kind]).set(1);
                self.connector_class
                    .with_label_values(&[n, &c.class])
                    .set(1);
                self.connector_version
                    .with_label_values(&[n, &c.version])
                    .set(1);
            } else if c.tasks.is_empty() {
                // Neither the connector nor a task of it runs here.
                continue;
            }
            self.connector_total_task_count
                .with_label_values(&[n])
                .set(c.tasks.len() as i64);
            for state in TASK_STATES {
                let count = c
                    .tasks
                    .iter()
                    .filter(|t| t.state.eq_ignore_ascii_case(state))
                    .count();
                self.connector_task_counts
                    .with_label_values(&[n, state])
                    .set(count as i64);
            }
            for t in &c.tasks {
                let id = t.id.to_string();
                self.task_status
                    .with_label_values(&[n, &id, &t.state.to_ascii_lowercase()])
                    .set(1);
                self.running_ratio
                    .with_label_values(&[n, &id])
                    .set(t.running_ratio);
                self.pause_ratio
                    .with_label_values(&[n, &id])
                    .set(t.pause_ratio);
                self.task_retrying
                    .with_label_values(&[n, &id])
                    .set(i64::from(t.retrying));
                self.task_retry_attempts
                    .with_label_values(&[n, &id])
                    .inc_by(t.retry_attempts);
            }
        }
    }

    /// The handles of one task, resolved now; dropping them removes the task's series.
    pub fn task(self: &Arc<Self>, connector: &str, task: usize) -> TaskMetrics {
        TaskMetrics::new(Arc::clone(self), connector, task)
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;

/// Kafka Connect's JMX name of one of our metrics, where it differs from the rule
/// `kafka_connect_<group>_<metric>` (dashes as underscores).
fn kafka_name(name: &str) -> String {
    const GROUPS: [&str; 7] = [
        "connect_worker_metrics",
        "connect_worker_rebalance_metrics",
        "connector_task_metrics",
        "connector_metrics",
        "source_task_metrics",
        "sink_task_metrics",
        "task_error_metrics",
    ];
    const OURS: [&str; 2] = [
        "kafka_connect_connector_task_metrics_retrying",
        "kafka_connect_connector_task_metrics_retry_attempts_total",
    ];
    if OURS.contains(&name) {
        return "none (ours)".to_owned();
    }
    let Some(rest) = name.strip_prefix("kafka_connect_") else {
        return String::new();
    };
    let Some(group) = GROUPS.iter().find(|g| rest.starts_with(&format!("{g}_"))) else {
        return String::new();
    };
    let metric = rest[group.len() + 1..].replace('_', "-");
    let metric = match metric.as_str() {
        "connector-task-count" => {
            "connector-{running,paused,failed,unassigned,restarting}-task-count".to_owned()
        }
        // Kafka Connect has the rate; the total gives it with rate().
        m if m.ends_with("-total") && !group.starts_with("connect_worker_") => {
            format!("{m} (and {}-rate)", m.trim_end_matches("-total"))
        }
        m => m.to_owned(),
    };
    format!("{}: {metric}", group.replace('_', "-"))
}

/// The reference table of every metric, for `docs/metrics.md`.
pub fn reference_markdown() -> String {
    let metrics = Arc::new(WorkerMetrics::new());
    // Series exist once a task has them: make one of each kind.
    let _source = metrics.task("c", 0).with_source();
    let _sink = metrics.task("c", 1).with_sink();
    let snapshot = [ConnectorSnapshot {
        name: "c".into(),
        class: "C".into(),
        kind: "sink",
        version: "1".into(),
        state: "RUNNING",
        runs_here: true,
        tasks: vec![TaskSnapshot {
            id: 0,
            state: "RUNNING",
            running_ratio: 1.0,
            pause_ratio: 0.0,
            retrying: false,
            retry_attempts: 0,
        }],
    }];
    metrics.update_states(&snapshot);
    metrics.rebalance.update(Some(&RebalanceSnapshot {
        leader_url: Some("http://w1:8083/".into()),
        epoch: 1,
        completed_rebalances: 1,
        rebalancing: false,
        max_time_ms: 1.0,
        avg_time_ms: 1.0,
        time_since_last_ms: 1.0,
    }));
    let mut out = String::from(
        "| Prometheus name | Type | Labels | Kafka Connect (group: metric) | Description |\n|---|---|---|---|---|\n",
    );
    for family in metrics.registry.gather() {
        let labels: Vec<String> = family
            .get_metric()
            .first()
            .map(|m| m.get_label().iter().map(|l| l.name().to_owned()).collect())
            .unwrap_or_default();
        let kind = format!("{:?}", family.get_field_type()).to_lowercase();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            family.name(),
            kind,
            labels.join(", "),
            kafka_name(family.name()),
            family.help().replace('|', "\\|")
        ));
    }
    out
}
