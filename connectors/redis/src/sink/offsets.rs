//! The Kafka offsets the sink keeps in Redis: one hash per connector
//! (`connect:offsets:<namespace>`), field `<topic>/<partition>`, value the next offset to
//! read. One key lives in one hash slot, so a batch can update it in a cluster too.

use std::collections::{BTreeMap, HashMap};

use connect_core::record::TopicPartition;
use connect_core::ConnectError;
use fred::prelude::{Client, HashesInterface, KeysInterface};
use fred::types::Value as Arg;

use crate::connection::redis_error;

/// The hash field of a partition. Kafka topic names cannot hold `/`.
pub fn field(tp: &TopicPartition) -> String {
    format!("{}/{}", tp.topic, tp.partition)
}

fn parse_field(field: &str) -> Option<TopicPartition> {
    let (topic, partition) = field.rsplit_once('/')?;
    Some(TopicPartition::new(topic, partition.parse().ok()?))
}

/// The `HSET` arguments (after the key) recording these offsets.
pub fn hset_args(offsets: &HashMap<TopicPartition, i64>) -> Vec<Arg> {
    let mut args = Vec::with_capacity(offsets.len() * 2);
    for (tp, next) in offsets {
        args.push(Arg::from(field(tp)));
        args.push(Arg::Integer(*next));
    }
    args
}

/// Every offset stored under `key`.
pub async fn load_all(
    client: &Client,
    key: &str,
) -> Result<HashMap<TopicPartition, i64>, ConnectError> {
    let stored: HashMap<String, String> = client
        .hgetall(key)
        .await
        .map_err(|e| redis_error(e, &format!("cannot read the Kafka offsets in '{key}'")))?;
    let mut offsets = HashMap::with_capacity(stored.len());
    for (field, value) in stored {
        match (parse_field(&field), value.parse::<i64>()) {
            (Some(tp), Ok(next)) => {
                offsets.insert(tp, next);
            }
            _ => tracing::warn!(
                key,
                field,
                value,
                "ignoring a field that is not a Kafka offset"
            ),
        }
    }
    Ok(offsets)
}

/// Removes every offset stored under `key`.
pub async fn reset(client: &Client, key: &str) -> Result<(), ConnectError> {
    client
        .del::<(), _>(key)
        .await
        .map_err(|e| redis_error(e, &format!("cannot delete the Kafka offsets in '{key}'")))
}

/// Sets (`Some`) or removes (`None`) the offsets of some partitions.
pub async fn alter(
    client: &Client,
    key: &str,
    changes: &BTreeMap<TopicPartition, Option<i64>>,
) -> Result<(), ConnectError> {
    let failed = |e| redis_error(e, &format!("cannot change the Kafka offsets in '{key}'"));
    let mut set = HashMap::new();
    let mut removed = Vec::new();
    for (tp, offset) in changes {
        match offset {
            Some(next) => {
                set.insert(tp.clone(), *next);
            }
            None => removed.push(field(tp)),
        }
    }
    if !removed.is_empty() {
        client
            .hdel::<(), _, _>(key, removed)
            .await
            .map_err(failed)?;
    }
    if !set.is_empty() {
        let args: Vec<(String, i64)> = set.iter().map(|(tp, o)| (field(tp), *o)).collect();
        client.hset::<(), _, _>(key, args).await.map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let tp = TopicPartition::new("orders.v1-x", 12);
        assert_eq!(field(&tp), "orders.v1-x/12");
        assert_eq!(parse_field(&field(&tp)), Some(tp));
        assert_eq!(parse_field("nope"), None);
        assert_eq!(parse_field("t/x"), None);
    }
}
