//! Configuration definitions: typed keys with defaults, validators and documentation.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use regex::Regex;

use super::value::{ConfigValue, ConfigValues, Password};

/// The type of a configuration key, with Kafka Connect's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// A boolean, parsed from `true` or `false` in any case.
    Boolean,
    /// Any text, with surrounding whitespace trimmed.
    String,
    /// A 16-bit signed integer.
    Short,
    /// A 32-bit signed integer.
    Int,
    /// A 64-bit signed integer.
    Long,
    /// A 64-bit floating-point number.
    Double,
    /// Comma-separated values.
    List,
    /// A plugin or class name.
    Class,
    /// A secret, never printed.
    Password,
}

impl ConfigType {
    /// The name in REST bodies (`STRING`, `INT`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::String => "STRING",
            Self::Short => "SHORT",
            Self::Int => "INT",
            Self::Long => "LONG",
            Self::Double => "DOUBLE",
            Self::List => "LIST",
            Self::Class => "CLASS",
            Self::Password => "PASSWORD",
        }
    }

    /// Parses a raw string as Kafka Connect does: trimmed; booleans `true`/`false` in any case;
    /// lists split at commas with surrounding whitespace, empty text giving an empty list.
    pub fn parse(self, raw: &str) -> Result<ConfigValue, String> {
        let trimmed = raw.trim();
        let not_a = |ty: ConfigType| format!("Not a number of type {}", ty.name());
        Ok(match self {
            Self::Boolean => match trimmed.to_ascii_lowercase().as_str() {
                "true" => ConfigValue::Boolean(true),
                "false" => ConfigValue::Boolean(false),
                _ => return Err("Expected value to be either true or false".into()),
            },
            Self::String => ConfigValue::String(trimmed.to_owned()),
            Self::Class => ConfigValue::Class(trimmed.to_owned()),
            Self::Password => ConfigValue::Password(Password::new(trimmed)),
            Self::Short => ConfigValue::Short(trimmed.parse().map_err(|_| not_a(self))?),
            Self::Int => ConfigValue::Int(trimmed.parse().map_err(|_| not_a(self))?),
            Self::Long => ConfigValue::Long(trimmed.parse().map_err(|_| not_a(self))?),
            Self::Double => ConfigValue::Double(trimmed.parse().map_err(|_| not_a(self))?),
            Self::List if trimmed.is_empty() => ConfigValue::List(Vec::new()),
            Self::List => {
                ConfigValue::List(trimmed.split(',').map(|s| s.trim().to_owned()).collect())
            }
        })
    }
}

/// How important a key is, for documentation and UIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// High importance (`HIGH`).
    High,
    /// Medium importance (`MEDIUM`).
    Medium,
    /// Low importance (`LOW`).
    Low,
}

impl Importance {
    /// The name in REST bodies.
    pub fn name(self) -> &'static str {
        match self {
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
        }
    }
}

/// The width of a key's input field in UIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// No width given (`NONE`).
    None,
    /// A short input field (`SHORT`).
    Short,
    /// A medium input field (`MEDIUM`).
    Medium,
    /// A long input field (`LONG`).
    Long,
}

impl Width {
    /// The name in REST bodies.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Short => "SHORT",
            Self::Medium => "MEDIUM",
            Self::Long => "LONG",
        }
    }
}

/// A key's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultValue {
    /// The key must be given.
    Required,
    /// The key is optional and has no value when not given.
    Null,
    /// The key takes this value, written as a user would write it, when not given.
    Value(String),
}

/// A check written as a function: `Err` carries the problem.
pub type CustomCheck = Arc<dyn Fn(&ConfigValue) -> Result<(), String> + Send + Sync>;

/// A check of a parsed value. The value of an optional key without a value is not checked.
#[derive(Clone)]
#[non_exhaustive]
pub enum Validator {
    /// A number within bounds (inclusive; either may be open).
    Range {
        /// The smallest value allowed; `None` for no lower bound.
        min: Option<f64>,
        /// The largest value allowed; `None` for no upper bound.
        max: Option<f64>,
    },
    /// One of these strings, exactly.
    OneOf(Vec<String>),
    /// One of these strings, in any case.
    OneOfIgnoreCase(Vec<String>),
    /// A non-empty string.
    NonEmptyString,
    /// A string matching this regular expression in full.
    Regex(Regex),
    /// Every item of a list passes the inner validator.
    EachItem(Box<Validator>),
    /// Anything a function accepts; it returns the problem otherwise.
    Custom(CustomCheck),
}

impl Validator {
    /// A number of at least `min`.
    pub fn at_least(min: impl Into<f64>) -> Self {
        Self::Range {
            min: Some(min.into()),
            max: None,
        }
    }

    /// A number from `min` to `max`, inclusive.
    pub fn between(min: impl Into<f64>, max: impl Into<f64>) -> Self {
        Self::Range {
            min: Some(min.into()),
            max: Some(max.into()),
        }
    }

    /// One of these strings, exactly.
    pub fn one_of(values: &[&str]) -> Self {
        Self::OneOf(values.iter().map(|s| s.to_string()).collect())
    }

    /// One of these strings, in any case.
    pub fn one_of_ignore_case(values: &[&str]) -> Self {
        Self::OneOfIgnoreCase(values.iter().map(|s| s.to_string()).collect())
    }

    /// A string matching `pattern` in full. Panics on an invalid pattern: patterns are
    /// written by connector authors, not users.
    #[allow(clippy::expect_used)]
    pub fn regex(pattern: &str) -> Self {
        Self::Regex(Regex::new(&format!("^(?:{pattern})$")).expect("a valid validator pattern"))
    }

    /// Checks a value; the error is the message after `Invalid value X for configuration Y: `.
    /// A password is checked on its secret, which no message repeats.
    pub fn check(&self, value: &ConfigValue) -> Result<(), String> {
        let text = || match value {
            ConfigValue::Password(p) => p.value().to_owned(),
            other => other.to_string(),
        };
        match (self, value) {
            (_, ConfigValue::Null) => Ok(()),
            (Self::Range { min, max }, v) => {
                let n = match *v {
                    ConfigValue::Short(n) => f64::from(n),
                    ConfigValue::Int(n) => f64::from(n),
                    ConfigValue::Long(n) => n as f64,
                    ConfigValue::Double(n) => n,
                    _ => return Err("Value must be a number".into()),
                };
                if let Some(min) = min.filter(|min| n < *min) {
                    return Err(format!("Value must be at least {}", Number(min)));
                }
                if let Some(max) = max.filter(|max| n > *max) {
                    return Err(format!("Value must be no more than {}", Number(max)));
                }
                Ok(())
            }
            (Self::OneOf(allowed), _) => {
                let s = text();
                if allowed.contains(&s) {
                    Ok(())
                } else {
                    Err(format!("String must be one of: {}", allowed.join(", ")))
                }
            }
            (Self::OneOfIgnoreCase(allowed), _) => {
                let s = text();
                if allowed.iter().any(|a| a.eq_ignore_ascii_case(&s)) {
                    Ok(())
                } else {
                    Err(format!(
                        "String must be one of (case insensitive): {}",
                        allowed.join(", ")
                    ))
                }
            }
            (Self::NonEmptyString, _) => {
                if text().is_empty() {
                    Err("String must be non-empty".into())
                } else {
                    Ok(())
                }
            }
            (Self::Regex(re), _) => {
                let s = text();
                if re.is_match(&s) {
                    Ok(())
                } else {
                    let pattern = re.as_str();
                    let inner = pattern
                        .strip_prefix("^(?:")
                        .and_then(|p| p.strip_suffix(")$"))
                        .unwrap_or(pattern);
                    Err(format!("String must match the pattern {inner}"))
                }
            }
            (Self::EachItem(inner), ConfigValue::List(items)) => items
                .iter()
                .try_for_each(|item| inner.check(&ConfigValue::String(item.clone()))),
            (Self::EachItem(inner), v) => inner.check(v),
            (Self::Custom(check), v) => check(v),
        }
    }
}

/// Prints whole numbers without a fraction (`1`, not `1.0`), as Java prints the bounds.
struct Number(f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            write!(f, "{}", self.0 as i64)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range { min, max } => write!(f, "Range({min:?}, {max:?})"),
            Self::OneOf(v) => write!(f, "OneOf({v:?})"),
            Self::OneOfIgnoreCase(v) => write!(f, "OneOfIgnoreCase({v:?})"),
            Self::NonEmptyString => f.write_str("NonEmptyString"),
            Self::Regex(re) => write!(f, "Regex({})", re.as_str()),
            Self::EachItem(inner) => write!(f, "EachItem({inner:?})"),
            Self::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// One configuration key: its type, default, validator and documentation.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    /// The key's name, as written in a configuration.
    pub name: String,
    /// The type its values parse to.
    pub ty: ConfigType,
    /// Whether the key is required, and its value when not given.
    pub default: DefaultValue,
    /// The check of the parsed value, if any.
    pub validator: Option<Validator>,
    /// How important the key is.
    pub importance: Importance,
    /// A description of the key for users.
    pub documentation: String,
    /// The group the key is shown in, if any.
    pub group: Option<String>,
    /// The key's position within its group; -1 when not given.
    pub order_in_group: i32,
    /// The width of the key's input field in UIs.
    pub width: Width,
    /// The name UIs show; the key's name by default.
    pub display_name: String,
    /// Keys whose meaning depends on this one.
    pub dependents: Vec<String>,
    /// Values a UI may offer.
    pub recommended_values: Vec<String>,
}

impl ConfigKey {
    /// A required key of this type, of medium importance, without documentation yet.
    pub fn new(name: impl Into<String>, ty: ConfigType) -> Self {
        let name = name.into();
        Self {
            display_name: name.clone(),
            name,
            ty,
            default: DefaultValue::Required,
            validator: None,
            importance: Importance::Medium,
            documentation: String::new(),
            group: None,
            order_in_group: -1,
            width: Width::None,
            dependents: Vec::new(),
            recommended_values: Vec::new(),
        }
    }

    /// The key's default, written as a user would write it.
    pub fn default_value(mut self, default: impl Into<String>) -> Self {
        self.default = DefaultValue::Value(default.into());
        self
    }

    /// The key is optional and has no value by default.
    pub fn optional(mut self) -> Self {
        self.default = DefaultValue::Null;
        self
    }

    /// Checks values with `validator`.
    pub fn validator(mut self, validator: Validator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// Sets the importance.
    pub fn importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }

    /// Sets the documentation.
    pub fn doc(mut self, documentation: impl Into<String>) -> Self {
        self.documentation = documentation.into();
        self
    }

    /// Puts the key in a group, at a position.
    pub fn group(mut self, group: impl Into<String>, order_in_group: i32) -> Self {
        self.group = Some(group.into());
        self.order_in_group = order_in_group;
        self
    }

    /// Sets the UI width.
    pub fn width(mut self, width: Width) -> Self {
        self.width = width;
        self
    }

    /// Sets the display name (the key's name by default).
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = display_name.into();
        self
    }

    /// Sets the values a UI may offer.
    pub fn recommended(mut self, values: &[&str]) -> Self {
        self.recommended_values = values.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Whether the key has no default.
    pub fn is_required(&self) -> bool {
        self.default == DefaultValue::Required
    }

    /// The parsed value of the key given `raw` (`None` when not given), or the full message
    /// of what is wrong with it.
    pub fn parse(&self, raw: Option<&str>) -> Result<ConfigValue, String> {
        let invalid = |shown: &str, message: String| {
            format!(
                "Invalid value {shown} for configuration {}: {message}",
                self.name
            )
        };
        let shown = |raw: &str| match self.ty {
            ConfigType::Password => Password::HIDDEN.to_owned(),
            _ => super::hide_uri_passwords(raw.trim()).into_owned(),
        };
        let (raw, value) = match (raw, &self.default) {
            (Some(raw), _) => (raw, self.ty.parse(raw)),
            (None, DefaultValue::Value(default)) => (default.as_str(), self.ty.parse(default)),
            (None, DefaultValue::Null) => return Ok(ConfigValue::Null),
            (None, DefaultValue::Required) => {
                return Err(format!(
                    "Missing required configuration \"{}\" which has no default value.",
                    self.name
                ))
            }
        };
        let value = value.map_err(|m| invalid(&shown(raw), m))?;
        if let Some(validator) = &self.validator {
            validator
                .check(&value)
                .map_err(|m| invalid(&shown(raw), m))?;
        }
        Ok(value)
    }
}

/// Every problem found in a configuration, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors {
    errors: Vec<(String, String)>,
}

impl ConfigErrors {
    /// Records a problem with `key`.
    pub fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push((key.into(), message.into()));
    }

    /// The problems, as `(key, message)`, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.errors.iter().map(|(k, m)| (k.as_str(), m.as_str()))
    }

    /// The messages about one key.
    pub fn for_key<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.errors
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, m)| m.as_str())
    }

    /// The number of problems.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Moves every problem of `other` into this one.
    pub fn extend(&mut self, other: ConfigErrors) {
        self.errors.extend(other.errors);
    }

    /// The same problems about keys read under `prefix` (e.g. `transforms.route.`): keys and
    /// the key names in messages get the prefix, so users see the key they wrote.
    pub fn prefixed(self, prefix: &str) -> ConfigErrors {
        let errors = self
            .errors
            .into_iter()
            .map(|(key, message)| {
                let full = format!("{prefix}{key}");
                let message = message
                    .replace(
                        &format!("for configuration {key}:"),
                        &format!("for configuration {full}:"),
                    )
                    .replace(&format!("\"{key}\""), &format!("\"{full}\""));
                (full, message)
            })
            .collect();
        ConfigErrors { errors }
    }

    /// `Ok(value)` when there are no problems.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ConfigErrors {
    /// One message a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (_, message)) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The keys a connector, converter or transform accepts.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    /// A definition without keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key, replacing a key of the same name.
    pub fn define(mut self, key: ConfigKey) -> Self {
        match self.keys.iter_mut().find(|k| k.name == key.name) {
            Some(existing) => *existing = key,
            None => self.keys.push(key),
        }
        self
    }

    /// Adds every key of `other`, replacing keys of the same names.
    pub fn merge(self, other: ConfigDef) -> Self {
        other.keys.into_iter().fold(self, Self::define)
    }

    /// The keys, in the order defined.
    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    /// The key with this name.
    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The groups, in the order their first key was defined.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for group in self.keys.iter().filter_map(|k| k.group.as_ref()) {
            if !groups.contains(group) {
                groups.push(group.clone());
            }
        }
        groups
    }

    /// Parses a flat string map into typed values, reporting every problem at once.
    /// Keys not defined here are kept in [`ConfigValues::originals`] and not checked.
    pub fn parse(&self, props: &BTreeMap<String, String>) -> Result<ConfigValues, ConfigErrors> {
        let mut values = BTreeMap::new();
        let mut errors = ConfigErrors::default();
        for key in &self.keys {
            match key.parse(props.get(&key.name).map(String::as_str)) {
                Ok(value) => {
                    values.insert(key.name.clone(), value);
                }
                Err(message) => errors.add(&key.name, message),
            }
        }
        errors.into_result(ConfigValues::new(values, props.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new("topic", ConfigType::String).validator(Validator::NonEmptyString),
            )
            .define(
                ConfigKey::new("batch.size", ConfigType::Int)
                    .default_value("500")
                    .validator(Validator::at_least(1)),
            )
            .define(ConfigKey::new("enabled", ConfigType::Boolean).default_value("true"))
            .define(ConfigKey::new("fields", ConfigType::List).default_value(""))
            .define(ConfigKey::new("secret", ConfigType::Password).optional())
            .define(
                ConfigKey::new("mode", ConfigType::String)
                    .default_value("LIVE")
                    .validator(Validator::one_of_ignore_case(&["LIVE", "LIVEONLY"])),
            )
            .define(
                ConfigKey::new("ratio", ConfigType::Double)
                    .default_value("0.5")
                    .validator(Validator::between(0, 1)),
            )
            .define(
                ConfigKey::new("id", ConfigType::String)
                    .optional()
                    .validator(Validator::regex("[a-z]+")),
            )
    }

    #[test]
    fn parses_typed_values_and_defaults() {
        let v = def()
            .parse(&props(&[
                ("topic", " orders "),
                ("enabled", "FALSE"),
                ("fields", "a, b ,c"),
                ("secret", "pw"),
                ("unknown.key", "kept"),
            ]))
            .unwrap();
        assert_eq!(v.string("topic"), Some("orders"));
        assert_eq!(v.int("batch.size"), Some(500));
        assert_eq!(v.long("batch.size"), Some(500));
        assert_eq!(v.boolean("enabled"), Some(false));
        assert_eq!(v.list("fields"), ["a", "b", "c"]);
        assert_eq!(v.password("secret").map(Password::value), Some("pw"));
        assert_eq!(v.double("ratio"), Some(0.5));
        assert_eq!(v.get("id"), Some(&ConfigValue::Null));
        assert_eq!(
            v.originals().get("unknown.key").map(String::as_str),
            Some("kept")
        );
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let errors = def()
            .parse(&props(&[
                ("batch.size", "0"),
                ("enabled", "yes"),
                ("mode", "sometimes"),
                ("ratio", "1.5"),
                ("id", "ABC"),
            ]))
            .unwrap_err();
        let messages: Vec<&str> = errors.iter().map(|(_, m)| m).collect();
        assert_eq!(
            messages,
            [
                "Missing required configuration \"topic\" which has no default value.",
                "Invalid value 0 for configuration batch.size: Value must be at least 1",
                "Invalid value yes for configuration enabled: Expected value to be either true or false",
                "Invalid value sometimes for configuration mode: String must be one of (case insensitive): LIVE, LIVEONLY",
                "Invalid value 1.5 for configuration ratio: Value must be no more than 1",
                "Invalid value ABC for configuration id: String must match the pattern [a-z]+",
            ]
        );
        assert_eq!(errors.for_key("mode").count(), 1);
    }

    #[test]
    fn numbers_must_parse() {
        let errors = def()
            .parse(&props(&[("topic", "t"), ("batch.size", "ten")]))
            .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Invalid value ten for configuration batch.size: Not a number of type INT"
        );
        let empty = def().parse(&props(&[("topic", "")])).unwrap_err();
        assert!(empty.to_string().contains("String must be non-empty"));
    }

    #[test]
    fn invalid_passwords_are_not_echoed() {
        let d = ConfigDef::new().define(
            ConfigKey::new("pw", ConfigType::Password).validator(Validator::regex(".{8,}")),
        );
        let errors = d.parse(&props(&[("pw", "short")])).unwrap_err();
        let text = errors.to_string();
        assert!(!text.contains("short"), "{text}");
        assert!(text.contains("[hidden]"), "{text}");
    }

    #[test]
    fn passwords_in_invalid_uris_are_not_echoed() {
        let d = ConfigDef::new().define(
            ConfigKey::new("uri", ConfigType::String).validator(Validator::regex("redis://.*")),
        );
        let errors = d
            .parse(&props(&[("uri", "http://u:s3cret@h:1")]))
            .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Invalid value http://u:********@h:1 for configuration uri: String must match the pattern redis://.*"
        );
    }

    #[test]
    fn prefixed_errors_name_the_key_the_user_wrote() {
        let errors = def().parse(&props(&[("batch.size", "x")])).unwrap_err();
        let prefixed = errors.prefixed("transforms.a.");
        let keys: Vec<&str> = prefixed.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["transforms.a.topic", "transforms.a.batch.size"]);
        assert_eq!(
            prefixed.to_string(),
            "Missing required configuration \"transforms.a.topic\" which has no default value.\n\
             Invalid value x for configuration transforms.a.batch.size: Not a number of type INT"
        );
    }

    #[test]
    fn one_of_and_each_item() {
        let d = ConfigDef::new().define(ConfigKey::new("types", ConfigType::List).validator(
            Validator::EachItem(Box::new(Validator::one_of(&["A", "B"]))),
        ));
        assert!(d.parse(&props(&[("types", "A,B")])).is_ok());
        let e = d.parse(&props(&[("types", "A,C")])).unwrap_err();
        assert!(
            e.to_string().ends_with("String must be one of: A, B"),
            "{e}"
        );
    }

    #[test]
    fn groups_merge_and_redefinition() {
        let a = ConfigDef::new()
            .define(ConfigKey::new("x", ConfigType::String).group("Common", 1))
            .define(ConfigKey::new("y", ConfigType::String).group("Redis", 1));
        let b = ConfigDef::new().define(ConfigKey::new("x", ConfigType::Int).group("Common", 2));
        let merged = a.merge(b);
        assert_eq!(merged.keys().len(), 2);
        assert_eq!(merged.key("x").map(|k| k.ty), Some(ConfigType::Int));
        assert_eq!(merged.groups(), ["Common", "Redis"]);
    }
}
