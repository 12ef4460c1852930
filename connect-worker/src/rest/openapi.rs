//! The OpenAPI 3.1 description of the REST API, served at `GET /openapi.json` and kept in
//! `docs/openapi.json`.
//!
//! It is generated, not written: every route is registered with utoipa-axum's `routes!`
//! from the handler's `#[utoipa::path]` attribute, so the path and methods the router serves
//! are the ones the document lists, and the response types derive their schemas. What the
//! handlers build by hand (request bodies read from JSON in [`super::body`], connect-core's
//! configuration bodies) is described by the types in this module, which the tests compare
//! with the real values. [`finish`] then adds what holds for every operation: the optional
//! authentication and its 401, the 400/413/415 of a malformed body, the 409 of a busy
//! connector, the 500 of a herder failure.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::herder::Herder;

/// The document's fixed parts; the paths come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "connect-worker REST API",
        description = "Kafka Connect's REST API (3.9) as served by connect-worker: the same paths, \
JSON shapes, status codes and error bodies. Errors are always `{\"error_code\", \"message\"}`. \
See docs/rest.md for the differences on purpose.",
    ),
    components(schemas(super::error::ErrorMessage)),
    tags(
        (name = "root", description = "Version, health, metrics and this document"),
        (name = "connectors", description = "Creating, configuring, controlling and deleting connectors"),
        (name = "offsets", description = "A connector's offsets (KIP-875)"),
        (name = "topics", description = "The topics a connector used (KIP-558)"),
        (name = "plugins", description = "The worker's plugins and configuration validation"),
        (name = "loggers", description = "Log levels at runtime (KIP-495)"),
    )
)]
struct ApiDoc;

/// The routes of this module: `GET /openapi.json`.
pub fn routes() -> OpenApiRouter<Herder> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "root",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json", body = Object)),
)]
async fn openapi_json() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document_json())
}

/// An empty document with the fixed parts, for [`super::api`] to add the routes to.
pub(super) fn base() -> OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}

/// The whole document, as `GET /openapi.json` serves it and `docs/openapi.json` keeps it:
/// pretty JSON ending in a newline.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let (_, doc) = super::api().split_for_parts();
        let mut json = finish(doc)
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialize the document: {e}\"}}"));
        json.push('\n');
        json
    })
}

/// Operations that never ask the herder anything, or only read what it keeps for them
/// without waiting, and so never answer 500.
const WITHOUT_HERDER: [&str; 6] = [
    "serverInfo",
    "openapi",
    "metrics",
    "healthCheck",
    "listConnectorPlugins",
    "getConnectorConfigDef",
];

/// Operations that change an existing connector, and so wait for the change in progress on
/// it (409 when it does not end in time).
const CHANGE_A_CONNECTOR: [&str; 10] = [
    "putConnectorConfig",
    "patchConnectorConfig",
    "destroyConnector",
    "restartConnector",
    "restartTask",
    "pauseConnector",
    "resumeConnector",
    "stopConnector",
    "alterConnectorOffsets",
    "resetConnectorOffsets",
];

/// Adds what every operation has in common to a document whose paths are complete.
pub(super) fn finish(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "basic",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
    );
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    // Off unless rest.auth.basic.file or rest.auth.bearer.file is set: the empty requirement
    // says that no credentials are needed then.
    doc.security = Some(vec![
        SecurityRequirement::default(),
        SecurityRequirement::new("basic", Vec::<String>::new()),
        SecurityRequirement::new("bearer", Vec::<String>::new()),
    ]);
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            add_common_responses(operation);
        }
    }
    remove_unused_schemas(&mut doc);
    doc
}

/// utoipa registers the schemas of inline generic bodies (a `BTreeMap<String, String>`
/// answer) under their type's name although nothing refers to them.
fn remove_unused_schemas(doc: &mut OpenApi) {
    let Ok(text) = serde_json::to_string(&*doc) else {
        return;
    };
    if let Some(components) = doc.components.as_mut() {
        components
            .schemas
            .retain(|name, _| text.contains(&format!("\"#/components/schemas/{name}\"")));
    }
}

fn add_common_responses(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    };
    add(
        "401",
        "Authentication is on (rest.auth.basic.file / rest.auth.bearer.file) and the request \
         has no valid credentials (GET /health too when rest.auth.health.open=false)",
    );
    if operation.request_body.is_some() {
        add(
            "400",
            "The body is empty, not JSON, or a field has the wrong type; the message names it",
        );
        add("413", "The body is larger than 1 MiB");
        add(
            "415",
            "The body is not sent as Content-Type: application/json (missing or another type)",
        );
    }
    let id = operation.operation_id.as_deref().unwrap_or_default();
    if CHANGE_A_CONNECTOR.contains(&id) {
        add(
            "409",
            "The connector is busy: a change or a call into the connector (its start, its \
             stop, its tasks' stop...) has not ended within task.shutdown.graceful.timeout.ms \
             + 5 s; the message names it and for how long. Try again later",
        );
    }
    if !WITHOUT_HERDER.contains(&id) {
        add(
            "500",
            "The worker failed to carry out the request, or did not within 90 s (the \
             operation itself goes on)",
        );
    }
}

/// A response with Kafka Connect's error body.
pub(super) fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorMessage")))
                .build(),
        )
        .build()
        .into()
}

// ------------------------------------------------------------------------------------------
// Shapes the handlers build or read by hand.
// ------------------------------------------------------------------------------------------

/// A configuration value: Kafka Connect reads configurations into string maps, and takes a
/// number or boolean as its JSON text (`"tasks.max": 1`).
#[derive(Debug)]
pub(super) struct ConfigValueDoc;

impl utoipa::PartialSchema for ConfigValueDoc {
    fn schema() -> RefOr<Schema> {
        scalar_schema(&[Type::String, Type::Number, Type::Boolean])
    }
}

impl ToSchema for ConfigValueDoc {
    fn name() -> std::borrow::Cow<'static, str> {
        "ConfigValue".into()
    }
}

/// A string, number or boolean (or `null`, when among `types`).
fn scalar_schema(types: &[Type]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(types.to_vec()))
        .build()
        .into()
}

/// A flat connector configuration, `{"connector.class": "...", "tasks.max": "1", ...}`.
#[derive(Debug, ToSchema)]
#[schema(
    as = ConnectorConfig,
    example = json!({"connector.class": "FileStreamSink", "tasks.max": "1", "topics": "fuzz-topic", "file": "/dev/null"})
)]
#[allow(dead_code)]
pub(super) struct ConnectorConfigDoc(BTreeMap<String, ConfigValueDoc>);

/// `PATCH /connectors/{name}/config`: the keys to change; `null` removes a key.
#[derive(Debug)]
pub(super) struct ConfigPatchDoc;

impl utoipa::PartialSchema for ConfigPatchDoc {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "The keys to change, with a string, number or boolean; `null` removes a key",
            ))
            .additional_properties(Some(scalar_schema(&[
                Type::String,
                Type::Number,
                Type::Boolean,
                Type::Null,
            ])))
            .examples([serde_json::json!({"tasks.max": "2", "unused.key": null})])
            .build()
            .into()
    }
}

impl ToSchema for ConfigPatchDoc {
    fn name() -> std::borrow::Cow<'static, str> {
        "ConfigPatch".into()
    }
}

/// `initial_state` of a new connector (KIP-980), case-insensitive.
#[derive(Debug, ToSchema)]
#[schema(as = InitialState)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub(super) enum InitialStateDoc {
    RUNNING,
    PAUSED,
    STOPPED,
}

/// `POST /connectors`.
#[derive(Debug, ToSchema)]
#[schema(as = CreateConnectorRequest)]
#[allow(dead_code)]
pub(super) struct CreateConnectorRequestDoc {
    /// The connector's name (trimmed); a missing or invalid one is reported with the other
    /// configuration problems.
    #[schema(example = "fuzz-created")]
    name: Option<String>,
    /// The connector's configuration.
    config: ConnectorConfigDoc,
    /// `RUNNING` when not given.
    initial_state: Option<InitialStateDoc>,
}

/// One partition and its new offset in `PATCH /connectors/{name}/offsets`.
#[derive(Debug, ToSchema)]
#[schema(as = PartitionOffsetChange)]
#[allow(dead_code)]
pub(super) struct PartitionOffsetChangeDoc {
    /// The partition: a source's own keys, or a sink's `{"kafka_topic", "kafka_partition"}`.
    #[schema(value_type = Object)]
    partition: serde_json::Value,
    /// The new offset (a sink's `{"kafka_offset"}`); `null` or missing removes it.
    #[schema(value_type = Option<Object>)]
    offset: Option<serde_json::Value>,
}

/// `PATCH /connectors/{name}/offsets`: at least one partition.
#[derive(Debug, ToSchema)]
#[schema(as = AlterOffsetsRequest)]
#[allow(dead_code)]
pub(super) struct AlterOffsetsRequestDoc {
    #[schema(min_items = 1)]
    offsets: Vec<PartitionOffsetChangeDoc>,
}

/// `{"message"}` of the offsets operations.
#[derive(Debug, serde::Serialize, ToSchema)]
pub(super) struct Message {
    pub(super) message: String,
}

/// `{"<connector>": {"status"?, "info"?}}` entries of `GET /connectors?expand=...`.
#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(as = ExpandedConnector)]
#[allow(dead_code)]
pub(super) struct ExpandedConnectorDoc {
    status: Option<crate::herder::ConnectorStateInfo>,
    info: Option<crate::herder::ConnectorInfo>,
}

/// `GET /connectors`: the names, or with `expand` an object keyed by name.
#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(as = ConnectorList)]
#[allow(dead_code)]
#[serde(untagged)]
pub(super) enum ConnectorListDoc {
    Names(Vec<String>),
    Expanded(BTreeMap<String, ExpandedConnectorDoc>),
}

/// `GET /connectors/{name}/topics` entries.
#[derive(Debug, ToSchema)]
#[schema(as = ConnectorTopics)]
#[allow(dead_code)]
pub(super) struct ConnectorTopicsDoc {
    topics: Vec<String>,
}

/// A logger's level in `GET /admin/loggers` (`crate::logging::LoggerLevel`).
#[derive(Debug, ToSchema)]
#[schema(as = LoggerLevel)]
#[allow(dead_code)]
pub(super) struct LoggerLevelDoc {
    #[schema(example = "INFO")]
    level: String,
    /// When it was last changed, in ms since the epoch; `null` if never.
    last_modified: Option<u64>,
}

/// `PUT /admin/loggers/{logger}`.
#[derive(Debug, ToSchema)]
#[schema(as = LoggerLevelRequest)]
#[allow(dead_code)]
pub(super) struct LoggerLevelRequestDoc {
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL` (= `ERROR`) or `OFF`, any case.
    #[schema(example = "DEBUG")]
    level: String,
}

/// connect-core's configuration bodies (`connect_core::config::ConfigKeyInfo` and the
/// `/config/validate` answer), which that crate keeps free of REST dependencies.
pub(super) mod config {
    use utoipa::ToSchema;

    /// A key's definition, as `GET /connector-plugins/{plugin}/config` lists it.
    #[derive(Debug, ToSchema)]
    #[allow(dead_code)]
    pub struct ConfigKeyInfo {
        name: String,
        /// `STRING`, `INT`, `LONG`, `DOUBLE`, `BOOLEAN`, `LIST`, `CLASS`, `PASSWORD`, ...
        #[serde(rename = "type")]
        ty: String,
        required: bool,
        default_value: Option<String>,
        importance: String,
        documentation: String,
        group: Option<String>,
        order: i32,
        width: String,
        display_name: String,
        dependents: Vec<String>,
    }

    /// A key's value and problems.
    #[derive(Debug, ToSchema)]
    #[allow(dead_code)]
    pub struct ConfigValueInfo {
        name: String,
        value: Option<String>,
        recommended_values: Vec<String>,
        errors: Vec<String>,
        visible: bool,
    }

    /// A key's definition with its value.
    #[derive(Debug, ToSchema)]
    #[allow(dead_code)]
    pub struct ConfigInfo {
        definition: ConfigKeyInfo,
        value: ConfigValueInfo,
    }

    /// `PUT /connector-plugins/{plugin}/config/validate`.
    #[derive(Debug, ToSchema)]
    #[allow(dead_code)]
    pub struct ConfigInfos {
        name: String,
        error_count: usize,
        groups: Vec<String>,
        configs: Vec<ConfigInfo>,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::from_str(document_json()).expect("the document is JSON")
    }

    #[test]
    fn the_copy_in_the_docs_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        connect_core::config::check_generated_file(&path, document_json()).unwrap();
    }

    /// Routes reach the router only with their description: through `routes!`, never with
    /// axum's `route`, `route_service`, `nest` or `nest_service`.
    #[test]
    fn every_route_is_registered_with_its_description() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rest");
        let needles: Vec<String> = ["route", "route_service", "nest", "nest_service"]
            .iter()
            .map(|m| format!(".{m}("))
            .collect();
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if needles.iter().any(|needle| line.contains(needle.as_str())) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "register routes with `.routes(routes!(handler))` and a #[utoipa::path] \
             attribute, so that they are in the OpenAPI document:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn every_operation_declares_its_parameters_and_errors() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut operations = 0;
        let mut ids = Vec::new();
        for (path, item) in paths {
            let wanted: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let declared: Vec<&str> = operation["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .filter_map(|p| p["name"].as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                assert_eq!(declared, wanted, "{method} {path}: path parameters");
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}: no success response"
                );
                let id = operation["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
                assert_eq!(
                    responses.contains_key("409"),
                    CHANGE_A_CONNECTOR.contains(&id) || id == "createConnector",
                    "{method} {path}: 409"
                );
                ids.push(id);
            }
        }
        for id in WITHOUT_HERDER.iter().chain(&CHANGE_A_CONNECTOR) {
            assert!(ids.contains(id), "no operation {id}");
        }
        // Every route of docs/rest.md, and this document.
        assert_eq!(operations, 32, "{:#?}", paths.keys().collect::<Vec<_>>());
    }

    /// The property names of a schema in the document.
    fn properties(doc: &Value, schema: &str) -> Vec<String> {
        let mut keys: Vec<String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    fn keys(value: &Value) -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The schemas written here for connect-core's bodies have the fields those bodies have.
    #[test]
    fn config_schemas_match_connect_cores_bodies() {
        use connect_core::config::{ConfigDef, ConfigErrors, ConfigKey, ConfigType};
        let def =
            ConfigDef::new().define(ConfigKey::new("a", ConfigType::Int).group("G", 1).doc("A."));
        let info = serde_json::to_value(def.key_infos().remove(0)).unwrap();
        let validated = serde_json::to_value(def.validate(
            "X",
            &connect_core::config::props(&[("a", "x")]),
            &ConfigErrors::default(),
        ))
        .unwrap();
        let doc = document();
        assert_eq!(properties(&doc, "ConfigKeyInfo"), keys(&info));
        assert_eq!(properties(&doc, "ConfigInfos"), keys(&validated));
        let config = &validated["configs"][0];
        assert_eq!(properties(&doc, "ConfigInfo"), keys(config));
        assert_eq!(properties(&doc, "ConfigValueInfo"), keys(&config["value"]));
    }

    #[test]
    fn logger_levels_match_the_logging_module() {
        let level = crate::logging::LoggerLevel {
            level: "INFO".into(),
            last_modified: None,
        };
        assert_eq!(
            properties(&document(), "LoggerLevel"),
            keys(&serde_json::to_value(level).unwrap())
        );
    }
}
