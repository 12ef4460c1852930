//! Kafka's built-in predicates, which decide whether a transform applies to a record:
//! `TopicNameMatches` (the whole topic name matches `pattern`), `HasHeaderKey` (a header
//! named `name` is present) and `RecordIsTombstone` (the value is null).
//!
//! Patterns are Rust `regex` syntax (no look-around or back-references; see `RegexRouter`).

use std::sync::Arc;

use regex::Regex;

use crate::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValue, Importance, Props, Validator,
};
use crate::plugin::PluginDescriptor;
use crate::record::ConnectRecord;

use super::regex_router::{full_match, regex_validator};
use super::registry;
use super::Predicate;

const PATTERN: &str = "pattern";
const NAME: &str = "name";

/// The `TopicNameMatches`, `HasHeaderKey` and `RecordIsTombstone` plugins.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    vec![
        registry::predicate(
            "TopicNameMatches",
            topic_name_matches_config_def(),
            build_topic_name_matches,
        ),
        registry::predicate(
            "HasHeaderKey",
            has_header_key_config_def(),
            build_has_header_key,
        ),
        registry::predicate(
            "RecordIsTombstone",
            ConfigDef::new(),
            build_record_is_tombstone,
        ),
    ]
}

/// Kafka's key of `TopicNameMatches`: `pattern`, non-empty and a valid regex.
fn topic_name_matches_config_def() -> ConfigDef {
    let regex = regex_validator();
    let non_empty_regex = Validator::Custom(Arc::new(move |value| match value {
        ConfigValue::String(s) if s.is_empty() => Validator::NonEmptyString.check(value),
        _ => regex.check(value),
    }));
    ConfigDef::new().define(
        ConfigKey::new(PATTERN, ConfigType::String)
            .validator(non_empty_regex)
            .importance(Importance::Medium)
            .doc("A Java regular expression for matching against the name of a record's topic."),
    )
}

fn build_topic_name_matches(props: &Props) -> Result<Box<dyn Predicate>, ConfigErrors> {
    let config = topic_name_matches_config_def().parse(props)?;
    let pattern = config.string(PATTERN).unwrap_or_default();
    let regex = full_match(pattern).map_err(|e| {
        let mut errors = ConfigErrors::default();
        errors.add(
            PATTERN,
            format!(
                "Invalid value {pattern} for configuration {PATTERN}: \
                 entry must be a Java-compatible regular expression: {e}"
            ),
        );
        errors
    })?;
    Ok(Box::new(TopicNameMatches { regex }))
}

/// True for records whose whole topic name matches a regular expression.
#[derive(Debug)]
pub struct TopicNameMatches {
    regex: Regex,
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &ConnectRecord) -> bool {
        self.regex.is_match(&record.topic)
    }
}

/// Kafka's key of `HasHeaderKey`: `name`, non-empty.
fn has_header_key_config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(NAME, ConfigType::String)
            .validator(Validator::NonEmptyString)
            .importance(Importance::Medium)
            .doc("The header name."),
    )
}

fn build_has_header_key(props: &Props) -> Result<Box<dyn Predicate>, ConfigErrors> {
    let config = has_header_key_config_def().parse(props)?;
    Ok(Box::new(HasHeaderKey {
        name: config.string(NAME).unwrap_or_default().to_owned(),
    }))
}

/// True for records with at least one header of a name.
#[derive(Debug)]
pub struct HasHeaderKey {
    name: String,
}

impl Predicate for HasHeaderKey {
    fn test(&self, record: &ConnectRecord) -> bool {
        record.headers.iter().any(|h| *h.key == *self.name)
    }
}

fn build_record_is_tombstone(props: &Props) -> Result<Box<dyn Predicate>, ConfigErrors> {
    ConfigDef::new().parse(props)?;
    Ok(Box::new(RecordIsTombstone))
}

/// True for tombstones: records whose value is null.
#[derive(Debug)]
pub struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn test(&self, record: &ConnectRecord) -> bool {
        record.value.is_null()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::data::Value;

    #[test]
    fn topic_name_matches_the_whole_name() {
        let p = build_topic_name_matches(&props(&[("pattern", "orders|pay.*")])).unwrap();
        assert!(p.test(&ConnectRecord::new("orders", "v")));
        assert!(p.test(&ConnectRecord::new("payments", "v")));
        assert!(!p.test(&ConnectRecord::new("orders-dlq", "v")));
        assert!(!p.test(&ConnectRecord::new("my-payments", "v")));
    }

    #[test]
    fn topic_name_matches_config_errors() {
        let err = |pairs: &[(&str, &str)]| {
            build_topic_name_matches(&props(pairs))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&[]),
            "Missing required configuration \"pattern\" which has no default value."
        );
        assert_eq!(
            err(&[("pattern", "")]),
            "Invalid value  for configuration pattern: String must be non-empty"
        );
        let invalid = full_match("[a-").unwrap_err();
        assert_eq!(
            err(&[("pattern", "[a-")]),
            format!("Invalid value [a- for configuration pattern: Invalid regex: {invalid}")
        );
    }

    #[test]
    fn has_header_key() {
        let p = build_has_header_key(&props(&[("name", "trace")])).unwrap();
        let mut record = ConnectRecord::new("t", "v");
        assert!(!p.test(&record));
        record.headers.add("Trace", 1i32);
        assert!(!p.test(&record));
        record.headers.add("trace", Value::Null);
        assert!(p.test(&record));
        let err =
            |pairs: &[(&str, &str)]| build_has_header_key(&props(pairs)).unwrap_err().to_string();
        assert_eq!(
            err(&[]),
            "Missing required configuration \"name\" which has no default value."
        );
        assert_eq!(
            err(&[("name", " ")]),
            "Invalid value  for configuration name: String must be non-empty"
        );
    }

    #[test]
    fn record_is_tombstone() {
        let p = build_record_is_tombstone(&Props::new()).unwrap();
        assert!(p.test(&ConnectRecord::new("t", Value::Null)));
        let mut keyed = ConnectRecord::new("t", Value::Null);
        keyed.key = Value::from("k");
        assert!(p.test(&keyed));
        assert!(!p.test(&ConnectRecord::new("t", "v")));
        assert!(!p.test(&ConnectRecord::new("t", Value::Map(Vec::new()))));
    }

    #[test]
    fn registers_the_predicates() {
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        assert_eq!(
            names,
            [
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
                "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            ]
        );
    }
}
