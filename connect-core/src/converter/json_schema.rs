//! Kafka Connect's JSON schema format (`{"type":"struct","fields":[...],"optional":false}`) and
//! payloads converted under a schema, both ways, for the [`JsonConverter`](super::json).
//!
//! Reading streams the payload through serde_json with the schema in hand ([`decode()`]): no
//! intermediate tree is built, and strings without escapes share the record's buffer. Writing
//! appends straight to the caller's output buffer ([`write_schema`], [`write_value`]).
//!
//! Logical types keep their underlying representation, as [`crate::data::logical`] describes:
//! a Decimal is `bytes` holding the unscaled integer (big-endian two's complement), Date and
//! Time are `int32`, Timestamp is `int64`.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;

use crate::data::{logical, Field, Schema, SchemaType, Struct, Value, BASE64};

mod decode;

pub(super) use decode::decode;

/// Milliseconds in a day: the bound of a Time value.
const MILLIS_PER_DAY: i32 = 86_400_000;

/// How payloads are converted, from the converter's configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    /// `decimal.format=NUMERIC`: Decimals are written as JSON numbers rather than base64.
    pub numeric_decimals: bool,
    /// `replace.null.with.default`: a null with a schema default becomes the default.
    pub replace_null_with_default: bool,
}

/// A schema type as Kafka names it in messages (`Schema.Type`: `INT32`, `FLOAT64`, ...).
pub(super) fn kafka_type(kind: &SchemaType) -> &'static str {
    match kind {
        SchemaType::Boolean => "BOOLEAN",
        SchemaType::Int8 => "INT8",
        SchemaType::Int16 => "INT16",
        SchemaType::Int32 => "INT32",
        SchemaType::Int64 => "INT64",
        SchemaType::Float32 => "FLOAT32",
        SchemaType::Float64 => "FLOAT64",
        SchemaType::String => "STRING",
        SchemaType::Bytes => "BYTES",
        SchemaType::Array(_) => "ARRAY",
        SchemaType::Map { .. } => "MAP",
        SchemaType::Struct(_) => "STRUCT",
    }
}

/// Where in a value something went wrong: segments innermost first, as errors bubble up
/// (field names, `[index]`, `[key]`). Built only when there is an error.
pub(super) fn join_path(root: &str, innermost_first: &[String]) -> String {
    let mut path = root.to_owned();
    for segment in innermost_first.iter().rev() {
        if !segment.starts_with('[') {
            path.push('.');
        }
        path.push_str(segment);
    }
    path
}

/// An error writing a value, with where in the value it happened.
#[derive(Debug)]
pub(super) struct PathError {
    /// What went wrong, in Kafka's words where Kafka has them.
    pub message: String,
    /// Innermost segment first.
    pub path: Vec<String>,
}

impl PathError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            path: Vec::new(),
        }
    }

    fn at(mut self, segment: impl Into<String>) -> Self {
        self.path.push(segment.into());
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas

/// Reads a schema written in Kafka Connect's JSON format, as Kafka's `asConnectSchema` does,
/// with its messages. Unknown attributes are ignored.
pub(super) fn schema_from_json(json: &Value) -> Result<Schema, String> {
    let Some(Value::String(type_name)) = json.get("type") else {
        return Err("Schema must contain 'type' field".into());
    };
    let part = |key: &str, missing: &str| match json.get(key) {
        None | Some(Value::Null) => Err(missing.to_owned()),
        Some(part) => schema_from_json(part).map(Arc::new),
    };
    let kind = match SchemaType::primitive_from_name(type_name) {
        Some(kind) => kind,
        None => match &**type_name {
            "array" => SchemaType::Array(part(
                "items",
                "Array schema did not specify the element type",
            )?),
            "map" => SchemaType::Map {
                keys: part("keys", "Map schema did not specify the key type")?,
                values: part("values", "Map schema did not specify the value type")?,
            },
            "struct" => SchemaType::Struct(fields_from_json(json.get("fields"))?),
            other => return Err(format!("Unknown schema type: {other}")),
        },
    };
    let text = |key: &str| match json.get(key) {
        Some(Value::String(s)) => Some(s.to_string()),
        _ => None,
    };
    let mut schema = Schema::new(kind);
    schema.optional = matches!(json.get("optional"), Some(Value::Boolean(true)));
    schema.name = text("name");
    schema.doc = text("doc");
    if let Some(version) = json.get("version").and_then(Value::as_i64) {
        let version = i32::try_from(version)
            .map_err(|_| format!("Schema version {version} is out of the int32 range"))?;
        schema.version = Some(version);
    }
    if let Some(Value::Map(parameters)) = json.get("parameters") {
        for (key, value) in parameters {
            let (Value::String(key), Value::String(value)) = (key, value) else {
                return Err("Schema parameters must have string values.".into());
            };
            schema.parameters.insert(key.to_string(), value.to_string());
        }
    }
    if let Some(default) = json.get("default") {
        // The default is read under the schema just as a payload is: written back as JSON
        // text and decoded, so there is one conversion path. Schemas are parsed once per
        // distinct schema text (the converter caches them), so the detour costs nothing per
        // record.
        let text = Bytes::from(default.to_json_bytes());
        let value = decode(&text, &schema, false).map_err(|e| {
            format!(
                "Invalid default value ({}): {}",
                join_path("default", &e.path),
                e.json
            )
        })?;
        schema.default = Some(value).filter(|v| !v.is_null());
    }
    Ok(schema)
}

fn fields_from_json(fields: Option<&Value>) -> Result<Vec<Field>, String> {
    let Some(Value::Array(fields)) = fields else {
        return Err("Struct schema's \"fields\" argument is not an array.".into());
    };
    let mut out: Vec<Field> = Vec::with_capacity(fields.len());
    for field in fields {
        let Some(Value::String(name)) = field.get("field") else {
            return Err("Struct schema's field name not specified properly".into());
        };
        if out.iter().any(|f| f.name == **name) {
            return Err(format!(
                "Cannot create field because of field name duplication {name}"
            ));
        }
        let schema = schema_from_json(field).map_err(|e| format!("{e} (in field {name})"))?;
        out.push(Field::new(name.to_string(), schema));
    }
    Ok(out)
}

/// Writes a schema as Kafka's `asJsonSchema` does, attributes in its order: `type`, then
/// `items` / `keys`,`values` / `fields`, then `optional`, `name`, `version`, `doc`,
/// `parameters`, `default`; a struct field's schema ends with its `field` name.
pub(super) fn write_schema(
    out: &mut Vec<u8>,
    schema: &Schema,
    field: Option<&str>,
    options: Options,
) -> Result<(), PathError> {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(schema.kind.name().as_bytes());
    out.push(b'"');
    match &schema.kind {
        SchemaType::Array(items) => {
            out.extend_from_slice(b",\"items\":");
            write_schema(out, items, None, options).map_err(|e| e.at("items"))?;
        }
        SchemaType::Map { keys, values } => {
            out.extend_from_slice(b",\"keys\":");
            write_schema(out, keys, None, options).map_err(|e| e.at("keys"))?;
            out.extend_from_slice(b",\"values\":");
            write_schema(out, values, None, options).map_err(|e| e.at("values"))?;
        }
        SchemaType::Struct(fields) => {
            out.extend_from_slice(b",\"fields\":[");
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schema(out, &f.schema, Some(&f.name), options)
                    .map_err(|e| e.at(f.name.clone()))?;
            }
            out.push(b']');
        }
        _ => {}
    }
    out.extend_from_slice(if schema.optional {
        b",\"optional\":true"
    } else {
        b",\"optional\":false"
    });
    if let Some(name) = &schema.name {
        out.extend_from_slice(b",\"name\":");
        write_str(out, name);
    }
    if let Some(version) = schema.version {
        let _ = write!(out, ",\"version\":{version}");
    }
    if let Some(doc) = &schema.doc {
        out.extend_from_slice(b",\"doc\":");
        write_str(out, doc);
    }
    if !schema.parameters.is_empty() {
        out.extend_from_slice(b",\"parameters\":{");
        for (i, (key, value)) in schema.parameters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, key);
            out.push(b':');
            write_str(out, value);
        }
        out.push(b'}');
    }
    if let Some(default) = schema.default.as_ref().filter(|d| !d.is_null()) {
        out.extend_from_slice(b",\"default\":");
        write_value(out, Some(schema), default, options).map_err(|e| e.at("default"))?;
    }
    if let Some(field) = field {
        out.extend_from_slice(b",\"field\":");
        write_str(out, field);
    }
    out.push(b'}');
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writing payloads

/// JSON string escaping is serde_json's; writing into a `Vec` cannot fail.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Bytes as base64 text, encoded straight into the output (no temporary string).
fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len() + 1;
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.push(b'"');
    out.resize(start + len, 0);
    let written = BASE64.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// Numbers through `Display`; writing into a `Vec` cannot fail.
fn write_display(out: &mut Vec<u8>, n: impl fmt::Display) {
    let _ = write!(out, "{n}");
}

/// Finite floats as numbers (`f32`s with their own shortest digits); NaN and the infinities
/// as the strings Jackson writes for them, which [`decode()`] reads back.
fn write_float(out: &mut Vec<u8>, x: f64, single: bool) {
    let _ = match x {
        _ if x.is_nan() => out.write_all(b"\"NaN\""),
        f64::INFINITY => out.write_all(b"\"Infinity\""),
        f64::NEG_INFINITY => out.write_all(b"\"-Infinity\""),
        _ if single => serde_json::to_writer(&mut *out, &(x as f32)).map_err(Into::into),
        _ => serde_json::to_writer(&mut *out, &x).map_err(Into::into),
    };
}

/// Writes `value` as JSON under `schema`, as Kafka's `convertToJson` does: nulls become the
/// default (with `replace.null.with.default`) or `null` when optional; maps with string keys
/// are objects, other maps arrays of `[key, value]` pairs; structs are objects in schema
/// order. Without a schema the value's own JSON form is written.
pub(super) fn write_value(
    out: &mut Vec<u8>,
    schema: Option<&Schema>,
    value: &Value,
    options: Options,
) -> Result<(), PathError> {
    let Some(schema) = schema else {
        return serde_json::to_writer(&mut *out, value).map_err(|e| PathError::new(e.to_string()));
    };
    if value.is_null() {
        return match &schema.default {
            Some(d) if options.replace_null_with_default && !d.is_null() => {
                write_value(out, Some(schema), d, options)
            }
            _ if schema.optional => {
                out.extend_from_slice(b"null");
                Ok(())
            }
            _ => Err(PathError::new(
                "Conversion error: null value for field that is required and has no default value",
            )),
        };
    }
    let decimal = is_decimal(schema);
    match (&schema.kind, value) {
        (SchemaType::Bytes, Value::Bytes(b)) if decimal => {
            let scale = decimal_scale(schema).map_err(PathError::new)?;
            if options.numeric_decimals {
                write_decimal(out, unscaled_from_bytes(b)?, scale);
            } else {
                unscaled_check(b)?;
                write_base64(out, b);
            }
        }
        (SchemaType::Boolean, Value::Boolean(b)) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" })
        }
        (SchemaType::Int8, Value::Int8(n)) => write_display(out, n),
        (SchemaType::Int16, Value::Int16(n)) => write_display(out, n),
        (SchemaType::Int32, Value::Int32(n)) => {
            if schema.is_logical(logical::TIME) && !(0..=MILLIS_PER_DAY).contains(n) {
                return Err(PathError::new(
                    "Kafka Connect Time type should not have any date fields set to non-zero values.",
                ));
            }
            write_display(out, n)
        }
        (SchemaType::Int64, Value::Int64(n)) => write_display(out, n),
        (SchemaType::Float32, Value::Float32(x)) => write_float(out, f64::from(*x), true),
        (SchemaType::Float64, Value::Float64(x)) => write_float(out, *x, false),
        (SchemaType::String, Value::String(s)) => write_str(out, s),
        (SchemaType::Bytes, Value::Bytes(b)) => write_base64(out, b),
        (SchemaType::Array(items), Value::Array(values)) => {
            out.push(b'[');
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, Some(items), v, options).map_err(|e| e.at(format!("[{i}]")))?;
            }
            out.push(b']');
        }
        (SchemaType::Map { keys, values }, Value::Map(entries)) => {
            let object = matches!(keys.kind, SchemaType::String);
            out.push(if object { b'{' } else { b'[' });
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let at = |e: PathError| e.at(format!("[{k}]"));
                if object {
                    let Value::String(k) = k else {
                        return Err(at(PathError::new(format!(
                            "Invalid type for STRING map key: {}",
                            k.type_name()
                        ))));
                    };
                    write_str(out, k);
                    out.push(b':');
                } else {
                    out.push(b'[');
                    write_value(out, Some(keys), k, options).map_err(at)?;
                    out.push(b',');
                }
                write_value(out, Some(values), v, options).map_err(at)?;
                if !object {
                    out.push(b']');
                }
            }
            out.push(if object { b'}' } else { b']' });
        }
        (SchemaType::Struct(fields), Value::Struct(s)) => write_struct(out, fields, s, options)?,
        _ => {
            let expected = if decimal {
                "Decimal"
            } else {
                kafka_type(&schema.kind)
            };
            return Err(PathError::new(format!(
                "Invalid type for {expected}: {}",
                value.type_name()
            )));
        }
    }
    Ok(())
}

fn write_struct(
    out: &mut Vec<u8>,
    fields: &[Field],
    value: &Struct,
    options: Options,
) -> Result<(), PathError> {
    let given = value.fields();
    let mut found = 0;
    out.push(b'{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, &field.name);
        out.push(b':');
        // Structs are usually built in schema order: try the same position first.
        let v = match given.get(i) {
            Some((name, v)) if **name == *field.name => Some(v),
            _ => value.get(&field.name),
        };
        found += usize::from(v.is_some());
        write_value(out, Some(&field.schema), v.unwrap_or(&Value::Null), options)
            .map_err(|e| e.at(field.name.clone()))?;
    }
    out.push(b'}');
    if found < given.len() {
        // Kafka's Struct cannot hold fields its schema lacks ("Mismatching schema."); ours can.
        let extra: Vec<&str> = given
            .iter()
            .map(|(name, _)| &**name)
            .filter(|name| !fields.iter().any(|f| f.name == *name))
            .collect();
        return Err(PathError::new(format!(
            "Mismatching schema: the struct has fields the schema lacks: {}",
            extra.join(", ")
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decimals

fn is_decimal(schema: &Schema) -> bool {
    matches!(schema.kind, SchemaType::Bytes) && schema.is_logical(logical::DECIMAL)
}

/// The scale of a Decimal schema, with Kafka's messages.
fn decimal_scale(schema: &Schema) -> Result<i32, String> {
    let scale = schema
        .parameters
        .get(logical::DECIMAL_SCALE)
        .ok_or("Invalid Decimal schema: scale parameter not found.")?;
    scale
        .parse()
        .map_err(|_| format!("Invalid scale parameter found in Decimal schema: {scale}"))
}

fn unscaled_check(bytes: &[u8]) -> Result<(), PathError> {
    if bytes.is_empty() {
        return Err(PathError::new(
            "Invalid bytes for Decimal field: the unscaled value has no bytes",
        ));
    }
    Ok(())
}

/// The unscaled value of a Decimal: a big-endian two's complement integer of up to 16 bytes.
fn unscaled_from_bytes(bytes: &[u8]) -> Result<i128, PathError> {
    unscaled_check(bytes)?;
    if bytes.len() > 16 {
        return Err(PathError::new(format!(
            "Decimal with a {}-byte unscaled value is too large to write as a JSON number \
             (up to 16 bytes, about 38 digits, are supported); use decimal.format=BASE64",
            bytes.len()
        )));
    }
    let fill = if bytes[0] & 0x80 == 0 { 0 } else { 0xff };
    let mut be = [fill; 16];
    be[16 - bytes.len()..].copy_from_slice(bytes);
    Ok(i128::from_be_bytes(be))
}

/// Writes a decimal as Java's `BigDecimal.toString` does (Jackson writes it so): plain
/// notation unless the scale is negative or the number is below 10^-6, then `1.5E-7`.
fn write_decimal(out: &mut Vec<u8>, unscaled: i128, scale: i32) {
    let mut buf = [0u8; 40];
    let mut cursor = &mut buf[..];
    let _ = write!(cursor, "{}", unscaled.unsigned_abs());
    let len = 40 - cursor.len();
    let digits = &buf[..len];
    if unscaled < 0 {
        out.push(b'-');
    }
    let adjusted = len as i64 - 1 - i64::from(scale);
    if scale >= 0 && adjusted >= -6 {
        let point = len as i64 - i64::from(scale);
        if scale == 0 {
            out.extend_from_slice(digits);
        } else if point > 0 {
            let (int, frac) = digits.split_at(point as usize);
            out.extend_from_slice(int);
            out.push(b'.');
            out.extend_from_slice(frac);
        } else {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-point) as usize, b'0');
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        if len > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let _ = write!(out, "E{}{adjusted}", if adjusted >= 0 { "+" } else { "" });
    }
}
