//! The latency probe: produces records at a steady rate and timestamps the moment each one
//! becomes visible in Redis, from Redis' own keyspace notifications.
//!
//! Every `--tick-ms` (5 ms, as a Java producer's `linger.ms` would batch) a tick produces
//! `rate * tick` records (key = sequence number, value = [`json_value`]) to the next partition,
//! in a request of its own (50 records, ~4 KiB at 10,000/s: under rskafka's 8 KiB buffer, so
//! no delayed ACK). Record `seq` is due at the start of its tick: its latency is measured from
//! that scheduled instant, so a producer that falls behind counts against the system (no
//! coordinated omission). A subscriber to `__keyevent@0__:set` (Redis
//! publishes one as it executes each `SET`, within `EXEC` for a transaction) receives the key
//! `keyspace:seq` and takes the time. The first second is warm-up and left out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use fred::prelude::{Builder, Client, ClientLike, Config, EventInterface, PubsubInterface};
use fred::types::{ClusterHash, CustomCommand, Value};
use rskafka::client::partition::Compression;
use rskafka::record::Record;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::MissedTickBehavior;

use crate::common::{self, json_value, Result};
use crate::Args;

const WARM_UP: Duration = Duration::from_secs(1);

/// What the subscriber saw: each record's latency in ms (NaN: not seen yet).
#[derive(Debug, Default)]
struct Seen {
    latencies: Vec<f64>,
    received: u64,
    other: u64,
}

pub async fn run(args: &Args) -> Result<()> {
    let rate: u64 = args.num("rate", 10_000)?;
    let seconds: u64 = args.num("seconds", 20)?;
    let keyspace = args.get("keyspace")?.to_owned();
    let tick_ms: u64 = args.num("tick-ms", 5)?;
    let tick = Duration::from_millis(tick_ms.max(1));
    let per_tick = (rate * tick_ms / 1000).max(1);
    let ticks = seconds * 1000 / tick_ms.max(1);
    let total = ticks * per_tick;

    let redis_url = args.get("redis")?;
    let admin = common::redis(redis_url).await?;
    notify_keyspace_events(&admin, "E$").await?;
    // A burst of notifications (one EXEC of 500 SETs) must not overflow fred's broadcast
    // channel (32 messages by default).
    let subscriber = Builder::from_config(Config::from_url(redis_url)?)
        .with_performance_config(|p| p.broadcast_channel_capacity = 1 << 20)
        .build()?;
    subscriber.init().await?;
    let mut events = subscriber.keyspace_event_rx();
    subscriber.subscribe("__keyevent@0__:set").await?;

    let kafka = common::kafka(args.get("kafka")?).await?;
    let partitions: Vec<_> = common::partition_clients(&kafka, args.get("topic")?)
        .await?
        .into_iter()
        .map(Arc::new)
        .collect();

    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let start_std = start.into_std();
    let seen = Arc::new(Mutex::new(Seen {
        latencies: vec![f64::NAN; usize::try_from(total).unwrap_or(0)],
        received: 0,
        other: 0,
    }));
    let listener = tokio::spawn({
        let seen = Arc::clone(&seen);
        let prefix = format!("{keyspace}:");
        async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(n)) => {
                        eprintln!("{n} notifications were lost");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                let now = Instant::now();
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                let Some(seq) = event
                    .key
                    .as_str()
                    .and_then(|k| k.strip_prefix(&prefix)?.parse::<u64>().ok())
                else {
                    seen.other += 1;
                    continue;
                };
                let due = start_std + tick * u32::try_from(seq / per_tick).unwrap_or(u32::MAX);
                if let Some(slot) = seen
                    .latencies
                    .get_mut(usize::try_from(seq).unwrap_or(usize::MAX))
                {
                    let first = slot.is_nan();
                    *slot = now.saturating_duration_since(due).as_secs_f64() * 1000.0;
                    if first {
                        seen.received += 1;
                    }
                }
            }
        }
    });

    let mut interval = tokio::time::interval_at(start, tick);
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(usize::try_from(ticks).unwrap_or(0));
    for n in 0..ticks {
        interval.tick().await;
        let records = (n * per_tick..(n + 1) * per_tick)
            .map(|seq| Record {
                key: Some(seq.to_string().into_bytes()),
                value: Some(json_value(seq).into_bytes()),
                headers: Default::default(),
                timestamp: Utc::now(),
            })
            .collect();
        let client = Arc::clone(&partitions[usize::try_from(n).unwrap_or(0) % partitions.len()]);
        let due = start_std + tick * u32::try_from(n).unwrap_or(u32::MAX);
        sends.push(tokio::spawn(async move {
            client
                .produce(records, Compression::NoCompression)
                .await
                .map(|_| due.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    // How long the broker took to acknowledge each tick's request (from its scheduled time).
    let mut acks = Vec::with_capacity(sends.len());
    for send in futures::future::join_all(sends).await {
        acks.push(send??);
    }
    acks.sort_by(f64::total_cmp);
    // Everything is produced; give the system 10 s to make the last records visible.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lock = || seen.lock().unwrap_or_else(|e| e.into_inner());
    while lock().received < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    listener.abort();
    notify_keyspace_events(&admin, "").await?;
    let Seen {
        latencies,
        received,
        other,
    } = std::mem::take(&mut *lock());
    if received < total {
        eprintln!(
            "{} of {total} records were not seen in Redis 10 s after the last produce ({other} other notifications)",
            total - received
        );
    }

    let warm_up = usize::try_from(rate * WARM_UP.as_secs()).unwrap_or(0);
    let mut measured: Vec<f64> = latencies
        .iter()
        .skip(warm_up)
        .copied()
        .filter(|l| !l.is_nan())
        .collect();
    measured.sort_by(f64::total_cmp);
    let pct = |p: f64| percentile(&measured, p);
    println!(
        "{}",
        serde_json::json!({
            "records": total,
            "missing": total - received,
            "measured": measured.len(),
            "rate": rate,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "p999_ms": pct(0.999),
            "max_ms": measured.last().copied().unwrap_or(f64::NAN),
            "mean_ms": measured.iter().sum::<f64>() / measured.len().max(1) as f64,
            "produce_ack_p50_ms": percentile(&acks, 0.50),
            "produce_ack_p99_ms": percentile(&acks, 0.99),
        })
    );
    Ok(())
}

/// The `p` quantile (0..1) of sorted values, NaN when there are none.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// `CONFIG SET notify-keyspace-events <flags>` (fred's typed CONFIG commands are a feature the
/// workspace does not enable).
async fn notify_keyspace_events(redis: &Client, flags: &str) -> Result<()> {
    let command = CustomCommand::new_static("CONFIG", ClusterHash::Random, false);
    let _: Value = redis
        .custom(command, vec!["SET", "notify-keyspace-events", flags])
        .await?;
    Ok(())
}
