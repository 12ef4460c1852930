//! `Filter`: drops every record, as Kafka's transform of that name. Meant to run behind a
//! predicate (`transforms.<alias>.predicate`), so it drops the records that match (or, with
//! `negate`, those that do not).

use crate::config::{ConfigDef, ConfigErrors, Props};
use crate::error::ConnectError;
use crate::plugin::PluginDescriptor;
use crate::record::ConnectRecord;

use super::registry;
use super::{Outcome, Transformation};

/// The `Filter` plugin.
pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    vec![registry::transform("Filter", config_def(), build)]
}

/// Kafka's `Filter` has no keys.
fn config_def() -> ConfigDef {
    ConfigDef::new()
}

fn build(props: &Props) -> Result<Box<dyn Transformation>, ConfigErrors> {
    config_def().parse(props)?;
    Ok(Box::new(Filter))
}

/// Drops every record it is given.
#[derive(Debug)]
pub struct Filter;

impl Transformation for Filter {
    fn apply(&self, _record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        Ok(Outcome::Drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Props;
    use crate::record::ConnectRecord;

    #[test]
    fn drops_every_record_and_leaves_it_unchanged() {
        let filter = build(&Props::new()).unwrap();
        let mut record = ConnectRecord::new("t", "v");
        let before = record.clone();
        assert_eq!(filter.apply(&mut record).unwrap(), Outcome::Drop);
        assert_eq!(record, before);
        let mut tombstone = ConnectRecord::new("t", crate::data::Value::Null);
        assert_eq!(filter.apply(&mut tombstone).unwrap(), Outcome::Drop);
    }

    #[test]
    fn drops_only_the_records_its_predicate_selects() {
        let props: Props = [
            ("transforms", "drop"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "isTombstone"),
            ("predicates", "isTombstone"),
            ("predicates.isTombstone.type", "RecordIsTombstone"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let chain =
            super::super::TransformChain::from_config(&props, &crate::builtin_plugins()).unwrap();
        let mut tombstone = ConnectRecord::new("t", crate::data::Value::Null);
        assert_eq!(chain.apply(&mut tombstone).unwrap(), Outcome::Drop);
        let mut record = ConnectRecord::new("t", "v");
        assert_eq!(chain.apply(&mut record).unwrap(), Outcome::Keep);
    }

    #[test]
    fn registers_the_plugin_without_keys() {
        let plugins = plugins();
        assert_eq!(plugins.len(), 1);
        assert_eq!(
            plugins[0].class,
            "org.apache.kafka.connect.transforms.Filter"
        );
        assert!(plugins[0].config_def.keys().is_empty());
    }
}
