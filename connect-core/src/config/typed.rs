//! Typed configurations declared once: a connector writes one [`Config::read`] function that
//! both declares each key (type, default, validator, documentation) and reads its value into a
//! field of its own struct.
//!
//! The worker runs that function twice over: once with no values, to learn the keys (the
//! [`ConfigDef`] served at `/connector-plugins/{plugin}/config` and used by
//! `/config/validate`), and once over a configuration, to build the struct, with every problem
//! found reported at once. So a key's default is written in one place and the value a task
//! sees is the one the REST API documents.
//!
//! ```
//! use std::time::Duration;
//! use connect_core::config::{Config, ConfigKey, ConfigReader, ConfigType, Props, Validator};
//!
//! #[derive(Debug)]
//! struct CounterConfig {
//!     topic: String,
//!     interval: Duration,
//!     label: Option<String>,
//! }
//!
//! impl Config for CounterConfig {
//!     fn read(c: &mut ConfigReader<'_>) -> Self {
//!         Self {
//!             topic: c.string(ConfigKey::new("topic", ConfigType::String)
//!                 .validator(Validator::NonEmptyString)
//!                 .doc("The topic to write to.")),
//!             interval: c.millis(ConfigKey::new("interval.ms", ConfigType::Long)
//!                 .default_value("1000")
//!                 .validator(Validator::between(1, 3_600_000))),
//!             label: c.optional_string(ConfigKey::new("label", ConfigType::String)),
//!         }
//!     }
//! }
//!
//! let def = CounterConfig::definition();
//! assert_eq!(def.keys().len(), 3);
//! let config = CounterConfig::parse(&Props::from([("topic".into(), "beats".into())])).unwrap();
//! assert_eq!(config.interval, Duration::from_millis(1000)); // the declared default
//! assert_eq!(config.label, None);
//! let errors = CounterConfig::parse(&Props::from([("interval.ms".into(), "0".into())]))
//!     .unwrap_err();
//! assert_eq!(errors.len(), 2); // topic is missing, interval.ms is out of range
//! ```

use std::time::Duration;

use super::def::{ConfigDef, ConfigErrors, ConfigKey, ConfigType, DefaultValue};
use super::value::{ConfigValue, Password};
use super::Props;

/// A configuration struct whose keys are declared where its fields are read.
pub trait Config: Sized + Send + Sync + 'static {
    /// Declares every key through `c` and builds the struct from the values `c` returns.
    ///
    /// Read every key unconditionally: the same calls declare the keys when the worker asks
    /// for the definition, when `c` returns each key's default (or an empty value for a
    /// required key) and records nothing. Checks across keys go through
    /// [`ConfigReader::error`].
    fn read(c: &mut ConfigReader<'_>) -> Self;

    /// Every key [`read`](Config::read) declares, in the order declared.
    fn definition() -> ConfigDef {
        let props = Props::new();
        let mut reader = ConfigReader::new(&props, true);
        Self::read(&mut reader);
        reader.def
    }

    /// The configuration's values, or every problem found.
    fn parse(props: &Props) -> Result<Self, ConfigErrors> {
        let mut reader = ConfigReader::new(props, false);
        let config = Self::read(&mut reader);
        reader.errors.into_result(config)
    }
}

/// A configuration with no keys of its own, for a task that needs nothing beyond its context.
impl Config for () {
    fn read(_: &mut ConfigReader<'_>) -> Self {}
}

/// Declares keys and returns their values; see [`Config`].
///
/// Each getter sets the key's type to its own (a key passed to [`long`](Self::long) is a
/// `LONG`), parses the given value or the key's default, checks it with the key's validator,
/// and returns it. A value that does not parse or check is recorded as a problem and the
/// getter returns the type's empty value (`""`, `0`, `false`), which the caller never sees
/// because [`Config::parse`] then fails.
#[derive(Debug)]
pub struct ConfigReader<'a> {
    props: &'a Props,
    declaring: bool,
    def: ConfigDef,
    errors: ConfigErrors,
}

impl<'a> ConfigReader<'a> {
    fn new(props: &'a Props, declaring: bool) -> Self {
        Self {
            props,
            declaring,
            def: ConfigDef::new(),
            errors: ConfigErrors::default(),
        }
    }

    /// True while the worker only collects the keys ([`Config::definition`]): values are
    /// defaults, and problems are not recorded.
    pub fn is_declaring(&self) -> bool {
        self.declaring
    }

    /// A key of the configuration as written, declared or not (e.g. the worker's `name`).
    /// `None` while declaring.
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.props.get(key).map(String::as_str)
    }

    /// The configuration as written.
    pub fn props(&self) -> &'a Props {
        self.props
    }

    /// Records a problem with `key` found by a check across keys. Ignored while declaring.
    pub fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        if !self.declaring {
            self.errors.add(key, message);
        }
    }

    /// Whether a problem with `key` was recorded, to skip a check that needs its value.
    pub fn has_error(&self, key: &str) -> bool {
        self.errors.for_key(key).next().is_some()
    }

    /// Declares `key` with type `ty` and returns its parsed value (`None` when it has none or
    /// it is invalid; the problem is recorded).
    pub fn value(&mut self, mut key: ConfigKey, ty: ConfigType) -> Option<ConfigValue> {
        key.ty = ty;
        let parsed = key.parse(self.props.get(&key.name).map(String::as_str));
        let name = key.name.clone();
        if self.def.key(&name).is_none() {
            self.def = std::mem::take(&mut self.def).define(key);
        }
        match parsed {
            Ok(ConfigValue::Null) => None,
            Ok(value) => Some(value),
            Err(message) => {
                self.error(name, message);
                None
            }
        }
    }

    /// A `STRING` key's value, trimmed.
    pub fn string(&mut self, key: ConfigKey) -> String {
        self.optional_value(key, ConfigType::String, false)
            .unwrap_or_default()
    }

    /// A `STRING` key that may be left unset (its default is no value unless given one).
    pub fn optional_string(&mut self, key: ConfigKey) -> Option<String> {
        self.optional_value(key, ConfigType::String, true)
    }

    /// A `CLASS` key's value: a plugin or class name.
    pub fn class(&mut self, key: ConfigKey) -> String {
        self.optional_value(key, ConfigType::Class, false)
            .unwrap_or_default()
    }

    /// A `PASSWORD` key's value.
    pub fn password(&mut self, key: ConfigKey) -> Password {
        self.optional_password(key)
            .unwrap_or_else(|| Password::new(""))
    }

    /// A `PASSWORD` key that may be left unset.
    pub fn optional_password(&mut self, key: ConfigKey) -> Option<Password> {
        let key = optional_if_required(key, true);
        match self.value(key, ConfigType::Password)? {
            ConfigValue::Password(p) => Some(p),
            _ => None,
        }
    }

    /// A `BOOLEAN` key's value.
    pub fn boolean(&mut self, key: ConfigKey) -> bool {
        matches!(
            self.value(key, ConfigType::Boolean),
            Some(ConfigValue::Boolean(true))
        )
    }

    /// An `INT` key's value.
    pub fn int(&mut self, key: ConfigKey) -> i32 {
        self.optional_int_of(key, false).unwrap_or_default()
    }

    /// An `INT` key that may be left unset.
    pub fn optional_int(&mut self, key: ConfigKey) -> Option<i32> {
        self.optional_int_of(key, true)
    }

    /// A `LONG` key's value.
    pub fn long(&mut self, key: ConfigKey) -> i64 {
        self.optional_long_of(key, false).unwrap_or_default()
    }

    /// A `LONG` key that may be left unset.
    pub fn optional_long(&mut self, key: ConfigKey) -> Option<i64> {
        self.optional_long_of(key, true)
    }

    /// A `LONG` key of milliseconds, as a duration (a negative value counts as zero: give the
    /// key a validator to refuse it).
    pub fn millis(&mut self, key: ConfigKey) -> Duration {
        Duration::from_millis(self.long(key).max(0).unsigned_abs())
    }

    /// A `DOUBLE` key's value.
    pub fn double(&mut self, key: ConfigKey) -> f64 {
        match self.value(key, ConfigType::Double) {
            Some(ConfigValue::Double(n)) => n,
            _ => 0.0,
        }
    }

    /// A `LIST` key's items (comma-separated, trimmed; empty text is an empty list).
    pub fn list(&mut self, key: ConfigKey) -> Vec<String> {
        match self.value(key, ConfigType::List) {
            Some(ConfigValue::List(items)) => items,
            _ => Vec::new(),
        }
    }

    fn optional_value(&mut self, key: ConfigKey, ty: ConfigType, optional: bool) -> Option<String> {
        match self.value(optional_if_required(key, optional), ty)? {
            ConfigValue::String(s) | ConfigValue::Class(s) => Some(s),
            _ => None,
        }
    }

    fn optional_int_of(&mut self, key: ConfigKey, optional: bool) -> Option<i32> {
        match self.value(optional_if_required(key, optional), ConfigType::Int)? {
            ConfigValue::Int(n) => Some(n),
            _ => None,
        }
    }

    fn optional_long_of(&mut self, key: ConfigKey, optional: bool) -> Option<i64> {
        match self.value(optional_if_required(key, optional), ConfigType::Long)? {
            ConfigValue::Long(n) => Some(n),
            _ => None,
        }
    }
}

/// An optional getter's key: optional with no value unless the key was given a default.
fn optional_if_required(key: ConfigKey, optional: bool) -> ConfigKey {
    if optional && key.default == DefaultValue::Required {
        key.optional()
    } else {
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Validator;

    #[derive(Debug, PartialEq)]
    struct Sample {
        name: String,
        retries: i32,
        tags: Vec<String>,
        secret: Option<Password>,
        fast: bool,
    }

    impl Config for Sample {
        fn read(c: &mut ConfigReader<'_>) -> Self {
            let sample = Self {
                name: c.string(ConfigKey::new("name", ConfigType::String).doc("who")),
                retries: c.int(
                    ConfigKey::new("retries", ConfigType::Int)
                        .default_value("3")
                        .validator(Validator::at_least(0)),
                ),
                tags: c.list(ConfigKey::new("tags", ConfigType::List).default_value("")),
                secret: c.optional_password(ConfigKey::new("secret", ConfigType::Password)),
                fast: c.boolean(ConfigKey::new("fast", ConfigType::Boolean).default_value("false")),
            };
            if sample.fast && sample.retries > 0 {
                c.error("fast", "fast=true needs retries=0");
            }
            sample
        }
    }

    fn props(pairs: &[(&str, &str)]) -> Props {
        crate::config::props(pairs)
    }

    #[test]
    fn the_definition_lists_every_key_with_its_type_and_default() {
        let def = Sample::definition();
        let names: Vec<_> = def.keys().iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["name", "retries", "tags", "secret", "fast"]);
        let retries = def.key("retries").unwrap();
        assert_eq!(retries.ty, ConfigType::Int);
        assert_eq!(retries.default, DefaultValue::Value("3".into()));
        assert!(def.key("name").unwrap().is_required());
        assert_eq!(def.key("secret").unwrap().default, DefaultValue::Null);
    }

    #[test]
    fn values_are_parsed_with_the_declared_defaults() {
        let sample = Sample::parse(&props(&[("name", " a "), ("tags", "x, y")])).unwrap();
        assert_eq!(
            sample,
            Sample {
                name: "a".into(),
                retries: 3,
                tags: vec!["x".into(), "y".into()],
                secret: None,
                fast: false,
            }
        );
        let with_secret = Sample::parse(&props(&[("name", "a"), ("secret", "s3")])).unwrap();
        assert_eq!(with_secret.secret.unwrap().value(), "s3");
    }

    #[test]
    fn every_problem_is_reported_at_once_including_checks_across_keys() {
        let errors = Sample::parse(&props(&[("retries", "-1"), ("fast", "maybe")])).unwrap_err();
        let keys: Vec<_> = errors.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["name", "retries", "fast"]);
        let errors = Sample::parse(&props(&[("name", "a"), ("fast", "true")])).unwrap_err();
        assert_eq!(errors.to_string(), "fast=true needs retries=0");
    }
}
