//! Kafka Connect's `JsonConverter`: JSON with the `{"schema": ..., "payload": ...}` envelope
//! (`schemas.enable=true`, the default) or plain JSON (`schemas.enable=false`).
//!
//! Reading an envelope: a small scanner finds the `schema` and `payload` members without
//! building anything; the schema text is looked up in a cache (so a topic's schema is parsed
//! once, not per record) and the payload is read straight into Connect values under it
//! ([`json_schema::decode`]). Anything the scanner does not expect (not an object, other
//! members, escaped member names) takes the careful path, which parses the whole text to give
//! the same errors and results as Kafka. Writing goes into one reused buffer that is copied
//! out once, so each record costs exactly one allocation: its output.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::json_schema::{self, join_path, Options};
use super::{Converter, SchemaAndValue};
use crate::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props, Validator, Width,
};
use crate::data::{Schema, Value};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;

const CLASS: &str = "org.apache.kafka.connect.json.JsonConverter";
const SCHEMAS_ENABLE: &str = "schemas.enable";
const SCHEMAS_CACHE_SIZE: &str = "schemas.cache.size";
const DECIMAL_FORMAT: &str = "decimal.format";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

/// A reused output buffer larger than this is not kept after a record.
const SCRATCH_KEEP: usize = 1 << 20;

/// The JSON converter, as a converter and a header converter (Kafka's is both).
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    super::converter_plugins(CLASS, config_def(), |props| {
        Ok(Box::new(JsonConverter::new(props)?) as Box<dyn Converter>)
    })
}

/// Kafka's `JsonConverterConfig` (its `converter.type` is implied by how we are built).
fn config_def() -> ConfigDef {
    let key = |name: &str,
               ty,
               default: &str,
               importance,
               doc: &str,
               group: &str,
               order,
               display: &str| {
        ConfigKey::new(name, ty)
            .default_value(default)
            .importance(importance)
            .doc(doc)
            .group(group, order)
            .width(Width::Medium)
            .display_name(display)
    };
    ConfigDef::new()
        .define(key(
            SCHEMAS_ENABLE,
            ConfigType::Boolean,
            "true",
            Importance::High,
            "Include schemas within each of the serialized values and keys.",
            "Schemas",
            0,
            "Enable Schemas",
        ))
        .define(
            key(
                SCHEMAS_CACHE_SIZE,
                ConfigType::Int,
                "1000",
                Importance::High,
                "The maximum number of schemas that can be cached in this converter instance.",
                "Schemas",
                1,
                "Schema Cache Size",
            ), // No validator, as in Kafka, where a negative size simply caches nothing.
        )
        .define(
            key(
                DECIMAL_FORMAT,
                ConfigType::String,
                "BASE64",
                Importance::Low,
                "Controls which format this converter will serialize decimals in. This value is \
                 case insensitive and can be either 'BASE64' (default) or 'NUMERIC'",
                "Serialization",
                0,
                "Decimal Format",
            )
            .validator(Validator::one_of_ignore_case(&["BASE64", "NUMERIC"])),
        )
        .define(key(
            REPLACE_NULL_WITH_DEFAULT,
            ConfigType::Boolean,
            "true",
            Importance::Low,
            "Whether to replace fields that have a default value and that are null to the \
             default value. When set to true, the default value is used, otherwise null is used.",
            "Serialization",
            1,
            "Replace null with default",
        ))
}

/// Kafka Connect's `org.apache.kafka.connect.json.JsonConverter`.
pub struct JsonConverter {
    schemas_enable: bool,
    options: Options,
    cache: SchemaCache,
    /// The output buffer, reused from record to record. The converter is used by one task at
    /// a time, so the lock is never contended.
    scratch: Mutex<Vec<u8>>,
}

impl fmt::Debug for JsonConverter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonConverter")
            .field("schemas_enable", &self.schemas_enable)
            .field("options", &self.options)
            .field("cache_capacity", &self.cache.capacity)
            .finish()
    }
}

impl JsonConverter {
    /// A converter from its settings, every problem reported at once.
    pub fn new(props: &Props) -> Result<Self, ConfigErrors> {
        let config = config_def().parse(props)?;
        let capacity = config.int(SCHEMAS_CACHE_SIZE).unwrap_or(1000);
        Ok(Self {
            schemas_enable: config.boolean(SCHEMAS_ENABLE).unwrap_or(true),
            options: Options {
                numeric_decimals: config
                    .string(DECIMAL_FORMAT)
                    .is_some_and(|f| f.eq_ignore_ascii_case("NUMERIC")),
                replace_null_with_default: config
                    .boolean(REPLACE_NULL_WITH_DEFAULT)
                    .unwrap_or(true),
            },
            cache: SchemaCache {
                // Negative: no caching, as Kafka's LRU cache then behaves.
                capacity: usize::try_from(capacity).unwrap_or(0),
                schemas: Mutex::new(HashMap::new()),
            },
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Reads an envelope; `careful` allows the careful path when the text is not as expected.
    fn read_envelope(&self, text: &Bytes, careful: bool) -> Result<SchemaAndValue, ConnectError> {
        let envelope = match scan_envelope(text) {
            Some(envelope) => envelope,
            None if careful => return self.read_unusual_envelope(text),
            None => return Err(envelope_error()),
        };
        let schema = self
            .cache
            .get(&text[envelope.schema.clone()])
            .map_err(|e| read_error(e, text, envelope.schema.start, "schema"))?;
        let payload = text.slice(envelope.payload.clone());
        let value = match &schema {
            None => Value::parse_json(&payload).map_err(|e| ReadError::Json(e, Vec::new())),
            Some(schema) => {
                json_schema::decode(&payload, schema, self.options.replace_null_with_default)
                    .map_err(|e| ReadError::Json(e.json, e.path))
            }
        };
        match value {
            Ok(value) => Ok(SchemaAndValue { schema, value }),
            // The payload's end was assumed (see `scan_envelope`); if it was wrong, the
            // careful path tells what the text really is.
            Err(_)
                if careful
                    && !envelope.payload_checked
                    && !payload_is_last(text, &envelope.payload) =>
            {
                self.read_unusual_envelope(text)
            }
            Err(e) => Err(read_error(e, text, envelope.payload.start, "payload")),
        }
    }

    /// The careful path: parses the whole text, so syntax errors carry their position in it
    /// and anything that is not exactly an envelope gets Kafka's message. A real envelope the
    /// scanner did not take (escaped member names, a repeated member) is rewritten plainly and
    /// read as usual; positions in its conversion errors then refer to the rewritten text.
    fn read_unusual_envelope(&self, text: &Bytes) -> Result<SchemaAndValue, ConnectError> {
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(envelope_error());
        }
        let json = Value::parse_json(text)
            .map_err(|e| read_error(ReadError::Json(e, Vec::new()), text, 0, "payload"))?;
        let Value::Map(members) = &json else {
            return Err(envelope_error());
        };
        let (mut schema, mut payload) = (None, None);
        for (key, value) in members {
            match key.as_str() {
                Some("schema") => schema = Some(value),
                Some("payload") => payload = Some(value),
                _ => return Err(envelope_error()),
            }
        }
        let (Some(schema), Some(payload)) = (schema, payload) else {
            return Err(envelope_error());
        };
        let mut plain = b"{\"schema\":".to_vec();
        plain.extend_from_slice(&schema.to_json_bytes());
        plain.extend_from_slice(b",\"payload\":");
        plain.extend_from_slice(&payload.to_json_bytes());
        plain.push(b'}');
        self.read_envelope(&Bytes::from(plain), false)
    }
}

impl Converter for JsonConverter {
    fn to_connect(
        &self,
        _topic: &str,
        data: Option<Bytes>,
    ) -> Result<SchemaAndValue, ConnectError> {
        let Some(data) = data else {
            return Ok(SchemaAndValue::default());
        };
        if self.schemas_enable {
            return self.read_envelope(&data, true);
        }
        // Kafka reads empty input as no value (Jackson's "missing" node).
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(SchemaAndValue::default());
        }
        let value = Value::parse_json(&data)
            .map_err(|e| read_error(ReadError::Json(e, Vec::new()), &data, 0, "value"))?;
        Ok(SchemaAndValue::schemaless(value))
    }

    /// As Kafka: no schema and a null value give no bytes (a tombstone); a null value with a
    /// schema gives its envelope with a null (or default) payload, or the text `null` without
    /// the envelope.
    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Bytes>, ConnectError> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let mut out = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        out.clear();
        let written = if self.schemas_enable {
            write_envelope(&mut out, schema, value, self.options)
        } else {
            json_schema::write_value(&mut out, schema, value, self.options)
                .map_err(|e| (e, "payload"))
        };
        // One allocation of exactly the output's size; the buffer stays for the next record.
        let result = written
            .map(|()| Some(Bytes::copy_from_slice(&out)))
            .map_err(|(e, root)| {
                ConnectError::fatal(format!(
                    "Converting Kafka Connect data to byte[] failed: {} (at {})",
                    e.message,
                    join_path(root, &e.path)
                ))
            });
        if out.capacity() > SCRATCH_KEEP {
            *out = Vec::new();
        }
        result
    }
}

/// `{"schema":...,"payload":...}`, the schema `null` when there is none.
fn write_envelope(
    out: &mut Vec<u8>,
    schema: Option<&Schema>,
    value: &Value,
    options: Options,
) -> Result<(), (json_schema::PathError, &'static str)> {
    out.extend_from_slice(b"{\"schema\":");
    match schema {
        Some(schema) => {
            json_schema::write_schema(out, schema, None, options).map_err(|e| (e, "schema"))?
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"payload\":");
    json_schema::write_value(out, schema, value, options).map_err(|e| (e, "payload"))?;
    out.push(b'}');
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Errors

enum ReadError {
    /// serde_json's error, positioned in the part that was parsed, with the payload path.
    Json(serde_json::Error, Vec<String>),
    /// An invalid schema.
    Schema(String),
}

fn envelope_error() -> ConnectError {
    ConnectError::fatal(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not \
         contain additional fields. If you are trying to deserialize plain JSON data, set \
         schemas.enable=false in your converter configuration.",
    )
}

/// The error for a part of `text` starting at `offset`, with positions in the whole text;
/// `root` names the part in the path of a value that did not fit.
fn read_error(error: ReadError, text: &[u8], offset: usize, root: &str) -> ConnectError {
    let (e, path) = match error {
        ReadError::Schema(message) => {
            return ConnectError::fatal(format!(
                "Converting byte[] to Kafka Connect data failed: invalid schema: {message}"
            ))
        }
        ReadError::Json(e, path) => (e, path),
    };
    let message = e.to_string();
    let message = message
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&message);
    // serde_json counts lines and columns within the part; move them into the whole text.
    let before = &text[..offset.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let base_line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let (line, column) = match e.line() {
        0 => {
            return ConnectError::fatal(format!(
                "Converting byte[] to Kafka Connect data failed: {message}"
            ))
        }
        1 => (base_line, offset - line_start + e.column()),
        n => (base_line + n - 1, e.column()),
    };
    if e.is_data() {
        ConnectError::fatal(format!(
            "Converting byte[] to Kafka Connect data failed: {message} (at {}, line {line} column {column})",
            join_path(root, &path)
        ))
    } else {
        ConnectError::fatal(format!(
            "Converting byte[] to Kafka Connect data failed due to serialization error: \
             {message} at line {line} column {column}"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The schema cache

/// Parsed schemas by their JSON text, so a topic's schema is parsed once. Bounded by
/// `schemas.cache.size`; when full, one entry makes room (Kafka evicts the least recently
/// used; a topic rarely has more schemas than the bound, so the choice hardly matters).
struct SchemaCache {
    capacity: usize,
    schemas: Mutex<HashMap<Bytes, Arc<Schema>>>,
}

impl SchemaCache {
    /// The schema written as `text` (`null`: none).
    fn get(&self, text: &[u8]) -> Result<Option<Arc<Schema>>, ReadError> {
        if text == b"null" {
            return Ok(None);
        }
        let mut schemas = self.schemas.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(schema) = schemas.get(text) {
            return Ok(Some(Arc::clone(schema)));
        }
        // Copied so the cached schema (whose strings share this text) does not keep the
        // record's buffer alive.
        let owned = Bytes::copy_from_slice(text);
        let json = Value::parse_json(&owned).map_err(|e| ReadError::Json(e, Vec::new()))?;
        let schema = Arc::new(json_schema::schema_from_json(&json).map_err(ReadError::Schema)?);
        if self.capacity > 0 {
            if schemas.len() >= self.capacity {
                if let Some(victim) = schemas.keys().next().cloned() {
                    schemas.remove(&victim);
                }
            }
            schemas.insert(owned, Arc::clone(&schema));
        }
        Ok(Some(schema))
    }
}

// ---------------------------------------------------------------------------------------------
// Finding the envelope's members

/// Where an envelope's members are in its text.
#[derive(Debug, PartialEq)]
struct Envelope {
    schema: Range<usize>,
    payload: Range<usize>,
    /// False when the payload was taken to run to the closing brace without reading it.
    payload_checked: bool,
}

/// Finds the `schema` and `payload` members of a `{"schema": ..., "payload": ...}` object
/// without parsing their values. When the payload comes last (as Kafka writes it) it is taken
/// to run to the final `}` unread: parsing it then proves it is exactly one value (serde_json
/// rejects trailing text), so its bytes are gone over once. `None` for anything unexpected;
/// the caller then parses the whole text.
fn scan_envelope(text: &[u8]) -> Option<Envelope> {
    let mut s = Scanner { text, pos: 0 };
    s.skip_whitespace();
    s.eat(b'{')?;
    let (mut schema, mut payload) = (None, None);
    loop {
        s.skip_whitespace();
        let key = s.plain_string()?;
        s.skip_whitespace();
        s.eat(b':')?;
        s.skip_whitespace();
        let start = s.pos;
        if key == b"payload" && schema.is_some() {
            let end = text.iter().rposition(|b| !b.is_ascii_whitespace())?;
            (text[end] == b'}' && end > start).then_some(())?;
            return Some(Envelope {
                schema: schema?,
                payload: start..end,
                payload_checked: false,
            });
        }
        s.skip_value()?;
        match key {
            b"schema" => schema = Some(start..s.pos),
            b"payload" => payload = Some(start..s.pos),
            _ => return None,
        }
        s.skip_whitespace();
        match s.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    s.skip_whitespace();
    (s.pos == text.len()).then_some(())?;
    Some(Envelope {
        schema: schema?,
        payload: payload?,
        payload_checked: true,
    })
}

/// Whether the value starting the assumed payload span ends right before the final `}`.
fn payload_is_last(text: &[u8], payload: &Range<usize>) -> bool {
    let mut s = Scanner {
        text,
        pos: payload.start,
    };
    s.skip_value().is_some() && {
        s.skip_whitespace();
        s.pos == payload.end
    }
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.text.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    fn skip_whitespace(&mut self) {
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    /// A string without escapes, returned without its quotes.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        let len = self.text[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\')?;
        self.pos += len;
        self.eat(b'"')?;
        let text: &'a [u8] = self.text;
        Some(&text[start..start + len])
    }

    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => self.pos += 1,
                _ => {}
            }
        }
    }

    /// Skips one value, trusting that it is well formed: whatever is kept is parsed later.
    fn skip_value(&mut self) -> Option<()> {
        match *self.text.get(self.pos)? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match *self.text.get(self.pos)? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                let rest = &self.text[self.pos..];
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(rest.len());
                self.pos += len;
                (len > 0).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
