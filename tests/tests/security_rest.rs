//! The REST API over HTTPS (a self-signed CA) with HTTP Basic users and bearer tokens from
//! hashed credential files, driven with curl.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::process::Command;

use connect_e2e::{temp_dir, Services, TestCa, WorkerProcess};
use serde_json::Value as Json;

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

/// curl with `args`; the status code (0 when no HTTP response), the body and curl's exit code.
fn curl(worker: &WorkerProcess, path: &str, args: &[&str]) -> (u16, String, i32) {
    let url = worker.url();
    let port = url.rsplit(':').next().unwrap();
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "20",
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
        ])
        .args(args)
        .args(["-w", "\n%{http_code}", &format!("{url}{path}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        code.trim().parse().unwrap_or(0),
        body.to_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn https_with_basic_users_and_bearer_tokens() {
    let services = Services::get();
    let dir = temp_dir("secure-rest");
    let ca = TestCa::new(&dir);
    let (cert, key) = ca.issue("server", &["localhost", "127.0.0.1"]);
    let ca = ca.ca_path();
    let users = dir.join("users");
    std::fs::write(
        &users,
        format!(
            "# REST users\nadmin:{}\n",
            bcrypt::hash("right-password", 4).unwrap()
        ),
    )
    .unwrap();
    let tokens = dir.join("tokens");
    std::fs::write(
        &tokens,
        format!("prometheus:{}\n", bcrypt::hash("scrape-token", 4).unwrap()),
    )
    .unwrap();
    let worker = WorkerProcess::start_https(
        WORKER,
        &services,
        &dir,
        &[
            (
                "listeners.https.ssl.certificate.location",
                cert.to_str().unwrap(),
            ),
            ("listeners.https.ssl.key.location", key.to_str().unwrap()),
            ("rest.auth.basic.file", users.to_str().unwrap()),
            ("rest.auth.bearer.file", tokens.to_str().unwrap()),
        ],
    );
    let ca = ca.to_str().unwrap();

    // No credentials, wrong ones: 401 with Kafka Connect's error body.
    let (code, body, _) = curl(&worker, "/connectors", &["--cacert", ca]);
    assert_eq!(code, 401, "{body}");
    let error: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error_code"], 401);
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("Authentication required"));
    let (code, body, _) = curl(
        &worker,
        "/connectors",
        &["--cacert", ca, "-u", "admin:wrong"],
    );
    assert_eq!(code, 401, "{body}");
    assert_eq!(
        serde_json::from_str::<Json>(&body).unwrap()["message"],
        "Invalid credentials"
    );
    let (code, _, _) = curl(
        &worker,
        "/connectors",
        &["--cacert", ca, "-u", "nobody:right-password"],
    );
    assert_eq!(code, 401);
    let (code, _, _) = curl(
        &worker,
        "/metrics",
        &["--cacert", ca, "-H", "Authorization: Bearer wrong"],
    );
    assert_eq!(code, 401);

    // The right user, the right token: in.
    let (code, body, _) = curl(
        &worker,
        "/connectors",
        &["--cacert", ca, "-u", "admin:right-password"],
    );
    assert_eq!((code, body.as_str()), (200, "[]"));
    let (code, body, _) = curl(
        &worker,
        "/metrics",
        &["--cacert", ca, "-H", "Authorization: Bearer scrape-token"],
    );
    assert_eq!(code, 200);
    assert!(body.contains("kafka_connect_connect_worker_metrics_connector_count 0"));
    let created = curl(
        &worker,
        "/connectors",
        &[
            "--cacert",
            ca,
            "-u",
            "admin:right-password",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &format!(
                "{{\"name\":\"f\",\"config\":{{\"connector.class\":\"FileStreamSink\",\"topics\":\"t\",\"file\":\"{}\"}}}}",
                dir.join("out.txt").display()
            ),
        ],
    );
    assert_eq!(created.0, 201, "{}", created.1);

    // /health stays open (rest.auth.health.open defaults to true).
    let (code, body, _) = curl(&worker, "/health", &["--cacert", ca]);
    assert_eq!(code, 200, "{body}");

    // The certificate is checked: without the CA, curl refuses it (exit 60); plain HTTP to
    // the HTTPS port gets no answer.
    let (code, _, exit) = curl(&worker, "/health", &[]);
    assert_eq!((code, exit), (0, 60));
    let plain = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(
            worker
                .url()
                .replace("https://localhost", "http://127.0.0.1")
                + "/health",
        )
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "000");
}
