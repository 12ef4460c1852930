//! The hand-written Kafka -> Redis bridge: for each partition, a fetch loop reading one batch
//! ahead of a writer that sends each fetched batch to Redis as one pipeline.
//!
//! Fetch requests are small (a few hundred bytes) and responses come from the broker, so
//! rskafka's delayed-ACK trap (request bodies between ~8 KiB and 64 KiB) never applies here.

use bytes::Bytes;
use fred::prelude::{Client, HashesInterface, KeysInterface, StreamsInterface};
use fred::types::{Key, Value};
use rskafka::client::partition::PartitionClient;
use rskafka::record::RecordAndOffset;
use tokio::sync::mpsc;

use crate::common::{self, Result};
use crate::Args;

/// The most bytes one fetch of a partition returns: the worker's `max.partition.fetch.bytes`.
const FETCH_BYTES: i32 = 1024 * 1024;
/// The most commands in one Redis pipeline: a fetched batch (up to ~13,000 records) goes in
/// a few pipelines, which bounds the memory fred's queued commands take.
const PIPELINE: usize = 1000;
/// How long the broker may hold a fetch when there is nothing new (`--fetch-wait-ms`): the
/// worker's `fetch.max.wait.ms`.
const FETCH_WAIT_MS: i32 = 500;

#[derive(Debug, Clone, Copy)]
enum Kind {
    String,
    Hash,
    Stream,
}

pub async fn run(args: &Args) -> Result<()> {
    let kind = match args.get("type")?.to_ascii_lowercase().as_str() {
        "string" => Kind::String,
        "hash" => Kind::Hash,
        "stream" => Kind::Stream,
        other => return Err(format!("--type {other}: string, hash or stream").into()),
    };
    let keyspace = args.get("keyspace")?.to_owned();
    let wait_ms = args.num("fetch-wait-ms", FETCH_WAIT_MS)?;
    let kafka = common::kafka(args.get("kafka")?).await?;
    let redis = common::redis(args.get("redis")?).await?;
    let mut tasks = Vec::new();
    for partition in common::partition_clients(&kafka, args.get("topic")?).await? {
        let (tx, rx) = mpsc::channel(1);
        tasks.push(tokio::spawn(fetch(partition, wait_ms, tx)));
        tasks.push(tokio::spawn(write(
            redis.clone(),
            kind,
            keyspace.clone(),
            rx,
        )));
    }
    for result in futures::future::join_all(tasks).await {
        result??;
    }
    Ok(())
}

async fn fetch(
    partition: PartitionClient,
    wait_ms: i32,
    tx: mpsc::Sender<Vec<RecordAndOffset>>,
) -> Result<()> {
    let mut offset = 0;
    loop {
        let (records, _high_watermark) = partition
            .fetch_records(offset, 1..FETCH_BYTES, wait_ms)
            .await?;
        let records: Vec<RecordAndOffset> =
            records.into_iter().filter(|r| r.offset >= offset).collect();
        if let Some(last) = records.last() {
            offset = last.offset + 1;
            if tx.send(records).await.is_err() {
                return Ok(());
            }
        }
    }
}

async fn write(
    redis: Client,
    kind: Kind,
    keyspace: String,
    mut rx: mpsc::Receiver<Vec<RecordAndOffset>>,
) -> Result<()> {
    while let Some(records) = rx.recv().await {
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            write_pipeline(&redis, kind, &keyspace, records.by_ref().take(PIPELINE)).await?;
        }
    }
    Ok(())
}

/// Sends records to Redis as one pipeline (one write, one round trip).
async fn write_pipeline(
    redis: &Client,
    kind: Kind,
    keyspace: &str,
    records: impl Iterator<Item = RecordAndOffset>,
) -> Result<()> {
    let pipe = redis.pipeline();
    for r in records {
        let (Some(key), Some(value)) = (r.record.key, r.record.value) else {
            continue;
        };
        // Commands on a pipeline are queued in memory; `all` sends them in one write.
        match kind {
            Kind::String => {
                pipe.set::<(), _, _>(
                    prefixed(keyspace, &key),
                    Bytes::from(value),
                    None,
                    None,
                    false,
                )
                .await?;
            }
            Kind::Hash => {
                pipe.hset::<(), _, _>(prefixed(keyspace, &key), fields(&value)?)
                    .await?;
            }
            Kind::Stream => {
                pipe.xadd::<(), _, _, _, _>(keyspace, false, None, "*", fields(&value)?)
                    .await?;
            }
        }
    }
    let _: Value = pipe.all().await?;
    Ok(())
}

/// `keyspace:key`, as the worker's Redis sink names keys.
fn prefixed(keyspace: &str, key: &[u8]) -> Key {
    let mut out = Vec::with_capacity(keyspace.len() + 1 + key.len());
    out.extend_from_slice(keyspace.as_bytes());
    out.push(b':');
    out.extend_from_slice(key);
    Key::from(Bytes::from(out))
}

/// A JSON object's fields as Redis field/value pairs: strings as they are, other values as
/// JSON text, nulls left out (the worker's HASH and STREAM encoding).
fn fields(value: &[u8]) -> Result<Vec<(String, String)>> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(value)?;
    Ok(object
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_text() {
        let f = fields(br#"{"id":7,"user":"u","n":null,"ok":true}"#).expect("an object");
        assert_eq!(
            f,
            [("id", "7"), ("user", "u"), ("ok", "true")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
