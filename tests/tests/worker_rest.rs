//! The worker over real HTTP, driven by a third-party Kafka Connect REST client
//! (kafka-connect-py, unchanged) through create, status, pause, resume, restart and delete.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::process::Command;
use std::time::Duration;

use connect_e2e::{
    checkout_commit, temp_dir, unique_name, InProcessWorker, Services, WorkerProcess,
};
use connect_worker::worker::Worker;

/// Runs a worker with the built-in connectors, its REST API on a free port.
async fn running_worker(services: &Services) -> InProcessWorker {
    let builder = Worker::builder().plugins(connect_worker::builtin_connectors::plugins());
    InProcessWorker::start(services, builder, &[]).await
}

/// Runs curl and returns the body and the status code on a last line of its own.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// `GET /` of the worker binary against the test broker: the cluster id kafka-python reports
/// (`scripts/services.sh` gives each broker an id of its own) and the commit of the checkout
/// the binary was built from. Kafka Connect's sources: tests/tests/rest_inprocess/conformance.rs.
#[test]
fn root_shows_the_brokers_cluster_id_and_the_build_commit() {
    let services = Services::get();
    let worker = WorkerProcess::start(
        env!("CARGO_BIN_EXE_e2e-worker"),
        &services,
        &temp_dir("rest-root"),
        &[],
    );
    let cluster_id = services.cluster_id_with_kafka_python().unwrap();
    let answer = curl(&[&format!("{}/", worker.url())]);
    let (body, code) = answer.rsplit_once('\n').unwrap();
    assert_eq!(code, "200", "{answer}");
    let mut root: serde_json::Value = serde_json::from_str(body).unwrap();
    // Ours (the web console shows it): a number of milliseconds.
    let uptime = root["uptime_ms"].take();
    assert!(uptime.is_u64(), "uptime_ms: {uptime}");
    root.as_object_mut().unwrap().remove("uptime_ms");
    assert_eq!(
        root,
        serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "commit": checkout_commit(),
            "kafka_cluster_id": cluster_id,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_connect_py_drives_the_worker_unchanged() {
    let services = Services::get();
    let kafka = services.kafka().await.unwrap();
    let topic = unique_name("client");
    services.create_topic(&kafka, &topic, 2).await.unwrap();
    let worker = running_worker(&services).await;
    let url = worker.url.clone();
    let out = temp_dir("client").join("out.txt");
    let config = serde_json::json!({
        "connector.class": "FileStreamSink",
        "file": out.to_str().unwrap(),
        "topics": topic,
    });
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("py/connect_client_check.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&services.kafka_python)
            .arg(script)
            .args(["--url", &url, "--name", "py-client-sink"])
            .args(["--config-json", &config.to_string()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for step in [
        "created",
        "running",
        "paused",
        "resumed",
        "restarted with tasks",
        "task restarted",
        "deleted",
    ] {
        assert!(
            stdout.contains(&format!("ok: {step}")),
            "missing step {step}:\n{stdout}"
        );
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_topics_are_listed_and_reset() {
    let services = Services::get();
    let kafka = services.kafka().await.unwrap();
    let topic = unique_name("active");
    services.create_topic(&kafka, &topic, 1).await.unwrap();
    let worker = running_worker(&services).await;
    let url = worker.url.clone();
    let out = temp_dir("active").join("out.txt");
    let body = serde_json::json!({"name": "active", "config": {
        "connector.class": "FileStreamSink", "file": out.to_str().unwrap(), "topics": topic}});
    let created = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &body.to_string(),
        &format!("{url}/connectors"),
    ]);
    assert!(created.ends_with("\n201"), "{created}");
    let expected = format!("{{\"active\":{{\"topics\":[\"{topic}\"]}}}}\n200");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = curl(&[&format!("{url}/connectors/active/topics")]);
        if got == expected {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        curl(&[
            "-X",
            "PUT",
            &format!("{url}/connectors/active/topics/reset")
        ]),
        "\n202"
    );
    assert_eq!(
        curl(&[&format!("{url}/connectors/active/topics")]),
        "{\"active\":{\"topics\":[]}}\n200"
    );
    assert_eq!(
        curl(&[&format!("{url}/connectors/nope/topics")]),
        "{\"error_code\":404,\"message\":\"Connector nope not found\"}\n404"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_levels_change_at_runtime() {
    connect_worker::logging::init();
    let services = Services::get();
    let worker = running_worker(&services).await;
    let url = worker.url.clone();
    let put = |logger: &str, body: &str, query: &str| {
        curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            &format!("{url}/admin/loggers/{logger}{query}"),
        ])
    };
    let all = curl(&[&format!("{url}/admin/loggers")]);
    assert!(
        all.contains("\"root\":{\"last_modified\":null,\"level\":\"")
            || all.contains("\"root\":{\"level\":"),
        "{all}"
    );
    assert!(all.ends_with("\n200"), "{all}");

    assert_eq!(
        put("connect_worker::task", r#"{"level":"DEBUG"}"#, ""),
        "[\"connect_worker::task\"]\n200"
    );
    // The whole LoggerLevel, as in the list (tests/tests/rest_inprocess/conformance.rs).
    let one = curl(&[&format!("{url}/admin/loggers/connect_worker::task::sink")]);
    assert!(
        one.starts_with("{\"level\":\"DEBUG\",\"last_modified\":") && one.ends_with("}\n200"),
        "{one}"
    );
    let listed = curl(&[&format!("{url}/admin/loggers")]);
    assert!(listed.contains("\"connect_worker::task\":{"), "{listed}");
    assert!(listed.contains("\"level\":\"DEBUG\""), "{listed}");
    assert_eq!(
        put(
            "connect_worker::task",
            r#"{"level":"INFO"}"#,
            "?scope=cluster"
        ),
        "\n204"
    );
    assert_eq!(
        put("connect_worker", r#"{"level":"verbose"}"#, ""),
        "{\"error_code\":404,\"message\":\"Invalid log level 'verbose'.\"}\n404"
    );
    assert_eq!(
        put("connect_worker", r#"{"nolevel":1}"#, ""),
        "{\"error_code\":400,\"message\":\"The request body must specify a log level\"}\n400"
    );
    worker.stop().await;
}
