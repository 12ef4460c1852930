//! `/metrics`, `/health` and JSON logs of a worker process moving real records: a
//! FileStreamSource into Kafka, Redis sinks out of it, poison records, pause/resume and a
//! failing task. Totals must equal the records moved exactly.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::time::{Duration, Instant};

use connect_e2e::{free_port, temp_dir, unique_name, Scrape, Services, WorkerProcess};
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

/// Scrapes until `check` holds; panics with the last scrape's relevant lines after 60 s.
fn wait_for_metrics(worker: &WorkerProcess, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = worker.scrape();
        if check(&s) {
            return s;
        }
        if Instant::now() > deadline {
            let (_, text) = worker.request("GET", "/metrics", None).unwrap();
            panic!("timed out waiting for {what}; metrics:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_moved_and_follow_task_states() {
    const GOOD: usize = 400;
    const POISON: usize = 7;
    let services = Services::get();
    let dir = temp_dir("observability");
    let metrics_port = free_port();
    let worker = WorkerProcess::start(
        WORKER,
        &services,
        &dir,
        &[
            (
                "metrics.listeners",
                &format!("http://127.0.0.1:{metrics_port}"),
            ),
            ("log.format", "json"),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
        ],
    );
    let id = unique_name("obs");
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 2).await.unwrap();

    // The source: GOOD JSON lines and POISON lines that are not JSON.
    let input = dir.join("input.txt");
    let mut lines = String::new();
    for i in 0..GOOD + POISON {
        if i % 50 == 25 && i / 50 < POISON {
            lines.push_str(&format!("not json {i}\n"));
        } else {
            lines.push_str(&format!("{{\"n\":{i}}}\n"));
        }
    }
    assert_eq!(
        lines.lines().filter(|l| l.starts_with("not")).count(),
        POISON
    );
    std::fs::write(&input, lines).unwrap();
    let source = format!("{id}-source");
    worker.create_connector(
        &source,
        &json!({"connector.class": "FileStreamSource", "file": input, "topic": topic}),
    );

    // A sink tolerating the poison (to a dead-letter queue) and counting every good record.
    let sink = format!("{id}-sink");
    let dlq = format!("{id}-dlq");
    worker.create_connector(
        &sink,
        &json!({
            "connector.class": "RedisSink",
            "topics": topic,
            "tasks.max": "2",
            "redis.uri": services.redis_url,
            "redis.type": "STREAM",
            "redis.keyspace": format!("{id}-stream"),
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
        }),
    );
    let total = (GOOD + POISON) as f64;
    let s = wait_for_metrics(&worker, "the sink to read every record", |s| {
        let read: f64 = ["0", "1"]
            .iter()
            .filter_map(|t| {
                s.get(
                    "kafka_connect_sink_task_metrics_sink_record_read_total",
                    &[("connector", &sink), ("task", t)],
                )
            })
            .sum();
        read == total
            && ["0", "1"].iter().all(|t| {
                s.get(
                    "kafka_connect_sink_task_metrics_sink_record_lag_max",
                    &[("connector", &sink), ("task", t)],
                ) == Some(0.0)
            })
    });
    let sum = |name: &str, connector: &str| -> f64 {
        ["0", "1"]
            .iter()
            .filter_map(|t| s.get(name, &[("connector", connector), ("task", t)]))
            .sum()
    };
    let one = |name: &str| {
        s.get(name, &[("connector", &source), ("task", "0")])
            .unwrap()
    };
    // Source totals: every line polled and written, nothing in flight.
    assert_eq!(
        one("kafka_connect_source_task_metrics_source_record_poll_total"),
        total
    );
    assert_eq!(
        one("kafka_connect_source_task_metrics_source_record_write_total"),
        total
    );
    assert_eq!(
        one("kafka_connect_source_task_metrics_source_record_active_count"),
        0.0
    );
    // Sink totals: the poison never reached put; it was counted, skipped and dead-lettered.
    assert_eq!(
        sum(
            "kafka_connect_sink_task_metrics_sink_record_send_total",
            &sink
        ),
        GOOD as f64
    );
    assert_eq!(
        sum(
            "kafka_connect_task_error_metrics_total_record_errors",
            &sink
        ),
        POISON as f64
    );
    assert_eq!(
        sum(
            "kafka_connect_task_error_metrics_total_records_skipped",
            &sink
        ),
        POISON as f64
    );
    assert_eq!(
        sum(
            "kafka_connect_task_error_metrics_deadletterqueue_produce_requests",
            &sink
        ),
        POISON as f64
    );
    assert_eq!(
        sum(
            "kafka_connect_task_error_metrics_deadletterqueue_produce_failures",
            &sink
        ),
        0.0
    );
    assert!(
        sum(
            "kafka_connect_task_error_metrics_last_error_timestamp",
            &sink
        ) > 1.7e12
    );
    assert_eq!(
        sum("kafka_connect_sink_task_metrics_partition_count", &sink),
        2.0,
        "{:?}",
        s.0.iter()
            .filter(|(n, _, _)| n.contains("partition_count") || n.contains("read_total"))
            .collect::<Vec<_>>()
    );
    // The Redis sink's own metrics: every good record became one command.
    assert_eq!(sum("redis_sink_commands_total", &sink), GOOD as f64);
    assert!(sum("redis_sink_round_trips_total", &sink) >= 1.0);
    // Worker and connector groups.
    assert_eq!(
        s.get("kafka_connect_connect_worker_metrics_connector_count", &[]),
        Some(2.0)
    );
    assert_eq!(
        s.get("kafka_connect_connect_worker_metrics_task_count", &[]),
        Some(3.0)
    );
    assert!(
        s.get(
            "kafka_connect_connect_worker_metrics_task_startup_success_total",
            &[]
        )
        .unwrap()
            >= 3.0
    );
    assert_eq!(
        s.get(
            "kafka_connect_connector_metrics_connector_class",
            &[("connector", &sink)]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.get(
            "kafka_connect_connector_metrics_connector_type",
            &[("connector", &source), ("connector_type", "source")]
        ),
        Some(1.0)
    );

    // The offsets are committed: nothing active, commits counted.
    let s = wait_for_metrics(&worker, "the sink's offsets to be committed", |s| {
        ["0", "1"].iter().all(|t| {
            s.get(
                "kafka_connect_sink_task_metrics_sink_record_active_count",
                &[("connector", &sink), ("task", t)],
            ) == Some(0.0)
                && s.get(
                    "kafka_connect_sink_task_metrics_offset_commit_completion_total",
                    &[("connector", &sink), ("task", t)],
                )
                .is_some_and(|n| n >= 1.0)
        })
    });
    assert_eq!(
        s.get(
            "kafka_connect_connector_task_metrics_offset_commit_success_percentage",
            &[("connector", &sink), ("task", "0")]
        ),
        Some(100.0)
    );

    // Status gauges follow pause and resume.
    worker.call("PUT", &format!("/connectors/{sink}/pause"), None, 202);
    wait_for_metrics(&worker, "the paused status", |s| {
        s.get(
            "kafka_connect_connector_metrics_status",
            &[("connector", &sink), ("status", "paused")],
        ) == Some(1.0)
            && ["0", "1"].iter().all(|t| {
                s.get(
                    "kafka_connect_connector_task_metrics_status",
                    &[("connector", &sink), ("task", t), ("status", "paused")],
                ) == Some(1.0)
            })
            && s.get(
                "kafka_connect_connect_worker_metrics_connector_task_count",
                &[("connector", &sink), ("state", "paused")],
            ) == Some(2.0)
    });
    worker.call("PUT", &format!("/connectors/{sink}/resume"), None, 202);
    let s = wait_for_metrics(&worker, "the running status", |s| {
        ["0", "1"].iter().all(|t| {
            s.get(
                "kafka_connect_connector_task_metrics_status",
                &[("connector", &sink), ("task", t), ("status", "running")],
            ) == Some(1.0)
        })
    });
    assert_eq!(
        s.get(
            "kafka_connect_connector_task_metrics_status",
            &[("connector", &sink), ("task", "0"), ("status", "paused")]
        ),
        None
    );
    let ratio = s
        .get(
            "kafka_connect_connector_task_metrics_pause_ratio",
            &[("connector", &sink), ("task", "0")],
        )
        .unwrap();
    assert!(ratio > 0.0 && ratio < 1.0, "pause ratio {ratio}");

    // A failing task: JSON needs a module this Redis lacks.
    let failing = format!("{id}-failing");
    worker.create_connector(
        &failing,
        &json!({"connector.class": "RedisSink", "topics": topic, "redis.uri": services.redis_url, "redis.type": "JSON"}),
    );
    wait_for_metrics(&worker, "the failed status", |s| {
        s.get(
            "kafka_connect_connector_task_metrics_status",
            &[("connector", &failing), ("task", "0"), ("status", "failed")],
        ) == Some(1.0)
            && s.get(
                "kafka_connect_connect_worker_metrics_connector_task_count",
                &[("connector", &failing), ("state", "failed")],
            ) == Some(1.0)
            && s.get(
                "kafka_connect_connect_worker_metrics_task_startup_failure_total",
                &[],
            )
            .is_some_and(|n| n >= 1.0)
    });

    // The same metrics on the metrics listener, which serves nothing else.
    let mut other = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
    use std::io::{Read, Write};
    write!(
        other,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    other.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("text/plain; version=0.0.4"));
    assert!(response.contains("kafka_connect_connect_worker_metrics_connector_count 3"));
    let mut other = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
    write!(
        other,
        "GET /connectors HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    other.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");

    // Health as Kafka Connect 3.9 reports it.
    let health = worker.call("GET", "/health", None, 200);
    assert_eq!(health["status"], "healthy");
    // Nothing retries: every task's system is up.
    assert_eq!(health["retrying_tasks"], json!([]), "{health}");
    let gauges: Vec<f64> = worker
        .scrape()
        .0
        .into_iter()
        .filter(|(n, _, _)| n == "kafka_connect_connector_task_metrics_retrying")
        .map(|(_, _, v)| v)
        .collect();
    assert_eq!(gauges, [0.0; 4], "one per task: source, two sinks, failed");

    // JSON logs: every line an object; the task's lines carry the connector and the task.
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    let entries: Vec<Json> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let started = entries
        .iter()
        .find(|e| {
            e["fields"]["message"] == "sink task started" && e["span"]["connector"] == json!(sink)
        })
        .unwrap_or_else(|| panic!("no 'sink task started' line with the span in:\n{log}"));
    assert!(started["span"]["task"].is_number(), "{started}");
    assert!(started["level"].is_string() && started["timestamp"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_written_to_a_file_has_no_colour_codes() {
    let services = Services::get();
    let dir = temp_dir("log-colour");
    // Text lines (the default format), stderr to worker.log: a file, not a terminal.
    let mut worker = WorkerProcess::start(WORKER, &services, &dir, &[]);
    let id = unique_name("colour");
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 1).await.unwrap();
    let input = dir.join("input.txt");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    let name = format!("{id}-source");
    worker.create_connector(
        &name,
        &json!({"connector.class": "FileStreamSource", "file": input, "topic": topic}),
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(30));
    // A WARN line too: levels are where a coloured formatter puts most of its codes.
    worker.create_connector(
        &format!("{id}-unknown-keys"),
        &json!({"connector.class": "FileStreamSource", "file": input, "topic": topic,
                "producer.override.no.such.key": "1"}),
    );
    worker.stop();

    let log = std::fs::read(worker.log_path()).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.contains("source task started") && text.contains("WARN"),
        "the log has too little to check:\n{text}"
    );
    let coloured = text.lines().filter(|l| l.contains('\u{1b}')).count();
    assert!(
        !log.contains(&0x1b),
        "{coloured} of {} log lines hold ANSI escape codes:\n{text}",
        text.lines().count()
    );
}
