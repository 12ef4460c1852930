//! Records through the whole worker against the real broker: FileStream source -> Kafka ->
//! FileStream sink, restarts, and Kafka Connect's error handling.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::path::Path;
use std::time::Duration;

use connect_core::config::props;
use connect_e2e::{temp_dir, unique_name, Services};
use connect_worker::config::WorkerConfig;
use connect_worker::herder::Herder;
use connect_worker::store::TargetState;
use connect_worker::worker::Worker;

async fn worker(services: &Services, dir: &Path) -> Worker {
    let config = WorkerConfig::parse(
        props(&[
            ("bootstrap.servers", &services.kafka_bootstrap),
            (
                "offset.storage.file.filename",
                dir.join("offsets.json").to_str().unwrap(),
            ),
            ("offset.flush.interval.ms", "300"),
            ("task.shutdown.graceful.timeout.ms", "5000"),
            ("listeners", "http://127.0.0.1:0"),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
        ]),
        [],
    )
    .unwrap();
    Worker::builder()
        .plugins(connect_worker::builtin_connectors::plugins())
        .config(config)
        .build()
        .await
        .unwrap()
}

/// Waits until `path` holds `expected` bytes exactly (fails after 60 s with what it holds).
async fn wait_for_contents(path: &Path, expected: &[u8]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = std::fs::read(path).unwrap_or_default();
        if got == expected {
            return;
        }
        if tokio::time::Instant::now() > deadline || got.len() > expected.len() {
            panic!(
                "{} holds {} bytes, expected {}; first difference at byte {:?}",
                path.display(),
                got.len(),
                expected.len(),
                got.iter().zip(expected).position(|(a, b)| a != b)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_state(herder: &Herder, name: &str, task_state: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = herder.status(name).await.unwrap();
        if let Some(task) = status.tasks.first() {
            if task.state.state == task_state {
                return task.state.trace.clone().unwrap_or_default();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never reached {task_state}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lines(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| match i % 4 {
            0 => format!("line {i}\n"),
            1 => format!("ünïcödé ✓ {i}\n"),
            2 => format!("{{\"json\": {i}, \"text\": \"a, b; c\"}}\n"),
            _ => format!("{}\n", "x".repeat(i % 300)),
        })
        .collect()
}

#[tokio::test]
async fn file_source_to_kafka_to_file_sink_byte_for_byte_across_a_restart() {
    let services = Services::get();
    let dir = temp_dir("flow");
    let input = dir.join("input.txt");
    let output = dir.join("output.txt");
    let topic = unique_name("file-flow");
    let first = lines(0..3000);
    std::fs::write(&input, &first).unwrap();

    let w = worker(&services, &dir).await;
    w.herder()
        .create(
            "source",
            props(&[
                ("connector.class", "FileStreamSource"),
                ("file", input.to_str().unwrap()),
                ("topic", &topic),
            ]),
            TargetState::Started,
        )
        .await
        .unwrap();
    // The sink may start before the source created the topic: it picks the topic up.
    w.herder()
        .create(
            "sink",
            props(&[
                (
                    "connector.class",
                    "org.apache.kafka.connect.file.FileStreamSinkConnector",
                ),
                ("file", output.to_str().unwrap()),
                ("topics", &topic),
            ]),
            TargetState::Started,
        )
        .await
        .unwrap();
    wait_for_contents(&output, first.as_bytes()).await;

    // Stop the worker, write more while it is down, start a new one on the same stores: the
    // connectors come back from the config store and resume from their offsets.
    w.herder().shutdown().await;
    drop(w);
    let more = lines(3000..4000);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&input)
            .unwrap();
        f.write_all(more.as_bytes()).unwrap();
    }
    let w = worker(&services, &dir).await;
    let mut names = w.herder().connector_names().await;
    names.sort();
    assert_eq!(names, ["sink", "source"]);
    wait_for_contents(&output, format!("{first}{more}").as_bytes()).await;

    // And kafka-python sees every line exactly once in the topic.
    let read = services
        .consume_with_kafka_python(&topic, 4000, Duration::from_secs(60))
        .unwrap();
    assert_eq!(read.len(), 4000);
    let joined: String = read
        .iter()
        .map(|r| format!("{}\n", r.value.as_deref().unwrap()))
        .collect();
    assert_eq!(joined, format!("{first}{more}"));
    w.herder().shutdown().await;
}

#[tokio::test]
async fn a_poison_record_goes_to_the_dead_letter_queue_with_context_headers() {
    let services = Services::get();
    let dir = temp_dir("dlq");
    let topic = unique_name("dlq-in");
    let dlq = unique_name("dlq");
    let kafka = services.kafka().await.unwrap();
    services.create_topic(&kafka, &topic, 1).await.unwrap();
    services
        .produce_with_kafka_python(
            &topic,
            "{\"key\":\"a\",\"value\":\"{\\\"n\\\": 1}\"}\n\
             {\"key\":\"b\",\"value\":\"{not json\"}\n\
             {\"key\":\"c\",\"value\":\"{\\\"n\\\": 3}\"}\n",
        )
        .unwrap();
    let output = dir.join("out.txt");
    let w = worker(&services, &dir).await;
    w.herder()
        .create(
            "tolerant",
            props(&[
                ("connector.class", "FileStreamSink"),
                ("file", output.to_str().unwrap()),
                ("topics", &topic),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
                ("value.converter.schemas.enable", "false"),
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", &dlq),
                ("errors.deadletterqueue.topic.replication.factor", "1"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ]),
            TargetState::Started,
        )
        .await
        .unwrap();
    wait_for_contents(&output, b"{\"n\":1}\n{\"n\":3}\n").await;
    let dead = services
        .consume_with_kafka_python(&dlq, 1, Duration::from_secs(30))
        .unwrap();
    assert_eq!(dead.len(), 1);
    let r = &dead[0];
    assert_eq!(r.key.as_deref(), Some("b"));
    assert_eq!(r.value.as_deref(), Some("{not json"));
    let header = |name: &str| r.headers.get(name).cloned().flatten().unwrap_or_default();
    assert_eq!(header("__connect.errors.topic"), topic);
    assert_eq!(header("__connect.errors.partition"), "0");
    assert_eq!(header("__connect.errors.offset"), "1");
    assert_eq!(header("__connect.errors.connector.name"), "tolerant");
    assert_eq!(header("__connect.errors.task.id"), "0");
    assert_eq!(header("__connect.errors.stage"), "VALUE_CONVERTER");
    assert!(!header("__connect.errors.exception.message").is_empty());
    assert_eq!(wait_for_state(w.herder(), "tolerant", "RUNNING").await, "");
    w.herder().shutdown().await;
}

#[tokio::test]
async fn a_poison_record_fails_the_task_without_tolerance() {
    let services = Services::get();
    let dir = temp_dir("fail");
    let topic = unique_name("fail-in");
    let kafka = services.kafka().await.unwrap();
    services.create_topic(&kafka, &topic, 1).await.unwrap();
    services
        .produce_with_kafka_python(&topic, "{\"key\":\"b\",\"value\":\"{not json\"}\n")
        .unwrap();
    let w = worker(&services, &dir).await;
    w.herder()
        .create(
            "strict",
            props(&[
                ("connector.class", "FileStreamSink"),
                ("file", dir.join("out.txt").to_str().unwrap()),
                ("topics", &topic),
                ("value.converter", "JsonConverter"),
                ("value.converter.schemas.enable", "false"),
            ]),
            TargetState::Started,
        )
        .await
        .unwrap();
    let trace = wait_for_state(w.herder(), "strict", "FAILED").await;
    assert!(
        trace.starts_with("Tolerance exceeded in error handler"),
        "{trace}"
    );
    assert!(trace.contains("Caused by"), "{trace}");
    // The connector itself keeps running; the failed task is not restarted by itself.
    let status = w.herder().status("strict").await.unwrap();
    assert_eq!(status.connector.state, "RUNNING");
    w.herder().shutdown().await;
}

mod failing_sink {
    //! A sink whose `put` always fails with a retriable error, counting its calls.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use async_trait::async_trait;
    use connect_core::config::Props;
    use connect_core::connector::{
        Connector, ConnectorContext, SinkConnector, SinkTask, SinkTaskContext,
    };
    use connect_core::plugin::PluginDescriptor;
    use connect_core::record::SinkRecord;
    use connect_core::ConnectError;

    pub static PUTS: AtomicUsize = AtomicUsize::new(0);

    struct FailingSink;

    #[async_trait]
    impl Connector for FailingSink {
        type Config = ();
        const VERSION: &'static str = "1";

        async fn start(_: (), _: ConnectorContext) -> Result<Self, ConnectError> {
            Ok(Self)
        }
        fn task_configs(&self, _: usize) -> Result<Vec<Props>, ConnectError> {
            Ok(vec![Props::new()])
        }
    }

    impl SinkConnector for FailingSink {
        type Task = FailingTask;
    }

    struct FailingTask;

    #[async_trait]
    impl SinkTask for FailingTask {
        type Config = ();

        async fn start(_: (), _: Arc<dyn SinkTaskContext>) -> Result<Self, ConnectError> {
            Ok(Self)
        }
        async fn put(&mut self, _: &[SinkRecord]) -> Result<(), ConnectError> {
            PUTS.fetch_add(1, Ordering::SeqCst);
            Err(ConnectError::retriable("the outside system is away"))
        }
    }

    pub fn plugin() -> PluginDescriptor {
        PluginDescriptor::sink::<FailingSink>("test.FailingSinkConnector")
    }
}

#[tokio::test]
async fn a_batch_the_sink_never_wrote_is_not_committed_when_the_connector_stops() {
    use std::sync::atomic::Ordering;
    let services = Services::get();
    let dir = temp_dir("unwritten");
    let topic = unique_name("unwritten");
    let kafka = services.kafka().await.unwrap();
    services.create_topic(&kafka, &topic, 1).await.unwrap();
    services
        .produce_with_kafka_python(
            &topic,
            "{\"key\":\"a\",\"value\":\"1\"}\n{\"key\":\"b\",\"value\":\"2\"}\n",
        )
        .unwrap();
    let config = WorkerConfig::parse(
        props(&[
            ("bootstrap.servers", &services.kafka_bootstrap),
            (
                "offset.storage.file.filename",
                dir.join("offsets.json").to_str().unwrap(),
            ),
            ("offset.flush.interval.ms", "100"),
        ]),
        [],
    )
    .unwrap();
    let w = Worker::builder()
        .config(config)
        .plugin(failing_sink::plugin())
        .build()
        .await
        .unwrap();
    w.herder()
        .create(
            "failing",
            props(&[
                ("connector.class", "FailingSink"),
                ("topics", &topic),
                ("key.converter", "StringConverter"),
                ("value.converter", "StringConverter"),
            ]),
            TargetState::Started,
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while failing_sink::PUTS.load(Ordering::SeqCst) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "put was never retried: {:?}",
            w.herder().status("failing").await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    w.herder()
        .set_target("failing", TargetState::Stopped)
        .await
        .unwrap();
    let offsets = w.herder().offsets("failing").await.unwrap();
    // Nothing was written, so nothing may count as consumed: at most offset 0 is stored.
    for entry in &offsets.offsets {
        let stored = entry
            .offset
            .as_ref()
            .and_then(|o| o["kafka_offset"].as_i64());
        assert_eq!(stored, Some(0), "committed unwritten records: {offsets:?}");
    }
    w.herder().shutdown().await;
}
