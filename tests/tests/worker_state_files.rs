//! The worker's state files (offsets, connector configurations): one worker per file, readable
//! by the worker's user only, and a connector create that costs the same with 5,000
//! connectors stored as with none.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use connect_e2e::{lines_of, temp_dir, wait_until, Services, WorkerProcess};
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

const STRING_CONVERTERS: [(&str, &str); 2] = [
    (
        "key.converter",
        "org.apache.kafka.connect.storage.StringConverter",
    ),
    (
        "value.converter",
        "org.apache.kafka.connect.storage.StringConverter",
    ),
];

/// Produces `record-<i>` for each i of `range` to partition 0 of `topic`.
async fn produce(services: &Services, topic: &str, range: std::ops::Range<usize>) {
    let kafka = services.kafka().await.unwrap();
    let records = range
        .map(|i| (0, None, Some(format!("record-{i}").into_bytes())))
        .collect();
    services.produce(&kafka, topic, records).await.unwrap();
}

fn records(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("record-{i}")).collect()
}

/// `GET path` with curl; the body as JSON (a client we did not write).
fn curl_get(worker: &WorkerProcess, path: &str) -> Json {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "60"])
        .arg(format!("{}{path}", worker.url()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_worker_on_the_same_state_files_exits_and_the_first_keeps_running() {
    const N: usize = 500;
    let services = Services::get();
    let topic = services.new_topic("state-lock", 1).await.unwrap();
    produce(&services, &topic, 0..N).await;
    let dir = temp_dir("state-lock");
    let output = dir.join("output.txt");
    let mut first = WorkerProcess::start(WORKER, &services, &dir, &STRING_CONVERTERS);
    first.create_connector(
        "sink",
        &json!({
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": output.display().to_string(),
        }),
    );
    wait_until(
        "the sink to write the first records",
        Duration::from_secs(60),
        || lines_of(&output).len() >= N,
    );
    // (The sink's offsets are in its consumer group, not in offsets.json: the offsets file's
    // lock is held all the same, for the source offsets it would hold.)
    let configs_before = std::fs::read(dir.join("configs.json")).unwrap();

    // A second worker on the same state files (its own properties and listener).
    let offsets = dir.join("offsets.json");
    let configs = dir.join("configs.json");
    let (status, ran, log) = WorkerProcess::run_to_exit(
        WORKER,
        &services,
        &temp_dir("state-lock-second"),
        &[
            STRING_CONVERTERS[0],
            STRING_CONVERTERS[1],
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("config.storage.file.filename", configs.to_str().unwrap()),
        ],
        Duration::from_secs(5),
    );
    println!("the second worker exited with {status} after {ran:?}:\n{log}");
    assert!(!status.success(), "{log}");
    for expected in [
        format!("{} is in use by another worker", offsets.display()),
        format!("pid {}", first.pid().unwrap()),
        format!("lock file {}.lock", offsets.display()),
    ] {
        assert!(log.contains(&expected), "no {expected:?} in:\n{log}");
    }

    // The first worker runs on: its REST API answers, its sink moves new records, and every
    // record is written once.
    let status = first.status("sink");
    assert_eq!(status["connector"]["state"], "RUNNING", "{status}");
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    produce(&services, &topic, N..2 * N).await;
    wait_until(
        "the sink to write the new records",
        Duration::from_secs(60),
        || lines_of(&output).len() >= 2 * N,
    );
    // Long enough for a second sink's duplicates to show up, had one started.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lines_of(&output), records(0..2 * N));
    assert_eq!(
        std::fs::read(dir.join("configs.json")).unwrap(),
        configs_before,
        "the connector configurations changed"
    );

    // A worker killed with SIGKILL leaves no lock behind: its restart starts (restart()
    // fails if the worker exits), and the lock file names the new process.
    first.restart();
    first.wait_for_tasks("sink", 1, "RUNNING", Duration::from_secs(30));
    let holder = std::fs::read_to_string(dir.join("offsets.json.lock")).unwrap();
    assert!(
        holder.starts_with(&format!("pid {} ", first.pid().unwrap())),
        "{holder}"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_world_readable_version_1_config_file_is_converted_and_every_state_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let services = Services::get();
    let topic = services.new_topic("state-modes", 1).await.unwrap();
    let lines_topic = services.new_topic("state-modes-lines", 1).await.unwrap();
    produce(&services, &topic, 0..10).await;
    let dir = temp_dir("state-modes");
    let output = dir.join("output.txt");
    // A config file as an older worker wrote it: one JSON document, mode 644.
    let old = json!({
        "version": 1,
        "connectors": {
            "old": {
                "config": {
                    "name": "old",
                    "connector.class": "FileStreamSink",
                    "topics": topic,
                    "file": dir.join("old.txt").display().to_string(),
                },
                "target_state": "STOPPED"
            }
        }
    });
    let configs = dir.join("configs.json");
    std::fs::write(&configs, serde_json::to_vec_pretty(&old).unwrap()).unwrap();
    std::fs::set_permissions(&configs, std::fs::Permissions::from_mode(0o644)).unwrap();

    let worker = WorkerProcess::start(WORKER, &services, &dir, &STRING_CONVERTERS);
    let status = worker.status("old");
    assert_eq!(status["connector"]["state"], "STOPPED", "{status}");
    worker.create_connector(
        "sink",
        &json!({
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": output.display().to_string(),
        }),
    );
    // A source, so the offsets file holds something (sinks' offsets are in their consumer
    // groups).
    let input = dir.join("input.txt");
    std::fs::write(&input, "a\nb\n").unwrap();
    worker.create_connector(
        "source",
        &json!({
            "connector.class": "FileStreamSource",
            "topic": lines_topic,
            "file": input.display().to_string(),
        }),
    );
    worker.call("DELETE", "/connectors/old", None, 204);
    wait_until(
        "the sink to write the records",
        Duration::from_secs(60),
        || lines_of(&output).len() == 10,
    );
    let offsets = dir.join("offsets.json");
    wait_until(
        "the offsets flush of the source's lines",
        Duration::from_secs(30),
        || std::fs::read_to_string(&offsets).is_ok_and(|t| t.contains("\"position\": 4")),
    );
    let state_files = [
        "configs.json",
        "configs.json.lock",
        "offsets.json",
        "offsets.json.lock",
    ];
    for name in state_files {
        assert_eq!(mode_of(&dir.join(name)), 0o600, "{name}");
    }
    // No other file (a temporary file of an atomic rewrite would be one).
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<&str> = state_files.to_vec();
    expected.extend(["input.txt", "output.txt", "worker.log", "worker.properties"]);
    expected.sort();
    assert_eq!(names, expected);
    // The config file is a journal now; the old connector's records end in its tombstone.
    let journal = lines_of(&configs);
    assert_eq!(
        journal.last().map(String::as_str),
        Some(r#"{"key":"connector-old","value":null}"#),
        "{journal:?}"
    );
    let listed = curl_get(&worker, "/connectors");
    assert_eq!(listed, json!(["sink", "source"]));
}

#[test]
fn creating_connectors_costs_the_same_at_5000_as_at_the_start() {
    const CONNECTORS: usize = 5000;
    const WINDOW: usize = 500;
    const DEADLINE: Duration = Duration::from_secs(100);
    let services = Services::get();
    let dir = temp_dir("many-connectors");
    let mut worker = WorkerProcess::start(WORKER, &services, &dir, &[]);
    // The median, not the mean: a moment of load from tests running beside this one should
    // not decide it, the cost of a create as the store grows should.
    let median_ms = |times: &[Duration]| {
        let mut sorted = times.to_vec();
        sorted.sort();
        sorted[sorted.len() / 2].as_secs_f64() * 1000.0
    };
    let started = Instant::now();
    let mut times = Vec::with_capacity(CONNECTORS);
    for i in 0..CONNECTORS {
        let body = json!({
            "name": format!("c{i}"),
            "config": {
                "connector.class": "FileStreamSink",
                "topics": "never-read",
                "file": dir.join(format!("c{i}.txt")).display().to_string(),
            },
            "initial_state": "STOPPED",
        });
        let sent = Instant::now();
        worker.call("POST", "/connectors", Some(&body), 201);
        times.push(sent.elapsed());
        if started.elapsed() > DEADLINE {
            let by_window: Vec<String> = times
                .chunks(WINDOW)
                .map(|w| format!("{:.2}", median_ms(w)))
                .collect();
            panic!(
                "only {} of {CONNECTORS} connectors created in {DEADLINE:?}; median ms per create by {WINDOW}: {}",
                i + 1,
                by_window.join(", ")
            );
        }
    }
    let total = started.elapsed();
    let first = median_ms(&times[..WINDOW]);
    let last = median_ms(&times[CONNECTORS - WINDOW..]);
    println!(
        "{CONNECTORS} creates in {:.1} s; median per create: first {WINDOW} {first:.2} ms, last {WINDOW} {last:.2} ms",
        total.as_secs_f64()
    );
    assert!(
        last < 2.0 * first,
        "the last {WINDOW} creates took {last:.2} ms each, the first {first:.2} ms"
    );

    // Every one of them comes back after a restart, STOPPED.
    worker.restart();
    let statuses = curl_get(&worker, "/connectors?expand=status");
    let statuses = statuses.as_object().unwrap();
    let names: BTreeSet<&str> = statuses.keys().map(String::as_str).collect();
    let expected: Vec<String> = (0..CONNECTORS).map(|i| format!("c{i}")).collect();
    assert_eq!(names, expected.iter().map(String::as_str).collect());
    for (name, status) in statuses {
        assert_eq!(
            status["status"]["connector"]["state"], "STOPPED",
            "{name}: {status}"
        );
    }
}
