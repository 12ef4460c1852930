//! The hand-written Kafka -> Redis bridge: for each partition, a fetch loop reading one batch
//! ahead of a writer that sends the fetched records to Redis in pipelines of up to 1000
//! commands (one fred client for all: measured faster on 2 cores than one per partition).
//!
//! With `--transaction true` each pipeline is wrapped in `MULTI ... EXEC` together with an
//! `HSET` of the partition's next offset (as the worker's exactly-once Redis sink does), sent
//! as one pipeline: the ceiling for exactly-once.
//!
//! Fetch requests are small (a few hundred bytes) and responses come from the broker, so
//! rskafka's delayed-ACK trap (request bodies between ~8 KiB and 64 KiB) never applies here.

use bytes::Bytes;
use fred::prelude::{Client, ClientLike, HashesInterface, KeysInterface, StreamsInterface};
use fred::types::{ClusterHash, CustomCommand, Key, Value};
use rskafka::client::partition::PartitionClient;
use rskafka::record::RecordAndOffset;
use tokio::sync::mpsc;

use crate::common::{self, Result};
use crate::Args;

/// The most bytes one fetch of a partition returns: the worker's default
/// `max.partition.fetch.bytes` (`FetchConfig` in connect-worker/src/kafka/fetcher.rs).
const FETCH_BYTES: i32 = 256 * 1024;
/// The most records in one Redis pipeline: a fetched batch (up to ~3,300 records) goes in a
/// few pipelines, which bounds the memory fred's queued commands take.
const PIPELINE: usize = 1000;
/// How long the broker may hold a fetch (`--fetch-wait-ms`): the worker's default
/// `fetch.max.wait.ms`. tansu sleeps out the wait even when it found records, so this is also
/// the least time a fetch takes.
const FETCH_WAIT_MS: i32 = 25;
/// Where `--transaction true` keeps the offsets (field `topic/partition`).
const OFFSETS_KEY: &str = "connect:offsets:bridge";

#[derive(Debug, Clone, Copy)]
enum Kind {
    String,
    Hash,
    Stream,
}

/// Writes one partition's records.
#[derive(Debug, Clone)]
struct Writer {
    redis: Client,
    kind: Kind,
    keyspace: String,
    /// `topic/partition` when each pipeline is a transaction with the offsets.
    offsets_field: Option<String>,
}

pub async fn run(args: &Args) -> Result<()> {
    let kind = match args.get("type")?.to_ascii_lowercase().as_str() {
        "string" => Kind::String,
        "hash" => Kind::Hash,
        "stream" => Kind::Stream,
        other => return Err(format!("--type {other}: string, hash or stream").into()),
    };
    let topic = args.get("topic")?;
    let transaction = args.get("transaction").is_ok_and(|t| t == "true");
    let wait_ms = args.num("fetch-wait-ms", FETCH_WAIT_MS)?;
    let kafka = common::kafka(args.get("kafka")?).await?;
    let redis = common::redis(args.get("redis")?).await?;
    let mut tasks = Vec::new();
    for partition in common::partition_clients(&kafka, topic).await? {
        let writer = Writer {
            redis: redis.clone(),
            kind,
            keyspace: args.get("keyspace")?.to_owned(),
            offsets_field: transaction.then(|| format!("{topic}/{}", partition.partition())),
        };
        let (tx, rx) = mpsc::channel(1);
        tasks.push(tokio::spawn(fetch(partition, wait_ms, tx)));
        tasks.push(tokio::spawn(writer.run(rx)));
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

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Vec<RecordAndOffset>>) -> Result<()> {
        while let Some(records) = rx.recv().await {
            let mut records = records.into_iter().peekable();
            while records.peek().is_some() {
                self.write(records.by_ref().take(PIPELINE).collect())
                    .await?;
            }
        }
        Ok(())
    }

    /// Sends records to Redis as one pipeline (one write, one round trip).
    async fn write(&self, records: Vec<RecordAndOffset>) -> Result<()> {
        let next_offset = records.last().map(|r| r.offset + 1);
        let pipe = self.redis.pipeline();
        if self.offsets_field.is_some() {
            pipe.custom::<(), Value>(command("MULTI"), vec![]).await?;
        }
        // Commands on a pipeline are queued in memory; `all` sends them in one write.
        for r in records {
            let (Some(key), Some(value)) = (r.record.key, r.record.value) else {
                continue;
            };
            match self.kind {
                Kind::String => {
                    let value = Bytes::from(value);
                    pipe.set::<(), _, _>(self.key(&key), value, None, None, false)
                        .await?;
                }
                Kind::Hash => {
                    pipe.hset::<(), _, _>(self.key(&key), fields(&value)?)
                        .await?;
                }
                Kind::Stream => {
                    let (stream, fields) = (self.keyspace.as_str(), fields(&value)?);
                    pipe.xadd::<(), _, _, _, _>(stream, false, None, "*", fields)
                        .await?;
                }
            }
        }
        if let (Some(field), Some(next)) = (&self.offsets_field, next_offset) {
            pipe.hset::<(), _, _>(OFFSETS_KEY, (field.as_str(), next.to_string()))
                .await?;
            pipe.custom::<(), Value>(command("EXEC"), vec![]).await?;
            let replies: Vec<Value> = pipe.all().await?;
            if replies.last().is_none_or(Value::is_null) {
                return Err("EXEC was aborted".into());
            }
        } else {
            let _: Value = pipe.all().await?;
        }
        Ok(())
    }

    /// `keyspace:key`, as the worker's Redis sink names keys.
    fn key(&self, key: &[u8]) -> Key {
        let mut out = Vec::with_capacity(self.keyspace.len() + 1 + key.len());
        out.extend_from_slice(self.keyspace.as_bytes());
        out.push(b':');
        out.extend_from_slice(key);
        Key::from(Bytes::from(out))
    }
}

fn command(name: &'static str) -> CustomCommand {
    CustomCommand::new_static(name, ClusterHash::FirstKey, false)
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
