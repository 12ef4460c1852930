use bytes::Bytes;
use connect_core::config::{props, Config};
use connect_core::data::{Struct, Value};
use connect_core::record::{ConnectRecord, SinkRecord};
use fred::types::Value as Arg;

use super::*;
use crate::sink::config::SinkConfig;

fn encoder(pairs: &[(&str, &str)]) -> Encoder {
    let mut all = vec![("name", "test")];
    all.extend_from_slice(pairs);
    Encoder::new(&SinkConfig::parse(&props(&all)).unwrap())
}

fn record(key: impl Into<Value>, value: impl Into<Value>) -> SinkRecord {
    let mut r = ConnectRecord::new("orders", value);
    r.key = key.into();
    r.timestamp = Some(1_700_000_000_000);
    SinkRecord::new("orders".into(), 0, 5, r)
}

/// The commands as text, e.g. "SET orders:1 v".
fn encode(enc: &mut Encoder, r: &SinkRecord) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    enc.encode(r, &mut out)?;
    Ok(out
        .iter()
        .map(|c| {
            let args: Vec<String> = c
                .args
                .iter()
                .map(|a| match a {
                    Arg::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                    Arg::String(s) => s.to_string(),
                    Arg::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            format!("{} {}", c.name, args.join(" "))
        })
        .collect())
}

#[test]
fn string_keys_follow_keyspace_and_separator() {
    let mut e = encoder(&[("redis.type", "STRING")]);
    assert_eq!(
        encode(&mut e, &record("1", "v")).unwrap(),
        ["SET orders:1 v"]
    );
    let mut e = encoder(&[
        ("redis.type", "string"),
        ("redis.keyspace", "cache_${topic}"),
        ("redis.separator", "/"),
    ]);
    assert_eq!(
        encode(&mut e, &record(7i64, 3.5f64)).unwrap(),
        ["SET cache_orders/7 3.5"]
    );
    let mut e = encoder(&[("redis.type", "STRING"), ("redis.keyspace", "")]);
    assert_eq!(encode(&mut e, &record("raw", "v")).unwrap(), ["SET raw v"]);
    assert_eq!(
        encode(&mut e, &record("raw", Value::Null)).unwrap(),
        ["DEL raw"]
    );
    assert!(encode(&mut e, &record(Value::Null, "v"))
        .unwrap_err()
        .contains("no key"));
}

#[test]
fn bytes_pass_through_without_copy() {
    let mut e = encoder(&[("redis.type", "STRING")]);
    let payload = Bytes::from_static(b"\x00\x01binary");
    let mut out = Vec::new();
    e.encode(&record("k", Value::Bytes(payload.clone())), &mut out)
        .unwrap();
    match &out[0].args[1] {
        Arg::Bytes(b) => assert_eq!(b.as_ptr(), payload.as_ptr()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hash_and_stream_from_maps_and_structs() {
    let value = Struct::new()
        .with("id", 1i32)
        .with("name", "ann")
        .with("gone", Value::Null)
        .with("tags", Value::Array(vec!["a".into(), "b".into()]));
    let mut e = encoder(&[("redis.type", "HASH")]);
    assert_eq!(
        encode(&mut e, &record("u1", value.clone())).unwrap(),
        [r#"HSET orders:u1 id 1 name ann tags ["a","b"]"#]
    );
    assert_eq!(
        encode(&mut e, &record("u1", Value::Null)).unwrap(),
        ["DEL orders:u1"]
    );
    let err = encode(&mut e, &record("u1", "text")).unwrap_err();
    assert!(
        err.contains("HASH needs a map or struct value, got string"),
        "{err}"
    );
    assert!(encode(&mut e, &record("u1", Value::Map(vec![])))
        .unwrap_err()
        .contains("at least one"));

    let mut e = encoder(&[("redis.type", "STREAM"), ("redis.keyspace", "events")]);
    let map = Value::Map(vec![("a".into(), 1i64.into())]);
    assert_eq!(
        encode(&mut e, &record(Value::Null, map)).unwrap(),
        ["XADD events * a 1"]
    );
    assert!(encode(&mut e, &record("k", Value::Null))
        .unwrap()
        .is_empty());
}

#[test]
fn collections_use_the_record_key_as_member() {
    let mut e = encoder(&[("redis.type", "LIST"), ("redis.keyspace", "q")]);
    assert_eq!(encode(&mut e, &record("m", "x")).unwrap(), ["RPUSH q m"]);
    assert_eq!(
        encode(&mut e, &record("m", Value::Null)).unwrap(),
        ["LREM q 0 m"]
    );
    let mut e = encoder(&[
        ("redis.type", "LIST"),
        ("redis.keyspace", "q"),
        ("redis.list.direction", "LEFT"),
    ]);
    assert_eq!(encode(&mut e, &record("m", "x")).unwrap(), ["LPUSH q m"]);
    let mut e = encoder(&[("redis.type", "SET"), ("redis.keyspace", "s")]);
    assert_eq!(encode(&mut e, &record("m", "x")).unwrap(), ["SADD s m"]);
    assert_eq!(
        encode(&mut e, &record("m", Value::Null)).unwrap(),
        ["SREM s m"]
    );
    let mut e = encoder(&[("redis.type", "ZSET"), ("redis.keyspace", "z")]);
    assert_eq!(
        encode(&mut e, &record("m", 2.5f64)).unwrap(),
        ["ZADD z 2.5 m"]
    );
    assert_eq!(encode(&mut e, &record("m", "7")).unwrap(), ["ZADD z 7 m"]);
    assert_eq!(
        encode(&mut e, &record("m", Value::Null)).unwrap(),
        ["ZREM z m"]
    );
    let err = encode(&mut e, &record("m", "high")).unwrap_err();
    assert!(
        err.contains("ZSET needs a numeric value, got string 'high'"),
        "{err}"
    );
}

#[test]
fn timeseries_counter_pubsub_json() {
    let mut e = encoder(&[("redis.type", "TIMESERIES"), ("redis.keyspace", "temp")]);
    assert_eq!(
        encode(&mut e, &record(1000i64, 21.5f64)).unwrap(),
        ["TS.ADD temp 1000 21.5"]
    );
    assert_eq!(
        encode(&mut e, &record("x", 3i32)).unwrap(),
        ["TS.ADD temp 1700000000000 3"]
    );

    let mut e = encoder(&[("redis.type", "COUNTER")]);
    assert_eq!(
        encode(&mut e, &record("p", 5i64)).unwrap(),
        ["INCRBYFLOAT orders:p 5"]
    );
    assert_eq!(
        encode(&mut e, &record("p", Struct::new().with("a", 1i32))).unwrap(),
        ["INCRBYFLOAT orders:p 1"]
    );
    let mut e = encoder(&[("redis.type", "COUNTER"), ("redis.counter.field", "views")]);
    assert_eq!(
        encode(&mut e, &record("p", "2.5")).unwrap(),
        ["HINCRBYFLOAT orders:p views 2.5"]
    );
    assert_eq!(
        encode(&mut e, &record("p", Value::Null)).unwrap(),
        ["HDEL orders:p views"]
    );

    let mut e = encoder(&[("redis.type", "PUBSUB"), ("redis.keyspace", "chan")]);
    assert_eq!(
        encode(&mut e, &record("k", "hello")).unwrap(),
        ["PUBLISH chan hello"]
    );

    let mut e = encoder(&[("redis.type", "JSON")]);
    let doc = Value::Map(vec![("a".into(), 1i64.into())]);
    assert_eq!(
        encode(&mut e, &record("d", doc)).unwrap(),
        [r#"JSON.SET orders:d $ {"a":1}"#]
    );
    assert_eq!(
        encode(&mut e, &record("d", r#"{"b":[1]}"#)).unwrap(),
        [r#"JSON.SET orders:d $ {"b":[1]}"#]
    );
    assert!(encode(&mut e, &record("d", "not json"))
        .unwrap_err()
        .contains("not JSON"));
}

#[test]
fn ttl_from_config_and_header() {
    let mut e = encoder(&[("redis.type", "STRING"), ("redis.key.ttl", "60")]);
    assert_eq!(
        encode(&mut e, &record("k", "v")).unwrap(),
        ["SET orders:k v EX 60"]
    );
    let mut r = record("k", "v");
    r.record.headers.add("redis.key.ttl", "1800");
    assert_eq!(encode(&mut e, &r).unwrap(), ["SET orders:k v EX 1800"]);
    let mut r = record("k", "v");
    r.record.headers.add("redis.key.ttl", "-1");
    assert_eq!(encode(&mut e, &r).unwrap(), ["SET orders:k v"]);
    let mut r = record("k", "v");
    r.record.headers.add("redis.key.ttl", "soon");
    assert!(encode(&mut e, &r)
        .unwrap_err()
        .contains("whole number of seconds"));

    let mut e = encoder(&[("redis.type", "HASH"), ("redis.key.ttl", "5")]);
    let value = Struct::new().with("a", 1i32);
    assert_eq!(
        encode(&mut e, &record("k", value)).unwrap(),
        ["HSET orders:k a 1", "EXPIRE orders:k 5"]
    );
    assert_eq!(
        encode(&mut e, &record("k", Value::Null)).unwrap(),
        ["DEL orders:k"]
    );
}

#[test]
fn key_template_names_the_key() {
    let mut e = encoder(&[
        ("redis.type", "HASH"),
        ("redis.key.template", "user:${value.id}"),
    ]);
    let value = Struct::new().with("id", 9i32).with("n", "x");
    assert_eq!(
        encode(&mut e, &record(Value::Null, value)).unwrap(),
        ["HSET user:9 id 9 n x"]
    );
    let err = encode(&mut e, &record("k", Struct::new().with("n", "x"))).unwrap_err();
    assert!(err.contains("no field 'id'"), "{err}");
    let mut e = encoder(&[
        ("redis.type", "STREAM"),
        ("redis.key.template", "${topic}:${key}"),
    ]);
    let value = Struct::new().with("n", "x");
    assert_eq!(
        encode(&mut e, &record("k", value)).unwrap(),
        ["XADD orders:k * n x"]
    );
}

#[test]
fn bad_configs_are_refused() {
    let parse = |pairs: &[(&str, &str)]| {
        let mut all = vec![("name", "t")];
        all.extend_from_slice(pairs);
        SinkConfig::parse(&props(&all)).unwrap_err().to_string()
    };
    assert!(parse(&[("redis.type", "GRAPH")]).contains("redis.type"));
    assert!(parse(&[("redis.type", "LIST"), ("redis.keyspace", "")]).contains("empty"));
    assert!(parse(&[("redis.key.template", "${nope}")]).contains("unknown field"));
    assert!(parse(&[("redis.charset", "latin1")]).contains("redis.charset"));
    assert!(parse(&[("redis.uri", "http://x")]).contains("unknown scheme"));
}
