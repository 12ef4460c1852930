//! Typed configuration values.

use std::collections::BTreeMap;
use std::fmt;

/// A secret: shown as `[hidden]` by `Debug`, `Display` and the REST bodies; read it with
/// [`Password::value`] only where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// What every printed form of a password shows.
    pub const HIDDEN: &'static str = "[hidden]";

    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::HIDDEN)
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::HIDDEN)
    }
}

/// A parsed configuration value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigValue {
    /// An optional key without a value.
    Null,
    /// A [`ConfigType::Boolean`](super::ConfigType::Boolean) value.
    Boolean(bool),
    /// A [`ConfigType::Short`](super::ConfigType::Short) value.
    Short(i16),
    /// A [`ConfigType::Int`](super::ConfigType::Int) value.
    Int(i32),
    /// A [`ConfigType::Long`](super::ConfigType::Long) value.
    Long(i64),
    /// A [`ConfigType::Double`](super::ConfigType::Double) value.
    Double(f64),
    /// A [`ConfigType::String`](super::ConfigType::String) value.
    String(String),
    /// A [`ConfigType::List`](super::ConfigType::List) value: the items, trimmed.
    List(Vec<String>),
    /// A plugin or class name.
    Class(String),
    /// A [`ConfigType::Password`](super::ConfigType::Password) value, hidden when printed.
    Password(Password),
}

impl fmt::Display for ConfigValue {
    /// As Kafka Connect prints values: lists comma-separated, passwords hidden, null as empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => Ok(()),
            Self::Boolean(b) => write!(f, "{b}"),
            Self::Short(n) => write!(f, "{n}"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Long(n) => write!(f, "{n}"),
            Self::Double(n) => write!(f, "{n:?}"),
            Self::String(s) | Self::Class(s) => f.write_str(s),
            Self::List(items) => f.write_str(&items.join(",")),
            Self::Password(p) => write!(f, "{p}"),
        }
    }
}

/// The parsed values of a configuration, with the original string map.
#[derive(Debug, Clone, Default)]
pub struct ConfigValues {
    values: BTreeMap<String, ConfigValue>,
    originals: BTreeMap<String, String>,
}

impl ConfigValues {
    pub(crate) fn new(
        values: BTreeMap<String, ConfigValue>,
        originals: BTreeMap<String, String>,
    ) -> Self {
        Self { values, originals }
    }

    /// The parsed value of a defined key.
    pub fn get(&self, key: &str) -> Option<&ConfigValue> {
        self.values.get(key)
    }

    /// A string or class key's value; `None` when unset (null) or of another type.
    pub fn string(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            ConfigValue::String(s) | ConfigValue::Class(s) => Some(s),
            _ => None,
        }
    }

    /// A boolean key's value.
    pub fn boolean(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// An int, short or long key's value, widened to `i64`.
    pub fn long(&self, key: &str) -> Option<i64> {
        match *self.get(key)? {
            ConfigValue::Short(n) => Some(n.into()),
            ConfigValue::Int(n) => Some(n.into()),
            ConfigValue::Long(n) => Some(n),
            _ => None,
        }
    }

    /// An int or short key's value.
    pub fn int(&self, key: &str) -> Option<i32> {
        match *self.get(key)? {
            ConfigValue::Short(n) => Some(n.into()),
            ConfigValue::Int(n) => Some(n),
            _ => None,
        }
    }

    /// A double key's value.
    pub fn double(&self, key: &str) -> Option<f64> {
        match *self.get(key)? {
            ConfigValue::Double(n) => Some(n),
            _ => None,
        }
    }

    /// A list key's items; empty when unset.
    pub fn list(&self, key: &str) -> &[String] {
        match self.get(key) {
            Some(ConfigValue::List(items)) => items,
            _ => &[],
        }
    }

    /// A password key's value.
    pub fn password(&self, key: &str) -> Option<&Password> {
        match self.get(key)? {
            ConfigValue::Password(p) => Some(p),
            _ => None,
        }
    }

    /// The configuration as given, every key included (defined or not).
    pub fn originals(&self) -> &BTreeMap<String, String> {
        &self.originals
    }

    /// The given keys that start with `prefix`, with the prefix removed
    /// (e.g. `transforms.route.` gives the settings of the `route` transform).
    pub fn originals_with_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        strip_prefix(&self.originals, prefix)
    }
}

/// The keys of `props` that start with `prefix`, with the prefix removed.
pub fn strip_prefix(props: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    props
        .range(prefix.to_owned()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k[prefix.len()..].to_owned(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_printed() {
        let p = Password::new("s3cret");
        assert_eq!(format!("{p} {p:?}"), "[hidden] [hidden]");
        let v = ConfigValue::Password(p.clone());
        assert_eq!(format!("{v} {v:?}"), "[hidden] Password([hidden])");
        assert_eq!(p.value(), "s3cret");
    }

    #[test]
    fn prefix_lookup_strips_the_prefix() {
        let props = BTreeMap::from([
            ("transforms.a.type".to_owned(), "X".to_owned()),
            ("transforms.a.field".to_owned(), "f".to_owned()),
            ("transforms.ab.type".to_owned(), "Y".to_owned()),
        ]);
        let a = strip_prefix(&props, "transforms.a.");
        assert_eq!(a.len(), 2);
        assert_eq!(a.get("type").map(String::as_str), Some("X"));
    }
}
