//! Creating, reading, listing, updating and deleting connectors; bad requests; secrets.

use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};

use super::harness::*;

#[tokio::test]
async fn create_read_list_and_delete() {
    let app = App::new().await;
    let created = app.create("alpha", &[]).await;
    assert_eq!(
        created.headers.get(header::LOCATION).unwrap(),
        "/connectors/alpha"
    );
    let info = json!({
        "name": "alpha",
        "config": {
            "connector.class": "SecretSink",
            "label": "visible",
            "name": "alpha",
            "secret.password": "[hidden]",
            "topics": app.topic,
        },
        "tasks": [{"connector": "alpha", "task": 0}],
        "type": "sink",
    });
    assert_eq!(created.body, info);

    // The same name again: 409, nothing changes.
    let again = app
        .json(
            Method::POST,
            "/connectors",
            json!({"name": "alpha", "config": app.sink_config(&[("label", "other")])}),
        )
        .await;
    again.assert_error(StatusCode::CONFLICT, "Connector alpha already exists");
    assert_eq!(app.get("/connectors/alpha").await.body, info);

    // A trailing slash is the same path, as in Jersey.
    let beta = app
        .json(
            Method::POST,
            "/connectors/",
            json!({"name": " beta ", "config": app.sink_config(&[]), "initial_state": "PAUSED"}),
        )
        .await;
    assert_eq!(beta.status, StatusCode::CREATED, "{:?}", beta.body);
    assert_eq!(beta.body["name"], "beta", "the name is trimmed");

    let list = app.get("/connectors").await;
    assert_eq!(
        (list.status, list.body),
        (StatusCode::OK, json!(["alpha", "beta"]))
    );

    let beta_status = app.wait_status("beta", is("PAUSED", &["PAUSED"])).await;
    let alpha_status = app.wait_status("alpha", is("RUNNING", &["RUNNING"])).await;
    assert_eq!(
        alpha_status,
        json!({
            "name": "alpha",
            "connector": {"state": "RUNNING", "worker_id": WORKER_ID},
            "tasks": [{"id": 0, "state": "RUNNING", "worker_id": WORKER_ID}],
            "type": "sink",
        })
    );

    let expanded = app.get("/connectors?expand=status").await;
    assert_eq!(expanded.status, StatusCode::OK);
    assert_eq!(
        expanded.body,
        json!({"alpha": {"status": alpha_status}, "beta": {"status": beta_status}})
    );
    let both = app
        .get("/connectors?expand=info&expand=status&expand=nope")
        .await;
    assert_eq!(
        both.body["alpha"],
        json!({"info": info, "status": alpha_status})
    );
    let unknown = app.get("/connectors?expand=nope").await;
    assert_eq!(unknown.body, json!({"alpha": {}, "beta": {}}));

    let config = app.get("/connectors/alpha/config").await;
    assert_eq!(
        (config.status, &config.body),
        (StatusCode::OK, &info["config"])
    );

    app.send(Method::DELETE, "/connectors/alpha", None)
        .await
        .assert_empty(StatusCode::NO_CONTENT);
    app.get("/connectors/alpha")
        .await
        .assert_error(StatusCode::NOT_FOUND, "Connector alpha not found");
    app.send(Method::DELETE, "/connectors/alpha", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "Connector alpha not found");
    for path in ["status", "config", "tasks", "tasks-config", "offsets"] {
        app.get(&format!("/connectors/alpha/{path}"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "Connector alpha not found");
    }
    assert_eq!(app.get("/connectors").await.body, json!(["beta"]));
    app.shutdown().await;
}

#[tokio::test]
async fn invalid_configs_are_400_and_create_nothing() {
    let app = App::new().await;
    let reply = app
        .json(
            Method::POST,
            "/connectors",
            json!({"name": "bad", "config": app.sink_config(&[("tasks.max", "0"), ("fail.on.start", "maybe")])}),
        )
        .await;
    reply.assert_error(
        StatusCode::BAD_REQUEST,
        "Connector configuration is invalid and contains the following 2 error(s):\n\
         Invalid value 0 for configuration tasks.max: Value must be at least 1\n\
         Invalid value maybe for configuration fail.on.start: Expected value to be either true or false\n\
         You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
    );
    app.get("/connectors/bad")
        .await
        .assert_error(StatusCode::NOT_FOUND, "Connector bad not found");

    // A name in the config that is not the connector's.
    app.json(
        Method::POST,
        "/connectors",
        json!({"name": "x", "config": app.sink_config(&[("name", "y")])}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "Connector name configuration (y) doesn't match connector name in the URL (x)",
    );
    app.json(
        Method::PUT,
        "/connectors/x/config",
        app.sink_config(&[("name", "y")]),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "Connector name configuration (y) doesn't match connector name in the URL (x)",
    );
    // No name at all.
    let nameless = app
        .json(
            Method::POST,
            "/connectors",
            json!({"config": app.sink_config(&[])}),
        )
        .await;
    assert_eq!(
        nameless.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        nameless.body
    );
    assert!(
        nameless.body["message"]
            .as_str()
            .unwrap()
            .contains("for configuration name"),
        "{:?}",
        nameless.body
    );
    // An unknown connector class.
    let unknown = app
        .json(
            Method::POST,
            "/connectors",
            json!({"name": "u", "config": {"connector.class": "Nope", "topics": "t"}}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body["message"].as_str().unwrap().contains(
        "Failed to find any class that implements Connector and which name matches Nope"
    ));
    assert_eq!(app.get("/connectors").await.body, json!([]));
    app.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_are_json_400s_and_change_nothing() {
    let app = App::new().await;
    let post = |body: &str| app.send(Method::POST, "/connectors", Some(body.to_owned()));

    let reply = post("{\"name\": \"m\", \"config\": {").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error_code"], 400);
    assert!(reply.body["message"]
        .as_str()
        .unwrap()
        .starts_with("The request body is not valid JSON: "));

    post("").await.assert_error(
        StatusCode::BAD_REQUEST,
        "The request body is empty; a JSON document is required",
    );
    post("[1, 2]").await.assert_error(
        StatusCode::BAD_REQUEST,
        "The request body must be a JSON object, got an array",
    );
    post(r#"{"name": "m"}"#).await.assert_error(
        StatusCode::BAD_REQUEST,
        "The request body must have \"config\": an object of the connector's configuration",
    );
    post(r#"{"name": ["m"], "config": {}}"#).await.assert_error(
        StatusCode::BAD_REQUEST,
        "\"name\" must be a string, got an array",
    );
    post(r#"{"name": "m", "config": {"connector.class": "SecretSink", "topics": ["a"], "label": {"x": 1}}}"#)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "\"config\" must map keys to string values; these values are not strings: topics (an array), label (an object)",
        );
    post(r#"{"name": "m", "config": {}, "initial_state": "SLEEPING"}"#)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "Invalid initial_state 'SLEEPING': expected RUNNING, PAUSED or STOPPED",
        );
    app.send(Method::PUT, "/connectors/m/config", Some("\"text\"".into()))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "The connector configuration must be a JSON object, got a string",
        );
    app.send(Method::PATCH, "/connectors/m/config", Some("{\"a\": [1]}".into()))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "The configuration patch must map keys to string values; these values are not strings: a (an array)",
        );
    assert_eq!(app.get("/connectors").await.body, json!([]));

    // Numbers and booleans are taken as their text, as Jackson does for Kafka Connect.
    let created = app
        .json(
            Method::POST,
            "/connectors",
            json!({"name": "m", "config": {"connector.class": "SecretSink", "topics": app.topic, "tasks.max": 2, "fail.on.start": false}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["config"]["tasks.max"], "2");
    assert_eq!(created.body["config"]["fail.on.start"], "false");
    assert_eq!(created.body["tasks"].as_array().unwrap().len(), 2);

    // Task ids must be numbers.
    app.get("/connectors/m/tasks/abc/status")
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "Invalid task id 'abc': task ids are non-negative integers",
        );
    app.send(Method::POST, "/connectors/m/tasks/-1/restart", None)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "Invalid task id '-1': task ids are non-negative integers",
        );
    app.send(Method::POST, "/connectors/m/restart?includeTasks=yes", None)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "Invalid value 'yes' for query parameter includeTasks: expected true or false",
        );
    app.shutdown().await;
}

#[tokio::test]
async fn put_and_patch_config() {
    let app = App::new().await;
    let created = app
        .json(Method::PUT, "/connectors/p/config", app.sink_config(&[]))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(
        created.headers.get(header::LOCATION).unwrap(),
        "/connectors/p"
    );
    assert_eq!(created.body["name"], "p");
    assert_eq!(created.body["config"]["secret.password"], "[hidden]");

    let updated = app
        .json(
            Method::PUT,
            "/connectors/p/config",
            app.sink_config(&[("label", "changed")]),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert!(updated.headers.get(header::LOCATION).is_none());
    assert_eq!(updated.body["config"]["label"], "changed");
    assert_eq!(updated.body["config"]["secret.password"], "[hidden]");

    let patched = app
        .json(
            Method::PATCH,
            "/connectors/p/config",
            json!({"label": null, "tasks.max": "2", "secret.password": "new"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(
        patched.body,
        json!({
            "name": "p",
            "config": {
                "connector.class": "SecretSink",
                "name": "p",
                "secret.password": "[hidden]",
                "tasks.max": "2",
                "topics": app.topic,
            },
            "tasks": [{"connector": "p", "task": 0}, {"connector": "p", "task": 1}],
            "type": "sink",
        })
    );
    // The secret was changed, only hidden in the answer.
    assert_eq!(
        app.herder.config("p").await.unwrap()["secret.password"],
        "new"
    );

    app.json(Method::PATCH, "/connectors/nope/config", json!({"a": "b"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "Connector nope not found");
    // A patch that makes the configuration invalid changes nothing.
    let invalid = app
        .json(
            Method::PATCH,
            "/connectors/p/config",
            json!({"tasks.max": "x"}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.herder.config("p").await.unwrap()["tasks.max"], "2");
    app.shutdown().await;
}

#[tokio::test]
async fn secrets_are_hidden_in_every_echoed_config() {
    let app = App::new().await;
    let created = app.create("s", &[]).await;
    assert_eq!(created.body["config"]["secret.password"], "[hidden]");
    assert_eq!(created.body["config"]["label"], "visible");
    let hidden = |v: &Value| v["secret.password"] == "[hidden]" && v["label"] == "visible";
    assert!(hidden(&app.get("/connectors/s").await.body["config"]));
    assert!(hidden(&app.get("/connectors/s/config").await.body));
    assert!(hidden(
        &app.get("/connectors?expand=info").await.body["s"]["info"]["config"]
    ));
    let tasks = app.get("/connectors/s/tasks").await;
    assert_eq!(tasks.status, StatusCode::OK);
    assert_eq!(tasks.body[0]["id"], json!({"connector": "s", "task": 0}));
    assert!(hidden(&tasks.body[0]["config"]), "{}", tasks.body);
    let tasks_config = app.get("/connectors/s/tasks-config").await;
    assert_eq!(tasks_config.status, StatusCode::OK);
    assert_eq!(
        tasks_config
            .body
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["s-0"]
    );
    assert!(hidden(&tasks_config.body["s-0"]), "{}", tasks_config.body);
    let validated = app
        .json(
            Method::PUT,
            "/connector-plugins/SecretSink/config/validate",
            app.sink_config(&[("name", "s")]),
        )
        .await;
    let secret = validated.body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "secret.password")
        .unwrap();
    assert_eq!(secret["value"]["value"], "[hidden]");
    for reply in [created, tasks, tasks_config, validated] {
        assert!(
            !reply.body.to_string().contains("hunter2"),
            "{}",
            reply.body
        );
    }
    // Only the answers are masked: the connector runs with the real secret.
    assert_eq!(
        app.herder.config("s").await.unwrap()["secret.password"],
        "hunter2"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn passwords_in_uris_are_masked_in_every_echoed_config_and_kept_when_sent_back() {
    let app = App::new().await;
    // `label` is a plain string key: no definition says it holds a URI, any value may.
    let uri = "redis://user:hunter3@host:6379";
    let shown = "redis://user:********@host:6379";
    let created = app.create("u", &[("label", uri)]).await;
    let patched = app
        .json(
            Method::PATCH,
            "/connectors/u/config",
            json!({"tasks.max": "2"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    let mut replies = vec![
        ("POST /connectors", created.body["config"].clone()),
        ("PATCH", patched.body["config"].clone()),
    ];
    for path in [
        "/connectors/u",
        "/connectors/u/config",
        "/connectors/u/tasks",
        "/connectors/u/tasks-config",
        "/connectors?expand=info",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {:?}", reply.body);
        replies.push((path, reply.body));
    }
    let validated = app
        .json(
            Method::PUT,
            "/connector-plugins/SecretSink/config/validate",
            app.sink_config(&[("label", uri)]),
        )
        .await;
    assert_eq!(validated.status, StatusCode::OK, "{:?}", validated.body);
    replies.push(("validate", validated.body));
    for (what, body) in &replies {
        let text = body.to_string();
        assert!(!text.contains("hunter3"), "{what}: {text}");
        assert!(text.contains(shown), "{what}: {text}");
    }
    // An error quoting the value masks it too.
    let invalid = app
        .json(
            Method::POST,
            "/connectors",
            json!({"name": "bad", "config": app.sink_config(&[("fail.on.start", uri)])}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let message = invalid.body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "Invalid value {shown} for configuration fail.on.start"
        )),
        "{message}"
    );

    // GET then PUT the masked configuration: the stored URI stays.
    let config = app.get("/connectors/u/config").await.body;
    assert_eq!(config["label"], shown);
    let put = app.json(Method::PUT, "/connectors/u/config", config).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["config"]["label"], shown);
    assert_eq!(app.herder.config("u").await.unwrap()["label"], uri);
    // The masked password with another host is not filled in: the stored password is not
    // sent to a server of the client's choosing.
    let moved = "redis://user:********@elsewhere:6379";
    let put = app
        .json(
            Method::PUT,
            "/connectors/u/config",
            app.sink_config(&[("label", moved)]),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(app.herder.config("u").await.unwrap()["label"], moved);
    app.shutdown().await;
}

#[tokio::test]
async fn connector_names_with_path_tricks_or_control_characters_are_refused() {
    let app = App::new().await;
    let long = "x".repeat(250);
    let unreachable = |name: &str| {
        format!("Connector name must not be '{name}': HTTP clients remove it from URL paths, so the connector could not be reached at /connectors/{name}")
    };
    for (name, message) in [
        (".", unreachable(".")),
        ("..", unreachable("..")),
        ("a\\b", "Connector name should not contain '\\'".to_owned()),
        ("a/b", "Connector name should not contain '/'".to_owned()),
        (
            "bell\u{7}",
            "Connector name should not contain control characters".to_owned(),
        ),
        (
            long.as_str(),
            "Connector name must be at most 249 characters".to_owned(),
        ),
    ] {
        let response = app
            .json(
                Method::POST,
                "/connectors",
                json!({"name": name, "config": app.sink_config(&[])}),
            )
            .await;
        response.assert_error(StatusCode::BAD_REQUEST, &message);
    }
    // PUT /connectors/{name}/config, with the dot segments as a client that does not
    // normalise paths sends them (curl --path-as-is), and percent-encoded.
    for (path, name) in [
        ("/connectors/./config", "."),
        ("/connectors/../config", ".."),
        ("/connectors/%2E/config", "."),
        ("/connectors/%2e%2E/config", ".."),
        ("/connectors/a%5Cb/config", "a\\b"),
    ] {
        let response = app.json(Method::PUT, path, app.sink_config(&[])).await;
        let message = if name.contains('\\') {
            "Connector name should not contain '\\'".to_owned()
        } else {
            unreachable(name)
        };
        response.assert_error(StatusCode::BAD_REQUEST, &message);
    }
    assert_eq!(app.get("/connectors").await.body, json!([]));
    // /config/validate applies the same rule to the name key.
    let validated = app
        .json(
            Method::PUT,
            "/connector-plugins/SecretSink/config/validate",
            app.sink_config(&[("name", "..")]),
        )
        .await;
    assert_eq!(validated.body["error_count"], 1, "{}", validated.body);
    let name = validated.body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "name")
        .unwrap();
    assert_eq!(
        name["value"]["errors"],
        json!([format!(
            "Invalid value .. for configuration name: {}",
            unreachable("..")
        )])
    );
}
