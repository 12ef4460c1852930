//! Differences third-party Kafka Connect clients found, one test each: the status code and
//! JSON shape Kafka Connect answers. Sources cited are apache/kafka at 1eb7644 (trunk,
//! 4.0.0-SNAPSHOT, 2024-10-25), under connect/runtime/src/main/java/org/apache/kafka/connect/
//! (abbreviated `.../`).

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use connect_e2e::{checkout_commit, Services};

use super::harness::*;

/// `GET /`: `{"version", "commit", "kafka_cluster_id"}` with the cluster's real id, as
/// `.../runtime/rest/resources/RootResource.java:60-64` builds it (`ServerInfo.java:29-40`)
/// from the id the worker looked up with its admin client (`WorkerConfig.java:273-284`).
#[tokio::test]
async fn root_shows_the_cluster_id_and_the_commit() {
    let app = App::new().await;
    let from_kafka_python = Services::get().cluster_id_with_kafka_python().unwrap();
    let mut root = app.get("/").await;
    assert_eq!(root.status, StatusCode::OK);
    // Ours, beside Kafka Connect's fields (its clients ignore it): the uptime in ms.
    let uptime = root.body["uptime_ms"].take();
    assert!(uptime.is_u64(), "uptime_ms: {uptime}");
    root.body.as_object_mut().unwrap().remove("uptime_ms");
    assert_eq!(
        root.body,
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "commit": checkout_commit(),
            "kafka_cluster_id": from_kafka_python,
        })
    );
    app.shutdown().await;
}

/// `GET /admin/loggers/{logger}` answers the logger's whole `LoggerLevel`, `{"level",
/// "last_modified"}`, as the list does: `.../runtime/rest/resources/LoggingResource.java:84-95`
/// returns `herder.loggerLevel(..)`, serialized by `.../rest/entities/LoggerLevel.java:28-44`.
#[tokio::test]
async fn one_logger_is_its_whole_logger_level() {
    connect_worker::logging::init();
    let app = App::new().await;
    let logger = "rest_conformance_probe::child";
    let before = now_ms();
    let set = app
        .json(
            Method::PUT,
            &format!("/admin/loggers/{logger}"),
            json!({"level": "DEBUG"}),
        )
        .await;
    assert_eq!((set.status, &set.body), (StatusCode::OK, &json!([logger])));
    let after = now_ms();

    let one = app.get(&format!("/admin/loggers/{logger}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(keys(&one.body), ["last_modified", "level"], "{}", one.body);
    assert_eq!(one.body["level"], "DEBUG");
    let modified = one.body["last_modified"].as_u64().unwrap();
    assert!((before..=after).contains(&modified), "{}", one.body);
    // The same object as in the list.
    let all = app.get("/admin/loggers").await;
    assert_eq!(all.body[logger], one.body);
    // A logger below it answers the level it inherits, with its time.
    let child = app.get(&format!("/admin/loggers/{logger}::below")).await;
    assert_eq!(child.body, one.body);
    // `root`, whose level nobody changed here, has the same shape.
    let root = app.get("/admin/loggers/root").await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(
        keys(&root.body),
        ["last_modified", "level"],
        "{}",
        root.body
    );
    assert_eq!(root.body, all.body["root"]);
    app.shutdown().await;
}

/// Each task configuration carries `task.class`, added by the framework to what the connector
/// returned: `.../runtime/Worker.java:406-409`, shown by `GET /connectors/{c}/tasks`
/// (`.../rest/resources/ConnectorsResource.java:325`) and `/tasks-config` (`:182`). Here the
/// task's Rust type name; a connector's own `task.class` key is kept (docs/rest.md).
#[tokio::test]
async fn task_configs_carry_the_task_class() {
    let app = App::new().await;
    let out = app.dir.join("sink.txt");
    let file_sink = |name: &str, extra: &[(&str, &str)]| {
        let mut config = json!({
            "connector.class": "FileStreamSink",
            "topics": app.topic,
            "file": out.display().to_string(),
            "tasks.max": "1",
        });
        for (k, v) in extra {
            config[*k] = json!(v);
        }
        json!({"name": name, "config": config})
    };
    let created = app
        .json(Method::POST, "/connectors", file_sink("classy", &[]))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    app.wait_status("classy", is("RUNNING", &["RUNNING"])).await;
    let tasks = app.get("/connectors/classy/tasks").await;
    assert_eq!(tasks.status, StatusCode::OK);
    assert_eq!(
        tasks.body[0]["config"]["task.class"], "connect_file::sink::FileStreamSinkTask",
        "{}",
        tasks.body
    );
    // Otherwise the connector's configuration, unchanged.
    let mut expected = created.body["config"].clone();
    expected["task.class"] = json!("connect_file::sink::FileStreamSinkTask");
    assert_eq!(tasks.body[0]["config"], expected);
    let tasks_config = app.get("/connectors/classy/tasks-config").await;
    assert_eq!(tasks_config.body, json!({"classy-0": expected}));

    // A connector that has a `task.class` key of its own keeps it.
    let own = app
        .json(
            Method::POST,
            "/connectors",
            file_sink("own-class", &[("task.class", "mine")]),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    app.wait_status("own-class", is("RUNNING", &["RUNNING"]))
        .await;
    let tasks = app.get("/connectors/own-class/tasks").await;
    assert_eq!(tasks.body[0]["config"]["task.class"], "mine");
    app.shutdown().await;
}

/// Bodies must be `Content-Type: application/json`: the resources are
/// `@Consumes(MediaType.APPLICATION_JSON)` (`.../rest/resources/ConnectorsResource.java:78`,
/// `ConnectorPluginsResource.java:62`, `LoggingResource.java:52`), so Jersey refuses another
/// type, and reads a body without one as application/octet-stream, which Jackson's provider
/// does not read: `NotSupportedException`, which `.../rest/errors/ConnectExceptionMapper.java:
/// 68-77` answers with its status and message. Nothing is created or changed.
#[tokio::test]
async fn json_bodies_need_the_json_content_type() {
    let app = App::new().await;
    let create = json!({"name": "typed", "config": app.sink_config(&[])}).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        app.send_as(
            Method::POST,
            "/connectors",
            content_type,
            Some(create.clone()),
        )
        .await
        .assert_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type",
        );
    }
    assert_eq!(app.get("/connectors").await.body, json!([]));

    // Every route that reads a JSON body.
    app.create("typed", &[]).await;
    let config = app.sink_config(&[("label", "changed")]).to_string();
    for (method, uri, body) in [
        (Method::PUT, "/connectors/typed/config", config.clone()),
        (
            Method::PATCH,
            "/connectors/typed/config",
            r#"{"label":"changed"}"#.to_owned(),
        ),
        (
            Method::PATCH,
            "/connectors/typed/offsets",
            r#"{"offsets":[]}"#.to_owned(),
        ),
        (
            Method::PUT,
            "/connector-plugins/SecretSink/config/validate",
            config.clone(),
        ),
        (
            Method::PUT,
            "/admin/loggers/root",
            r#"{"level":"INFO"}"#.to_owned(),
        ),
    ] {
        let reply = app
            .send_as(method.clone(), uri, Some("text/plain"), Some(body))
            .await;
        assert_eq!(
            (reply.status, &reply.body),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &json!({"error_code": 415, "message": "HTTP 415 Unsupported Media Type"})
            ),
            "{method} {uri}"
        );
    }
    assert_eq!(
        app.get("/connectors/typed/config").await.body["label"],
        "visible"
    );

    // application/json with parameters, in any case, is JSON.
    let updated = app
        .send_as(
            Method::PUT,
            "/connectors/typed/config",
            Some("Application/JSON; charset=utf-8"),
            Some(config),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["config"]["label"], "changed");
    app.shutdown().await;
}

/// `PUT /connector-plugins/{plugin}/config/validate` validates the body's `connector.class`;
/// the path only has to agree with it (`.../rest/resources/ConnectorPluginsResource.java:
/// 98-109`). Without one, `.../runtime/AbstractHerder.java:663-665` throws a
/// `BadRequestException` ("Connector config ... contains no connector type"); an unknown
/// class fails in `getConnector` (`:667`, since KIP-891 also a `BadRequestException`). Kafka
/// Connect's HTTP answer for both is a 500, the exception wrapped in the
/// `ExecutionException` of `validationCallback.get` (`ConnectorPluginsResource.java:111-135`
/// does not unwrap it, `ConnectExceptionMapper.java:68-77` maps it to 500); we answer the 400
/// its herder means (docs/rest.md). `GET .../config` of an unknown plugin stays 404
/// (`AbstractHerder.java:1098-1100`).
#[tokio::test]
async fn validate_needs_a_known_connector_class() {
    let app = App::new().await;
    let validate = |plugin: &str, body: Value| {
        let uri = format!("/connector-plugins/{plugin}/config/validate");
        let app = &app;
        async move { app.json(Method::PUT, &uri, body).await }
    };
    validate(
        "FileStreamSink",
        json!({"name": "v", "topics": "t", "file": "/tmp/x"}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "Connector config contains no connector type: connector.class is required",
    );
    validate("Nope", json!({"connector.class": "Nope", "name": "v"}))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "Failed to find any class that implements Connector and which name matches Nope",
        );
    // The path agrees with the body by Kafka Connect's suffix rule: the body is validated.
    let by_suffix = validate(
        "Sink",
        json!({"connector.class": "FileStreamSink", "name": "v", "topics": "t", "file": "/tmp/x"}),
    )
    .await;
    assert_eq!(by_suffix.status, StatusCode::OK, "{}", by_suffix.body);
    assert_eq!(by_suffix.body["name"], "FileStreamSinkConnector");
    assert_eq!(by_suffix.body["error_count"], 0, "{}", by_suffix.body);
    app.get("/connector-plugins/Nope/config")
        .await
        .assert_error(StatusCode::NOT_FOUND, "Unknown plugin Nope.");
    app.shutdown().await;
}

fn keys(object: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
