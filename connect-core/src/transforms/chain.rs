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
