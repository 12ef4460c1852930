//! Reading the replies of the commands the sources send as custom commands (fred's typed stream
//! replies reject the nil bodies of deleted entries). RESP2 and RESP3 shapes are both read.
//! Pure functions, unit-tested here.

use bytes::Bytes;
use connect_core::data::{Text, Value};
use fred::types::Value as Reply;

use super::lossy_text;

/// A reply that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadReply(pub(crate) String);

impl std::fmt::Display for BadReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unexpected reply from Redis: {}", self.0)
    }
}

fn bad(what: &str, reply: &Reply) -> BadReply {
    BadReply(format!("expected {what}, got {reply:?}"))
}

/// The bytes of a bulk string (or of a number, as text).
pub(crate) fn bytes(reply: Reply) -> Option<Bytes> {
    match reply {
        Reply::String(s) => Some(s.into_inner()),
        Reply::Bytes(b) => Some(b),
        Reply::Integer(n) => Some(Bytes::from(n.to_string())),
        Reply::Double(n) => Some(Bytes::from(n.to_string())),
        _ => None,
    }
}

/// A bulk string as text.
pub(crate) fn text(reply: Reply) -> Result<Text, BadReply> {
    match reply {
        Reply::String(_) | Reply::Bytes(_) | Reply::Integer(_) | Reply::Double(_) => {
            Ok(bytes(reply).map(lossy_text).unwrap_or_default())
        }
        other => Err(bad("a string", &other)),
    }
}

/// The items of an array; a nil is an empty array.
pub(crate) fn array(reply: Reply) -> Result<Vec<Reply>, BadReply> {
    match reply {
        Reply::Array(items) => Ok(items),
        Reply::Null => Ok(Vec::new()),
        other => Err(bad("an array", &other)),
    }
}

/// Key/value pairs: a RESP2 flat array `[k1, v1, k2, v2, ...]` or a RESP3 map.
pub(crate) fn pairs(reply: Reply) -> Result<Vec<(Reply, Reply)>, BadReply> {
    pairs_of(reply, Ok)
}

/// Key/value pairs, each key and value read with `item`: the items of a flat array are read
/// where they are, with no list of pairs in between (every stream entry's fields come so).
fn pairs_of<T>(
    reply: Reply,
    item: impl Fn(Reply) -> Result<T, BadReply>,
) -> Result<Vec<(T, T)>, BadReply> {
    match reply {
        Reply::Map(map) => map
            .inner()
            .into_iter()
            .map(|(k, v)| Ok((item(Reply::Bytes(k.into_bytes()))?, item(v)?)))
            .collect(),
        Reply::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(BadReply(format!(
                    "an odd number ({}) of items in a list of pairs",
                    items.len()
                )));
            }
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                out.push((item(k)?, item(v)?));
            }
            Ok(out)
        }
        Reply::Null => Ok(Vec::new()),
        other => Err(bad("pairs", &other)),
    }
}

/// A stream entry; `fields` is `None` for an entry deleted while it was pending (Redis then
/// returns its id with a nil body).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) id: Text,
    /// Each name and value a `Value::String`: read straight into the pairs of a record's map,
    /// with no vector of text pairs to convert per entry.
    pub(crate) fields: Option<Vec<(Value, Value)>>,
}

/// One entry: `[id, [field, value, ...] | nil]`.
fn entry(reply: Reply) -> Result<Entry, BadReply> {
    let mut parts = array(reply)?.into_iter();
    let (Some(id), body) = (parts.next(), parts.next()) else {
        return Err(BadReply("a stream entry without an id".into()));
    };
    let id = text(id)?;
    let fields = match body {
        None | Some(Reply::Null) => None,
        Some(body) => Some(pairs_of(body, |item| text(item).map(Value::String))?),
    };
    Ok(Entry { id, fields })
}

/// The entries of `XRANGE`-like replies.
pub(crate) fn entries(reply: Reply) -> Result<Vec<Entry>, BadReply> {
    array(reply)?.into_iter().map(entry).collect()
}

/// The reply of `XREAD`/`XREADGROUP`: entries by stream; empty when the block timed out.
pub(crate) fn xread(reply: Reply) -> Result<Vec<(Text, Vec<Entry>)>, BadReply> {
    match reply {
        Reply::Null => Ok(Vec::new()),
        Reply::Map(_) => pairs(reply)?
            .into_iter()
            .map(|(stream, list)| Ok((text(stream)?, entries(list)?)))
            .collect(),
        Reply::Array(streams) => streams
            .into_iter()
            .map(|item| {
                let mut parts = array(item)?.into_iter();
                match (parts.next(), parts.next()) {
                    (Some(stream), Some(list)) => Ok((text(stream)?, entries(list)?)),
                    _ => Err(BadReply("a stream without entries in XREAD's reply".into())),
                }
            })
            .collect(),
        other => Err(bad("XREAD's reply", &other)),
    }
}

/// The reply of `XAUTOCLAIM`: the cursor to go on from (`0-0` when the scan of the pending
/// entries is complete), the claimed entries and the ids of pending entries that no longer
/// exist (Redis 7 removes those from the pending list itself).
pub(crate) fn xautoclaim(reply: Reply) -> Result<(Text, Vec<Entry>, Vec<Text>), BadReply> {
    let mut parts = array(reply)?.into_iter();
    let (Some(cursor), Some(claimed)) = (parts.next(), parts.next()) else {
        return Err(BadReply("XAUTOCLAIM's reply has fewer than 2 parts".into()));
    };
    let deleted = match parts.next() {
        Some(ids) => array(ids)?
            .into_iter()
            .map(text)
            .collect::<Result<_, _>>()?,
        None => Vec::new(), // Redis 6.2 has no third part
    };
    // Claimed entries that were deleted come back as nil items in Redis 6.2.
    let claimed = array(claimed)?
        .into_iter()
        .filter(|r| !matches!(r, Reply::Null))
        .map(entry)
        .collect::<Result<_, _>>()?;
    Ok((text(cursor)?, claimed, deleted))
}

/// The reply of `SCAN`: the next cursor (`0` at the end) and the keys.
pub(crate) fn scan(reply: Reply) -> Result<(Text, Vec<Bytes>), BadReply> {
    let mut parts = array(reply)?.into_iter();
    let (Some(cursor), Some(keys)) = (parts.next(), parts.next()) else {
        return Err(BadReply("SCAN's reply has fewer than 2 parts".into()));
    };
    let keys = array(keys)?
        .into_iter()
        .map(|k| bytes(k).ok_or_else(|| BadReply("a key that is not a string".into())))
        .collect::<Result<_, _>>()?;
    Ok((text(cursor)?, keys))
}

/// An error reply's code, e.g. `BUSYGROUP`, `NOGROUP`.
pub(crate) fn error_code(error: &fred::error::Error) -> &str {
    error.details().split_whitespace().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Reply {
        Reply::String(text.into())
    }

    fn arr(items: Vec<Reply>) -> Reply {
        Reply::Array(items)
    }

    #[test]
    fn xread_resp2_with_a_deleted_entry() {
        let reply = arr(vec![
            arr(vec![
                s("orders"),
                arr(vec![
                    arr(vec![s("1-0"), arr(vec![s("a"), s("1"), s("b"), s("2")])]),
                    arr(vec![s("2-0"), Reply::Null]),
                ]),
            ]),
            arr(vec![s("other"), arr(vec![])]),
        ]);
        let streams = xread(reply).unwrap();
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[0].0, "orders");
        assert_eq!(
            streams[0].1[0],
            Entry {
                id: "1-0".into(),
                fields: Some(vec![("a".into(), "1".into()), ("b".into(), "2".into())]),
            }
        );
        assert_eq!(streams[0].1[1].fields, None);
        assert!(streams[1].1.is_empty());
        assert!(xread(Reply::Null).unwrap().is_empty());
    }

    #[test]
    fn xread_resp3_map() {
        let map = fred::types::Map::try_from(vec![(
            "s",
            arr(vec![arr(vec![s("5-1"), arr(vec![s("f"), s("v")])])]),
        )])
        .unwrap();
        let streams = xread(Reply::Map(map)).unwrap();
        assert_eq!(streams[0].0, "s");
        assert_eq!(streams[0].1[0].id, "5-1");
    }

    #[test]
    fn binary_values_are_read_lossily() {
        let reply = arr(vec![
            s("1-0"),
            arr(vec![s("f"), Reply::Bytes(Bytes::from_static(b"\xff"))]),
        ]);
        let e = entry(reply).unwrap();
        assert_eq!(e.fields.unwrap()[0].1, Value::from("\u{fffd}"));
    }

    #[test]
    fn xautoclaim_replies() {
        let reply = arr(vec![
            s("7-0"),
            arr(vec![
                arr(vec![s("3-0"), arr(vec![s("f"), s("v")])]),
                Reply::Null,
            ]),
            arr(vec![s("4-0")]),
        ]);
        let (cursor, claimed, deleted) = xautoclaim(reply).unwrap();
        assert_eq!(cursor, "7-0");
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, "3-0");
        assert_eq!(deleted, vec![Text::from("4-0")]);
        // Redis 6.2: two parts.
        let (cursor, claimed, deleted) = xautoclaim(arr(vec![s("0-0"), arr(vec![])])).unwrap();
        assert_eq!(
            (cursor.as_ref(), claimed.len(), deleted.len()),
            ("0-0", 0, 0)
        );
        assert!(xautoclaim(arr(vec![s("0-0")])).is_err());
    }

    #[test]
    fn scan_replies() {
        let (cursor, keys) = scan(arr(vec![s("17"), arr(vec![s("a"), s("b")])])).unwrap();
        assert_eq!(cursor, "17");
        assert_eq!(keys, vec![Bytes::from("a"), Bytes::from("b")]);
        assert!(scan(s("x")).is_err());
    }

    #[test]
    fn pairs_need_an_even_count() {
        assert!(pairs(arr(vec![s("a")])).is_err());
        assert_eq!(pairs(Reply::Null).unwrap().len(), 0);
    }
}
