//! The REST API in-process (`tower::ServiceExt::oneshot` on the router) over a real herder
//! connected to the real broker: Kafka Connect's paths, bodies, status codes and error
//! bodies, exactly.

// The harness helpers below are test code too: a failed step should panic the test, which is
// what `unwrap` does (`allow-unwrap-in-tests` covers only `#[test]` functions themselves).
#![allow(clippy::unwrap_used)]

#[path = "rest_inprocess/harness.rs"]
mod harness;

#[path = "rest_inprocess/conformance.rs"]
mod conformance;
#[path = "rest_inprocess/connectors.rs"]
mod connectors;
#[path = "rest_inprocess/lifecycle.rs"]
mod lifecycle;
#[path = "rest_inprocess/plugins.rs"]
mod plugins;

use axum::http::{header, Method, StatusCode};
use serde_json::json;
use std::time::Duration;

use harness::App;

/// `GET /` is in `conformance`.
#[tokio::test]
async fn health() {
    let app = App::new().await;
    let health = app.get("/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(
        health.body,
        json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests.", "retrying_tasks": []})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_large_bodies() {
    let app = App::new().await;
    app.get("/nope")
        .await
        .assert_error(StatusCode::NOT_FOUND, "HTTP 404 Not Found");
    app.get("/connectors/a/b/c/d")
        .await
        .assert_error(StatusCode::NOT_FOUND, "HTTP 404 Not Found");
    let reply = app.send(Method::DELETE, "/connectors", None).await;
    reply.assert_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    );
    let allow = reply.headers.get(header::ALLOW).unwrap().to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    app.send(Method::POST, "/connectors/x/pause", None)
        .await
        .assert_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
        );

    let big = json!({"name": "big", "config": {"connector.class": "SecretSink", "label": "x".repeat(1024 * 1024)}});
    app.json(Method::POST, "/connectors", big)
        .await
        .assert_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is larger than the limit of 1048576 bytes",
        );
    assert_eq!(app.get("/connectors").await.body, json!([]));
    app.shutdown().await;
}

/// `serve` over a real socket: answers HTTP/1.1, then stops when the shutdown future ends.
#[tokio::test]
async fn serve_answers_over_tcp_and_shuts_down_gracefully() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = App::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(connect_worker::rest::serve(
        listener,
        app.router.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /connectors/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    assert!(answer.ends_with("\r\n\r\n[]"), "{answer}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve did not stop after the shutdown signal")
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
    app.shutdown().await;
}
