//! Pause, resume, stop, restarts and offsets.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::harness::*;

#[tokio::test]
async fn pause_resume_stop() {
    let app = App::new().await;
    app.create("life", &[]).await;
    app.wait_status("life", is("RUNNING", &["RUNNING"])).await;

    for _ in 0..2 {
        // Idempotent: twice gives the same answer.
        app.send(Method::PUT, "/connectors/life/pause", None)
            .await
            .assert_empty(StatusCode::ACCEPTED);
    }
    app.wait_status("life", is("PAUSED", &["PAUSED"])).await;
    app.send(Method::PUT, "/connectors/life/resume", None)
        .await
        .assert_empty(StatusCode::ACCEPTED);
    app.wait_status("life", is("RUNNING", &["RUNNING"])).await;
    for _ in 0..2 {
        app.send(Method::PUT, "/connectors/life/stop", None)
            .await
            .assert_empty(StatusCode::NO_CONTENT);
    }
    let stopped = app.wait_status("life", is("STOPPED", &[])).await;
    assert_eq!(stopped["tasks"], json!([]));
    app.send(Method::PUT, "/connectors/life/resume", None)
        .await
        .assert_empty(StatusCode::ACCEPTED);
    app.wait_status("life", is("RUNNING", &["RUNNING"])).await;

    for action in ["pause", "resume", "stop"] {
        app.send(Method::PUT, &format!("/connectors/ghost/{action}"), None)
            .await
            .assert_error(StatusCode::NOT_FOUND, "Connector ghost not found");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn offsets_are_altered_and_reset_only_when_stopped() {
    let app = App::new().await;
    app.create("off", &[]).await;
    let empty = app.get("/connectors/off/offsets").await;
    assert_eq!(
        (empty.status, empty.body),
        (StatusCode::OK, json!({"offsets": []}))
    );

    let entry = json!({"partition": {"kafka_topic": app.topic, "kafka_partition": 0}, "offset": {"kafka_offset": 5}});
    let alter = json!({"offsets": [entry]});
    app.json(Method::PATCH, "/connectors/off/offsets", alter.clone())
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/off/stop' endpoint",
        );
    app.send(Method::DELETE, "/connectors/off/offsets", None)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/off/stop' endpoint",
        );
    let missing = "Partitions / offsets need to be provided for an alter offsets request";
    for body in [json!({}), json!({"offsets": []}), json!({"offsets": null})] {
        app.json(Method::PATCH, "/connectors/off/offsets", body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, missing);
    }

    app.send(Method::PUT, "/connectors/off/stop", None)
        .await
        .assert_empty(StatusCode::NO_CONTENT);
    app.json(
        Method::PATCH,
        "/connectors/off/offsets",
        json!({"offsets": [{"partition": {"kafka_topic": app.topic}, "offset": {"kafka_offset": 1}}]}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'",
    );
    let altered = app
        .json(Method::PATCH, "/connectors/off/offsets", alter)
        .await;
    assert_eq!(
        (altered.status, altered.body),
        (
            StatusCode::OK,
            json!({"message": "The offsets for this connector have been altered successfully"})
        )
    );
    let read = app.get("/connectors/off/offsets").await;
    assert_eq!(
        (read.status, read.body),
        (StatusCode::OK, json!({"offsets": [entry]}))
    );

    let reset = app
        .send(Method::DELETE, "/connectors/off/offsets", None)
        .await;
    assert_eq!(
        (reset.status, reset.body),
        (
            StatusCode::OK,
            json!({"message": "The offsets for this connector have been reset successfully"})
        )
    );
    assert_eq!(
        app.get("/connectors/off/offsets").await.body,
        json!({"offsets": []})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn restarts() {
    let app = App::new().await;
    app.create("r", &[]).await;
    app.wait_status("r", is("RUNNING", &["RUNNING"])).await;

    app.send(Method::POST, "/connectors/r/restart", None)
        .await
        .assert_empty(StatusCode::NO_CONTENT);
    app.send(
        Method::POST,
        "/connectors/r/restart?includeTasks=false&onlyFailed=false",
        None,
    )
    .await
    .assert_empty(StatusCode::NO_CONTENT);
    app.wait_status("r", is("RUNNING", &["RUNNING"])).await;

    let all = app
        .send(
            Method::POST,
            "/connectors/r/restart?includeTasks=true",
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::ACCEPTED);
    assert_eq!(
        all.body,
        json!({
            "name": "r",
            "connector": {"state": "RESTARTING", "worker_id": WORKER_ID},
            "tasks": [{"id": 0, "state": "RESTARTING", "worker_id": WORKER_ID}],
            "type": "sink",
        })
    );
    app.wait_status("r", is("RUNNING", &["RUNNING"])).await;
    // Only failed ones, and none failed: nothing restarts, the status says so.
    let none = app
        .send(
            Method::POST,
            "/connectors/r/restart?includeTasks=true&onlyFailed=true",
            None,
        )
        .await;
    assert_eq!(none.status, StatusCode::ACCEPTED);
    assert_eq!(
        states(&none.body),
        ("RUNNING".into(), vec!["RUNNING".into()])
    );

    app.send(Method::POST, "/connectors/r/tasks/0/restart", None)
        .await
        .assert_empty(StatusCode::NO_CONTENT);
    app.send(Method::POST, "/connectors/r/tasks/5/restart", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "Task 5 not found for connector r");
    let task = app.get("/connectors/r/tasks/0/status").await;
    assert_eq!(task.status, StatusCode::OK);
    assert_eq!(task.body["id"], 0);
    assert_eq!(task.body["worker_id"], WORKER_ID);
    app.get("/connectors/r/tasks/7/status")
        .await
        .assert_error(StatusCode::NOT_FOUND, "Task 7 not found for connector r");
    app.send(Method::POST, "/connectors/ghost/restart", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "Connector ghost not found");

    // A failing task: FAILED with a trace, and onlyFailed restarts just it.
    app.create("f", &[("fail.on.start", "true")]).await;
    let failed = app.wait_status("f", is("RUNNING", &["FAILED"])).await;
    assert!(failed["tasks"][0]["trace"]
        .as_str()
        .unwrap()
        .contains("told to fail on start"));
    let task = app.get("/connectors/f/tasks/0/status").await;
    assert_eq!(task.body["state"], "FAILED");
    let only_failed = app
        .send(
            Method::POST,
            "/connectors/f/restart?includeTasks=true&onlyFailed=true",
            None,
        )
        .await;
    assert_eq!(only_failed.status, StatusCode::ACCEPTED);
    assert_eq!(
        states(&only_failed.body),
        ("RUNNING".into(), vec!["RESTARTING".into()])
    );
    app.shutdown().await;
}
