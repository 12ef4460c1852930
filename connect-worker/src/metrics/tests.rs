use std::time::Duration;

use super::*;

fn snapshot(state: &'static str, task_state: &'static str) -> Vec<ConnectorSnapshot> {
    vec![ConnectorSnapshot {
        name: "orders".into(),
        class: "RedisSinkConnector".into(),
        kind: "sink",
        version: "1.0".into(),
        state,
        runs_here: true,
        tasks: vec![TaskSnapshot {
            id: 0,
            state: task_state,
            running_ratio: 0.75,
            pause_ratio: 0.25,
            retrying: false,
            retry_attempts: 0,
        }],
    }]
}

#[test]
fn names_follow_kafka_connect() {
    let metrics = Arc::new(WorkerMetrics::new());
    let mut task = metrics.task("orders", 0).with_sink();
    let sink = task.sink.as_mut().unwrap();
    sink.read_total.inc_by(5);
    sink.put_time.record_time(Duration::from_millis(4));
    task.errors.records_skipped.inc();
    task.offset_commit(Duration::from_millis(2), true);
    task.offset_commit(Duration::from_millis(6), false);
    metrics.connector_startup_attempts.inc();
    let text = metrics.render(&snapshot("RUNNING", "RUNNING"), None);
    for line in [
        "kafka_connect_sink_task_metrics_sink_record_read_total{connector=\"orders\",task=\"0\"} 5",
        "kafka_connect_sink_task_metrics_put_batch_max_time_ms{connector=\"orders\",task=\"0\"} 4",
        "kafka_connect_task_error_metrics_total_records_skipped{connector=\"orders\",task=\"0\"} 1",
        "kafka_connect_connector_task_metrics_offset_commit_failure_percentage{connector=\"orders\",task=\"0\"} 50",
        "kafka_connect_connector_task_metrics_offset_commit_avg_time_ms{connector=\"orders\",task=\"0\"} 4",
        "kafka_connect_connect_worker_metrics_connector_count 1",
        "kafka_connect_connect_worker_metrics_task_count 1",
        "kafka_connect_connect_worker_metrics_connector_startup_attempts_total 1",
        "kafka_connect_connect_worker_metrics_connector_task_count{connector=\"orders\",state=\"running\"} 1",
        "kafka_connect_connector_metrics_status{connector=\"orders\",status=\"running\"} 1",
        "kafka_connect_connector_metrics_connector_class{connector=\"orders\",connector_class=\"RedisSinkConnector\"} 1",
        "kafka_connect_connector_task_metrics_status{connector=\"orders\",status=\"running\",task=\"0\"} 1",
        "kafka_connect_connector_task_metrics_running_ratio{connector=\"orders\",task=\"0\"} 0.75",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    // A state change replaces the old status series instead of adding one.
    let text = metrics.render(&snapshot("PAUSED", "PAUSED"), None);
    assert!(text.contains("status{connector=\"orders\",status=\"paused\"} 1"));
    assert!(!text.contains("status=\"running\""), "{text}");
    // A task gone leaves no series behind.
    drop(task);
    let text = metrics.render(&[], None);
    assert!(!text.contains("sink_record_read_total{"), "{text}");
}

#[test]
fn a_retrying_task_shows_in_the_gauge_and_the_counter() {
    let metrics = Arc::new(WorkerMetrics::new());
    let mut connectors = snapshot("RUNNING", "RUNNING");
    connectors[0].tasks[0].retrying = true;
    connectors[0].tasks[0].retry_attempts = 4;
    let text = metrics.render(&connectors, None);
    for line in [
        "kafka_connect_connector_task_metrics_retrying{connector=\"orders\",task=\"0\"} 1",
        "kafka_connect_connector_task_metrics_retry_attempts_total{connector=\"orders\",task=\"0\"} 4",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    // Recovered: the gauge returns to 0; the counter is set, not added to, at each scrape.
    connectors[0].tasks[0].retrying = false;
    connectors[0].tasks[0].retry_attempts = 5;
    let text = metrics.render(&connectors, None);
    for line in [
        "kafka_connect_connector_task_metrics_retrying{connector=\"orders\",task=\"0\"} 0",
        "kafka_connect_connector_task_metrics_retry_attempts_total{connector=\"orders\",task=\"0\"} 5",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    // A task gone leaves no series behind.
    let text = metrics.render(&[], None);
    assert!(!text.contains("retrying{"), "{text}");
}

#[test]
fn connectors_define_their_own_metrics() {
    let metrics = Arc::new(WorkerMetrics::new());
    let task = metrics.task("c", 1).with_source();
    let factory = task.custom_factory();
    let trips = factory.counter("redis_round_trips_total", "Round trips to Redis.");
    trips.inc_by(3);
    let pending = factory.gauge("redis_pending_entries", "Entries pending.");
    pending.set(7);
    // Asking again gives the same series.
    factory.counter("redis_round_trips_total", "").inc();
    // A bad name or a clash with a built-in family gives a detached handle.
    let bad = factory.counter("not a name", "");
    bad.inc();
    let clash = factory.gauge("redis_round_trips_total", "");
    clash.set(1);
    let text = metrics.render(&[], None);
    assert!(
        text.contains("redis_round_trips_total{connector=\"c\",task=\"1\"} 4"),
        "{text}"
    );
    assert!(
        text.contains("redis_pending_entries{connector=\"c\",task=\"1\"} 7"),
        "{text}"
    );
    drop(task);
    let text = metrics.render(&[], None);
    assert!(!text.contains("redis_round_trips_total{"), "{text}");
}

#[test]
fn the_reference_in_the_docs_is_current() {
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    connect_core::config::check_generated_section(&doc, &reference_markdown()).unwrap();
}

/// What the metrics cost a sink task per batch: the updates the loop makes for one batch
/// (read, send, put time, batch size, lag, active, partitions). Run it with
/// `cargo test -p connect-worker --release metrics_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn metrics_cost_per_batch() {
    let metrics = Arc::new(WorkerMetrics::new());
    let mut task = metrics.task("c", 0).with_sink();
    let rounds = 1_000_000u32;
    let started = std::time::Instant::now();
    for i in 0..rounds {
        task.batch_size.record(500.0);
        let sink = task.sink.as_mut().unwrap();
        sink.read_total.inc_by(500);
        sink.send_total.inc_by(500);
        sink.put_time
            .record_time(Duration::from_micros(u64::from(i % 1000)));
        sink.lag_max.set(0);
        sink.active.set(500);
        sink.partitions.set(4);
    }
    let per_batch = started.elapsed() / rounds;
    println!(
        "metrics cost per 500-record batch: {per_batch:?} ({:.2} ns per record)",
        per_batch.as_nanos() as f64 / 500.0
    );
}

#[test]
fn rebalance_metrics_follow_kafka_connect_and_only_on_a_distributed_worker() {
    let metrics = WorkerMetrics::new();
    let rebalance = RebalanceSnapshot {
        leader_url: Some("http://w1:8083/".into()),
        epoch: 4,
        completed_rebalances: 3,
        rebalancing: false,
        max_time_ms: 250.0,
        avg_time_ms: 120.5,
        time_since_last_ms: 1500.0,
    };
    let text = metrics.render(&[], Some(&rebalance));
    for line in [
        "kafka_connect_connect_worker_rebalance_metrics_leader_name{leader_name=\"http://w1:8083/\"} 1",
        "kafka_connect_connect_worker_rebalance_metrics_epoch 4",
        "kafka_connect_connect_worker_rebalance_metrics_completed_rebalances_total 3",
        "kafka_connect_connect_worker_rebalance_metrics_rebalancing 0",
        "kafka_connect_connect_worker_rebalance_metrics_rebalance_max_time_ms 250",
        "kafka_connect_connect_worker_rebalance_metrics_rebalance_avg_time_ms 120.5",
        "kafka_connect_connect_worker_rebalance_metrics_time_since_last_rebalance_ms 1500",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    // Before its first generation a worker has no leader and has never rebalanced.
    let joining = RebalanceSnapshot {
        leader_url: None,
        epoch: -1,
        completed_rebalances: 0,
        rebalancing: true,
        max_time_ms: 0.0,
        avg_time_ms: 0.0,
        time_since_last_ms: f64::INFINITY,
    };
    let text = metrics.render(&[], Some(&joining));
    assert!(!text.contains("leader_name{"), "{text}");
    for line in [
        "kafka_connect_connect_worker_rebalance_metrics_epoch -1",
        "kafka_connect_connect_worker_rebalance_metrics_rebalancing 1",
        // The prometheus crate writes infinity as `inf`, which Prometheus' parser reads.
        "kafka_connect_connect_worker_rebalance_metrics_time_since_last_rebalance_ms inf",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    // A standalone worker has no group: no series of the group at all.
    let text = metrics.render(&[], None);
    assert!(!text.contains("rebalance_metrics"), "{text}");
}

#[test]
fn a_distributed_worker_counts_and_describes_only_the_connectors_it_runs() {
    let metrics = WorkerMetrics::new();
    let mut here = snapshot("RUNNING", "RUNNING");
    // "tasks-only": its instance runs on another worker, one of its tasks here.
    let mut tasks_only = snapshot("UNASSIGNED", "RUNNING").remove(0);
    tasks_only.name = "tasks-only".into();
    tasks_only.runs_here = false;
    // "elsewhere": neither the instance nor a task runs here.
    let mut elsewhere = snapshot("UNASSIGNED", "RUNNING").remove(0);
    elsewhere.name = "elsewhere".into();
    elsewhere.runs_here = false;
    elsewhere.tasks.clear();
    here.extend([tasks_only, elsewhere]);
    let text = metrics.render(&here, None);
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(
        has("kafka_connect_connect_worker_metrics_connector_count 1"),
        "{text}"
    );
    assert!(
        has("kafka_connect_connect_worker_metrics_task_count 2"),
        "{text}"
    );
    assert!(
        has("kafka_connect_connector_metrics_status{connector=\"orders\",status=\"running\"} 1"),
        "{text}"
    );
    assert!(
        has("kafka_connect_connect_worker_metrics_connector_total_task_count{connector=\"tasks-only\"} 1"),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("kafka_connect_connector_metrics_") && l.contains("tasks-only")),
        "{text}"
    );
    assert!(!text.contains("\"elsewhere\""), "{text}");
}

#[test]
fn render_only_gives_the_families_named_and_nothing_else() {
    let metrics = Arc::new(WorkerMetrics::new());
    let mut task = metrics.task("orders", 0).with_sink();
    task.sink.as_mut().unwrap().send_total.inc_by(7);
    let names = ["kafka_connect_sink_task_metrics_sink_record_send_total".to_owned()];
    let text = metrics.render_only(&snapshot("RUNNING", "RUNNING"), None, &names);
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(families, names, "{text}");
    assert!(
        text.contains(
            "kafka_connect_sink_task_metrics_sink_record_send_total{connector=\"orders\",task=\"0\"} 7"
        ),
        "{text}"
    );
    // No names: everything, as a plain scrape.
    let all = metrics.render_only(&snapshot("RUNNING", "RUNNING"), None, &[]);
    assert_eq!(all, metrics.render(&snapshot("RUNNING", "RUNNING"), None));
    assert!(all.contains("kafka_connect_connect_worker_metrics_connector_count 1"));
}
