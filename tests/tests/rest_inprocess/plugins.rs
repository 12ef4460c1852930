//! `/connector-plugins`: the list, the keys, validation.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::harness::*;

#[tokio::test]
async fn connector_plugins() {
    let app = App::new().await;
    let list = app.get("/connector-plugins").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body,
        json!([
            {"class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "type": "sink", "version": env!("CARGO_PKG_VERSION")},
            {"class": SECRET_CLASS, "type": "sink", "version": "9.9.9"},
            {"class": "org.apache.kafka.connect.file.FileStreamSourceConnector", "type": "source", "version": env!("CARGO_PKG_VERSION")},
        ])
    );
    assert_eq!(
        app.get("/connector-plugins?connectorsOnly=true").await.body,
        list.body
    );
    let all = app.get("/connector-plugins?connectorsOnly=false").await;
    let kinds: Vec<&str> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    let mut order = kinds.clone();
    order.dedup();
    assert_eq!(
        order,
        [
            "sink",
            "source",
            "transformation",
            "predicate",
            "converter",
            "header_converter"
        ]
    );
    assert!(all.body.as_array().unwrap().contains(&json!({
        "class": "org.apache.kafka.connect.storage.StringConverter",
        "type": "converter",
        "version": connect_core_version(&all.body, "org.apache.kafka.connect.storage.StringConverter"),
    })));
    app.get("/connector-plugins?connectorsOnly=no")
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "Invalid value 'no' for query parameter connectorsOnly: expected true or false",
        );

    // Config: the connector's own keys, then the framework's, by any of its names.
    let config = app.get("/connector-plugins/FileStreamSink/config").await;
    assert_eq!(config.status, StatusCode::OK);
    let names: Vec<&str> = config
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "file");
    for common in [
        "name",
        "connector.class",
        "tasks.max",
        "topics",
        "topics.regex",
    ] {
        assert!(names.contains(&common), "{common} missing from {names:?}");
    }
    assert_eq!(
        config.body[0],
        json!({
            "name": "file", "type": "STRING", "required": true, "default_value": null,
            "importance": config.body[0]["importance"], "documentation": config.body[0]["documentation"],
            "group": config.body[0]["group"], "order": config.body[0]["order"],
            "width": "LONG", "display_name": "File", "dependents": [],
        })
    );
    for alias in [
        "FileStreamSinkConnector",
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
    ] {
        let other = app.get(&format!("/connector-plugins/{alias}/config")).await;
        assert_eq!(other.body, config.body, "{alias}");
    }
    let secret = app.get("/connector-plugins/SecretSink/config").await;
    assert_eq!(secret.body[0]["name"], "secret.password");
    assert_eq!(secret.body[0]["type"], "PASSWORD");
    // Other kinds of plugins too, with their own keys only.
    let transform = app
        .get("/connector-plugins/org.apache.kafka.connect.transforms.RegexRouter/config")
        .await;
    assert_eq!(transform.status, StatusCode::OK, "{:?}", transform.body);
    let transform_keys: Vec<&str> = transform
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(transform_keys, ["regex", "replacement"]);
    let converter = app.get("/connector-plugins/StringConverter/config").await;
    assert_eq!(converter.status, StatusCode::OK, "{:?}", converter.body);
    app.get("/connector-plugins/Nope/config")
        .await
        .assert_error(StatusCode::NOT_FOUND, "Unknown plugin Nope.");
    app.shutdown().await;
}

/// The version the list gives a plugin (the built-in ones carry connect-core's).
fn connect_core_version(list: &Value, class: &str) -> Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["class"] == class)
        .map(|p| p["version"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn validate_reports_errors_with_200_and_class_mismatch_with_400() {
    let app = App::new().await;
    let shared = &app;
    let validate = |plugin: &str, body: Value| {
        let uri = format!("/connector-plugins/{plugin}/config/validate");
        async move { shared.json(Method::PUT, &uri, body).await }
    };
    let reply = validate(
        "FileStreamSink",
        json!({"connector.class": "FileStreamSink", "name": "v", "tasks.max": "0", "topics": "t"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let configs = reply.body["configs"].as_array().unwrap();
    let errors: Vec<(String, String)> = configs
        .iter()
        .flat_map(|c| {
            let name = c["value"]["name"].as_str().unwrap().to_owned();
            c["value"]["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |e| (name.clone(), e.as_str().unwrap().to_owned()))
        })
        .collect();
    assert_eq!(
        reply.body["error_count"].as_u64().unwrap() as usize,
        errors.len()
    );
    let keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        keys.contains(&"tasks.max") && keys.contains(&"file"),
        "{errors:?}"
    );
    assert_eq!(reply.body["name"], "FileStreamSinkConnector");
    assert!(reply.body["groups"]
        .as_array()
        .unwrap()
        .contains(&json!("Common")));

    // A valid configuration, the class given by its full name while the path has an alias.
    let valid = validate(
        "FileStreamSink",
        json!({"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "name": "v", "topics": "t", "file": "/tmp/x"}),
    )
    .await;
    assert_eq!(valid.status, StatusCode::OK);
    assert_eq!(valid.body["error_count"], 0, "{}", valid.body);
    // Without connector.class, or naming no connector: `conformance`.
    validate(
        "FileStreamSink",
        json!({"connector.class": "FileStreamSource", "name": "v"}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "Included connector type FileStreamSource does not match request type FileStreamSink",
    );
    validate("FileStreamSink", json!({"connector.class": "FileStreamSink", "name": ["v"]}))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "The connector configuration must map keys to string values; these values are not strings: name (an array)",
        );
    assert_eq!(app.get("/connectors").await.body, json!([]));
    app.shutdown().await;
}
