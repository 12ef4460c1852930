//! Kafka Connect's handling of records that fail conversion or transformation
//! (`errors.tolerance`, `errors.retry.timeout`, `errors.log.*`).

use std::time::{Duration, Instant};

use connect_core::ConnectError;

use super::Stage;
use crate::connector_config::ErrorPolicy;
use crate::metrics::ErrorMetrics;

/// Applies a connector's error policy to record failures.
#[derive(Debug)]
pub struct RecordErrors {
    policy: ErrorPolicy,
    task: String,
    /// Records skipped so far (`total-records-skipped`).
    pub skipped: u64,
    metrics: ErrorMetrics,
}

impl RecordErrors {
    /// The handler for one task.
    pub fn new(policy: ErrorPolicy, task: String, metrics: ErrorMetrics) -> Self {
        Self {
            policy,
            task,
            skipped: 0,
            metrics,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ErrorPolicy {
        &self.policy
    }

    /// Runs `op`, retrying retriable failures with back-off for up to `errors.retry.timeout`
    /// from the first failure.
    pub async fn retry<T>(
        &self,
        mut op: impl FnMut() -> Result<T, ConnectError>,
    ) -> Result<T, ConnectError> {
        // The clock is read at the first failure, not per call: this runs for every record.
        let mut started = None;
        let mut delay = Duration::from_millis(100);
        loop {
            match op() {
                Err(e)
                    if e.is_retriable()
                        && self.may_retry(*started.get_or_insert_with(Instant::now), delay) =>
                {
                    self.metrics.record_failures.inc();
                    self.metrics.retries.inc();
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.policy.retry_delay_max);
                }
                Err(e) => {
                    self.metrics.record_failures.inc();
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    fn may_retry(&self, started: Instant, delay: Duration) -> bool {
        match self.policy.retry_timeout {
            None => true,
            Some(timeout) => started.elapsed() + delay <= timeout,
        }
    }

    /// Decides about a failed record: `Ok(())` to skip it (errors.tolerance=all), or the error
    /// that fails the task. `stage` names the failed operation, `context` the record.
    pub fn tolerate(
        &mut self,
        stage: Stage,
        context: impl FnOnce() -> String,
        error: ConnectError,
    ) -> Result<(), ConnectError> {
        self.metrics.record_errors.inc();
        self.metrics.error_now();
        if !self.policy.tolerate_all {
            return Err(ConnectError::fatal(format!(
                "Tolerance exceeded in error handler: {stage} failed"
            ))
            .with_source(error));
        }
        self.skipped += 1;
        self.metrics.records_skipped.inc();
        if self.policy.log_enable {
            self.metrics.errors_logged.inc();
            if self.policy.log_include_messages {
                tracing::error!(task = %self.task, stage = stage.name(), record = %context(), error = %error.trace(), "error encountered in task; skipping the record");
            } else {
                tracing::error!(task = %self.task, stage = stage.name(), error = %error.trace(), "error encountered in task; skipping the record");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(tolerate_all: bool, retry_ms: Option<u64>) -> ErrorPolicy {
        ErrorPolicy {
            tolerate_all,
            retry_timeout: retry_ms.map(Duration::from_millis),
            retry_delay_max: Duration::from_millis(50),
            log_enable: true,
            log_include_messages: true,
            dead_letter_queue: None,
        }
    }

    #[test]
    fn none_fails_the_task_with_the_cause() {
        let mut errors = RecordErrors::new(
            policy(false, Some(0)),
            "t-0".into(),
            ErrorMetrics::detached(),
        );
        let err = errors
            .tolerate(
                Stage::ValueConverter,
                || "t-0@1".into(),
                ConnectError::fatal("bad json"),
            )
            .unwrap_err();
        assert_eq!(
            err.trace(),
            "Tolerance exceeded in error handler: VALUE_CONVERTER failed\nCaused by: bad json"
        );
        assert_eq!(errors.skipped, 0);
    }

    #[test]
    fn all_skips_and_counts() {
        let mut errors = RecordErrors::new(
            policy(true, Some(0)),
            "t-0".into(),
            ErrorMetrics::detached(),
        );
        errors
            .tolerate(
                Stage::Transformation,
                || "t-0@1".into(),
                ConnectError::fatal("x"),
            )
            .unwrap();
        assert_eq!(errors.skipped, 1);
    }

    #[tokio::test]
    async fn retriable_failures_are_retried_within_the_timeout() {
        let errors = RecordErrors::new(
            policy(false, Some(1000)),
            "t".into(),
            ErrorMetrics::detached(),
        );
        let mut calls = 0;
        let result = errors.retry(|| {
            calls += 1;
            if calls < 3 {
                Err(ConnectError::retriable("busy"))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(result.await.unwrap(), 3);

        let no_retry =
            RecordErrors::new(policy(false, Some(0)), "t".into(), ErrorMetrics::detached());
        let mut calls = 0;
        let result: Result<(), _> = no_retry
            .retry(|| {
                calls += 1;
                Err(ConnectError::retriable("busy"))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}
