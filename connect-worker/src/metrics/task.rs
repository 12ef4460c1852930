//! Per-task metrics: the families (`connector-task-metrics`, `source-task-metrics`,
//! `sink-task-metrics`, `task-error-metrics`) and the handles a task resolves once.
//!
//! Averages and maxima are over the task's life (Kafka Connect's are over a time window); the
//! `*_total` counters give rates with PromQL's `rate()`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{
    Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::{name, register, WorkerMetrics};

const LABELS: [&str; 2] = ["connector", "task"];

/// The task-level families, registered once per worker.
#[derive(Debug)]
pub(crate) struct Families {
    // connector-task-metrics (status and ratios are set at scrape time)
    offset_commit_avg_time_ms: GaugeVec,
    offset_commit_max_time_ms: GaugeVec,
    offset_commit_success_percentage: GaugeVec,
    offset_commit_failure_percentage: GaugeVec,
    batch_size_avg: GaugeVec,
    batch_size_max: GaugeVec,
    // source-task-metrics
    source_record_poll_total: IntCounterVec,
    source_record_write_total: IntCounterVec,
    poll_batch_avg_time_ms: GaugeVec,
    poll_batch_max_time_ms: GaugeVec,
    source_record_active_count: IntGaugeVec,
    // sink-task-metrics
    sink_record_read_total: IntCounterVec,
    sink_record_send_total: IntCounterVec,
    sink_record_lag_max: IntGaugeVec,
    partition_count: IntGaugeVec,
    offset_commit_seq_no: IntGaugeVec,
    offset_commit_completion_total: IntCounterVec,
    offset_commit_skip_total: IntCounterVec,
    put_batch_avg_time_ms: GaugeVec,
    put_batch_max_time_ms: GaugeVec,
    sink_record_active_count: IntGaugeVec,
    // task-error-metrics
    total_record_failures: IntCounterVec,
    total_record_errors: IntCounterVec,
    total_records_skipped: IntCounterVec,
    total_retries: IntCounterVec,
    total_errors_logged: IntCounterVec,
    deadletterqueue_produce_requests: IntCounterVec,
    deadletterqueue_produce_failures: IntCounterVec,
    last_error_timestamp: IntGaugeVec,
}

impl Families {
    #[allow(clippy::expect_used)] // constant names and labels; the unit tests build them
    pub(crate) fn new(r: &Registry) -> Self {
        let counter = |group: &str, metric: &str, help: &str| {
            register(
                r,
                IntCounterVec::new(Opts::new(name(group, metric), help), &LABELS)
                    .expect("valid counter"),
            )
        };
        let int_gauge = |group: &str, metric: &str, help: &str| {
            register(
                r,
                IntGaugeVec::new(Opts::new(name(group, metric), help), &LABELS)
                    .expect("valid gauge"),
            )
        };
        let gauge = |group: &str, metric: &str, help: &str| {
            register(
                r,
                GaugeVec::new(Opts::new(name(group, metric), help), &LABELS).expect("valid gauge"),
            )
        };
        let t = "connector-task-metrics";
        let so = "source-task-metrics";
        let si = "sink-task-metrics";
        let e = "task-error-metrics";
        Self {
            offset_commit_avg_time_ms: gauge(t, "offset-commit-avg-time-ms", "The average time in milliseconds taken by this task to commit offsets."),
            offset_commit_max_time_ms: gauge(t, "offset-commit-max-time-ms", "The maximum time in milliseconds taken by this task to commit offsets."),
            offset_commit_success_percentage: gauge(t, "offset-commit-success-percentage", "The average percentage of this task's offset commit attempts that succeeded."),
            offset_commit_failure_percentage: gauge(t, "offset-commit-failure-percentage", "The average percentage of this task's offset commit attempts that failed."),
            batch_size_avg: gauge(t, "batch-size-avg", "The average number of records in the batches the task has processed so far."),
            batch_size_max: gauge(t, "batch-size-max", "The number of records in the largest batch the task has processed so far."),
            source_record_poll_total: counter(so, "source-record-poll-total", "The total number of records produced/polled (before transformation) by this task."),
            source_record_write_total: counter(so, "source-record-write-total", "The number of records output from the transformations and written to Kafka for this task."),
            poll_batch_avg_time_ms: gauge(so, "poll-batch-avg-time-ms", "The average time in milliseconds taken by this task to poll for a batch of source records."),
            poll_batch_max_time_ms: gauge(so, "poll-batch-max-time-ms", "The maximum time in milliseconds taken by this task to poll for a batch of source records."),
            source_record_active_count: int_gauge(so, "source-record-active-count", "The number of records that have been produced by this task but not yet completely written to Kafka."),
            sink_record_read_total: counter(si, "sink-record-read-total", "The total number of records read from Kafka by this task."),
            sink_record_send_total: counter(si, "sink-record-send-total", "The total number of records output from the transformations and sent/put to this task."),
            sink_record_lag_max: int_gauge(si, "sink-record-lag-max", "The maximum lag in terms of number of records that the sink task is behind the consumer's position for any topic partitions."),
            partition_count: int_gauge(si, "partition-count", "The number of topic partitions assigned to this task."),
            offset_commit_seq_no: int_gauge(si, "offset-commit-seq-no", "The current sequence number for offset commits."),
            offset_commit_completion_total: counter(si, "offset-commit-completion-total", "The total number of offset commit completions that were completed successfully."),
            offset_commit_skip_total: counter(si, "offset-commit-skip-total", "The total number of offset commits that were skipped (nothing new to commit)."),
            put_batch_avg_time_ms: gauge(si, "put-batch-avg-time-ms", "The average time taken by this task to put a batch of sink records."),
            put_batch_max_time_ms: gauge(si, "put-batch-max-time-ms", "The maximum time taken by this task to put a batch of sink records."),
            sink_record_active_count: int_gauge(si, "sink-record-active-count", "The number of records that have been read from Kafka but not yet completely committed."),
            total_record_failures: counter(e, "total-record-failures", "The number of record processing failures in this task (each failed attempt)."),
            total_record_errors: counter(e, "total-record-errors", "The number of record processing errors in this task (records that failed after retries)."),
            total_records_skipped: counter(e, "total-records-skipped", "The number of records skipped due to errors."),
            total_retries: counter(e, "total-retries", "The number of operations retried."),
            total_errors_logged: counter(e, "total-errors-logged", "The number of errors that were logged."),
            deadletterqueue_produce_requests: counter(e, "deadletterqueue-produce-requests", "The number of attempted writes to the dead letter queue."),
            deadletterqueue_produce_failures: counter(e, "deadletterqueue-produce-failures", "The number of failed writes to the dead letter queue."),
            last_error_timestamp: int_gauge(e, "last-error-timestamp", "The epoch timestamp in milliseconds when this task last encountered an error."),
        }
    }
}

/// An average and a maximum over the task's life, kept by the task and published as gauges.
#[derive(Debug)]
pub struct Stat {
    count: u64,
    sum: f64,
    max: f64,
    avg_gauge: Gauge,
    max_gauge: Gauge,
}

impl Stat {
    fn new(avg_gauge: Gauge, max_gauge: Gauge) -> Self {
        Self {
            count: 0,
            sum: 0.0,
            max: 0.0,
            avg_gauge,
            max_gauge,
        }
    }

    /// Adds one observation.
    pub fn record(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.max = self.max.max(value);
        self.avg_gauge.set(self.sum / self.count as f64);
        self.max_gauge.set(self.max);
    }

    /// Adds a duration, in milliseconds.
    pub fn record_time(&mut self, elapsed: Duration) {
        self.record(elapsed.as_secs_f64() * 1000.0);
    }
}

/// `task-error-metrics` handles; cheap to clone into whatever handles errors.
#[derive(Debug, Clone)]
pub struct ErrorMetrics {
    pub record_failures: IntCounter,
    pub record_errors: IntCounter,
    pub records_skipped: IntCounter,
    pub retries: IntCounter,
    pub errors_logged: IntCounter,
    pub dlq_requests: IntCounter,
    pub dlq_failures: IntCounter,
    last_error: IntGauge,
}

impl ErrorMetrics {
    /// Handles counting nowhere, for code run outside a worker (tests).
    #[allow(clippy::expect_used)]
    pub fn detached() -> Self {
        let c = || IntCounter::new("detached", "not registered").expect("a valid name");
        Self {
            record_failures: c(),
            record_errors: c(),
            records_skipped: c(),
            retries: c(),
            errors_logged: c(),
            dlq_requests: c(),
            dlq_failures: c(),
            last_error: IntGauge::new("detached", "not registered").expect("a valid name"),
        }
    }

    /// Notes that an error happened now.
    pub fn error_now(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        self.last_error.set(now);
    }
}

/// `source-task-metrics` handles.
#[derive(Debug)]
pub struct SourceMetrics {
    pub poll_total: IntCounter,
    pub write_total: IntCounter,
    pub poll_time: Stat,
    pub active: IntGauge,
}

/// `sink-task-metrics` handles.
#[derive(Debug)]
pub struct SinkMetrics {
    pub read_total: IntCounter,
    pub send_total: IntCounter,
    pub lag_max: IntGauge,
    pub partitions: IntGauge,
    pub commit_seq_no: IntGauge,
    pub commit_completion: IntCounter,
    pub commit_skip: IntCounter,
    pub put_time: Stat,
    pub active: IntGauge,
}

/// What a task updates: resolved once at start, so records cost an atomic add at most.
/// Dropping it removes the task's series (a deleted task leaves nothing behind).
#[derive(Debug)]
pub struct TaskMetrics {
    parent: Arc<WorkerMetrics>,
    connector: String,
    task: String,
    pub commit_time: Stat,
    commits: u64,
    commit_failures: u64,
    commit_success_pct: Gauge,
    commit_failure_pct: Gauge,
    pub batch_size: Stat,
    pub errors: ErrorMetrics,
    pub source: Option<SourceMetrics>,
    pub sink: Option<SinkMetrics>,
}

impl TaskMetrics {
    pub(super) fn new(parent: Arc<WorkerMetrics>, connector: &str, task: usize) -> Self {
        let task = task.to_string();
        let f = &parent.task;
        let l = [connector, task.as_str()];
        let g = |v: &GaugeVec| v.with_label_values(&l);
        let c = |v: &IntCounterVec| v.with_label_values(&l);
        let errors = ErrorMetrics {
            record_failures: c(&f.total_record_failures),
            record_errors: c(&f.total_record_errors),
            records_skipped: c(&f.total_records_skipped),
            retries: c(&f.total_retries),
            errors_logged: c(&f.total_errors_logged),
            dlq_requests: c(&f.deadletterqueue_produce_requests),
            dlq_failures: c(&f.deadletterqueue_produce_failures),
            last_error: f.last_error_timestamp.with_label_values(&l),
        };
        Self {
            commit_time: Stat::new(
                g(&f.offset_commit_avg_time_ms),
                g(&f.offset_commit_max_time_ms),
            ),
            commits: 0,
            commit_failures: 0,
            commit_success_pct: g(&f.offset_commit_success_percentage),
            commit_failure_pct: g(&f.offset_commit_failure_percentage),
            batch_size: Stat::new(g(&f.batch_size_avg), g(&f.batch_size_max)),
            errors,
            source: None,
            sink: None,
            connector: connector.to_owned(),
            task,
            parent: Arc::clone(&parent),
        }
    }

    /// Adds the `source-task-metrics` handles.
    pub fn with_source(mut self) -> Self {
        let f = &self.parent.task;
        let l = [self.connector.as_str(), self.task.as_str()];
        self.source = Some(SourceMetrics {
            poll_total: f.source_record_poll_total.with_label_values(&l),
            write_total: f.source_record_write_total.with_label_values(&l),
            poll_time: Stat::new(
                f.poll_batch_avg_time_ms.with_label_values(&l),
                f.poll_batch_max_time_ms.with_label_values(&l),
            ),
            active: f.source_record_active_count.with_label_values(&l),
        });
        self
    }

    /// Adds the `sink-task-metrics` handles.
    pub fn with_sink(mut self) -> Self {
        let f = &self.parent.task;
        let l = [self.connector.as_str(), self.task.as_str()];
        self.sink = Some(SinkMetrics {
            read_total: f.sink_record_read_total.with_label_values(&l),
            send_total: f.sink_record_send_total.with_label_values(&l),
            lag_max: f.sink_record_lag_max.with_label_values(&l),
            partitions: f.partition_count.with_label_values(&l),
            commit_seq_no: f.offset_commit_seq_no.with_label_values(&l),
            commit_completion: f.offset_commit_completion_total.with_label_values(&l),
            commit_skip: f.offset_commit_skip_total.with_label_values(&l),
            put_time: Stat::new(
                f.put_batch_avg_time_ms.with_label_values(&l),
                f.put_batch_max_time_ms.with_label_values(&l),
            ),
            active: f.sink_record_active_count.with_label_values(&l),
        });
        self
    }

    /// An offset commit ended, successfully or not, after `elapsed`.
    pub fn offset_commit(&mut self, elapsed: Duration, succeeded: bool) {
        self.commit_time.record_time(elapsed);
        self.commits += 1;
        if !succeeded {
            self.commit_failures += 1;
        }
        let failed = 100.0 * self.commit_failures as f64 / self.commits as f64;
        self.commit_failure_pct.set(failed);
        self.commit_success_pct.set(100.0 - failed);
    }

    /// A handle for the task's context to make custom metrics with, after the loop took
    /// `self`.
    pub fn custom_factory(&self) -> CustomFactory {
        CustomFactory {
            parent: Arc::clone(&self.parent),
            connector: self.connector.clone(),
            task: self.task.clone(),
        }
    }
}

/// Makes a task's custom metrics; what task contexts hold.
#[derive(Debug, Clone)]
pub struct CustomFactory {
    parent: Arc<WorkerMetrics>,
    connector: String,
    task: String,
}

impl CustomFactory {
    /// A counter of the connector's own (see `SinkTaskContext::counter`).
    pub fn counter(&self, name: &str, help: &str) -> connect_core::metrics::Counter {
        self.parent
            .custom
            .counter(name, help, &self.connector, &self.task)
    }

    /// A gauge of the connector's own.
    pub fn gauge(&self, name: &str, help: &str) -> connect_core::metrics::Gauge {
        self.parent
            .custom
            .gauge(name, help, &self.connector, &self.task)
    }
}

impl Drop for TaskMetrics {
    fn drop(&mut self) {
        let f = &self.parent.task;
        let l = [self.connector.as_str(), self.task.as_str()];
        for v in [
            &f.offset_commit_avg_time_ms,
            &f.offset_commit_max_time_ms,
            &f.offset_commit_success_percentage,
            &f.offset_commit_failure_percentage,
            &f.batch_size_avg,
            &f.batch_size_max,
            &f.poll_batch_avg_time_ms,
            &f.poll_batch_max_time_ms,
            &f.put_batch_avg_time_ms,
            &f.put_batch_max_time_ms,
        ] {
            let _ = v.remove_label_values(&l);
        }
        for v in [
            &f.source_record_poll_total,
            &f.source_record_write_total,
            &f.sink_record_read_total,
            &f.sink_record_send_total,
            &f.offset_commit_completion_total,
            &f.offset_commit_skip_total,
            &f.total_record_failures,
            &f.total_record_errors,
            &f.total_records_skipped,
            &f.total_retries,
            &f.total_errors_logged,
            &f.deadletterqueue_produce_requests,
            &f.deadletterqueue_produce_failures,
        ] {
            let _ = v.remove_label_values(&l);
        }
        for v in [
            &f.source_record_active_count,
            &f.sink_record_lag_max,
            &f.partition_count,
            &f.offset_commit_seq_no,
            &f.sink_record_active_count,
            &f.last_error_timestamp,
        ] {
            let _ = v.remove_label_values(&l);
        }
        self.parent.custom.remove(&self.connector, &self.task);
    }
}
