//! Tests of the FileStream source connector and task.

use std::path::Path;
use std::sync::Mutex;

use connect_core::data::Value;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::*;
use crate::test_dir::TempDir;

/// A temporary directory for this file's tests.
fn temp_dir(name: &str) -> TempDir {
    TempDir::new("source", name)
}

/// What the worker offers: the stored offsets, and a record of which partitions were asked.
struct StoredOffsets {
    props: Props,
    offset: Option<SourceMap>,
    asked: Mutex<Vec<SourceMap>>,
}

impl SourceTaskContext for StoredOffsets {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        self.asked.lock().unwrap().push(partition.clone());
        self.offset.clone()
    }

    fn config(&self) -> &Props {
        &self.props
    }
}

fn props(file: &Path, extra: &[(&str, &str)]) -> Props {
    let mut props = Props::from([
        ("file".to_owned(), file.display().to_string()),
        ("topic".to_owned(), "lines".to_owned()),
    ]);
    props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    props
}

fn context(props: &Props, offset: Option<serde_json::Value>) -> Arc<StoredOffsets> {
    Arc::new(StoredOffsets {
        props: props.clone(),
        offset: offset.and_then(|o| o.as_object().cloned()),
        asked: Mutex::new(Vec::new()),
    })
}

/// A started task that waits at most 50 ms for data, to keep the tests quick.
async fn started(props: &Props, ctx: Arc<StoredOffsets>) -> FileStreamSourceTask {
    let mut task = FileStreamSourceTask {
        max_wait: Duration::from_millis(50),
        ..FileStreamSourceTask::default()
    };
    task.start(props, ctx).await.unwrap();
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
    let ctx = context(&props, None);
    let mut task = started(&props, ctx.clone()).await;

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
    // The task asked for the offset of its file's partition.
    assert_eq!(*ctx.asked.lock().unwrap(), [source_partition(&file)]);

    assert!(task.poll().await.unwrap().is_empty());
    task.stop().await.unwrap();
}

#[tokio::test]
async fn resumes_after_the_stored_offset() {
    let dir = temp_dir("resume");
    let path = dir.file("in.txt");
    append(&path, "one\ntwo\nthree\n").await;
    let props = props(&path, &[]);

    let mut task = started(&props, context(&props, Some(json!({ "position": 4 })))).await;
    let batch = task.poll().await.unwrap();
    assert_eq!(
        lines(&batch),
        [("two".to_owned(), 8), ("three".to_owned(), 14)]
    );

    // An offset stored by a run that read everything: only new lines come.
    let mut task = started(&props, context(&props, Some(json!({ "position": 14 })))).await;
    assert!(task.poll().await.unwrap().is_empty());
    append(&path, "four\n").await;
    assert_eq!(
        lines(&task.poll().await.unwrap()),
        [("four".to_owned(), 19)]
    );

    // A null position reads from the start, as in Kafka.
    let mut task = started(&props, context(&props, Some(json!({ "position": null })))).await;
    assert_eq!(task.poll().await.unwrap().len(), 4);
}

#[tokio::test]
async fn an_offset_of_the_wrong_type_fails_the_task() {
    let dir = temp_dir("badoffset");
    let path = dir.file("in.txt");
    let props = props(&path, &[]);
    for bad in [json!({ "position": "4" }), json!({ "position": -1 })] {
        let mut task = FileStreamSourceTask::default();
        let err = task
            .start(&props, context(&props, Some(bad)))
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
    let mut task = started(&props, context(&props, None)).await;

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
    let mut task = started(&props, context(&props, None)).await;

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
    let mut task = started(&props, context(&props, None)).await;

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
    let mut task = FileStreamSourceTask::default(); // waits up to the real 1 s
    task.start(&props, context(&props, None)).await.unwrap();

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
    let mut task = started(&props, context(&props, None)).await;

    let batch = task.poll().await.unwrap();
    let expected_end = 2 * READ_CHUNK as u64 + 1;
    assert_eq!(
        lines(&batch),
        [(long, expected_end), ("short".to_owned(), expected_end + 6)]
    );
}

#[tokio::test]
async fn config_errors_come_from_validate_and_start() {
    let connector = FileStreamSourceConnector::default();
    let bad = Props::from([
        ("topic".to_owned(), "a,b".to_owned()),
        ("batch.size".to_owned(), "0".to_owned()),
    ]);
    let expected = "Missing required configuration \"file\" which has no default value.\n\
        Invalid value a,b for configuration topic: 'topic' in FileStreamSourceConnector \
        configuration requires definition of a single topic\n\
        Invalid value 0 for configuration batch.size: Value must be at least 1";
    let errors = connector.validate(&bad);
    assert_eq!(errors.to_string(), expected);
    let keys: Vec<&str> = errors.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["file", "topic", "batch.size"]);

    let err = FileStreamSourceConnector::default()
        .start(&bad)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Config(_)));
    assert_eq!(err.to_string(), expected);

    let no_topic = Props::from([("file".to_owned(), "in.txt".to_owned())]);
    let err = FileStreamSourceTask::default()
        .start(&no_topic, context(&no_topic, None))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Config(_)));
    assert_eq!(
        err.to_string(),
        "Missing required configuration \"topic\" which has no default value."
    );
    assert!(connector
        .validate(&props(Path::new("in.txt"), &[]))
        .is_empty());
}

#[tokio::test]
async fn one_task_at_most() {
    let mut connector = FileStreamSourceConnector::default();
    let props = props(Path::new("in.txt"), &[("batch.size", "10")]);
    connector.start(&props).await.unwrap();
    assert_eq!(connector.task_configs(4).unwrap(), vec![props.clone()]);
    assert_eq!(connector.task_configs(1).unwrap(), vec![props]);
    assert!(connector.task_configs(0).unwrap().is_empty());
    connector.stop().await.unwrap();
}

#[tokio::test]
async fn the_connector_makes_working_tasks() {
    let dir = temp_dir("factory");
    let path = dir.file("in.txt");
    append(&path, "via factory\n").await;
    let props = props(&path, &[]);
    let mut connector = FileStreamSourceConnector::default();
    connector.start(&props).await.unwrap();
    let task_props = connector.task_configs(1).unwrap().remove(0);
    let mut task = connector.create_task();
    task.start(&task_props, context(&task_props, None))
        .await
        .unwrap();
    let batch = task.poll().await.unwrap();
    assert_eq!(batch[0].value, Value::from("via factory"));
    task.stop().await.unwrap();
}
