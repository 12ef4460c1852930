//! Metrics a connector task keeps of its own (Redis round trips, pending entries, ...), which
//! the worker exposes next to Kafka Connect's at `GET /metrics`, labelled with the connector
//! and the task.
//!
//! Get them once, in `start`, from the task's context ([`SourceTaskContext::counter`],
//! [`SinkTaskContext::gauge`], ...), and keep the handles: updating one is an atomic
//! operation, with no lookup or lock.
//!
//! [`SourceTaskContext::counter`]: crate::connector::SourceTaskContext::counter
//! [`SinkTaskContext::gauge`]: crate::connector::SinkTaskContext::gauge

use std::fmt;
use std::sync::Arc;

/// What a worker plugs behind a [`Counter`].
pub trait CounterHandle: Send + Sync {
    /// Adds `n`.
    fn inc_by(&self, n: u64);
    /// The current total.
    fn get(&self) -> u64;
}

/// What a worker plugs behind a [`Gauge`].
pub trait GaugeHandle: Send + Sync {
    /// Sets the value.
    fn set(&self, value: i64);
    /// Adds `delta` (negative to subtract).
    fn add(&self, delta: i64);
    /// The current value.
    fn get(&self) -> i64;
}

/// A monotonic count. A detached counter (the default, and what a context without metrics
/// gives) counts for itself and is exposed nowhere.
#[derive(Clone)]
pub struct Counter(Arc<dyn CounterHandle>);

/// A value that goes up and down.
#[derive(Clone)]
pub struct Gauge(Arc<dyn GaugeHandle>);

#[derive(Default)]
struct Detached(std::sync::atomic::AtomicI64);

impl CounterHandle for Detached {
    fn inc_by(&self, n: u64) {
        self.0.fetch_add(
            i64::try_from(n).unwrap_or(i64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    fn get(&self) -> u64 {
        u64::try_from(self.0.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(0)
    }
}

impl GaugeHandle for Detached {
    fn set(&self, value: i64) {
        self.0.store(value, std::sync::atomic::Ordering::Relaxed);
    }
    fn add(&self, delta: i64) {
        self.0
            .fetch_add(delta, std::sync::atomic::Ordering::Relaxed);
    }
    fn get(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Counter {
    /// A counter backed by `handle`.
    pub fn new(handle: Arc<dyn CounterHandle>) -> Self {
        Self(handle)
    }

    /// A counter exposed nowhere.
    pub fn detached() -> Self {
        Self(Arc::new(Detached::default()))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.inc_by(1);
    }

    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.0.inc_by(n);
    }

    /// The current total.
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

impl Gauge {
    /// A gauge backed by `handle`.
    pub fn new(handle: Arc<dyn GaugeHandle>) -> Self {
        Self(handle)
    }

    /// A gauge exposed nowhere.
    pub fn detached() -> Self {
        Self(Arc::new(Detached::default()))
    }

    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.set(value);
    }

    /// Adds `delta`.
    pub fn add(&self, delta: i64) {
        self.0.add(delta);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.get()
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::detached()
    }
}

impl Default for Gauge {
    fn default() -> Self {
        Self::detached()
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counter({})", self.get())
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gauge({})", self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_handles_count_for_themselves() {
        let c = Counter::detached();
        c.inc();
        c.inc_by(4);
        assert_eq!(c.clone().get(), 5);
        let g = Gauge::default();
        g.set(10);
        g.add(-3);
        assert_eq!(g.get(), 7);
        assert_eq!(format!("{c:?} {g:?}"), "Counter(5) Gauge(7)");
    }
}
