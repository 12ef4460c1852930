//! Kafka Connect's `connect-worker-rebalance-metrics` group: a distributed worker's view of
//! its group's rebalances, read from the coordinator when `/metrics` is scraped. A standalone
//! worker has no group, and no series of this group.

use prometheus::{Gauge, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::{name, register};

pub(super) const GROUP: &str = "connect-worker-rebalance-metrics";

/// The rebalance state of a distributed worker as the scrape sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RebalanceSnapshot {
    /// The leader's REST URL in the last completed generation (`None` before the first).
    pub leader_url: Option<String>,
    /// The last completed generation, -1 before the first (Kafka Connect's `epoch`).
    pub epoch: i64,
    pub completed_rebalances: u64,
    pub rebalancing: bool,
    /// The longest and the mean rebalance since the worker started, 0 before the first.
    pub max_time_ms: f64,
    pub avg_time_ms: f64,
    /// Since the last rebalance ended; infinite before the first, as Kafka Connect's.
    pub time_since_last_ms: f64,
}

/// The families of the group. They are vectors without labels (or with `leader_name`) so a
/// standalone worker's scrape shows none of them.
#[derive(Debug)]
pub(super) struct Families {
    leader_name: IntGaugeVec,
    epoch: GaugeVec,
    completed_rebalances: IntCounterVec,
    rebalancing: GaugeVec,
    max_time: GaugeVec,
    avg_time: GaugeVec,
    time_since_last: GaugeVec,
}

impl Families {
    #[allow(clippy::expect_used)] // names and labels are constants; the tests build them
    pub(super) fn new(r: &Registry) -> Self {
        let opts = |metric: &str, help: &str| Opts::new(name(GROUP, metric), help);
        let gauge = |metric: &str, help: &str| {
            register(
                r,
                GaugeVec::new(opts(metric, help), &[]).expect("valid gauge"),
            )
        };
        Self {
            leader_name: register(
                r,
                IntGaugeVec::new(
                    opts("leader-name", "1, with the REST URL of the group's leader as a label (Kafka Connect's leader-name is a string; Prometheus has no string values)."),
                    &["leader_name"],
                )
                .expect("valid gauge"),
            ),
            epoch: gauge("epoch", "The generation of the group this worker last joined (-1 before the first)."),
            completed_rebalances: register(
                r,
                IntCounterVec::new(
                    opts("completed-rebalances-total", "The rebalances this worker completed (an assignment received)."),
                    &[],
                )
                .expect("valid counter"),
            ),
            rebalancing: gauge("rebalancing", "1 while this worker is in a rebalance, 0 otherwise."),
            max_time: gauge("rebalance-max-time-ms", "The longest rebalance of this worker since it started, in ms."),
            avg_time: gauge("rebalance-avg-time-ms", "The mean time of this worker's rebalances since it started, in ms."),
            time_since_last: gauge("time-since-last-rebalance-ms", "The time since this worker's last rebalance ended, in ms (infinite before the first, as Kafka Connect's)."),
        }
    }

    /// Sets every family from `snapshot`; `None` (standalone) leaves them without series.
    pub(super) fn update(&self, snapshot: Option<&RebalanceSnapshot>) {
        self.leader_name.reset();
        self.completed_rebalances.reset();
        for vec in [
            &self.epoch,
            &self.rebalancing,
            &self.max_time,
            &self.avg_time,
            &self.time_since_last,
        ] {
            vec.reset();
        }
        let Some(s) = snapshot else { return };
        if let Some(url) = &s.leader_url {
            self.leader_name.with_label_values(&[url]).set(1);
        }
        self.completed_rebalances
            .with_label_values::<&str>(&[])
            .inc_by(s.completed_rebalances);
        let set = |vec: &GaugeVec, value: f64| {
            let gauge: Gauge = vec.with_label_values::<&str>(&[]);
            gauge.set(value);
        };
        set(&self.epoch, s.epoch as f64);
        set(&self.rebalancing, if s.rebalancing { 1.0 } else { 0.0 });
        set(&self.max_time, s.max_time_ms);
        set(&self.avg_time, s.avg_time_ms);
        set(&self.time_since_last, s.time_since_last_ms);
    }
}
