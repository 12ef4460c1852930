//! `DropHeaders`: removes every header whose name is listed in `headers`, as Kafka's
//! transform of that name.

use std::sync::Arc;

use crate::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValue, Importance, Props, Validator,
};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::ConnectRecord;

use super::registry;
use super::{Outcome, Transformation};

const HEADERS: &str = "headers";

/// The `DropHeaders` plugin.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    vec![registry::transform("DropHeaders", config_def(), build)]
}

/// A list with at least one item; Kafka's `NonEmptyListValidator` (`Empty list`).
pub(super) fn non_empty_list() -> Validator {
    Validator::Custom(Arc::new(|value| match value {
        ConfigValue::List(items) if items.is_empty() => Err("Empty list".into()),
        _ => Ok(()),
    }))
}

/// Kafka's key: `headers`.
fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(HEADERS, ConfigType::List)
            .validator(non_empty_list())
            .importance(Importance::High)
            .doc("The name of the headers to be removed."),
    )
}

fn build(props: &Props) -> Result<Box<dyn Transformation>, ConfigErrors> {
    let config = config_def().parse(props)?;
    Ok(Box::new(DropHeaders {
        names: config.list(HEADERS).to_vec(),
    }))
}

/// Removes headers by name.
#[derive(Debug)]
pub struct DropHeaders {
    names: Vec<String>,
}

impl Transformation for DropHeaders {
    fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        record
            .headers
            .retain(|h| !self.names.iter().any(|name| *name == *h.key));
        Ok(Outcome::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;

    fn props(headers: &str) -> Props {
        Props::from([(HEADERS.to_owned(), headers.to_owned())])
    }

    #[test]
    fn drops_every_header_with_a_listed_name() {
        let t = build(&props("a, c")).unwrap();
        let mut record = ConnectRecord::new("t", "v");
        for (key, value) in [("a", 1i32), ("b", 2), ("a", 3), ("c", 4), ("B", 5)] {
            record.headers.add(key, value);
        }
        assert_eq!(t.apply(&mut record).unwrap(), Outcome::Keep);
        let left: Vec<(&str, &Value)> =
            record.headers.iter().map(|h| (&*h.key, &h.value)).collect();
        assert_eq!(left, [("b", &Value::Int32(2)), ("B", &Value::Int32(5))]);
        assert_eq!(record.value, Value::from("v"));
    }

    #[test]
    fn config_errors() {
        assert_eq!(
            build(&Props::new()).unwrap_err().to_string(),
            "Missing required configuration \"headers\" which has no default value."
        );
        assert_eq!(
            build(&props(" ")).unwrap_err().to_string(),
            "Invalid value  for configuration headers: Empty list"
        );
        let names: Vec<String> = plugins().into_iter().map(|p| p.class).collect();
        assert_eq!(names, ["org.apache.kafka.connect.transforms.DropHeaders"]);
    }
}
