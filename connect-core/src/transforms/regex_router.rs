//! `RegexRouter`: renames the topic when the whole topic name matches `regex`, replacing it
//! with `replacement` (Java's `$1` / `${name}` group references), as Kafka's transform.
//!
//! Regular expressions are Rust's `regex` syntax, which covers the common Java syntax
//! but has no look-around or back-references: such a pattern is a configuration error.
//! A replacement naming a group the regex does not have is a configuration error here,
//! where Kafka fails on the first matching record.

use std::sync::Arc;

use regex::Regex;

use crate::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValue, Importance, Props, Validator,
};
use crate::data::Text;
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::ConnectRecord;

use super::registry;
use super::{Outcome, Transformation};

const REGEX: &str = "regex";
const REPLACEMENT: &str = "replacement";

/// The `RegexRouter` plugin.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    vec![registry::transform("RegexRouter", config_def(), build)]
}

/// `pattern` compiled to match whole strings only, as Java's `Matcher.matches()`.
pub(super) fn full_match(pattern: &str) -> Result<Regex, regex::Error> {
    // Compiled alone first: a pattern that is valid alone is balanced, so wrapping it in a
    // group cannot change what it means.
    Regex::new(pattern)?;
    Regex::new(&format!("^(?:{pattern})$"))
}

/// Accepts the strings [`full_match`] compiles; the message is Kafka's `Invalid regex: ...`.
pub(super) fn regex_validator() -> Validator {
    Validator::Custom(Arc::new(|value| match value {
        ConfigValue::String(pattern) => full_match(pattern)
            .map(|_| ())
            .map_err(|e| format!("Invalid regex: {e}")),
        _ => Ok(()),
    }))
}

/// Kafka's keys: `regex` and `replacement`.
fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(REGEX, ConfigType::String)
                .validator(regex_validator())
                .importance(Importance::High)
                .doc("Regular expression to use for matching."),
        )
        .define(
            ConfigKey::new(REPLACEMENT, ConfigType::String)
                .importance(Importance::High)
                .doc("Replacement string."),
        )
}

fn build(props: &Props) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    let pattern = config.string(REGEX).unwrap_or_default();
    let replacement = config.string(REPLACEMENT).unwrap_or_default();
    let mut errors = ConfigErrors::default();
    // The validator has compiled both already; errors here cannot happen but are reported.
    let (whole, first) = match (full_match(pattern), Regex::new(pattern)) {
        (Ok(whole), Ok(first)) => (whole, first),
        (Err(e), _) | (_, Err(e)) => {
            errors.add(REGEX, format!("Invalid regex: {e}"));
            return Err(errors);
        }
    };
    let pieces = parse_replacement(replacement, &first).map_err(|e| {
        errors.add(
            REPLACEMENT,
            format!("Invalid value {replacement} for configuration {REPLACEMENT}: {e}"),
        );
        errors
    })?;
    Ok(Box::new(RegexRouter {
        whole,
        first,
        replacement: pieces,
    }))
}

/// A part of a replacement: text, or the text a capture group matched.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Group(usize),
}

/// Parses Java's replacement syntax: `$n` and `${name}` insert a group, `\x` is `x`.
/// As in Java, `$12` is group 12 only when the regex has 12 groups, else group 1 and `2`.
fn parse_replacement(replacement: &str, regex: &Regex) -> Result<Vec<Piece>, String> {
    let groups = regex.captures_len() - 1;
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => text.push(escaped),
                None => return Err("character to be escaped is missing".into()),
            },
            '$' => {
                let group = match chars.next() {
                    None => return Err("Illegal group reference: group index is missing".into()),
                    Some('{') => {
                        let mut name = String::new();
                        loop {
                            match chars.next() {
                                Some('}') => break,
                                Some(c) if c.is_ascii_alphanumeric() => name.push(c),
                                _ => {
                                    return Err(
                                        "named capturing group is missing trailing '}'".into()
                                    )
                                }
                            }
                        }
                        regex
                            .capture_names()
                            .position(|n| n == Some(name.as_str()))
                            .ok_or_else(|| format!("No group with name {{{name}}}"))?
                    }
                    Some(d) if d.is_ascii_digit() => {
                        let mut group = d as usize - '0' as usize;
                        if group > groups {
                            return Err(format!("No group {group}"));
                        }
                        // Later digits belong to the reference while it names a group.
                        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                            let longer = group * 10 + d as usize;
                            if longer > groups {
                                break;
                            }
                            group = longer;
                            chars.next();
                        }
                        group
                    }
                    Some(_) => return Err("Illegal group reference".into()),
                };
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Group(group));
            }
            _ => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Renames topics that match a regular expression.
#[derive(Debug)]
pub struct RegexRouter {
    /// The regex, anchored: whether the whole topic matches.
    whole: Regex,
    /// The regex as written: the first match is what is replaced, as Java's `replaceFirst`.
    first: Regex,
    replacement: Vec<Piece>,
}

impl Transformation for RegexRouter {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        if !self.whole.is_match(&record.topic) {
            return Ok(Outcome::Keep);
        }
        let topic: &str = &record.topic;
        // Kafka replaces the first match, which for a pattern like `a|ab` is shorter than the
        // whole topic; the text around it is kept.
        let Some(caps) = self.first.captures(topic) else {
            return Ok(Outcome::Keep);
        };
        let (start, end) = caps.get(0).map_or((0, 0), |m| (m.start(), m.end()));
        let mut renamed = String::with_capacity(topic.len() + 16);
        renamed.push_str(&topic[..start]);
        for piece in &self.replacement {
            match piece {
                Piece::Text(text) => renamed.push_str(text),
                // A group that did not take part in the match inserts nothing, as in Java.
                Piece::Group(i) => renamed.push_str(caps.get(*i).map_or("", |m| m.as_str())),
            }
        }
        renamed.push_str(&topic[end..]);
        record.topic = Text::from(renamed);
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::props;

    fn route(regex: &str, replacement: &str, topic: &str) -> String {
        let t = build(&props(&[("regex", regex), ("replacement", replacement)])).unwrap();
        let mut record = ConnectRecord::new(topic, "v");
        assert_eq!(t.apply(&mut record).unwrap(), Outcome::Keep);
        assert_eq!(record.value, crate::data::Value::from("v"));
        record.topic.to_string()
    }

    fn config_error(regex: &str, replacement: &str) -> String {
        let pairs = [("regex", regex), ("replacement", replacement)];
        build(&props(&pairs)).unwrap_err().to_string()
    }

    #[test]
    fn renames_topics_that_match_in_full() {
        assert_eq!(route("(.*)-(.*)", "$2.$1", "a-b-c"), "c.a-b");
        assert_eq!(route("orders", "orders-copy", "orders"), "orders-copy");
        assert_eq!(route("orders", "orders-copy", "my-orders"), "my-orders");
        assert_eq!(
            route("(?<env>prod|dev)_(.+)", "${env}-$2", "prod_users"),
            "prod-users"
        );
        // Escapes, and $12 read as group 1 then "2" when there is no group 12.
        assert_eq!(route("(t)", "\\$1-\\\\-$12", "t"), "$1-\\-t2");
        // An optional group that did not match inserts nothing.
        assert_eq!(route("a(x)?b", "[$1]", "ab"), "[]");
        // As Java's replaceFirst after matches(): the first match is replaced.
        assert_eq!(route("a|ab", "X", "ab"), "Xb");
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            build(&props(&[])).unwrap_err().to_string(),
            "Missing required configuration \"regex\" which has no default value.\n\
             Missing required configuration \"replacement\" which has no default value."
        );
        let invalid = full_match("(abc").unwrap_err();
        assert_eq!(
            config_error("(abc", "x"),
            format!("Invalid value (abc for configuration regex: Invalid regex: {invalid}")
        );
        let lookahead = full_match("a(?=b)").unwrap_err();
        assert_eq!(
            config_error("a(?=b)", "x"),
            format!("Invalid value a(?=b) for configuration regex: Invalid regex: {lookahead}")
        );
        let replacement_error = |replacement: &str| config_error("(a)(?<n>b)", replacement);
        assert_eq!(
            replacement_error("$3"),
            "Invalid value $3 for configuration replacement: No group 3"
        );
        assert_eq!(
            replacement_error("${m}"),
            "Invalid value ${m} for configuration replacement: No group with name {m}"
        );
        assert_eq!(
            replacement_error("x$"),
            "Invalid value x$ for configuration replacement: \
             Illegal group reference: group index is missing"
        );
        assert_eq!(
            replacement_error("$x"),
            "Invalid value $x for configuration replacement: Illegal group reference"
        );
        assert_eq!(
            replacement_error("${n"),
            "Invalid value ${n for configuration replacement: \
             named capturing group is missing trailing '}'"
        );
        assert_eq!(
            replacement_error("x\\"),
            "Invalid value x\\ for configuration replacement: character to be escaped is missing"
        );
    }

    #[test]
    fn registers_the_plugin() {
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        assert_eq!(names, ["org.apache.kafka.connect.transforms.RegexRouter"]);
    }
}
