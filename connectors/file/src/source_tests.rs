//! Tests of the FileStream source connector and task.

use std::path::Path;

use connect_core::config::Config;
use connect_core::data::Value;
use connect_core::plugin::PluginFactory;
use connect_core::testing::{self, TestSourceContext};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::*;
use crate::test_dir::TempDir;

/// A temporary directory for this file's tests.
fn temp_dir(name: &str) -> TempDir {
    TempDir::new("source", name)
}

fn props(file: &Path, extra: &[(&str, &str)]) -> Props {
    let mut props = Props::from([
        ("file".to_owned(), file.display().to_string()),
        ("topic".to_owned(), "lines".to_owned()),
    ]);
    props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    props
}

/// A JSON object as a source partition or offset.
fn map(value: serde_json::Value) -> SourceMap {
    value.as_object().cloned().unwrap()
}

/// The worker's context, with `offset` stored for `file`'s source partition, written out here
/// as Kafka's connector writes it (not with the code under test).
fn context(file: &Path, offset: Option<serde_json::Value>) -> Arc<TestSourceContext> {
    let ctx = TestSourceContext::new();
    if let Some(offset) = offset {
        ctx.store_offset(
            map(json!({ "filename": file.display().to_string() })),
            map(offset),
        );
    }
    ctx
}

/// A started task that waits at most 50 ms for data, to keep the tests quick.
async fn started(props: &Props, ctx: &Arc<TestSourceContext>) -> FileStreamSourceTask {
    let mut task: FileStreamSourceTask = testing::start_source_task(props, ctx).await.unwrap();
    task.max_wait = Duration::from_millis(50);
    task
}

/// The values and positions of a batch.
fn lines(batch: &[SourceRecord]) -> Vec<(String, u64)> {
    batch
        .iter()
        .map(|r| {
            let position = r.source_offset[POSITION_FIELD].as_u64().unwrap();
            (r.value.as_str().unwrap().to_owned(), position)
        })
        .collect()
}

async fn append(path: &Path, text: &str) {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .unwrap();
    file.write_all(text.as_bytes()).await.unwrap();
    file.flush().await.unwrap();
}

#[tokio::test]
async fn reads_lines_with_byte_positions_as_offsets() {
    let dir = temp_dir("read");
    let path = dir.file("in.txt");
    append(&path, "a\r\nbé\nc\rd\n\n日本\n").await;
    let props = props(&path, &[]);
    let mut task = started(&props, &context(&path, None)).await;

    let batch = task.poll().await.unwrap();
    assert_eq!(
        lines(&batch),
        [
            ("a".to_owned(), 3),
            ("bé".to_owned(), 7),
            ("c".to_owned(), 9),
            ("d".to_owned(), 11),
            (String::new(), 12),
            ("日本".to_owned(), 19),
        ]
    );
    let file = path.display().to_string();
    let first = &batch[0];
    assert_eq!(first.source_partition, source_partition(&file));
    assert_eq!(
        serde_json::Value::Object(first.source_partition.clone()),
        json!({ "filename": file })
    );
    assert_eq!(
        serde_json::Value::Object(first.source_offset.clone()),
        json!({ "position": 3 })
    );
    assert_eq!(first.topic, "lines");
    assert_eq!(first.key, Value::Null);
    assert_eq!(first.key_schema, None);
    assert_eq!(first.value, Value::from("a"));
    assert_eq!(first.value_schema, Some(Schema::string()));
    assert!(first.timestamp.is_some());
    assert_eq!(first.partition, None);

    assert!(task.poll().await.unwrap().is_empty());
    task.stop().await.unwrap();
}

#[tokio::test]
async fn resumes_after_the_stored_offset() {
    let dir = temp_dir("resume");
    let path = dir.file("in.txt");
    append(&path, "one\ntwo\nthree\n").await;
    let props = props(&path, &[]);

    let mut task = started(&props, &context(&path, Some(json!({ "position": 4 })))).await;
    let batch = task.poll().await.unwrap();
    assert_eq!(
        lines(&batch),
        [("two".to_owned(), 8), ("three".to_owned(), 14)]
    );

    // An offset stored by a run that read everything: only new lines come.
    let mut task = started(&props, &context(&path, Some(json!({ "position": 14 })))).await;
    assert!(task.poll().await.unwrap().is_empty());
    append(&path, "four\n").await;
    assert_eq!(
        lines(&task.poll().await.unwrap()),
        [("four".to_owned(), 19)]
    );

    // A null position reads from the start, as in Kafka.
    let mut task = started(&props, &context(&path, Some(json!({ "position": null })))).await;
    assert_eq!(task.poll().await.unwrap().len(), 4);
}

#[tokio::test]
async fn an_offset_of_the_wrong_type_fails_the_task() {
    let dir = temp_dir("badoffset");
    let path = dir.file("in.txt");
    let props = props(&path, &[]);
    for bad in [json!({ "position": "4" }), json!({ "position": -1 })] {
        let ctx = context(&path, Some(bad));
        let err = testing::start_source_task::<FileStreamSourceTask>(&props, &ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::Fatal { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("Offset position is the incorrect type"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_partial_last_line_waits_for_its_line_end() {
    let dir = temp_dir("partial");
    let path = dir.file("in.txt");
    append(&path, "done\npart").await;
    let props = props(&path, &[]);
    let mut task = started(&props, &context(&path, None)).await;

    assert_eq!(lines(&task.poll().await.unwrap()), [("done".to_owned(), 5)]);
    assert!(task.poll().await.unwrap().is_empty());
    append(&path, "ial").await;
    assert!(task.poll().await.unwrap().is_empty());
    append(&path, "\nx\r").await;
    // "x\r" may still become "x\r\n": not a line yet.
    assert_eq!(
        lines(&task.poll().await.unwrap()),
        [("partial".to_owned(), 13)]
    );
    assert!(task.poll().await.unwrap().is_empty());
    append(&path, "\n").await;
    assert_eq!(lines(&task.poll().await.unwrap()), [("x".to_owned(), 16)]);
}

#[tokio::test]
async fn batch_size_limits_every_poll() {
    let dir = temp_dir("batch");
    let path = dir.file("in.txt");
    append(&path, "1\n2\n3\n4\n5\n").await;
    let props = props(&path, &[("batch.size", "2")]);
    let mut task = started(&props, &context(&path, None)).await;

    let sizes: Vec<usize> = [
        task.poll().await.unwrap(),
        task.poll().await.unwrap(),
        task.poll().await.unwrap(),
        task.poll().await.unwrap(),
    ]
    .iter()
    .map(Vec::len)
    .collect();
    assert_eq!(sizes, [2, 2, 1, 0]);
}

#[tokio::test]
async fn waits_for_a_missing_file_then_reads_it() {
    let dir = temp_dir("missing");
    let path = dir.file("later.txt");
    let props = props(&path, &[]);
    let mut task = started(&props, &context(&path, None)).await;

    let before = Instant::now();
    assert!(task.poll().await.unwrap().is_empty());
    assert!(task.poll().await.unwrap().is_empty());
    // Each empty poll waited, rather than spinning.
    assert!(before.elapsed() >= Duration::from_millis(100));

    append(&path, "hello\n").await;
    assert_eq!(
        lines(&task.poll().await.unwrap()),
        [("hello".to_owned(), 6)]
    );
}

#[tokio::test]
async fn a_poll_returns_as_soon_as_lines_arrive() {
    let dir = temp_dir("prompt");
    let path = dir.file("in.txt");
    append(&path, "").await;
    let props = props(&path, &[]);
    // Waits up to the real 1 s.
    let mut task: FileStreamSourceTask = testing::start_source_task(&props, &context(&path, None))
        .await
        .unwrap();

    let writer = {
        let path = path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            append(&path, "soon\n").await;
        })
    };
    let before = Instant::now();
    let batch = task.poll().await.unwrap();
    writer.await.unwrap();
    assert_eq!(lines(&batch), [("soon".to_owned(), 5)]);
    assert!(before.elapsed() < Duration::from_millis(900));

    // With nothing new, a poll gives up after about a second.
    let before = Instant::now();
    assert!(task.poll().await.unwrap().is_empty());
    let waited = before.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(3));
}

#[tokio::test]
async fn lines_longer_than_one_read_are_assembled() {
    let dir = temp_dir("long");
    let path = dir.file("in.txt");
    let long = "é".repeat(READ_CHUNK); // twice READ_CHUNK bytes
    append(&path, &format!("{long}\nshort\n")).await;
    let props = props(&path, &[]);
    let mut task = started(&props, &context(&path, None)).await;

    let batch = task.poll().await.unwrap();
    let expected_end = 2 * READ_CHUNK as u64 + 1;
    assert_eq!(
        lines(&batch),
        [(long, expected_end), ("short".to_owned(), expected_end + 6)]
    );
}

/// The source's plugin, as the worker holds it.
fn plugin() -> connect_core::running::SourcePlugin {
    match crate::plugins().remove(0).factory {
        PluginFactory::Source(plugin) => plugin,
        other => panic!("not a source: {other:?}"),
    }
}

#[tokio::test]
async fn config_errors_come_from_validate_and_start() {
    let plugin = plugin();
    let bad = Props::from([
        ("topic".to_owned(), "a,b".to_owned()),
        ("batch.size".to_owned(), "0".to_owned()),
    ]);
    let expected = "Missing required configuration \"file\" which has no default value.\n\
        Invalid value a,b for configuration topic: 'topic' in FileStreamSourceConnector \
        configuration requires definition of a single topic\n\
        Invalid value 0 for configuration batch.size: Value must be at least 1";
    let errors = (plugin.validate)(&bad);
    assert_eq!(errors.to_string(), expected);
    let keys: Vec<&str> = errors.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["file", "topic", "batch.size"]);

    let Err(err) = (plugin.start_connector)(bad, ConnectorContext::new("lines")).await else {
        panic!("the connector started with a bad configuration");
    };
    assert!(matches!(err, ConnectError::Config(_)));
    assert_eq!(err.to_string(), expected);

    let no_topic = Props::from([("file".to_owned(), "in.txt".to_owned())]);
    let err =
        testing::start_source_task::<FileStreamSourceTask>(&no_topic, &TestSourceContext::new())
            .await
            .unwrap_err();
    assert!(matches!(err, ConnectError::Config(_)));
    assert_eq!(
        err.to_string(),
        "Missing required configuration \"topic\" which has no default value."
    );
    assert!((plugin.validate)(&props(Path::new("in.txt"), &[])).is_empty());
}

#[tokio::test]
async fn one_task_at_most() {
    let props = props(Path::new("in.txt"), &[("batch.size", "10")]);
    let config = SourceConfig::parse(&props).unwrap();
    let connector = FileStreamSourceConnector::start(config, ConnectorContext::new("lines"))
        .await
        .unwrap();
    // The worker puts the connector's keys under the task's (empty) configuration.
    assert_eq!(connector.task_configs(4).unwrap(), vec![Props::new()]);
    assert_eq!(connector.task_configs(1).unwrap(), vec![Props::new()]);
    assert!(connector.task_configs(0).unwrap().is_empty());
}

#[tokio::test]
async fn the_plugin_starts_working_tasks() {
    let dir = temp_dir("factory");
    let path = dir.file("in.txt");
    append(&path, "via factory\n").await;
    let props = props(&path, &[]);
    let plugin = plugin();
    let Ok(connector) =
        (plugin.start_connector)(props.clone(), ConnectorContext::new("lines")).await
    else {
        panic!("the connector did not start");
    };
    // As the worker does: the connector's keys under the task's own.
    let mut task_props = props;
    task_props.extend(connector.task_configs(1).unwrap().remove(0));
    let ctx: Arc<dyn SourceTaskContext> = TestSourceContext::new();
    let Ok(mut task) = (plugin.start_task)(task_props, ctx).await else {
        panic!("the task did not start");
    };
    let batch = task.poll().await.unwrap();
    assert_eq!(batch[0].value, Value::from("via factory"));
    task.stop().await.unwrap();
}
