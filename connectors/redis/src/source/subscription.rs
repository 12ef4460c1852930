//! Pub/sub subscriptions with a bounded buffer, shared by the pub/sub and keys sources.
//!
//! fred hands messages over through a broadcast channel that never waits for its receivers. A
//! pump task moves them into a bounded buffer that `poll` drains; when the buffer is full
//! (Kafka slower than the publishers) new messages are dropped and counted, and the count is
//! logged at `warn`: memory never grows without bound, and losses are visible. The pump also
//! subscribes again after every reconnection, which a plain fred client does not do by itself.
//!
//! fred's broadcast channel holds 32 messages by default, and a burst larger than that, read
//! from the socket in one go, overtakes the pump: the subscriber client gets a larger one (see
//! [`subscriber_client`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use connect_core::metrics::Counter;
use connect_core::ConnectError;
use fred::prelude::{Client, ClientLike, PubsubInterface};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::connection::redis_error;
use crate::connection::RedisSettings;

/// The task metric counting dropped messages (pub/sub messages, keyspace notifications).
pub(crate) const DROPPED_METRIC: &str = "redis_source_messages_dropped_total";
/// Its help text.
pub(crate) const DROPPED_HELP: &str =
    "Pub/sub messages or keyspace notifications dropped because the task's buffer was full.";

/// How often dropped messages are reported at most.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A client for subscribing whose broadcast channel holds `capacity` messages (at most 4096,
/// enough to absorb a burst while the pump moves messages on; tokio allocates every slot, for
/// each of fred's event channels): connected with the shared connection settings, then rebuilt
/// with fred's public constructor from that client's own configuration and a larger
/// `broadcast_channel_capacity`.
pub(crate) async fn subscriber_client(
    settings: &RedisSettings,
    capacity: usize,
) -> Result<Client, ConnectError> {
    let probe = settings.connect().await?;
    let mut perf = probe.perf_config();
    perf.broadcast_channel_capacity = capacity.clamp(32, 4096);
    let client = Client::new(
        probe.client_config(),
        Some(perf),
        Some(probe.connection_config().clone()),
        probe.client_reconnect_policy(),
    );
    let _ = probe.quit().await;
    client
        .init()
        .await
        .map_err(|e| redis_error(e, "connecting the subscriber"))?;
    Ok(client)
}

/// What the pump subscribes to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Channels {
    /// SUBSCRIBE.
    pub(crate) channels: Vec<String>,
    /// PSUBSCRIBE.
    pub(crate) patterns: Vec<String>,
}

impl Channels {
    /// Subscribes `client` to every channel and pattern.
    pub(crate) async fn subscribe(&self, client: &Client) -> Result<(), fred::error::Error> {
        if !self.channels.is_empty() {
            client.subscribe(self.channels.clone()).await?;
        }
        if !self.patterns.is_empty() {
            client.psubscribe(self.patterns.clone()).await?;
        }
        Ok(())
    }
}

/// Messages of type `T` arriving in a bounded buffer.
pub(crate) struct Subscription<T> {
    rx: mpsc::Receiver<T>,
    dropped: Counter,
    reconnected: Arc<AtomicBool>,
    reported: u64,
    last_report: Option<Instant>,
    capacity: usize,
    pump: JoinHandle<()>,
}

impl<T: Clone + Send + 'static> Subscription<T> {
    /// Starts pumping `messages` (taken from `client` before subscribing, so nothing is
    /// missed) into a buffer of `capacity`, then subscribes. Dropped messages are counted in
    /// `dropped` (a metric of the task).
    pub(crate) async fn start(
        client: Client,
        messages: broadcast::Receiver<T>,
        channels: Channels,
        capacity: usize,
        dropped: Counter,
    ) -> Result<Self, fred::error::Error> {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let reconnected = Arc::new(AtomicBool::new(false));
        let reconnects = fred::prelude::EventInterface::reconnect_rx(&client);
        channels.subscribe(&client).await?;
        let pump = tokio::spawn(pump(
            client,
            messages,
            reconnects,
            channels,
            tx,
            dropped.clone(),
            Arc::clone(&reconnected),
        ));
        Ok(Self {
            rx,
            dropped,
            reconnected,
            reported: 0,
            last_report: None,
            capacity,
            pump,
        })
    }

    /// Up to `max` messages: waits up to `wait` for the first, then takes what is buffered.
    pub(crate) async fn next_batch(&mut self, max: usize, wait: Duration) -> Vec<T> {
        let mut batch = Vec::new();
        match tokio::time::timeout(wait, self.rx.recv()).await {
            Ok(Some(first)) => batch.push(first),
            Ok(None) | Err(_) => return batch,
        }
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        batch
    }

    /// Whether the connection was re-established since the last call (messages sent
    /// meanwhile are lost).
    pub(crate) fn take_reconnected(&self) -> bool {
        self.reconnected.swap(false, Ordering::Relaxed)
    }

    /// Messages dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Logs the messages dropped since the last report, at most every 10 s.
    pub(crate) fn report_drops(&mut self, what: &str) {
        let dropped = self.dropped();
        if dropped == self.reported || self.last_report.is_some_and(|t| t.elapsed() < REPORT_EVERY)
        {
            return;
        }
        tracing::warn!(
            dropped = dropped - self.reported,
            total = dropped,
            "dropped {what}: the buffer of {} was full (Kafka slower than Redis sends them)",
            self.capacity
        );
        self.reported = dropped;
        self.last_report = Some(Instant::now());
    }

    /// Stops the pump.
    pub(crate) fn stop(&self) {
        self.pump.abort();
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

async fn pump<T: Clone + Send + 'static>(
    client: Client,
    mut messages: broadcast::Receiver<T>,
    mut reconnects: broadcast::Receiver<fred::types::config::Server>,
    channels: Channels,
    tx: mpsc::Sender<T>,
    dropped: Counter,
    reconnected: Arc<AtomicBool>,
) {
    let mut watch_reconnects = true;
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Ok(message) => {
                    if tx.try_send(message).is_err() {
                        if tx.is_closed() {
                            return;
                        }
                        dropped.inc();
                    }
                }
                // The pump itself fell behind fred's own buffer.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    dropped.inc_by(n);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            event = reconnects.recv(), if watch_reconnects => match event {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    tracing::info!("reconnected to Redis; subscribing again");
                    reconnected.store(true, Ordering::Relaxed);
                    // Until it works: without it nothing more would ever arrive.
                    while let Err(e) = channels.subscribe(&client).await {
                        tracing::warn!(error = %e, "cannot subscribe again after a reconnection; retrying in 1 s");
                        if tx.is_closed() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => watch_reconnects = false,
            },
        }
    }
}
