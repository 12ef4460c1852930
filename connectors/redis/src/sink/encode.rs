//! Records into Redis commands, per `redis.type`; a record that does not fit is refused with
//! the reason, and becomes an errant record.

use std::collections::HashMap;

use bytes::Bytes;
use connect_core::data::{Text, Value};
use connect_core::record::SinkRecord;
use fred::types::Value as Arg;

use super::config::{RedisType, SinkConfig, TTL_HEADER};
use super::template::{write_text, Template};

/// One Redis command: its name and arguments, the key first.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The command's name, e.g. `SET`.
    pub name: &'static str,
    /// Its arguments.
    pub args: Vec<Arg>,
}

impl Command {
    fn new(name: &'static str, args: Vec<Arg>) -> Self {
        Self { name, args }
    }

    /// The key the command writes.
    pub fn key(&self) -> Option<&Arg> {
        self.args.first()
    }
}

/// Turns records into commands, keeping the keyspace of each topic between batches.
#[derive(Debug)]
pub struct Encoder {
    ty: RedisType,
    keyspace: Template,
    separator: Bytes,
    key_template: Option<Template>,
    push_left: bool,
    counter_field: Option<Arg>,
    ttl: Option<i64>,
    /// The rendered keyspace by topic, when it depends on the topic alone.
    keyspaces: HashMap<Text, Bytes>,
    buffer: Vec<u8>,
}

fn word(s: &'static str) -> Arg {
    Arg::from_static_str(s)
}

impl Encoder {
    /// An encoder for this configuration.
    pub fn new(config: &SinkConfig) -> Self {
        Self {
            ty: config.ty,
            keyspace: config.keyspace.clone(),
            separator: Bytes::copy_from_slice(config.separator.as_bytes()),
            key_template: config.key_template.clone(),
            push_left: config.push_left,
            counter_field: config
                .counter_field
                .as_ref()
                .map(|f| Arg::Bytes(Bytes::copy_from_slice(f.as_bytes()))),
            ttl: config.ttl,
            keyspaces: HashMap::new(),
            buffer: Vec::new(),
        }
    }

    /// Appends the commands for `record` to `out` (none for a tombstone of a type that skips
    /// them); on error, appends nothing and returns why the record cannot be written.
    pub fn encode(&mut self, record: &SinkRecord, out: &mut Vec<Command>) -> Result<(), String> {
        let ty = self.ty;
        let key = self.key(record)?;
        let tombstone = record.value.is_null();
        let ttl = if tombstone { None } else { self.ttl(record)? };
        let start = out.len();
        match ty {
            RedisType::String => {
                if tombstone {
                    out.push(Command::new("DEL", vec![key]));
                } else {
                    let mut args = vec![key, text(&record.value, ty)?];
                    if let Some(ttl) = ttl {
                        args.extend([word("EX"), Arg::Integer(ttl)]);
                    }
                    out.push(Command::new("SET", args));
                    return Ok(());
                }
            }
            RedisType::Hash | RedisType::Stream => {
                if tombstone {
                    if ty == RedisType::Hash {
                        out.push(Command::new("DEL", vec![key]));
                    }
                } else if ty == RedisType::Hash {
                    let mut args = vec![key];
                    fields(&record.value, ty, &mut args)?;
                    out.push(Command::new("HSET", args));
                } else {
                    let mut args = vec![key, word("*")];
                    fields(&record.value, ty, &mut args)?;
                    out.push(Command::new("XADD", args));
                }
            }
            RedisType::Json => {
                if tombstone {
                    out.push(Command::new("DEL", vec![key]));
                } else {
                    out.push(Command::new(
                        "JSON.SET",
                        vec![key, word("$"), json(&record.value)?],
                    ));
                }
            }
            RedisType::List | RedisType::Set | RedisType::SortedSet => {
                let member = member(record, ty)?;
                out.push(match (ty, tombstone) {
                    (RedisType::List, false) => Command::new(
                        if self.push_left { "LPUSH" } else { "RPUSH" },
                        vec![key, member],
                    ),
                    (RedisType::List, true) => {
                        Command::new("LREM", vec![key, Arg::Integer(0), member])
                    }
                    (RedisType::Set, false) => Command::new("SADD", vec![key, member]),
                    (RedisType::Set, true) => Command::new("SREM", vec![key, member]),
                    (_, false) => {
                        Command::new("ZADD", vec![key, number(&record.value, ty)?, member])
                    }
                    (_, true) => Command::new("ZREM", vec![key, member]),
                });
            }
            RedisType::TimeSeries => {
                if !tombstone {
                    let timestamp = match record.key.as_i64() {
                        Some(t) => Arg::Integer(t),
                        None => match record.timestamp {
                            Some(t) => Arg::Integer(t),
                            None => word("*"),
                        },
                    };
                    out.push(Command::new(
                        "TS.ADD",
                        vec![key, timestamp, number(&record.value, ty)?],
                    ));
                }
            }
            RedisType::Counter => {
                let field = self.counter_field.clone();
                out.push(match (field, tombstone) {
                    (None, true) => Command::new("DEL", vec![key]),
                    (Some(field), true) => Command::new("HDEL", vec![key, field]),
                    (None, false) => {
                        Command::new("INCRBYFLOAT", vec![key, increment(&record.value)])
                    }
                    (Some(field), false) => {
                        Command::new("HINCRBYFLOAT", vec![key, field, increment(&record.value)])
                    }
                });
            }
            RedisType::PubSub => {
                if !tombstone {
                    out.push(Command::new("PUBLISH", vec![key, text(&record.value, ty)?]));
                }
                return Ok(());
            }
        }
        if let (Some(ttl), true) = (ttl, out.len() > start) {
            let key = out[start].args[0].clone();
            out.push(Command::new("EXPIRE", vec![key, Arg::Integer(ttl)]));
        }
        Ok(())
    }

    /// The Redis key of a record.
    fn key(&mut self, record: &SinkRecord) -> Result<Arg, String> {
        if let Some(template) = &self.key_template {
            self.buffer.clear();
            template.render(record, &mut self.buffer)?;
            return Ok(Arg::Bytes(Bytes::copy_from_slice(&self.buffer)));
        }
        let keyspace = self.keyspace(record)?;
        if !self.ty.key_per_record() {
            return Ok(Arg::Bytes(keyspace));
        }
        self.buffer.clear();
        if !keyspace.is_empty() {
            self.buffer.extend_from_slice(&keyspace);
            self.buffer.extend_from_slice(&self.separator);
        }
        write_text(&record.key, &mut self.buffer).map_err(|()| {
            format!(
                "the record has no key, and redis.type={} names each Redis key after the record key",
                self.ty.name()
            )
        })?;
        Ok(Arg::Bytes(Bytes::copy_from_slice(&self.buffer)))
    }

    fn keyspace(&mut self, record: &SinkRecord) -> Result<Bytes, String> {
        if !self.keyspace.topic_only() {
            let mut out = Vec::new();
            self.keyspace.render(record, &mut out)?;
            return Ok(Bytes::from(out));
        }
        if let Some(keyspace) = self.keyspaces.get(&record.topic) {
            return Ok(keyspace.clone());
        }
        let mut out = Vec::new();
        self.keyspace.render(record, &mut out)?;
        let keyspace = Bytes::from(out);
        self.keyspaces
            .insert(record.topic.clone(), keyspace.clone());
        Ok(keyspace)
    }

    /// The record's TTL: its `redis.key.ttl` header, else the configured one.
    fn ttl(&self, record: &SinkRecord) -> Result<Option<i64>, String> {
        let Some(header) = record.headers.last(TTL_HEADER) else {
            return Ok(self.ttl);
        };
        let seconds = match &header.value {
            Value::String(s) => s.trim().parse::<i64>().ok(),
            Value::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
            other => other.as_i64(),
        };
        match seconds {
            Some(s) => Ok(Some(s).filter(|s| *s > 0)),
            None => Err(format!(
                "the header {TTL_HEADER} must be a whole number of seconds, got {}",
                header.value
            )),
        }
    }
}

/// A value as one Redis string.
fn text(value: &Value, ty: RedisType) -> Result<Arg, String> {
    Ok(match value {
        Value::String(s) => Arg::Bytes(s.as_bytes().clone()),
        Value::Bytes(b) => Arg::Bytes(b.clone()),
        other => {
            let mut out = Vec::new();
            write_text(other, &mut out)
                .map_err(|()| format!("redis.type={} cannot write a null value", ty.name()))?;
            Arg::Bytes(Bytes::from(out))
        }
    })
}

/// The field/value pairs of a map or struct, nested values as JSON text, null fields left out.
fn fields(value: &Value, ty: RedisType, args: &mut Vec<Arg>) -> Result<(), String> {
    let before = args.len();
    let mut push = |name: Arg, value: &Value| -> Result<(), String> {
        if !value.is_null() {
            args.push(name);
            args.push(text(value, ty)?);
        }
        Ok(())
    };
    match value {
        Value::Struct(s) => {
            for (name, value) in s.fields() {
                push(Arg::Bytes(name.as_bytes().clone()), value)?;
            }
        }
        Value::Map(entries) => {
            for (name, value) in entries {
                let name = text(name, ty).map_err(|_| "a map key is null".to_owned())?;
                push(name, value)?;
            }
        }
        other => {
            return Err(format!(
            "redis.type={} needs a map or struct value, got {} (with JsonConverter, a JSON object)",
            ty.name(),
            other.type_name()
        ))
        }
    }
    if args.len() == before {
        return Err(format!(
            "redis.type={} needs at least one non-null field",
            ty.name()
        ));
    }
    Ok(())
}

/// A value as a JSON document.
fn json(value: &Value) -> Result<Arg, String> {
    let bytes = match value {
        Value::String(s) => s.as_bytes().clone(),
        Value::Bytes(b) => b.clone(),
        other => return Ok(Arg::Bytes(Bytes::from(other.to_json_bytes()))),
    };
    match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        Ok(_) => Ok(Arg::Bytes(bytes)),
        Err(e) => Err(format!(
            "redis.type=JSON needs a JSON document, and the value is not JSON: {e}"
        )),
    }
}

/// The member of a LIST, SET or ZSET: the record key.
fn member(record: &SinkRecord, ty: RedisType) -> Result<Arg, String> {
    text(&record.key, ty).map_err(|_| {
        format!(
            "the record has no key, and redis.type={} adds the record key as the member",
            ty.name()
        )
    })
}

/// A number as Redis reads it, from a number or numeric text.
fn number(value: &Value, ty: RedisType) -> Result<Arg, String> {
    if let Some(n) = value.as_i64() {
        return Ok(Arg::Integer(n));
    }
    let parsed = match value {
        Value::Float32(_) | Value::Float64(_) => value.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        _ => None,
    };
    match parsed {
        Some(n) if !n.is_nan() => Ok(Arg::Bytes(Bytes::from(n.to_string()))),
        _ => Err(format!(
            "redis.type={} needs a numeric value, got {} '{}'",
            ty.name(),
            value.type_name(),
            value
        )),
    }
}

/// COUNTER's increment: the value when it is a number, else 1 (one more event).
fn increment(value: &Value) -> Arg {
    number(value, RedisType::Counter).unwrap_or(Arg::Integer(1))
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
