//! `TimestampRouter`: renames the topic from the topic and the record's timestamp
//! (`${topic}-${timestamp}` by default, the timestamp formatted `yyyyMMdd` in UTC), as
//! Kafka's transform of that name.
//!
//! Unlike Kafka, an invalid or unsupported `timestamp.format` is reported when the
//! transform is configured rather than on the first record.

use crate::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance, Props};
use crate::data::Text;
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::ConnectRecord;

use super::java_date_format::JavaDateFormat;
use super::registry;
use super::support::data_error;
use super::{Outcome, Transformation};

const NAME: &str = "TimestampRouter";
const TOPIC_FORMAT: &str = "topic.format";
const TIMESTAMP_FORMAT: &str = "timestamp.format";
const TOPIC_PLACEHOLDER: &str = "${topic}";
const TIMESTAMP_PLACEHOLDER: &str = "${timestamp}";

/// The `TimestampRouter` plugin.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    vec![registry::transform(NAME, config_def(), build)]
}

/// Kafka's keys: `topic.format` and `timestamp.format`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(TOPIC_FORMAT, ConfigType::String)
                .default_value("${topic}-${timestamp}")
                .importance(Importance::High)
                .doc(
                    "Format string which can contain <code>${topic}</code> and \
                     <code>${timestamp}</code> as placeholders for the topic and timestamp, \
                     respectively.",
                ),
        )
        .define(
            ConfigKey::new(TIMESTAMP_FORMAT, ConfigType::String)
                .default_value("yyyyMMdd")
                .importance(Importance::High)
                .doc(
                    "Format string for the timestamp that is compatible with \
                     <code>java.text.SimpleDateFormat</code>.",
                ),
        )
}

fn build(props: &Props) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    let topic_format = config.string(TOPIC_FORMAT).unwrap_or_default();
    let pattern = config.string(TIMESTAMP_FORMAT).unwrap_or_default();
    let timestamp_format = JavaDateFormat::new(pattern).map_err(|e| {
        let mut errors = ConfigErrors::default();
        errors.add(
            TIMESTAMP_FORMAT,
            format!("Invalid value {pattern} for configuration {TIMESTAMP_FORMAT}: {e}"),
        );
        errors
    })?;
    Ok(Box::new(TimestampRouter {
        topic_format: parse_topic_format(topic_format),
        timestamp_format,
    }))
}

/// A part of `topic.format`.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Topic,
    Timestamp,
}

/// Splits `topic.format` at its placeholders, so records only fill them in. Kafka replaces
/// `${topic}` first, then `${timestamp}` in the result; topic names cannot contain `$`, `{`
/// or `}`, so the outcome is the same.
fn parse_topic_format(format: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = format;
    loop {
        let next = [
            (
                rest.find(TOPIC_PLACEHOLDER),
                TOPIC_PLACEHOLDER,
                Piece::Topic,
            ),
            (
                rest.find(TIMESTAMP_PLACEHOLDER),
                TIMESTAMP_PLACEHOLDER,
                Piece::Timestamp,
            ),
        ]
        .into_iter()
        .filter_map(|(at, placeholder, piece)| at.map(|at| (at, placeholder, piece)))
        .min_by_key(|(at, _, _)| *at);
        let Some((at, placeholder, piece)) = next else {
            break;
        };
        if at > 0 {
            pieces.push(Piece::Text(rest[..at].to_owned()));
        }
        pieces.push(piece);
        rest = &rest[at + placeholder.len()..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    pieces
}

/// Renames topics after the topic and the record timestamp.
#[derive(Debug)]
pub struct TimestampRouter {
    topic_format: Vec<Piece>,
    timestamp_format: JavaDateFormat,
}

impl Transformation for TimestampRouter {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        let Some(timestamp) = record.timestamp else {
            return Err(data_error(
                NAME,
                format!("Timestamp missing on record for topic {}", record.topic),
            ));
        };
        let formatted = self
            .timestamp_format
            .format_millis(timestamp)
            .map_err(|e| data_error(NAME, e))?;
        let mut topic = String::with_capacity(record.topic.len() + formatted.len() + 8);
        for piece in &self.topic_format {
            match piece {
                Piece::Text(text) => topic.push_str(text),
                Piece::Topic => topic.push_str(&record.topic),
                Piece::Timestamp => topic.push_str(&formatted),
            }
        }
        record.topic = Text::from(topic);
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::props;

    const MILLIS: i64 = 1_705_321_845_123; // 2024-01-15T12:30:45.123Z

    fn route(
        pairs: &[(&str, &str)],
        topic: &str,
        timestamp: Option<i64>,
    ) -> Result<String, String> {
        let t = build(&props(pairs)).unwrap();
        let mut record = ConnectRecord::new(topic, "v");
        record.timestamp = timestamp;
        t.apply(&mut record).map_err(|e| e.to_string())?;
        Ok(record.topic.to_string())
    }

    #[test]
    fn defaults_append_the_utc_day() {
        assert_eq!(
            route(&[], "orders", Some(MILLIS)),
            Ok("orders-20240115".to_owned())
        );
        assert_eq!(
            route(&[], "orders", Some(-1)),
            Ok("orders-19691231".to_owned())
        );
    }

    #[test]
    fn formats_are_configurable() {
        let config = [
            ("topic.format", "${timestamp}/${topic}/${topic}:${x}"),
            ("timestamp.format", "yyyy-MM-dd'T'HH"),
        ];
        assert_eq!(
            route(&config, "t", Some(MILLIS)),
            Ok("2024-01-15T12/t/t:${x}".to_owned())
        );
        assert_eq!(
            route(&[("topic.format", "fixed")], "t", Some(0)),
            Ok("fixed".to_owned())
        );
    }

    #[test]
    fn a_record_without_timestamp_is_an_error() {
        assert_eq!(
            route(&[], "orders", None),
            Err("TimestampRouter: Timestamp missing on record for topic orders".to_owned())
        );
    }

    #[test]
    fn config_errors() {
        let err = build(&props(&[("timestamp.format", "yyyy-ww")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value yyyy-ww for configuration timestamp.format: \
             unsupported pattern letters 'ww' in yyyy-ww"
        );
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        assert_eq!(
            names,
            ["org.apache.kafka.connect.transforms.TimestampRouter"]
        );
    }

    #[test]
    fn topic_formats_split_at_placeholders() {
        assert_eq!(
            parse_topic_format("a${topic}${timestamp}b"),
            [
                Piece::Text("a".into()),
                Piece::Topic,
                Piece::Timestamp,
                Piece::Text("b".into())
            ]
        );
        assert_eq!(parse_topic_format(""), []);
    }
}
