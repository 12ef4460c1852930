//! Tests of the FileStream sink connector and task.

use std::path::Path;

use connect_core::config::Config;
use connect_core::data::{Struct, Value};
use connect_core::plugin::PluginFactory;
use connect_core::record::{ConnectRecord, TopicPartition};
use connect_core::testing::{self, TestSinkContext};

use super::*;
use crate::test_dir::TempDir;

/// A temporary directory for this file's tests.
fn temp_dir(name: &str) -> TempDir {
    TempDir::new("sink", name)
}

fn props(file: &Path) -> Props {
    Props::from([
        ("file".to_owned(), file.display().to_string()),
        ("topics".to_owned(), "users".to_owned()),
    ])
}

async fn started(props: &Props) -> FileStreamSinkTask {
    testing::start_sink_task(props, &TestSinkContext::new())
        .await
        .unwrap()
}

fn record(offset: i64, value: Value) -> SinkRecord {
    SinkRecord::new(
        "users".into(),
        0,
        offset,
        ConnectRecord::new("users", value),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn writes_values_one_per_line_visible_after_flush() {
    let dir = temp_dir("write");
    let path = dir.file("out.txt");
    let mut task = started(&props(&path)).await;
    assert_eq!(read(&path), ""); // created at start

    task.put(&[
        record(0, Value::from("first line")),
        record(1, Value::Int64(42)),
        record(2, Value::Boolean(true)),
        record(3, Value::from("ünïcødé")),
    ])
    .await
    .unwrap();
    // Buffered until flush.
    assert_eq!(read(&path), "");

    let offsets = Offsets::from([(TopicPartition::new("users", 0), 4)]);
    task.flush(&offsets).await.unwrap();
    assert_eq!(read(&path), "first line\n42\ntrue\nünïcødé\n");

    // What the worker calls: pre_commit flushes and keeps every offset.
    task.put(&[record(4, Value::from("more"))]).await.unwrap();
    let committed = task.pre_commit(offsets.clone()).await.unwrap();
    assert_eq!(committed, offsets);
    assert_eq!(read(&path), "first line\n42\ntrue\nünïcødé\nmore\n");
    task.stop().await.unwrap();
}

#[tokio::test]
async fn null_values_are_written_as_null_and_composites_by_display() {
    let dir = temp_dir("null");
    let path = dir.file("out.txt");
    let mut task = started(&props(&path)).await;
    let st = Value::Struct(Struct::new().with("id", 1i64).with("name", "a"));
    task.put(&[
        record(0, Value::Null),
        record(1, Value::from("")),
        record(2, st),
    ])
    .await
    .unwrap();
    task.flush(&Offsets::new()).await.unwrap();
    assert_eq!(read(&path), "null\n\n{\"id\":1,\"name\":\"a\"}\n");
}

#[tokio::test]
async fn appends_to_an_existing_file_and_stop_flushes() {
    let dir = temp_dir("append");
    let path = dir.file("out.txt");
    std::fs::write(&path, "old\n").unwrap();
    let mut task = started(&props(&path)).await;
    task.put(&[record(0, Value::from("new"))]).await.unwrap();
    assert_eq!(read(&path), "old\n");
    task.stop().await.unwrap();
    assert_eq!(read(&path), "old\nnew\n");
}

#[tokio::test]
async fn a_file_that_cannot_be_created_fails_start() {
    let dir = temp_dir("nodir");
    let path = dir.file("missing-dir").join("out.txt");
    let err =
        testing::start_sink_task::<FileStreamSinkTask>(&props(&path), &TestSinkContext::new())
            .await
            .unwrap_err();
    assert!(matches!(err, ConnectError::Fatal { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "Couldn't find or create file '{}' for FileStreamSinkTask",
            path.display()
        )
    );
    assert!(err.trace().contains("Caused by: "), "{}", err.trace());
}

/// The sink's plugin, as the worker holds it.
fn plugin() -> connect_core::running::SinkPlugin {
    match crate::plugins().remove(1).factory {
        PluginFactory::Sink(plugin) => plugin,
        other => panic!("not a sink: {other:?}"),
    }
}

#[tokio::test]
async fn config_errors_come_from_validate_and_start() {
    let no_file = Props::from([("topics".to_owned(), "users".to_owned())]);
    let expected = "Missing required configuration \"file\" which has no default value.";
    let plugin = plugin();
    assert_eq!((plugin.validate)(&no_file).to_string(), expected);
    let Err(err) = (plugin.start_connector)(no_file.clone(), ConnectorContext::new("out")).await
    else {
        panic!("the connector started without a file");
    };
    assert!(matches!(err, ConnectError::Config(_)));
    assert_eq!(err.to_string(), expected);
    let err = testing::start_sink_task::<FileStreamSinkTask>(&no_file, &TestSinkContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Config(_)));
    assert_eq!(err.to_string(), expected);
    assert!((plugin.validate)(&props(Path::new("out.txt"))).is_empty());
}

#[tokio::test]
async fn every_task_writes_to_the_connectors_file() {
    let config = SinkConfig::parse(&props(Path::new("out.txt"))).unwrap();
    let connector = FileStreamSinkConnector::start(config, ConnectorContext::new("out"))
        .await
        .unwrap();
    // The worker puts the connector's keys under each task's (empty) configuration.
    assert_eq!(connector.task_configs(3).unwrap(), vec![Props::new(); 3]);
    assert!(connector.task_configs(0).unwrap().is_empty());
}
