//! A key's current state, read atomically by a Lua script, as the Java connector's value struct
//! `com.redis.kafka.connect.keys.Value`.

use std::sync::{Arc, OnceLock};

use connect_core::data::{Field, Schema, Struct, Text, Value};
use fred::types::Value as Reply;

use crate::source::reply::{self, array, pairs, text, BadReply};

/// The name of the value's struct schema, as in the Java connector.
pub const VALUE_SCHEMA_NAME: &str = "com.redis.kafka.connect.keys.Value";
/// How many of a stream's newest entries the value holds.
pub const STREAM_ENTRIES: usize = 100;

/// Reads type, TTL and value in one step, so that they belong together (the key may change
/// between separate commands). `TYPE` answers a status reply, which Lua sees as `{ok=...}`.
pub(crate) const READ_SCRIPT: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
local ttl = redis.call('PTTL', KEYS[1])
local v = false
if t == 'string' then v = redis.call('GET', KEYS[1])
elseif t == 'hash' then v = redis.call('HGETALL', KEYS[1])
elseif t == 'list' then v = redis.call('LRANGE', KEYS[1], 0, -1)
elseif t == 'set' then v = redis.call('SMEMBERS', KEYS[1])
elseif t == 'zset' then v = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
elseif t == 'stream' then v = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', tonumber(ARGV[1]))
elseif t == 'ReJSON-RL' then v = redis.call('JSON.GET', KEYS[1])
end
return {t, ttl, v}
";

fn optional_string_map() -> Arc<Schema> {
    Arc::new(Schema::map(Schema::string(), Schema::string()).optional())
}

fn optional_string_array() -> Arc<Schema> {
    Arc::new(Schema::array(Schema::string()).optional())
}

/// The stream entries' schema: `{id, body}`.
fn entry_schema() -> Arc<Schema> {
    Arc::new(Schema::structure(vec![
        Field::new("id", Schema::string()),
        Field::new("body", Schema::map(Schema::string(), Schema::string())),
    ]))
}

/// `com.redis.kafka.connect.keys.Value`: the Java connector's fields in its order (key, ttl,
/// type, hash, string, json, list, set, zset), then ours (stream). Differences: `zset` maps
/// members to scores (the Java connector maps scores to members, which loses members with
/// equal scores), and `ttl` is null for a key without expiry.
pub fn value_schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(
                Schema::structure(vec![
                    Field::new("key", Schema::string()),
                    Field::new("ttl", Schema::optional_int64()),
                    Field::new("type", Schema::string()),
                    Field::new("hash", optional_string_map()),
                    Field::new("string", Schema::optional_string()),
                    Field::new("json", Schema::optional_string()),
                    Field::new("list", optional_string_array()),
                    Field::new("set", optional_string_array()),
                    Field::new(
                        "zset",
                        Arc::new(Schema::map(Schema::string(), Schema::float64()).optional()),
                    ),
                    Field::new("stream", Arc::new(Schema::array(entry_schema()).optional())),
                ])
                .named(VALUE_SCHEMA_NAME),
            )
        })
        .clone()
}

/// A key's state as the script read it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeyState {
    /// The key does not exist (deleted, expired, evicted): a tombstone.
    Gone,
    /// The key's value struct.
    Present(Struct),
}

/// Reads the script's reply for `key`; `now` (ms since the epoch) turns the remaining time to
/// live into an expiry time.
pub(crate) fn key_state(key: &Text, reply: Reply, now: i64) -> Result<KeyState, BadReply> {
    let mut parts = array(reply)?.into_iter();
    let kind = text(parts.next().unwrap_or(Reply::Null))?;
    if kind == "none" {
        return Ok(KeyState::Gone);
    }
    let ttl = match parts.next() {
        Some(Reply::Integer(ms)) if ms > 0 => Value::Int64(now.saturating_add(ms)),
        _ => Value::Null,
    };
    let value = parts.next().unwrap_or(Reply::Null);
    let type_name: Text = match kind.as_ref() {
        "ReJSON-RL" => "json".into(),
        "TSDB-TYPE" => "timeseries".into(),
        _ => kind.clone(),
    };
    let mut fields = vec![
        Value::Null; // hash, string, json, list, set, zset, stream
        7
    ];
    let strings = |reply: Reply| -> Result<Value, BadReply> {
        Ok(Value::Array(
            array(reply)?
                .into_iter()
                .map(|r| text(r).map(Value::String))
                .collect::<Result<_, _>>()?,
        ))
    };
    match type_name.as_ref() {
        "hash" => {
            fields[0] = Value::Map(
                pairs(value)?
                    .into_iter()
                    .map(|(k, v)| Ok((Value::String(text(k)?), Value::String(text(v)?))))
                    .collect::<Result<_, BadReply>>()?,
            )
        }
        "string" => fields[1] = Value::String(text(value)?),
        "json" => fields[2] = Value::String(text(value)?),
        "list" => fields[3] = strings(value)?,
        "set" => fields[4] = strings(value)?,
        "zset" => {
            fields[5] = Value::Map(
                pairs(value)?
                    .into_iter()
                    .map(|(member, score)| {
                        let score = text(score)?;
                        let score: f64 = score
                            .parse()
                            .map_err(|_| BadReply(format!("'{score}' is not a score")))?;
                        Ok((Value::String(text(member)?), Value::Float64(score)))
                    })
                    .collect::<Result<_, BadReply>>()?,
            )
        }
        "stream" => {
            let mut entries = reply::entries(value)?;
            entries.reverse(); // XREVRANGE: newest first
            fields[6] = Value::Array(
                entries
                    .into_iter()
                    .map(|e| {
                        let body = e.fields.unwrap_or_default();
                        Value::Struct(
                            Struct::new()
                                .with("id", e.id)
                                .with("body", Value::Map(body)),
                        )
                    })
                    .collect(),
            )
        }
        _ => {} // a module type without a reader: its type and TTL only
    }
    let mut value = Struct::with_capacity(10)
        .with("key", key.clone())
        .with("ttl", ttl)
        .with("type", type_name);
    for (name, field) in ["hash", "string", "json", "list", "set", "zset", "stream"]
        .into_iter()
        .zip(fields)
    {
        value.put(name, field);
    }
    Ok(KeyState::Present(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Reply {
        Reply::String(text.into())
    }

    fn state(reply: Vec<Reply>) -> Struct {
        match key_state(&"k".into(), Reply::Array(reply), 1_000).unwrap() {
            KeyState::Present(value) => {
                assert!(value_schema()
                    .validate(&Value::Struct(value.clone()))
                    .is_ok());
                value
            }
            KeyState::Gone => panic!("gone"),
        }
    }

    #[test]
    fn strings_and_ttls() {
        let v = state(vec![s("string"), Reply::Integer(500), s("hello")]);
        assert_eq!(v.get("key"), Some(&Value::from("k")));
        assert_eq!(v.get("ttl"), Some(&Value::Int64(1_500)));
        assert_eq!(v.get("type"), Some(&Value::from("string")));
        assert_eq!(v.get("string"), Some(&Value::from("hello")));
        assert_eq!(v.get("hash"), Some(&Value::Null));
        let v = state(vec![s("string"), Reply::Integer(-1), s("x")]);
        assert_eq!(v.get("ttl"), Some(&Value::Null));
        let schema = value_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["key", "ttl", "type", "hash", "string", "json", "list", "set", "zset", "stream"]
        );
    }

    #[test]
    fn collections() {
        let v = state(vec![
            s("hash"),
            Reply::Integer(-1),
            Reply::Array(vec![s("f"), s("1")]),
        ]);
        assert_eq!(
            v.get("hash").and_then(|h| h.get("f")),
            Some(&Value::from("1"))
        );
        let v = state(vec![
            s("list"),
            Reply::Integer(-1),
            Reply::Array(vec![s("a"), s("b")]),
        ]);
        assert_eq!(
            v.get("list"),
            Some(&Value::Array(vec!["a".into(), "b".into()]))
        );
        let v = state(vec![
            s("set"),
            Reply::Integer(-1),
            Reply::Array(vec![s("a")]),
        ]);
        assert_eq!(v.get("set"), Some(&Value::Array(vec!["a".into()])));
        let v = state(vec![
            s("zset"),
            Reply::Integer(-1),
            Reply::Array(vec![s("m1"), s("1.5"), s("m2"), s("1.5")]),
        ]);
        let Some(Value::Map(zset)) = v.get("zset") else {
            panic!()
        };
        assert_eq!(zset.len(), 2, "equal scores keep both members");
        assert_eq!(zset[1], (Value::from("m2"), Value::Float64(1.5)));
    }

    #[test]
    fn streams_json_modules_and_gone_keys() {
        let entry = |id: &str| Reply::Array(vec![s(id), Reply::Array(vec![s("f"), s("v")])]);
        let v = state(vec![
            s("stream"),
            Reply::Integer(-1),
            Reply::Array(vec![entry("2-0"), entry("1-0")]),
        ]);
        let Some(Value::Array(entries)) = v.get("stream") else {
            panic!()
        };
        assert_eq!(entries[0].get("id"), Some(&Value::from("1-0")));
        let v = state(vec![s("ReJSON-RL"), Reply::Integer(-1), s("{\"a\":1}")]);
        assert_eq!(v.get("type"), Some(&Value::from("json")));
        assert_eq!(v.get("json"), Some(&Value::from("{\"a\":1}")));
        let v = state(vec![s("TSDB-TYPE"), Reply::Integer(-1)]);
        assert_eq!(v.get("type"), Some(&Value::from("timeseries")));
        assert_eq!(
            key_state(
                &"k".into(),
                Reply::Array(vec![s("none"), Reply::Integer(-2)]),
                0
            )
            .unwrap(),
            KeyState::Gone
        );
        assert!(key_state(&"k".into(), s("x"), 0).is_err());
    }
}
