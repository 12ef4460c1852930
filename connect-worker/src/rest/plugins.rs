//! `/connector-plugins`: the plugins this worker has, their configuration keys, and
//! validating a connector configuration without creating anything.

use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use connect_core::config::{ConfigInfos, ConfigKeyInfo};
use connect_core::plugin::{PluginDescriptor, PluginError, PluginKind, Plugins};

use super::body;
use super::complete;
use super::error::ApiError;
use super::extract::{bool_param, query_pairs, JsonBody, Params};
use super::openapi::{config as doc, ConnectorConfigDoc};
use super::ErrorMessage;
use crate::connector_config;
use crate::herder::{Herder, HerderError};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Herder> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(config))
        .routes(routes!(validate))
}

/// The kinds in the order Kafka Connect lists them (`ConnectorPluginsResource`: sinks,
/// sources, transformations, predicates, converters, header converters), each sorted by class.
const LIST_ORDER: [PluginKind; 6] = [
    PluginKind::Sink,
    PluginKind::Source,
    PluginKind::Transformation,
    PluginKind::Predicate,
    PluginKind::Converter,
    PluginKind::HeaderConverter,
];

/// The order in which a name is resolved when it names plugins of several kinds: Kafka
/// Connect instantiates the class and tests `instanceof` in this order, so a class that is
/// both a converter and a header converter (`StringConverter`) answers as a converter.
const RESOLVE_ORDER: [&[PluginKind]; 5] = [
    &[PluginKind::Sink, PluginKind::Source],
    &[PluginKind::Converter],
    &[PluginKind::HeaderConverter],
    &[PluginKind::Transformation],
    &[PluginKind::Predicate],
];

/// One entry of `GET /connector-plugins`.
#[derive(Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginInfo {
    /// The plugin's class name.
    class: String,
    /// `source`, `sink`, `converter`, `header_converter`, `transformation` or `predicate`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "sink")]
    kind: &'static str,
    /// Left out when unknown, as Kafka Connect leaves out its `undefined` version.
    #[serde(skip_serializing_if = "no_version")]
    #[schema(required = false)]
    version: String,
}

fn no_version(version: &str) -> bool {
    version.is_empty() || version == "undefined"
}

/// `GET /connector-plugins?connectorsOnly=true|false` (default true).
#[utoipa::path(
    get, path = "/connector-plugins", tag = "plugins", operation_id = "listConnectorPlugins",
    params(("connectorsOnly" = Option<bool>, Query, description = "Only connectors (the default), or every plugin with false")),
    responses(
        (status = 200, description = "The plugins", body = Vec<PluginInfo>),
        (status = 400, description = "connectorsOnly is neither true nor false", body = ErrorMessage),
    ),
)]
async fn list(
    State(herder): State<Herder>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<PluginInfo>>, ApiError> {
    let connectors_only = bool_param(&query_pairs(query.as_deref()), "connectorsOnly", true)?;
    Ok(Json(plugin_infos(herder.plugins(), connectors_only)))
}

fn plugin_infos(plugins: &Plugins, connectors_only: bool) -> Vec<PluginInfo> {
    let rank = |kind: PluginKind| LIST_ORDER.iter().position(|k| *k == kind);
    let mut sorted: Vec<&PluginDescriptor> = plugins
        .iter()
        .filter(|p| !connectors_only || p.kind().is_connector())
        .collect();
    sorted.sort_by(|a, b| {
        (rank(a.kind()), &a.class, &a.version).cmp(&(rank(b.kind()), &b.class, &b.version))
    });
    let mut infos: Vec<PluginInfo> = Vec::with_capacity(sorted.len());
    for p in sorted {
        let info = PluginInfo {
            class: p.class.clone(),
            kind: p.kind().name(),
            version: p.version.clone(),
        };
        // Kafka Connect keeps them in a set: a plugin registered twice is listed once.
        if !infos.contains(&info) {
            infos.push(info);
        }
    }
    infos
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's keys by any of its names. For a
/// connector, as in Kafka Connect 3.9, its own keys first and then the framework's common
/// keys it does not define itself.
#[utoipa::path(
    get, path = "/connector-plugins/{plugin}/config", tag = "plugins", operation_id = "getConnectorConfigDef",
    params(("plugin" = String, Path, description = "A plugin's class name or alias (`FileStreamSink`, `org.apache.kafka.connect.file.FileStreamSinkConnector`, ...)", example = "FileStreamSink")),
    responses(
        (status = 200, description = "The plugin's configuration keys (a connector's own, then the framework's)", body = Vec<doc::ConfigKeyInfo>),
        (status = 404, description = "No such plugin, or a name that several plugins have", body = ErrorMessage),
    ),
)]
async fn config(
    State(herder): State<Herder>,
    Params(name): Params<String>,
) -> Result<Json<Vec<ConfigKeyInfo>>, ApiError> {
    let plugin = resolve(herder.plugins(), &name)?;
    let mut keys = plugin.config_def.key_infos();
    let common = match plugin.kind() {
        PluginKind::Source => Some(connector_config::source_def()),
        PluginKind::Sink => Some(connector_config::sink_def()),
        _ => None,
    };
    if let Some(common) = common {
        for key in common.key_infos() {
            if !keys.iter().any(|k| k.name == key.name) {
                keys.push(key);
            }
        }
    }
    Ok(Json(keys))
}

/// `PUT /connector-plugins/{plugin}/config/validate`: 200 with every key's value and
/// problems, even when there are problems. As in Kafka Connect, the body's `connector.class`
/// is what is validated and the path only has to agree with it: a body without one, or whose
/// connector does not exist, is a 400 (docs/rest.md says why not Kafka Connect's 500).
#[utoipa::path(
    put, path = "/connector-plugins/{plugin}/config/validate", tag = "plugins", operation_id = "validateConfigs",
    params(("plugin" = String, Path, description = "A plugin's class name or alias (`FileStreamSink`, `org.apache.kafka.connect.file.FileStreamSinkConnector`, ...)", example = "FileStreamSink")),
    request_body(content = ConnectorConfigDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "Each key's value and problems, also when there are problems", body = doc::ConfigInfos),
        (status = 400, description = "The body is malformed, has no connector.class, or its connector.class names another connector than the path or no connector plugin", body = ErrorMessage),
    ),
)]
async fn validate(
    State(herder): State<Herder>,
    Params(plugin): Params<String>,
    JsonBody(config): JsonBody,
) -> Result<Json<ConfigInfos>, ApiError> {
    let props = body::config_map(config, "The connector configuration")?;
    let Some(included) = props.get("connector.class").cloned() else {
        // Kafka Connect's `AbstractHerder.validateConnectorConfig` message, without the
        // configuration it prints (it may hold secrets).
        return Err(ApiError::bad_request(
            "Connector config contains no connector type: connector.class is required",
        ));
    };
    if !same_connector(herder.plugins(), &included, &plugin) {
        return Err(ApiError::bad_request(format!(
            "Included connector type {included} does not match request type {plugin}"
        )));
    }
    herder
        .plugins()
        .find(&included, &[PluginKind::Source, PluginKind::Sink])
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let infos = complete(&herder, move |h| async move {
        // A connector's own `validate` is synchronous and may take its time: keep it off
        // the threads that serve requests.
        tokio::task::spawn_blocking(move || h.validate(&included, &props))
            .await
            .map_err(|e| HerderError::Internal(format!("validation failed: {e}")))?
    })
    .await?;
    Ok(Json(super::mask::masked_infos(infos)))
}

/// Whether a body's `connector.class` names the path's connector: by Kafka Connect's rule
/// (the class, without a `Connector` suffix, ends with the path's name without one), or
/// because both names resolve to the same plugin (aliases).
fn same_connector(plugins: &Plugins, included: &str, path: &str) -> bool {
    fn normalized(name: &str) -> &str {
        match name.strip_suffix("Connector") {
            Some(short) if !short.is_empty() => short,
            _ => name,
        }
    }
    if normalized(included).ends_with(normalized(path)) {
        return true;
    }
    let connectors = [PluginKind::Source, PluginKind::Sink];
    match (
        plugins.find(included.trim(), &connectors),
        plugins.find(path, &connectors),
    ) {
        (Ok(a), Ok(b)) => a.class == b.class,
        _ => false,
    }
}

/// The plugin of any kind that `name` names; 404 as Kafka Connect's "Unknown plugin".
fn resolve<'a>(plugins: &'a Plugins, name: &str) -> Result<&'a PluginDescriptor, ApiError> {
    for kinds in RESOLVE_ORDER {
        match plugins.find(name, kinds) {
            Ok(plugin) => return Ok(plugin),
            Err(e @ PluginError::Ambiguous { .. }) => {
                return Err(ApiError::not_found(e.to_string()))
            }
            Err(_) => {}
        }
    }
    Err(ApiError::not_found(format!("Unknown plugin {name}.")))
}
