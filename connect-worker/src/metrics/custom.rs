//! Metrics that connector tasks define themselves (`SinkTaskContext::counter`, ...), exposed
//! under the name the connector gives, labelled `connector` and `task`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use connect_core::metrics::{Counter, CounterHandle, Gauge, GaugeHandle};
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

#[derive(Debug, Clone)]
enum Family {
    Counter(IntCounterVec),
    Gauge(IntGaugeVec),
}

/// The connector-defined families of a worker. The lock is taken when a task asks for a
/// metric (at start) and when a task ends, never when a value changes.
#[derive(Debug)]
pub struct CustomMetrics {
    registry: Registry,
    families: Mutex<HashMap<String, Family>>,
}

struct CounterAdapter(IntCounter);

impl CounterHandle for CounterAdapter {
    fn inc_by(&self, n: u64) {
        self.0.inc_by(n);
    }
    fn get(&self) -> u64 {
        self.0.get()
    }
}

struct GaugeAdapter(IntGauge);

impl GaugeHandle for GaugeAdapter {
    fn set(&self, value: i64) {
        self.0.set(value);
    }
    fn add(&self, delta: i64) {
        self.0.add(delta);
    }
    fn get(&self) -> i64 {
        self.0.get()
    }
}

const LABELS: [&str; 2] = ["connector", "task"];

impl CustomMetrics {
    pub(crate) fn new(registry: Registry) -> Self {
        Self {
            registry,
            families: Mutex::default(),
        }
    }

    fn family(&self, name: &str, help: &str, counter: bool) -> Option<Family> {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = families.get(name) {
            return Some(f.clone());
        }
        let opts = Opts::new(name, if help.is_empty() { name } else { help });
        let made = if counter {
            IntCounterVec::new(opts, &LABELS).map(Family::Counter)
        } else {
            IntGaugeVec::new(opts, &LABELS).map(Family::Gauge)
        };
        let family = match made {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(name, error = %e, "a connector asked for a metric with an invalid name; it is not exposed");
                return None;
            }
        };
        let registered = match &family {
            Family::Counter(v) => self.registry.register(Box::new(v.clone())),
            Family::Gauge(v) => self.registry.register(Box::new(v.clone())),
        };
        if let Err(e) = registered {
            tracing::warn!(name, error = %e, "a connector's metric clashes with another; it is not exposed");
            return None;
        }
        families.insert(name.to_owned(), family.clone());
        Some(family)
    }

    /// A counter `name{connector, task}`; detached (counting, exposed nowhere) when the name
    /// is invalid or already used by a gauge or a built-in metric.
    pub fn counter(&self, name: &str, help: &str, connector: &str, task: &str) -> Counter {
        match self.family(name, help, true) {
            Some(Family::Counter(v)) => Counter::new(Arc::new(CounterAdapter(
                v.with_label_values(&[connector, task]),
            ))),
            _ => Counter::detached(),
        }
    }

    /// A gauge `name{connector, task}`; see [`counter`](Self::counter).
    pub fn gauge(&self, name: &str, help: &str, connector: &str, task: &str) -> Gauge {
        match self.family(name, help, false) {
            Some(Family::Gauge(v)) => Gauge::new(Arc::new(GaugeAdapter(
                v.with_label_values(&[connector, task]),
            ))),
            _ => Gauge::detached(),
        }
    }

    /// Removes a task's series from every family.
    pub fn remove(&self, connector: &str, task: &str) {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for family in families.values() {
            let _ = match family {
                Family::Counter(v) => v.remove_label_values(&[connector, task]),
                Family::Gauge(v) => v.remove_label_values(&[connector, task]),
            };
        }
    }
}
