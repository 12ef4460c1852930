//! Configuration definitions ([`ConfigDef`]), parsing of flat string maps into typed values
//! with every problem reported at once, and Kafka Connect's REST bodies for them.

mod def;
mod info;
mod markdown;
mod typed;
mod uri;
mod value;

pub use def::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, CustomCheck, DefaultValue, Importance,
    Validator, Width,
};
pub use info::{ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo};
pub use markdown::{check_generated_file, check_generated_section, BEGIN_GENERATED, END_GENERATED};
pub use typed::{Config, ConfigReader};
pub use uri::{hide_uri_passwords, URI_PASSWORD_MASK};
pub use value::{strip_prefix, ConfigValue, ConfigValues, Password};

/// A configuration as users write it: a flat map of strings.
pub type Props = std::collections::BTreeMap<String, String>;

/// A configuration from `(key, value)` pairs: `props(&[("topic", "orders")])`.
pub fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
