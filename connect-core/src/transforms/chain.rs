//! The transform chain of a connector, built from its `transforms` and `predicates` keys
//! exactly as Kafka Connect reads them:
//!
//! ```properties
//! transforms=route,drop
//! transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
//! transforms.route.regex=(.*)
//! transforms.route.replacement=copy-$1
//! transforms.drop.type=Filter
//! transforms.drop.predicate=isTombstone
//! transforms.drop.negate=false
//! predicates=isTombstone
//! predicates.isTombstone.type=RecordIsTombstone
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::{Outcome, Predicate, Transformation};
use crate::config::{strip_prefix, ConfigErrors, ConfigType, Props};
use crate::error::ConnectError;
use crate::plugin::{PluginFactory, PluginKind, Plugins};
use crate::record::ConnectRecord;

struct Stage {
    alias: String,
    transform: Box<dyn Transformation>,
    /// The predicate gating the transform, and whether its result is negated.
    predicate: Option<(Arc<dyn Predicate>, bool)>,
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("alias", &self.alias)
            .field("transform", &self.transform)
            .field("predicate", &self.predicate)
            .finish()
    }
}

/// The transforms of a connector, in order, each with its optional predicate.
#[derive(Debug, Default)]
pub struct TransformChain {
    stages: Vec<Stage>,
}

impl TransformChain {
    /// A chain that changes nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// True when there are no transforms.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Builds the chain from a connector's configuration, reporting every problem at once.
    pub fn from_config(props: &Props, plugins: &Plugins) -> Result<Self, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let predicates = build_predicates(props, plugins, &mut errors);
        let mut stages = Vec::new();
        for alias in aliases(props, "transforms", &mut errors) {
            let prefix = format!("transforms.{alias}.");
            let settings = strip_prefix(props, &prefix);
            let predicate = match settings.get("predicate").map(|p| p.trim()) {
                None | Some("") => {
                    if settings.contains_key("negate") {
                        errors.add(
                            format!("{prefix}negate"),
                            format!(
                                "Invalid value for configuration {prefix}negate: \
                                 negate is only valid together with {prefix}predicate"
                            ),
                        );
                    }
                    None
                }
                Some(name) => match predicates.get(name) {
                    Some(p) => Some((Arc::clone(p), negate(&settings, &prefix, &mut errors))),
                    None => {
                        errors.add(
                            format!("{prefix}predicate"),
                            format!(
                                "Invalid value {name} for configuration {prefix}predicate: \
                                 the predicate is not listed in \"predicates\""
                            ),
                        );
                        None
                    }
                },
            };
            let built =
                match plugin_factory(plugins, &prefix, &settings, PluginKind::Transformation) {
                    Ok(PluginFactory::Transformation(factory)) => {
                        factory(&settings).map_err(|e| e.prefixed(&prefix))
                    }
                    Ok(_) => continue, // find() only returns transformations
                    Err(e) => Err(e),
                };
            match built {
                Ok(transform) => stages.push(Stage {
                    alias: alias.to_owned(),
                    transform,
                    predicate,
                }),
                Err(e) => errors.extend(e),
            }
        }
        errors.into_result(Self { stages })
    }

    /// Runs the record through every transform whose predicate matches, stopping early when
    /// one drops it. An empty chain costs nothing.
    pub fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
        for stage in &self.stages {
            if let Some((predicate, negate)) = &stage.predicate {
                if predicate.test(record) == *negate {
                    continue;
                }
            }
            match stage.transform.apply(record) {
                Ok(Outcome::Keep) => {}
                Ok(Outcome::Drop) => return Ok(Outcome::Drop),
                Err(e) => return Err(stage_error(&stage.alias, e)),
            }
        }
        Ok(Outcome::Keep)
    }
}

fn stage_error(alias: &str, error: ConnectError) -> ConnectError {
    match error {
        ConnectError::Fatal { message, source } => ConnectError::Fatal {
            message: format!("transform {alias} failed: {message}"),
            source,
        },
        other => other,
    }
}

/// The aliases listed in `key` (`transforms` or `predicates`), each once.
fn aliases<'a>(props: &'a Props, key: &str, errors: &mut ConfigErrors) -> Vec<&'a str> {
    let Some(list) = props.get(key) else {
        return Vec::new();
    };
    let mut seen: Vec<&str> = Vec::new();
    for alias in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        if seen.contains(&alias) {
            errors.add(
                key,
                format!("Invalid value {list} for configuration {key}: Duplicate alias provided."),
            );
        } else {
            seen.push(alias);
        }
    }
    seen
}

fn negate(settings: &Props, prefix: &str, errors: &mut ConfigErrors) -> bool {
    match settings.get("negate") {
        None => false,
        Some(raw) => match ConfigType::Boolean.parse(raw) {
            Ok(crate::config::ConfigValue::Boolean(b)) => b,
            _ => {
                errors.add(
                    format!("{prefix}negate"),
                    format!(
                        "Invalid value {raw} for configuration {prefix}negate: \
                         Expected value to be either true or false"
                    ),
                );
                false
            }
        },
    }
}

/// The factory named by `<prefix>type`.
fn plugin_factory(
    plugins: &Plugins,
    prefix: &str,
    settings: &Props,
    kind: PluginKind,
) -> Result<PluginFactory, ConfigErrors> {
    let key = format!("{prefix}type");
    let mut errors = ConfigErrors::default();
    match settings.get("type").map(|t| t.trim()) {
        None | Some("") => errors.add(
            &key,
            format!("Missing required configuration \"{key}\" which has no default value."),
        ),
        Some(name) => match plugins.find(name, &[kind]) {
            Ok(plugin) => return Ok(plugin.factory.clone()),
            Err(e) => errors.add(
                &key,
                format!("Invalid value {name} for configuration {key}: {e}"),
            ),
        },
    }
    Err(errors)
}

fn build_predicates(
    props: &Props,
    plugins: &Plugins,
    errors: &mut ConfigErrors,
) -> BTreeMap<String, Arc<dyn Predicate>> {
    let mut built = BTreeMap::new();
    for alias in aliases(props, "predicates", errors) {
        let prefix = format!("predicates.{alias}.");
        let settings = strip_prefix(props, &prefix);
        let result = match plugin_factory(plugins, &prefix, &settings, PluginKind::Predicate) {
            Ok(PluginFactory::Predicate(factory)) => {
                factory(&settings).map_err(|e| e.prefixed(&prefix))
            }
            Ok(_) => continue,
            Err(e) => Err(e),
        };
        match result {
            Ok(predicate) => {
                built.insert(alias.to_owned(), Arc::from(predicate));
            }
            Err(e) => errors.extend(e),
        }
    }
    built
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::props;
    use crate::config::{ConfigDef, ConfigKey};
    use crate::data::Value;
    use crate::plugin::PluginDescriptor;

    /// Appends its `suffix` setting to the topic.
    #[derive(Debug)]
    struct AppendToTopic(String);
    impl Transformation for AppendToTopic {
        fn apply(&self, record: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
            if record.topic == "poison" {
                return Err(ConnectError::fatal("poisoned topic"));
            }
            record.topic = format!("{}{}", record.topic, self.0).into();
            Ok(Outcome::Keep)
        }
    }

    #[derive(Debug)]
    struct DropAll;
    impl Transformation for DropAll {
        fn apply(&self, _: &mut ConnectRecord) -> Result<Outcome, ConnectError> {
            Ok(Outcome::Drop)
        }
    }

    #[derive(Debug)]
    struct IsTombstone;
    impl Predicate for IsTombstone {
        fn test(&self, record: &ConnectRecord) -> bool {
            record.value.is_null()
        }
    }

    fn plugins() -> Plugins {
        let append_def = ConfigDef::new().define(ConfigKey::new("suffix", ConfigType::String));
        let mut plugins = Plugins::new();
        plugins
            .add(PluginDescriptor::new(
                "test.AppendToTopic",
                "1",
                append_def.clone(),
                PluginFactory::Transformation(Arc::new(move |props: &Props| {
                    let config = append_def.parse(props)?;
                    let suffix = config.string("suffix").unwrap_or_default().to_owned();
                    Ok(Box::new(AppendToTopic(suffix)) as Box<dyn Transformation>)
                })),
            ))
            .add(PluginDescriptor::new(
                "test.DropAll",
                "1",
                ConfigDef::new(),
                PluginFactory::Transformation(Arc::new(|_: &Props| {
                    Ok(Box::new(DropAll) as Box<dyn Transformation>)
                })),
            ))
            .add(PluginDescriptor::new(
                "test.IsTombstone",
                "1",
                ConfigDef::new(),
                PluginFactory::Predicate(Arc::new(|_: &Props| {
                    Ok(Box::new(IsTombstone) as Box<dyn Predicate>)
                })),
            ));
        plugins
    }

    #[test]
    fn no_transforms_key_gives_an_empty_chain() {
        let chain = TransformChain::from_config(&props(&[("topics", "t")]), &plugins()).unwrap();
        assert!(chain.is_empty());
        let mut r = ConnectRecord::new("t", 1i32);
        assert_eq!(chain.apply(&mut r).unwrap(), Outcome::Keep);
        assert_eq!(r, ConnectRecord::new("t", 1i32));
    }

    #[test]
    fn transforms_run_in_order_with_their_settings() {
        let chain = TransformChain::from_config(
            &props(&[
                ("transforms", "a, b"),
                ("transforms.a.type", "AppendToTopic"),
                ("transforms.a.suffix", "-1"),
                ("transforms.b.type", "test.AppendToTopic"),
                ("transforms.b.suffix", "-2"),
            ]),
            &plugins(),
        )
        .unwrap();
        let mut r = ConnectRecord::new("t", 1i32);
        assert_eq!(chain.apply(&mut r).unwrap(), Outcome::Keep);
        assert_eq!(r.topic, "t-1-2");
    }

    #[test]
    fn predicates_gate_transforms_and_negate_inverts_them() {
        let config = |negate: &str| {
            props(&[
                ("transforms", "drop"),
                ("transforms.drop.type", "DropAll"),
                ("transforms.drop.predicate", "tomb"),
                ("transforms.drop.negate", negate),
                ("predicates", "tomb"),
                ("predicates.tomb.type", "IsTombstone"),
            ])
        };
        let chain = TransformChain::from_config(&config("false"), &plugins()).unwrap();
        let mut tombstone = ConnectRecord::new("t", Value::Null);
        let mut live = ConnectRecord::new("t", 1i32);
        assert_eq!(chain.apply(&mut tombstone).unwrap(), Outcome::Drop);
        assert_eq!(chain.apply(&mut live).unwrap(), Outcome::Keep);

        let negated = TransformChain::from_config(&config("true"), &plugins()).unwrap();
        assert_eq!(negated.apply(&mut tombstone).unwrap(), Outcome::Keep);
        assert_eq!(negated.apply(&mut live).unwrap(), Outcome::Drop);
    }

    #[test]
    fn a_dropped_record_skips_the_remaining_transforms() {
        let chain = TransformChain::from_config(
            &props(&[
                ("transforms", "drop,append"),
                ("transforms.drop.type", "DropAll"),
                ("transforms.append.type", "AppendToTopic"),
                ("transforms.append.suffix", "-x"),
            ]),
            &plugins(),
        )
        .unwrap();
        let mut r = ConnectRecord::new("t", 1i32);
        assert_eq!(chain.apply(&mut r).unwrap(), Outcome::Drop);
        assert_eq!(r.topic, "t");
    }

    #[test]
    fn a_failing_transform_is_named_in_the_error() {
        let chain = TransformChain::from_config(
            &props(&[
                ("transforms", "append"),
                ("transforms.append.type", "AppendToTopic"),
                ("transforms.append.suffix", "-x"),
            ]),
            &plugins(),
        )
        .unwrap();
        let err = chain
            .apply(&mut ConnectRecord::new("poison", 1i32))
            .unwrap_err();
        assert_eq!(err.to_string(), "transform append failed: poisoned topic");
    }

    #[test]
    fn every_configuration_problem_is_reported_at_once() {
        let errors = TransformChain::from_config(
            &props(&[
                ("transforms", "a,b,c,d,a"),
                ("transforms.a.type", "AppendToTopic"), // missing suffix
                ("transforms.b.type", "NoSuchTransform"),
                // c has no type
                ("transforms.d.type", "DropAll"),
                ("transforms.d.predicate", "unlisted"),
                ("predicates", "p"),
                ("predicates.p.type", "IsTombstone"),
                ("transforms.a.negate", "true"),
            ]),
            &plugins(),
        )
        .unwrap_err();
        let messages: Vec<String> = errors.iter().map(|(_, m)| m.to_owned()).collect();
        assert_eq!(
            messages,
            [
                "Invalid value a,b,c,d,a for configuration transforms: Duplicate alias provided.",
                "Invalid value for configuration transforms.a.negate: negate is only valid \
                 together with transforms.a.predicate",
                "Missing required configuration \"transforms.a.suffix\" which has no default value.",
                "Invalid value NoSuchTransform for configuration transforms.b.type: Failed to find \
                 any class that implements Transformation and which name matches NoSuchTransform",
                "Missing required configuration \"transforms.c.type\" which has no default value.",
                "Invalid value unlisted for configuration transforms.d.predicate: the predicate \
                 is not listed in \"predicates\"",
            ]
        );
    }

    #[test]
    fn a_transform_name_given_for_a_predicate_is_not_found() {
        let errors = TransformChain::from_config(
            &props(&[("predicates", "p"), ("predicates.p.type", "DropAll")]),
            &plugins(),
        )
        .unwrap_err();
        assert_eq!(
            errors.to_string(),
            "Invalid value DropAll for configuration predicates.p.type: Failed to find any class \
             that implements Predicate and which name matches DropAll"
        );
    }
}
