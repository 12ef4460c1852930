//! Data set up before the clock starts, and the wait that stops it for source runs.

use std::time::{Duration, Instant};

use chrono::Utc;
use fred::prelude::StreamsInterface;
use fred::types::Value;
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{Compression, OffsetAt};
use rskafka::record::Record;

use crate::common::{self, json_value, stream_fields, Result};
use crate::Args;

/// Records per produce request: ~400 KiB, far above the delayed-ACK window.
const PRODUCE_CHUNK: u64 = 5000;

/// Creates `--topic` with `--partitions` partitions (an existing one is left as it is).
pub async fn create_topic(args: &Args) -> Result<()> {
    let kafka = common::kafka(args.get("kafka")?).await?;
    let partitions: i32 = args.num("partitions", 4)?;
    match kafka
        .controller_client()?
        .create_topic(args.get("topic")?, partitions, 1, 30_000)
        .await
    {
        Ok(())
        | Err(KafkaError::ServerError {
            protocol_error: ProtocolError::TopicAlreadyExists,
            ..
        }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates `--topic` and writes `--count` records to it: key = the sequence number, value =
/// [`json_value`], record `seq` in partition `seq % partitions`. Prints
/// `{"records": N, "bytes": B}`, B being the bytes of the keys and values.
pub async fn produce(args: &Args) -> Result<()> {
    create_topic(args).await?;
    let count: u64 = args.num("count", 1_000_000)?;
    let kafka = common::kafka(args.get("kafka")?).await?;
    let partitions = common::partition_clients(&kafka, args.get("topic")?).await?;
    let n = partitions.len() as u64;
    let sends = partitions
        .into_iter()
        .enumerate()
        .map(|(p, client)| async move {
            let mut bytes = 0;
            let mut seq = p as u64;
            while seq < count {
                let mut records = Vec::new();
                while seq < count && (records.len() as u64) < PRODUCE_CHUNK {
                    let (key, value) = (seq.to_string(), json_value(seq));
                    bytes += key.len() + value.len();
                    records.push(Record {
                        key: Some(key.into_bytes()),
                        value: Some(value.into_bytes()),
                        headers: Default::default(),
                        timestamp: Utc::now(),
                    });
                    seq += n;
                }
                client.produce(records, Compression::NoCompression).await?;
            }
            Result::Ok(bytes)
        });
    let bytes: usize = futures::future::try_join_all(sends)
        .await?
        .into_iter()
        .sum();
    println!("{}", serde_json::json!({"records": count, "bytes": bytes}));
    Ok(())
}

/// Appends `--count` entries to the stream `--stream` (pipelined, 10,000 a round trip). Prints
/// `{"records": N, "bytes": B}`, B being the bytes of the field names and values.
pub async fn fill_stream(args: &Args) -> Result<()> {
    let count: u64 = args.num("count", 1_000_000)?;
    let stream = args.get("stream")?;
    let redis = common::redis(args.get("redis")?).await?;
    let (mut seq, mut bytes) = (0, 0);
    while seq < count {
        let pipe = redis.pipeline();
        let end = (seq + 10_000).min(count);
        for s in seq..end {
            let fields = stream_fields(s);
            bytes += fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
            pipe.xadd::<(), _, _, _, _>(stream, false, None, "*", fields)
                .await?;
        }
        let _: Value = pipe.all().await?;
        seq = end;
    }
    println!("{}", serde_json::json!({"records": count, "bytes": bytes}));
    Ok(())
}

/// Returns once the partitions of `--topic` hold `--count` records in all.
///
/// tansu's memory engine answers ListOffsets(Latest) with the last batch's base offset + 1, not
/// the end of the log; only a fetch's high watermark is exact. Fetches cost the broker real
/// work, so this polls ListOffsets (cheap) every 10 ms and fetches (to read the exact high
/// watermark) only when nothing was written since the last poll.
pub async fn wait_topic(args: &Args) -> Result<()> {
    let count: i64 = args.num("count", 1_000_000)?;
    let deadline = Instant::now() + Duration::from_secs(args.num("timeout", 600)?);
    let kafka = common::kafka(args.get("kafka")?).await?;
    let partitions = common::partition_clients(&kafka, args.get("topic")?).await?;
    let mut last_seen = vec![-1; partitions.len()];
    let mut watermarks = vec![0; partitions.len()];
    loop {
        let mut moving = false;
        for (i, client) in partitions.iter().enumerate() {
            let latest = client.get_offset(OffsetAt::Latest).await?;
            moving |= latest != last_seen[i];
            last_seen[i] = latest;
        }
        if !moving {
            for (i, client) in partitions.iter().enumerate() {
                let (_, high_watermark) = client.fetch_records(watermarks[i], 1..2, 1).await?;
                watermarks[i] = high_watermark;
            }
            let total: i64 = watermarks.iter().sum();
            if total >= count {
                println!("{total}");
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the topic holds {watermarks:?} records, not {count}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
