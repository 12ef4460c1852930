//! A connector whose `start` never returns (`HangingStartSource`, in the e2e worker only) holds
//! up nothing but the requests that change it: the other connectors, the list, its own status,
//! `/metrics` and `/health` answer at once; changes to it answer 409 naming the stuck call
//! after a bounded wait; SIGTERM stops the worker within `task.shutdown.graceful.timeout.ms`
//! plus a bounded margin.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::time::{Duration, Instant};

use connect_e2e::{hanging_start, temp_dir, unique_name, Services, WorkerProcess};
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

/// The worker's `task.shutdown.graceful.timeout.ms` here.
const GRACEFUL_MS: u64 = 2000;
/// How long a request waits for a connector's lifecycle calls: the graceful timeout plus the
/// herder's 5 s margin (docs/rest.md).
const LIFECYCLE_WAIT: Duration = Duration::from_millis(GRACEFUL_MS + 5000);
/// What answering promptly means.
const PROMPT: Duration = Duration::from_secs(1);
/// Room over a bound for a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(3);

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

/// A request that must answer `expected` within [`PROMPT`]; its JSON body and how long it took.
fn prompt(worker: &WorkerProcess, method: &str, path: &str, expected: u16) -> (Json, Duration) {
    let (body, took) = timed(|| worker.call(method, path, None, expected));
    eprintln!("{method} {path}: {} ms", took.as_millis());
    assert!(
        took < PROMPT,
        "{method} {path} took {took:?} while a connector hangs in start"
    );
    (body, took)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_stuck_in_start_holds_up_only_the_requests_that_change_it() {
    let services = Services::get();
    let dir = temp_dir("busy-connector");
    let mut worker = WorkerProcess::start(
        WORKER,
        &services,
        &dir,
        &[(
            "task.shutdown.graceful.timeout.ms",
            &GRACEFUL_MS.to_string(),
        )],
    );
    let id = unique_name("busy");

    // A healthy connector beside it: a FileStreamSource moving lines into Kafka.
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 1).await.unwrap();
    let input = dir.join("input.txt");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    let healthy = format!("{id}-healthy");
    worker.create_connector(
        &healthy,
        &json!({
            "connector.class": "FileStreamSource",
            "file": input,
            "topic": topic,
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        }),
    );
    worker.wait_for_tasks(&healthy, 1, "RUNNING", Duration::from_secs(30));

    // The POST waits for the start as long as a request waits, then answers 201 with the
    // configuration stored and no tasks yet (as Kafka Connect's distributed herder does).
    let slow = format!("{id}-slow");
    let (created, took) =
        timed(|| worker.create_connector(&slow, &json!({"connector.class": hanging_start::CLASS})));
    eprintln!(
        "POST /connectors ({slow}, start hangs): {} ms",
        took.as_millis()
    );
    assert!(
        took >= LIFECYCLE_WAIT && took < LIFECYCLE_WAIT + SLACK,
        "the POST took {took:?}"
    );
    assert_eq!(created["tasks"], json!([]), "{created}");
    assert_eq!(created["config"]["connector.class"], hanging_start::CLASS);

    // Changes to the stuck connector, all at once: each waits as long as a request waits for
    // the call in progress, then answers 409 naming it; none of them changes anything.
    let changes: [(&str, String, Option<Json>); 10] = [
        ("PUT", format!("/connectors/{slow}/pause"), None),
        ("PUT", format!("/connectors/{slow}/resume"), None),
        ("PUT", format!("/connectors/{slow}/stop"), None),
        ("POST", format!("/connectors/{slow}/restart"), None),
        (
            "POST",
            format!("/connectors/{slow}/restart?includeTasks=true&onlyFailed=true"),
            None,
        ),
        ("POST", format!("/connectors/{slow}/tasks/0/restart"), None),
        (
            "PUT",
            format!("/connectors/{slow}/config"),
            Some(json!({"connector.class": hanging_start::CLASS, "tasks.max": "2"})),
        ),
        (
            "PATCH",
            format!("/connectors/{slow}/config"),
            Some(json!({"tasks.max": "3"})),
        ),
        ("DELETE", format!("/connectors/{slow}/offsets"), None),
        ("DELETE", format!("/connectors/{slow}"), None),
    ];
    let busy = format!(
        "Connector {slow} is busy starting the connector (its start has not returned after "
    );
    std::thread::scope(|scope| {
        let waiting: Vec<_> = changes
            .iter()
            .map(|(method, path, body)| {
                let worker = &worker;
                scope.spawn(move || timed(|| worker.request(method, path, body.as_ref())))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));

        // Meanwhile, with those ten requests waiting on it: everything else answers at once.
        let (names, _) = prompt(&worker, "GET", "/connectors", 200);
        let names: Vec<&str> = names
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Json::as_str)
            .collect();
        assert!(
            names.contains(&healthy.as_str()) && names.contains(&slow.as_str()),
            "{names:?}"
        );
        let (expanded, _) = prompt(&worker, "GET", "/connectors?expand=status", 200);
        assert_eq!(
            expanded[&healthy]["status"]["connector"]["state"],
            "RUNNING"
        );
        assert_eq!(
            expanded[&slow]["status"]["connector"]["state"],
            "UNASSIGNED"
        );
        let (status, _) = prompt(
            &worker,
            "GET",
            &format!("/connectors/{healthy}/status"),
            200,
        );
        assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
        // Read-only requests about the stuck connector answer from what it showed last.
        let (status, _) = prompt(&worker, "GET", &format!("/connectors/{slow}/status"), 200);
        assert_eq!(status["connector"]["state"], "UNASSIGNED", "{status}");
        assert_eq!(status["tasks"], json!([]), "{status}");
        let (config, _) = prompt(&worker, "GET", &format!("/connectors/{slow}/config"), 200);
        assert_eq!(config["connector.class"], hanging_start::CLASS);
        let (tasks, _) = prompt(&worker, "GET", &format!("/connectors/{slow}/tasks"), 200);
        assert_eq!(tasks, json!([]));
        let (metrics, took) = timed(|| worker.scrape());
        eprintln!("GET /metrics: {} ms", took.as_millis());
        assert!(took < PROMPT, "GET /metrics took {took:?}");
        let status_metric = "kafka_connect_connector_metrics_status";
        assert_eq!(
            metrics.get(
                status_metric,
                &[("connector", slow.as_str()), ("status", "unassigned")]
            ),
            Some(1.0)
        );
        assert_eq!(
            metrics.get(
                status_metric,
                &[("connector", healthy.as_str()), ("status", "running")]
            ),
            Some(1.0)
        );
        let (health, _) = prompt(&worker, "GET", "/health", 200);
        assert_eq!(health["status"], "healthy", "{health}");
        // Changes to the other connector go through.
        prompt(&worker, "PUT", &format!("/connectors/{healthy}/pause"), 202);
        prompt(
            &worker,
            "PUT",
            &format!("/connectors/{healthy}/resume"),
            202,
        );
        // And it moves its records.
        let records = services
            .consume_with_kafka_python(&topic, 2, Duration::from_secs(30))
            .unwrap();
        let values: Vec<Option<&str>> = records.iter().map(|r| r.value.as_deref()).collect();
        assert_eq!(values, [Some("one"), Some("two")]);

        for ((method, path, _), waiting) in changes.iter().zip(waiting) {
            let (answer, took) = waiting.join().unwrap();
            let (code, body) = answer.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            eprintln!("{method} {path}: {code} after {} ms", took.as_millis());
            assert_eq!(code, 409, "{method} {path}: {body}");
            assert!(
                took < LIFECYCLE_WAIT + SLACK,
                "{method} {path} took {took:?}"
            );
            let body: Json = serde_json::from_str(&body).unwrap();
            let message = body["message"].as_str().unwrap();
            assert_eq!(body["error_code"], 409);
            // "…after 14 s); try again later": the start has run since the POST, which waited
            // as long as these did.
            let seconds: u64 = message
                .strip_prefix(busy.as_str())
                .and_then(|rest| rest.strip_suffix(" s); try again later"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{method} {path}: {message}"));
            assert!(
                seconds >= 2 * LIFECYCLE_WAIT.as_secs(),
                "{method} {path}: {message}"
            );
        }
    });
    // Nothing changed: still there, with its first configuration and target.
    let config = worker.call("GET", &format!("/connectors/{slow}/config"), None, 200);
    assert_eq!(config.get("tasks.max"), None, "{config}");
    let stored = std::fs::read_to_string(dir.join("configs.json")).unwrap();
    assert!(
        stored.contains(&slow) && !stored.contains("\"tasks.max\""),
        "{stored}"
    );

    // SIGTERM: the healthy connector stops, the stuck one is given up on after the graceful
    // timeout and the herder's 1 s margin.
    let ((), took) = timed(|| worker.stop());
    eprintln!("SIGTERM to exit: {} ms", took.as_millis());
    let bound = Duration::from_millis(GRACEFUL_MS) + Duration::from_secs(5);
    assert!(took < bound, "the worker took {took:?} to stop");
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("gave up stopping the connector") && l.contains(&slow)),
        "{}",
        worker.log_tail()
    );
}
