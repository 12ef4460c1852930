//! The hand-written Redis Stream -> Kafka bridge: a reader (`XREADGROUP`, on a connection of its
//! own because it blocks) one batch ahead of a producer that sends each batch to Kafka, one
//! request per partition in parallel, and acknowledges the entries (`XACK`) once Kafka has
//! them: at-least-once, as the worker's stream source.
//!
//! Records are keyed by entry id and valued as the worker's stream source writes them with
//! `JsonConverter` without schemas: `{"id":..,"body":{..},"stream":..}`.
//!
//! Request sizes keep clear of rskafka's delayed-ACK trap: a batch of `--batch` entries (4000
//! by default, ~120 bytes each) makes requests of ~120 KiB per partition, well above the
//! 64 KiB segment.

use std::collections::HashMap;

use chrono::Utc;
use fred::prelude::{Client, StreamsInterface};
use fred::types::streams::XReadResponse;
use rskafka::client::partition::{Compression, PartitionClient};
use rskafka::record::Record;
use tokio::sync::mpsc;

use crate::common::{self, Result};
use crate::Args;

type Entries = Vec<(String, HashMap<String, String>)>;

pub async fn run(args: &Args) -> Result<()> {
    let stream = args.get("stream")?.to_owned();
    let group = args.get("group")?.to_owned();
    let batch: u64 = args.num("batch", 4000)?;
    let kafka = common::kafka(args.get("kafka")?).await?;
    let partitions = common::partition_clients(&kafka, args.get("topic")?).await?;
    let reader = common::redis(args.get("redis")?).await?;
    let acker = common::redis(args.get("redis")?).await?;
    if let Err(e) = reader
        .xgroup_create::<(), _, _, _>(stream.as_str(), group.as_str(), "0", true)
        .await
    {
        if !e.details().starts_with("BUSYGROUP") {
            return Err(e.into());
        }
    }
    let (tx, rx) = mpsc::channel(1);
    let read = tokio::spawn(read(reader, stream.clone(), group.clone(), batch, tx));
    let produce = tokio::spawn(produce(partitions, acker, stream, group, rx));
    read.await??;
    produce.await?
}

async fn read(
    redis: Client,
    stream: String,
    group: String,
    batch: u64,
    tx: mpsc::Sender<Entries>,
) -> Result<()> {
    loop {
        let mut reply: XReadResponse<String, String, String, String> = redis
            .xreadgroup_map(
                group.as_str(),
                "bridge",
                Some(batch),
                Some(1000),
                false,
                stream.as_str(),
                ">",
            )
            .await?;
        if let Some(entries) = reply.remove(&stream) {
            if !entries.is_empty() && tx.send(entries).await.is_err() {
                return Ok(());
            }
        }
    }
}

async fn produce(
    partitions: Vec<PartitionClient>,
    redis: Client,
    stream: String,
    group: String,
    mut rx: mpsc::Receiver<Entries>,
) -> Result<()> {
    let count = partitions.len();
    while let Some(entries) = rx.recv().await {
        let now = Utc::now();
        let mut per_partition: Vec<Vec<Record>> = (0..count).map(|_| Vec::new()).collect();
        let mut ids = Vec::with_capacity(entries.len());
        for (id, body) in entries {
            let value = serde_json::json!({"id": id, "body": body, "stream": stream});
            per_partition[partition_of(id.as_bytes(), count)].push(Record {
                key: Some(id.as_bytes().to_vec()),
                value: Some(serde_json::to_vec(&value)?),
                headers: Default::default(),
                timestamp: now,
            });
            ids.push(id);
        }
        let sends = partitions
            .iter()
            .zip(per_partition)
            .map(|(client, records)| client.produce(records, Compression::NoCompression));
        futures::future::try_join_all(sends).await?;
        let _: u64 = redis.xack(stream.as_str(), group.as_str(), ids).await?;
    }
    Ok(())
}

/// FNV-1a of the key: spreads keyed records over the partitions (the worker uses Kafka's
/// murmur2; either costs nothing next to the I/O).
fn partition_of(key: &[u8], partitions: usize) -> usize {
    let hash = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    usize::try_from(hash % partitions.max(1) as u64).unwrap_or(0)
}
