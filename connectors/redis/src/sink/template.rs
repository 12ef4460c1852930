//! Key templates: `redis.keyspace` (`${topic}`) and our `redis.key.template`
//! (`user:${value.id}`, `${topic}:${key}`, ...).

use std::io::Write as _;

use connect_core::data::Value;
use connect_core::record::SinkRecord;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Topic,
    Partition,
    Offset,
    Timestamp,
    Key,
    KeyField(Vec<String>),
    ValueField(Vec<String>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; `${...}` names a record field, anything else is literal.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("'{text}' has a '${{' without its '}}'"))?;
            let name = after[..end].trim();
            let path = |p: &str| -> Result<Vec<String>, String> {
                let fields: Vec<String> = p.split('.').map(str::to_owned).collect();
                if fields.iter().any(String::is_empty) {
                    return Err(format!("'${{{name}}}' in '{text}' has an empty field name"));
                }
                Ok(fields)
            };
            parts.push(match name {
                "topic" => Part::Topic,
                "partition" => Part::Partition,
                "offset" => Part::Offset,
                "timestamp" => Part::Timestamp,
                "key" => Part::Key,
                n if n.starts_with("key.") => Part::KeyField(path(&n[4..])?),
                n if n.starts_with("value.") => Part::ValueField(path(&n[6..])?),
                other => {
                    return Err(format!(
                        "unknown field '${{{other}}}' in '{text}' (known: ${{topic}}, ${{partition}}, \
                         ${{offset}}, ${{timestamp}}, ${{key}}, ${{key.<field>}}, ${{value.<field>}})"
                    ))
                }
            });
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// True for the empty template.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// True when the result depends on the topic at most, so it can be kept per topic.
    pub fn topic_only(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, Part::Literal(_) | Part::Topic))
    }

    /// Appends the template's text for `record` to `out`; the error names what is missing.
    pub fn render(&self, record: &SinkRecord, out: &mut Vec<u8>) -> Result<(), String> {
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.extend_from_slice(s.as_bytes()),
                Part::Topic => out.extend_from_slice(record.topic.as_bytes()),
                Part::Partition => {
                    let _ = write!(out, "{}", record.kafka_partition());
                }
                Part::Offset => {
                    let _ = write!(out, "{}", record.kafka_offset);
                }
                Part::Timestamp => match record.timestamp {
                    Some(t) => {
                        let _ = write!(out, "{t}");
                    }
                    None => return Err("the record has no timestamp".into()),
                },
                Part::Key => write_text(&record.key, out).map_err(|_| "the record has no key")?,
                Part::KeyField(path) => field(&record.key, path, "key", out)?,
                Part::ValueField(path) => field(&record.value, path, "value", out)?,
            }
        }
        Ok(())
    }
}

fn field(mut value: &Value, path: &[String], part: &str, out: &mut Vec<u8>) -> Result<(), String> {
    for name in path {
        value = value
            .get(name)
            .ok_or_else(|| format!("the record's {part} has no field '{}'", path.join(".")))?;
    }
    write_text(value, out)
        .map_err(|_| format!("the record's {part} field '{}' is null", path.join(".")))
}

/// Appends a value as Redis text: strings and bytes as they are, numbers and booleans as
/// written, arrays, maps and structs as JSON. A null value has no text.
pub fn write_text(value: &Value, out: &mut Vec<u8>) -> Result<(), ()> {
    match value {
        Value::Null => return Err(()),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) => out.extend_from_slice(b),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => {
            out.extend_from_slice(&value.to_json_bytes())
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use connect_core::data::Struct;
    use connect_core::record::ConnectRecord;

    use super::*;

    fn record() -> SinkRecord {
        let mut r = ConnectRecord::new(
            "orders",
            Struct::new()
                .with("id", 42i64)
                .with("user", Struct::new().with("name", "ann")),
        );
        r.key = Value::from("k1");
        r.timestamp = Some(1700);
        SinkRecord::new("orders".into(), 3, 77, r)
    }

    fn render(t: &str) -> Result<String, String> {
        let mut out = Vec::new();
        Template::parse(t)?.render(&record(), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn renders_fields() {
        assert_eq!(render("${topic}").unwrap(), "orders");
        assert_eq!(render("user:${value.id}").unwrap(), "user:42");
        assert_eq!(render("${topic}:${key}").unwrap(), "orders:k1");
        assert_eq!(
            render("${value.user.name}/${partition}/${offset}/${timestamp}").unwrap(),
            "ann/3/77/1700"
        );
        assert_eq!(render("plain").unwrap(), "plain");
        assert_eq!(render("a$b").unwrap(), "a$b");
    }

    #[test]
    fn explains_problems() {
        assert!(render("${value.nope}")
            .unwrap_err()
            .contains("no field 'nope'"));
        assert!(Template::parse("${nope}")
            .unwrap_err()
            .contains("unknown field"));
        assert!(Template::parse("x${topic").unwrap_err().contains("without"));
        assert!(Template::parse("${value.}")
            .unwrap_err()
            .contains("empty field"));
        assert!(Template::parse("${topic}-x").unwrap().topic_only());
        assert!(!Template::parse("${key}").unwrap().topic_only());
    }
}
