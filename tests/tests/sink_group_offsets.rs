//! Sink offsets in the consumer group `connect-<name>` (or `consumer.override.group.id`), as
//! Kafka Connect keeps them: the worker run as a process, the group read and written with
//! kafka-python (a client we did not write), Redis read back with redis-cli and fred.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use connect_e2e::{lines_of, temp_dir, unique_name, wait_until, Services, WorkerProcess};
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

/// Worker keys of every test: string records, and offsets committed every 300 ms so the
/// group catches up with what was written within a second.
const WORKER_KEYS: [(&str, &str); 3] = [
    ("offset.flush.interval.ms", "300"),
    (
        "key.converter",
        "org.apache.kafka.connect.storage.StringConverter",
    ),
    (
        "value.converter",
        "org.apache.kafka.connect.storage.StringConverter",
    ),
];

fn start_worker(services: &Services, dir: &Path) -> WorkerProcess {
    WorkerProcess::start(WORKER, services, dir, &WORKER_KEYS)
}

/// The consumer group of a sink connector without `consumer.override.group.id`.
fn group_of(connector: &str) -> String {
    format!("connect-{connector}")
}

/// A Redis sink of string records into `redis.type` at `redis.keyspace`, plus `extra`.
fn redis_sink(
    services: &Services,
    topic: &str,
    ty: &str,
    keyspace: &str,
    extra: &[(&str, &str)],
) -> Json {
    let mut config = json!({
        "connector.class": "RedisSink",
        "topics": topic,
        "redis.uri": services.redis_url,
        "redis.type": ty,
        "redis.keyspace": keyspace,
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    config
}

fn file_sink(topic: &str, file: &Path, extra: &[(&str, &str)]) -> Json {
    let mut config = json!({
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": file.display().to_string(),
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    config
}

/// Produces record i of `range` (key `m<i>`, value `v<i>`) to partition `i % partitions`,
/// in requests of hundreds of records.
async fn produce(services: &Services, topic: &str, partitions: i32, range: std::ops::Range<usize>) {
    let kafka = services.kafka().await.unwrap();
    let records = range
        .map(|i| {
            (
                (i % partitions as usize) as i32,
                Some(format!("m{i}").into_bytes()),
                Some(format!("v{i}").into_bytes()),
            )
        })
        .collect();
    services.produce(&kafka, topic, records).await.unwrap();
}

/// Produces `v<i>` for each i of `range` to partition 0, one record per request: the test
/// broker answers ListOffsets(latest) with the base offset of the partition's last batch + 1,
/// which is the true end only when that batch holds one record (docs/testing.md).
async fn produce_one_by_one(services: &Services, topic: &str, range: std::ops::Range<usize>) {
    use rskafka::client::partition::{Compression, UnknownTopicHandling};
    use rskafka::record::Record;
    let kafka = services.kafka().await.unwrap();
    let partition = kafka
        .partition_client(topic, 0, UnknownTopicHandling::Retry)
        .await
        .unwrap();
    for i in range {
        let record = Record {
            key: None,
            value: Some(format!("v{i}").into_bytes()),
            headers: Default::default(),
            timestamp: chrono::Utc::now(),
        };
        partition
            .produce(vec![record], Compression::NoCompression)
            .await
            .unwrap();
    }
}

/// The offsets `group` holds for partitions `0..partitions` of `topic`, as kafka-python's
/// `KafkaAdminClient.list_consumer_group_offsets` reads them (`None`: no offset).
fn committed(services: &Services, group: &str, topic: &str, partitions: i32) -> Vec<Option<i64>> {
    let wanted: Vec<i32> = (0..partitions).collect();
    let read = services
        .group_offsets_with_kafka_python(group, topic, &wanted)
        .unwrap();
    wanted
        .iter()
        .map(|p| read.admin.get(p).copied().filter(|o| *o >= 0))
        .collect()
}

/// Panics, with the connector's status, when one of its tasks failed: waiting on would only
/// hide the reason behind a timeout.
fn no_failed_task(worker: &WorkerProcess, connector: &str) {
    let status = worker.status(connector);
    let failed = status["tasks"]
        .as_array()
        .is_some_and(|tasks| tasks.iter().any(|t| t["state"] == "FAILED"));
    assert!(!failed, "a task of {connector} failed: {status}");
}

/// Waits until kafka-python reads `expected` as the group's offsets of the topic's
/// partitions; panics with the last answer and the worker's log after `timeout`, or at once
/// when a task of `connector` failed.
fn wait_for_group(
    services: &Services,
    worker: &WorkerProcess,
    connector: &str,
    group: &str,
    topic: &str,
    expected: &[i64],
    timeout: Duration,
) {
    let expected: Vec<Option<i64>> = expected.iter().copied().map(Some).collect();
    let deadline = Instant::now() + timeout;
    loop {
        let got = committed(services, group, topic, expected.len() as i32);
        if got == expected {
            return;
        }
        no_failed_task(worker, connector);
        assert!(
            Instant::now() < deadline,
            "group {group} holds {got:?} for {topic} after {timeout:?}, expected {expected:?}; log:\n{}",
            worker.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn llen(services: &Services, key: &str) -> usize {
    services
        .redis_cli(&["LLEN", key])
        .unwrap()
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The members of a list, in order, read with fred.
async fn list(services: &Services, key: &str) -> Vec<String> {
    let redis = services.redis().await.unwrap();
    fred::prelude::ListInterface::lrange(&redis, key, 0, -1)
        .await
        .unwrap()
}

fn members(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

fn values(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("v{i}")).collect()
}

/// The offsets `GET /connectors/{name}/offsets` shows for partition `p` of `topic` at `offset`.
fn rest_offset(topic: &str, p: i32, offset: i64) -> Json {
    json!({"partition": {"kafka_topic": topic, "kafka_partition": p}, "offset": {"kafka_offset": offset}})
}

#[tokio::test(flavor = "multi_thread")]
async fn file_and_redis_sinks_leave_the_end_offsets_of_100000_records_in_their_groups() {
    const RECORDS: usize = 100_000;
    const PARTITIONS: i32 = 4;
    let started = Instant::now();
    let services = Services::get();
    let topic = services.new_topic("drain", PARTITIONS).await.unwrap();
    produce(&services, &topic, PARTITIONS, 0..RECORDS).await;
    let ends = services
        .high_watermarks_with_kafka_python(&topic, PARTITIONS)
        .unwrap();
    assert_eq!(ends, vec![(RECORDS / 4) as i64; 4]);

    let dir = temp_dir("drain");
    let worker = start_worker(&services, &dir);
    let id = unique_name("drain");
    let file = format!("{id}-file");
    let output = dir.join("output.txt");
    worker.create_connector(&file, &file_sink(&topic, &output, &[("tasks.max", "2")]));
    // The Redis sink in both modes: offsets in Redis too (exactly-once), or only in the group.
    let exactly_once = format!("{id}-eos");
    let at_least_once = format!("{id}-alo");
    for (name, eos) in [(&exactly_once, "true"), (&at_least_once, "false")] {
        worker.create_connector(
            name,
            &redis_sink(
                &services,
                &topic,
                "LIST",
                name,
                &[("tasks.max", "2"), ("redis.exactly.once", eos)],
            ),
        );
    }
    wait_until(
        "every record in the three sinks",
        Duration::from_secs(150),
        || {
            for name in [&file, &exactly_once, &at_least_once] {
                no_failed_task(&worker, name);
            }
            lines_of(&output).len() >= RECORDS
                && llen(&services, &exactly_once) >= RECORDS
                && llen(&services, &at_least_once) >= RECORDS
        },
    );
    let drained = started.elapsed();
    for name in [&file, &exactly_once, &at_least_once] {
        wait_for_group(
            &services,
            &worker,
            name,
            &group_of(name),
            &topic,
            &ends,
            Duration::from_secs(30),
        );
    }
    // Nothing failed, so nothing was written twice either.
    assert_eq!(lines_of(&output).len(), RECORDS);
    for name in [&exactly_once, &at_least_once] {
        let written: BTreeSet<String> = list(&services, name).await.into_iter().collect();
        assert_eq!(llen(&services, name), RECORDS, "{name}");
        assert_eq!(written, members(0..RECORDS).into_iter().collect(), "{name}");
    }
    println!(
        "3 sinks x {RECORDS} records drained in {:.1} s; groups at the end offsets after {:.1} s",
        drained.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_kill_9_a_worker_with_a_fresh_offset_file_resumes_from_the_group() {
    const RECORDS: usize = 200_000;
    const PARTITIONS: i32 = 4;
    let services = Services::get();
    let topic = services.new_topic("kill", PARTITIONS).await.unwrap();
    produce(&services, &topic, PARTITIONS, 0..RECORDS).await;
    let ends = services
        .high_watermarks_with_kafka_python(&topic, PARTITIONS)
        .unwrap();
    let dir = temp_dir("kill");
    let mut worker = start_worker(&services, &dir);
    let name = unique_name("kill-sink");
    let group = group_of(&name);
    worker.create_connector(
        &name,
        &redis_sink(
            &services,
            &topic,
            "LIST",
            &name,
            &[("tasks.max", "2"), ("redis.exactly.once", "false")],
        ),
    );

    // Kill once the group holds a good part of the topic: what it holds then is the last
    // commit seen before the kill.
    let deadline = Instant::now() + Duration::from_secs(90);
    let seen = loop {
        let seen: Vec<i64> = committed(&services, &group, &topic, PARTITIONS)
            .into_iter()
            .map(|o| o.unwrap_or(0))
            .collect();
        if seen.iter().sum::<i64>() >= (RECORDS / 8) as i64 {
            break seen;
        }
        no_failed_task(&worker, &name);
        assert!(
            Instant::now() < deadline,
            "the group holds {seen:?} after 90 s; log:\n{}",
            worker.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    worker.kill9();
    // Commands the worker sent before it died may still be in Redis' input buffer.
    std::thread::sleep(Duration::from_millis(300));
    let at_kill = llen(&services, &name);
    assert!(
        at_kill < RECORDS,
        "the sink finished before the kill; the test proves nothing"
    );
    // Records are written in partition order, so each partition's records in Redis are a
    // prefix of it, and those at or past the group's offset are what a restart writes again.
    let bound = at_kill - seen.iter().sum::<i64>() as usize;

    // The group is the only record of progress: the offset file (written only when a worker
    // has source offsets to keep) holds nothing of the sink, and the new worker starts
    // without it.
    let offsets = dir.join("offsets.json");
    if let Ok(text) = std::fs::read_to_string(&offsets) {
        assert!(
            !text.contains(&name),
            "the sink's offsets in the file: {text}"
        );
        std::fs::remove_file(&offsets).unwrap();
    }
    worker.restart();
    wait_for_group(
        &services,
        &worker,
        &name,
        &group,
        &topic,
        &ends,
        Duration::from_secs(120),
    );
    let written = list(&services, &name).await;
    let distinct: BTreeSet<&String> = written.iter().collect();
    let duplicates = written.len() - RECORDS;
    println!(
        "killed with {at_kill} records written and {seen:?} committed; {duplicates} written twice (at most {bound})"
    );
    assert_eq!(distinct.len(), RECORDS);
    assert_eq!(
        distinct,
        members(0..RECORDS).iter().collect::<BTreeSet<_>>()
    );
    assert!(
        duplicates <= bound,
        "{duplicates} records written twice, more than the {bound} written after the last commit seen"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_sink_starts_where_the_group_of_a_java_deployment_left_off() {
    let services = Services::get();
    let topic = services.new_topic("migrate", 1).await.unwrap();
    produce(&services, &topic, 1, 0..100).await;
    let name = unique_name("migrated");
    // What a Java Kafka Connect sink of that name committed before the switch.
    services
        .commit_offsets_with_kafka_python(&group_of(&name), &topic, &[(0, 90)])
        .unwrap();

    let worker = start_worker(&services, &temp_dir("migrate"));
    worker.create_connector(&name, &redis_sink(&services, &topic, "STRING", &name, &[]));
    wait_for_group(
        &services,
        &worker,
        &name,
        &group_of(&name),
        &topic,
        &[100],
        Duration::from_secs(60),
    );
    let keys: Vec<String> = (0..100).map(|i| format!("{name}:m{i}")).collect();
    let redis = services.redis().await.unwrap();
    let stored: Vec<Option<String>> = fred::prelude::KeysInterface::mget(&redis, keys)
        .await
        .unwrap();
    let mut expected = vec![None; 90];
    expected.extend(values(90..100).into_iter().map(Some));
    assert_eq!(stored, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn consumer_override_group_id_names_the_group_that_holds_the_offsets() {
    let services = Services::get();
    let topic = services.new_topic("override", 2).await.unwrap();
    produce(&services, &topic, 2, 0..50).await;
    let dir = temp_dir("override");
    let worker = start_worker(&services, &dir);
    let name = unique_name("override-sink");
    let group = format!("{name}-own-group");
    let output = dir.join("output.txt");
    worker.create_connector(
        &name,
        &file_sink(&topic, &output, &[("consumer.override.group.id", &group)]),
    );
    wait_for_group(
        &services,
        &worker,
        &name,
        &group,
        &topic,
        &[25, 25],
        Duration::from_secs(60),
    );
    assert_eq!(lines_of(&output).len(), 50);
    assert_eq!(
        committed(&services, &group_of(&name), &topic, 2),
        [None, None],
        "connect-{name} holds offsets though consumer.override.group.id names another group"
    );
    let shown = worker.call("GET", &format!("/connectors/{name}/offsets"), None, 200);
    let mut offsets = shown["offsets"].as_array().cloned().unwrap_or_default();
    offsets.sort_by_key(|o| o["partition"]["kafka_partition"].as_i64());
    assert_eq!(
        offsets,
        [rest_offset(&topic, 0, 25), rest_offset(&topic, 1, 25)],
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_reset_and_alter_of_a_stopped_sink_move_its_group() {
    const RECORDS: usize = 1000;
    let services = Services::get();
    let topic = services.new_topic("rest-offsets", 1).await.unwrap();
    produce(&services, &topic, 1, 0..RECORDS).await;
    let worker = start_worker(&services, &temp_dir("rest-offsets"));
    let name = unique_name("rest-sink");
    let group = group_of(&name);
    let path = format!("/connectors/{name}/offsets");
    worker.create_connector(
        &name,
        &redis_sink(
            &services,
            &topic,
            "LIST",
            &name,
            &[("redis.exactly.once", "false")],
        ),
    );
    let wait_for = |n: usize| {
        wait_until(
            &format!("{n} members in the list"),
            Duration::from_secs(60),
            || {
                no_failed_task(&worker, &name);
                llen(&services, &name) >= n
            },
        );
        wait_for_group(
            &services,
            &worker,
            &name,
            &group,
            &topic,
            &[RECORDS as i64],
            Duration::from_secs(30),
        );
        assert_eq!(llen(&services, &name), n);
    };
    wait_for(RECORDS);
    assert_eq!(
        worker.call("GET", &path, None, 200),
        json!({"offsets": [rest_offset(&topic, 0, RECORDS as i64)]})
    );

    // DELETE on the stopped sink: the group forgets the partition, and the sink reads the
    // topic again from the beginning (auto.offset.reset=earliest).
    worker.call("PUT", &format!("/connectors/{name}/stop"), None, 204);
    let reset = worker.call("DELETE", &path, None, 200);
    assert_eq!(
        reset["message"],
        "The offsets for this connector have been reset successfully"
    );
    assert_eq!(committed(&services, &group, &topic, 1), [None]);
    assert_eq!(worker.call("GET", &path, None, 200), json!({"offsets": []}));
    worker.call("PUT", &format!("/connectors/{name}/resume"), None, 202);
    wait_for(2 * RECORDS);
    let written = list(&services, &name).await;
    assert_eq!(written[RECORDS..], members(0..RECORDS)[..]);

    // PATCH on the stopped sink: the group holds 500, and the sink resumes there.
    worker.call("PUT", &format!("/connectors/{name}/stop"), None, 204);
    let altered = worker.call(
        "PATCH",
        &path,
        Some(&json!({"offsets": [rest_offset(&topic, 0, 500)]})),
        200,
    );
    assert_eq!(
        altered["message"],
        "The offsets for this connector have been altered successfully"
    );
    assert_eq!(committed(&services, &group, &topic, 1), [Some(500)]);
    assert_eq!(
        worker.call("GET", &path, None, 200),
        json!({"offsets": [rest_offset(&topic, 0, 500)]})
    );
    worker.call("PUT", &format!("/connectors/{name}/resume"), None, 202);
    wait_for(2 * RECORDS + 500);
    let written = list(&services, &name).await;
    assert_eq!(written[2 * RECORDS..], members(500..RECORDS)[..]);
    assert_eq!(
        worker.call("GET", &path, None, 200),
        json!({"offsets": [rest_offset(&topic, 0, RECORDS as i64)]})
    );
}

/// `offsets.json` as a worker before consumer groups wrote it for a sink at `offset` of
/// partition 0 of `topic` (serde_json's pretty printing, no newline at the end).
fn legacy_offset_file(connector: &str, topic: &str, offset: i64) -> String {
    format!(
        "{{\n  \"version\": 1,\n  \"offsets\": [\n    {{\n      \"connector\": \"{connector}\",\n      \
         \"partition\": {{\n        \"kafka_topic\": \"{topic}\",\n        \"kafka_partition\": 0\n      }},\n      \
         \"offset\": {{\n        \"kafka_offset\": {offset}\n      }}\n    }}\n  ]\n}}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sink_offset_in_an_offset_file_of_the_previous_version_is_kept() {
    let services = Services::get();
    let topic = services.new_topic("legacy", 1).await.unwrap();
    produce(&services, &topic, 1, 0..100).await;
    let dir = temp_dir("legacy");
    let name = unique_name("legacy-sink");
    let output = dir.join("output.txt");
    // The state a previous worker left: the connector in the configurations journal, its
    // offset 60 in the offset file, nothing in the group.
    let config = file_sink(&topic, &output, &[("name", &name)]);
    std::fs::write(
        dir.join("configs.json"),
        format!(
            "{}\n{}\n",
            json!({"key": format!("target-state-{name}"), "value": {"state": "STARTED"}}),
            json!({"key": format!("connector-{name}"), "value": {"properties": config}}),
        ),
    )
    .unwrap();
    let offsets = dir.join("offsets.json");
    std::fs::write(&offsets, legacy_offset_file(&name, &topic, 60)).unwrap();
    assert_eq!(committed(&services, &group_of(&name), &topic, 1), [None]);

    let mut worker = start_worker(&services, &dir);
    wait_for_group(
        &services,
        &worker,
        &name,
        &group_of(&name),
        &topic,
        &[100],
        Duration::from_secs(60),
    );
    assert_eq!(lines_of(&output), values(60..100));
    // The group holds the sink's progress now; the offset file keeps source offsets only.
    wait_until(
        "the sink's entry to leave the offset file",
        Duration::from_secs(10),
        || !std::fs::read_to_string(&offsets).unwrap().contains(&name),
    );

    // A restart resumes from the group.
    worker.restart();
    produce(&services, &topic, 1, 100..110).await;
    wait_for_group(
        &services,
        &worker,
        &name,
        &group_of(&name),
        &topic,
        &[110],
        Duration::from_secs(60),
    );
    assert_eq!(lines_of(&output), values(60..110));
}

/// The Python snippet of docs/worker.md's "Watch sink lag" section.
fn lag_snippet() -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/worker.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    let section = text
        .split_once("## Watch sink lag")
        .unwrap_or_else(|| panic!("no \"## Watch sink lag\" section in {}", doc.display()))
        .1;
    let code = section
        .split_once("```python\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .unwrap_or_else(|| panic!("no python block in the \"Watch sink lag\" section"))
        .0;
    code.to_owned()
}

fn run_lag_snippet(services: &Services, dir: &Path, group: &str, topic: &str) -> String {
    let script: PathBuf = dir.join("sink_lag.py");
    std::fs::write(&script, lag_snippet()).unwrap();
    let out = Command::new(&services.kafka_python)
        .arg(&script)
        .args([&services.kafka_bootstrap, group, topic])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the snippet of docs/worker.md failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_sinks_lag_rises_while_records_are_produced() {
    const BEFORE: usize = 50;
    const WHILE_PAUSED: usize = 200;
    let services = Services::get();
    let topic = services.new_topic("lag", 1).await.unwrap();
    produce_one_by_one(&services, &topic, 0..BEFORE).await;
    let dir = temp_dir("lag");
    let worker = start_worker(&services, &dir);
    let name = unique_name("lag-sink");
    let output = dir.join("output.txt");
    worker.create_connector(&name, &file_sink(&topic, &output, &[]));
    wait_for_group(
        &services,
        &worker,
        &name,
        &group_of(&name),
        &topic,
        &[BEFORE as i64],
        Duration::from_secs(60),
    );
    let task = [("connector", name.as_str()), ("task", "0")];
    let lag = |w: &WorkerProcess| {
        w.scrape()
            .get("kafka_connect_sink_task_metrics_sink_record_lag_max", &task)
    };
    wait_until("a lag of 0", Duration::from_secs(30), || {
        lag(&worker) == Some(0.0)
    });

    worker.call("PUT", &format!("/connectors/{name}/pause"), None, 202);
    worker.wait_for_tasks(&name, 1, "PAUSED", Duration::from_secs(30));
    produce_one_by_one(&services, &topic, BEFORE..BEFORE + WHILE_PAUSED).await;
    let produced = Instant::now();
    let deadline = produced + Duration::from_secs(30);
    loop {
        let now = lag(&worker);
        if now == Some(WHILE_PAUSED as f64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sink-record-lag-max of a paused sink is {now:?} 30 s after {WHILE_PAUSED} records were produced; log:\n{}",
            worker.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "the paused sink's lag showed the {WHILE_PAUSED} new records after {:.1} s",
        produced.elapsed().as_secs_f64()
    );
    assert_eq!(
        lines_of(&output).len(),
        BEFORE,
        "a paused sink wrote records"
    );
    // The lag every Kafka tool sees in the group, with the snippet of docs/worker.md.
    let shown = run_lag_snippet(&services, &dir, &group_of(&name), &topic);
    assert_eq!(
        shown.trim(),
        format!(
            "{topic} 0 end={} committed={BEFORE} lag={WHILE_PAUSED}",
            BEFORE + WHILE_PAUSED
        )
    );

    worker.call("PUT", &format!("/connectors/{name}/resume"), None, 202);
    wait_for_group(
        &services,
        &worker,
        &name,
        &group_of(&name),
        &topic,
        &[(BEFORE + WHILE_PAUSED) as i64],
        Duration::from_secs(60),
    );
    assert_eq!(lines_of(&output), values(0..BEFORE + WHILE_PAUSED));
    wait_until("a lag of 0 again", Duration::from_secs(30), || {
        lag(&worker) == Some(0.0)
    });
}
