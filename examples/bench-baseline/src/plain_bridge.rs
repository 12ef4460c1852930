//! The plainer Kafka -> Redis bridge, the one a user writes in an afternoon: for each
//! partition its own loop over rskafka's `StreamConsumer` (its defaults, with a 50 ms fetch
//! wait), taking whatever records are ready, up to 2000, and writing them to Redis as one fred
//! pipeline of `SET`s; all partitions run at once, each with its own batch in flight. STRING
//! only (the scenario it is the baseline of). It keeps no offsets: it starts at the earliest
//! record, as a new connector does.

use std::sync::Arc;

use bytes::Bytes;
use fred::prelude::{Client, KeysInterface};
use fred::types::Value;
use futures::StreamExt;
use rskafka::client::consumer::{StartOffset, StreamConsumerBuilder};
use rskafka::client::partition::PartitionClient;

use crate::common::{self, Result};
use crate::Args;

/// The most records one pipeline takes.
const BATCH: usize = 2000;
/// How long the broker may hold a fetch.
const FETCH_WAIT_MS: i32 = 50;

pub async fn run(args: &Args) -> Result<()> {
    let kind = args.get("type")?;
    if !kind.eq_ignore_ascii_case("string") {
        return Err(format!("--type {kind}: the plain bridge writes string only").into());
    }
    let topic = args.get("topic")?;
    let keyspace = args.get("keyspace")?.to_owned();
    let kafka = common::kafka(args.get("kafka")?).await?;
    let redis = common::redis(args.get("redis")?).await?;
    let mut tasks = Vec::new();
    for partition in common::partition_clients(&kafka, topic).await? {
        tasks.push(tokio::spawn(copy_partition(
            partition,
            redis.clone(),
            keyspace.clone(),
        )));
    }
    for result in futures::future::join_all(tasks).await {
        result??;
    }
    Ok(())
}

/// Copies one partition's records into Redis, a ready batch at a time.
async fn copy_partition(partition: PartitionClient, redis: Client, keyspace: String) -> Result<()> {
    let consumer = StreamConsumerBuilder::new(Arc::new(partition), StartOffset::Earliest)
        .with_max_wait_ms(FETCH_WAIT_MS)
        .build();
    let mut batches = consumer.ready_chunks(BATCH);
    while let Some(batch) = batches.next().await {
        let pipe = redis.pipeline();
        for item in batch {
            let (record, _high_watermark) = item?;
            let (Some(key), Some(value)) = (record.record.key, record.record.value) else {
                continue;
            };
            let key = Bytes::from(format!("{keyspace}:{}", String::from_utf8_lossy(&key)));
            pipe.set::<(), _, _>(key, Bytes::from(value), None, None, false)
                .await?;
        }
        let _: Value = pipe.all().await?;
    }
    Ok(())
}
