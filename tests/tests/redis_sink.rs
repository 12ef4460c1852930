//! The Redis sink end to end: records produced to the real broker by kafka-python or rskafka,
//! the worker run as a process and driven over REST, Redis read back with redis-cli.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use connect_e2e::{temp_dir, unique_name, wait_until, PrivateRedis, Services, WorkerProcess};
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

/// A sink config with the usual converters (string keys, schemaless JSON values).
fn sink_config(services: &Services, topic: &str, extra: &[(&str, &str)]) -> Json {
    let mut config = json!({
        "connector.class": "RedisSink",
        "tasks.max": "1",
        "topics": topic,
        "redis.uri": services.redis_url,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    config
}

/// `count` records: key `m<i>`, value `1`, record `i` in partition `i % 2`.
fn numbered_records(count: usize) -> Vec<connect_e2e::PlainRecord> {
    (0..count)
        .map(|i| {
            (
                (i % 2) as i32,
                Some(format!("m{i}").into_bytes()),
                Some(b"1".to_vec()),
            )
        })
        .collect()
}

/// Asserts that the members `m<i>` of each partition of [`numbered_records`] are in the order
/// they were produced.
fn assert_each_partition_in_order<S: AsRef<str>>(members: &[S], what: &str) {
    for partition in 0..2 {
        let order: Vec<usize> = members
            .iter()
            .map(|m| m.as_ref()[1..].parse().unwrap())
            .filter(|n: &usize| n % 2 == partition)
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{what}: partition {partition} out of order"
        );
    }
}

/// Produces `{"key","value","headers"?}` lines with kafka-python.
fn produce(services: &Services, topic: &str, records: &[Json]) {
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    services.produce_with_kafka_python(topic, &lines).unwrap();
}

fn cli(services: &Services, args: &[&str]) -> String {
    services.redis_cli(args).unwrap().trim().to_owned()
}

/// A hash as `HGETALL` shows it, by field: Redis promises no field order (and the sink's
/// pipelined HSET does not keep the record's).
fn hash(services: &Services, key: &str) -> BTreeMap<String, String> {
    let text = cli(services, &["HGETALL", key]);
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .filter_map(|pair| match pair {
            [field, value] => Some(((*field).to_owned(), (*value).to_owned())),
            _ => None,
        })
        .collect()
}

/// `pairs` as a hash, for comparing with [`hash`].
fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
        .collect()
}

fn wait_for_output(services: &Services, args: &[&str], expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = cli(services, args);
        if last == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "redis-cli {args:?} gave {last:?}, expected {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_redis_type_is_written_as_redis_users_expect() {
    let services = Services::get();
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-types"), &[]);
    let id = unique_name("t");

    // STRING, with StringConverter values, a TTL header and a tombstone.
    let strings = services.new_topic("strings", 1).await.unwrap();
    let mut config = sink_config(&services, &strings, &[("redis.type", "STRING")]);
    config["value.converter"] = json!("org.apache.kafka.connect.storage.StringConverter");
    worker.create_connector(&format!("{id}-string"), &config);
    produce(
        &services,
        &strings,
        &[
            json!({"key": "a", "value": "hello"}),
            json!({"key": "b", "value": "short-lived", "headers": {"redis.key.ttl": "1000"}}),
            json!({"key": "c", "value": "gone soon"}),
            json!({"key": "c", "value": null}),
        ],
    );
    wait_for_output(&services, &["GET", &format!("{strings}:b")], "short-lived");
    assert_eq!(cli(&services, &["GET", &format!("{strings}:a")]), "hello");
    assert_eq!(cli(&services, &["TTL", &format!("{strings}:a")]), "-1");
    let ttl: i64 = cli(&services, &["TTL", &format!("{strings}:b")])
        .parse()
        .unwrap();
    assert!((900..=1000).contains(&ttl), "TTL {ttl}");
    assert_eq!(cli(&services, &["EXISTS", &format!("{strings}:c")]), "0");

    // HASH from JSON objects (nested values as JSON text), a tombstone, a configured TTL.
    let hashes = services.new_topic("hashes", 1).await.unwrap();
    let config = sink_config(
        &services,
        &hashes,
        &[
            ("redis.type", "HASH"),
            ("redis.keyspace", "user"),
            ("redis.key.ttl", "500"),
        ],
    );
    worker.create_connector(&format!("{id}-hash"), &config);
    let u1 = format!("{id}-u1");
    let u2 = format!("{id}-u2");
    produce(
        &services,
        &hashes,
        &[
            json!({"key": u1, "value": r#"{"name":"ann","age":30,"tags":["x","y"],"none":null}"#}),
            json!({"key": u2, "value": r#"{"name":"bob"}"#}),
            json!({"key": u2, "value": null}),
        ],
    );
    let expected = fields(&[("name", "ann"), ("age", "30"), ("tags", "[\"x\",\"y\"]")]);
    wait_until("user u1's hash", Duration::from_secs(30), || {
        hash(&services, &format!("user:{u1}")) == expected
    });
    assert_eq!(cli(&services, &["EXISTS", &format!("user:{u2}")]), "0");
    let ttl: i64 = cli(&services, &["TTL", &format!("user:{u1}")])
        .parse()
        .unwrap();
    assert!((400..=500).contains(&ttl), "TTL {ttl}");

    // A key template naming the key from a value field (records without keys).
    let templated = services.new_topic("templated", 1).await.unwrap();
    let config = sink_config(
        &services,
        &templated,
        &[
            ("redis.type", "HASH"),
            ("redis.key.template", &format!("{id}:user:${{value.id}}")),
        ],
    );
    worker.create_connector(&format!("{id}-template"), &config);
    produce(
        &services,
        &templated,
        &[json!({"key": null, "value": r#"{"id":7,"name":"eve"}"#})],
    );
    wait_for_output(&services, &["HGET", &format!("{id}:user:7"), "name"], "eve");

    // STREAM: one entry per record, fields from the value.
    let events = services.new_topic("events", 1).await.unwrap();
    let stream = format!("{id}-stream");
    let config = sink_config(&services, &events, &[("redis.keyspace", &stream)]);
    worker.create_connector(&format!("{id}-stream"), &config);
    produce(
        &services,
        &events,
        &(0..3)
            .map(|i| json!({"key": format!("k{i}"), "value": format!(r#"{{"n":{i},"kind":"click"}}"#)}))
            .collect::<Vec<_>>(),
    );
    wait_for_output(&services, &["XLEN", &stream], "3");
    let range = cli(&services, &["XRANGE", &stream, "-", "+"]);
    // Each entry: its id, then the fields and values.
    let fields: Vec<&str> = range
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 5 != 0)
        .map(|(_, l)| l)
        .collect();
    assert_eq!(
        fields,
        ["n", "0", "kind", "click", "n", "1", "kind", "click", "n", "2", "kind", "click"],
        "{range}"
    );

    // LIST, SET, ZSET: the record key is the member; tombstones remove it.
    let members = services.new_topic("members", 1).await.unwrap();
    for (ty, key) in [("LIST", "list"), ("SET", "set"), ("ZSET", "zset")] {
        let config = sink_config(
            &services,
            &members,
            &[
                ("redis.type", ty),
                ("redis.keyspace", &format!("{id}-{key}")),
            ],
        );
        worker.create_connector(&format!("{id}-{key}"), &config);
    }
    produce(
        &services,
        &members,
        &[
            json!({"key": "m1", "value": "1.5"}),
            json!({"key": "m2", "value": "3"}),
            json!({"key": "m3", "value": "-2"}),
            json!({"key": "m2", "value": null}),
        ],
    );
    wait_for_output(
        &services,
        &["LRANGE", &format!("{id}-list"), "0", "-1"],
        "m1\nm3",
    );
    wait_for_output(
        &services,
        &["ZRANGE", &format!("{id}-zset"), "0", "-1", "WITHSCORES"],
        "m3\n-2\nm1\n1.5",
    );
    let mut set: Vec<String> = cli(&services, &["SMEMBERS", &format!("{id}-set")])
        .lines()
        .map(str::to_owned)
        .collect();
    set.sort();
    assert_eq!(set, ["m1", "m3"]);

    // PUBSUB: each value published to the channel.
    let channel = format!("{id}-chan");
    let published = services.new_topic("published", 1).await.unwrap();
    let mut config = sink_config(
        &services,
        &published,
        &[("redis.type", "PUBSUB"), ("redis.keyspace", &channel)],
    );
    config["value.converter"] = json!("org.apache.kafka.connect.storage.StringConverter");
    worker.create_connector(&format!("{id}-pubsub"), &config);
    worker.wait_for_tasks(
        &format!("{id}-pubsub"),
        1,
        "RUNNING",
        Duration::from_secs(30),
    );
    let port = services.redis_port.to_string();
    let mut subscriber = Command::new(&services.redis_cli)
        .args([
            "-h",
            &services.redis_host,
            "-p",
            &port,
            "SUBSCRIBE",
            &channel,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(subscriber.stdout.take().unwrap()).lines();
    // "subscribe", channel, count: subscribed.
    for _ in 0..3 {
        lines.next().unwrap().unwrap();
    }
    produce(
        &services,
        &published,
        &[
            json!({"key": "k", "value": "one"}),
            json!({"key": "k", "value": "two"}),
        ],
    );
    let mut messages = Vec::new();
    while messages.len() < 2 {
        let kind = lines.next().unwrap().unwrap();
        let _channel = lines.next().unwrap().unwrap();
        let payload = lines.next().unwrap().unwrap();
        assert_eq!(kind, "message");
        messages.push(payload);
    }
    let _ = subscriber.kill();
    let _ = subscriber.wait();
    assert_eq!(messages, ["one", "two"]);

    // JSON and TIMESERIES need modules this redis-server lacks: a clear task error.
    let docs = services.new_topic("docs", 1).await.unwrap();
    for ty in ["JSON", "TIMESERIES"] {
        let name = format!("{id}-{ty}");
        worker.create_connector(&name, &sink_config(&services, &docs, &[("redis.type", ty)]));
        worker.wait_for_tasks(&name, 1, "FAILED", Duration::from_secs(30));
        let trace = worker.status(&name)["tasks"][0]["trace"]
            .as_str()
            .unwrap()
            .to_owned();
        let module = if ty == "JSON" {
            "RedisJSON"
        } else {
            "RedisTimeSeries"
        };
        assert!(
            trace.contains(&format!("redis.type={ty} needs the {module} module")),
            "{trace}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_are_exact_with_two_tasks_over_four_partitions() {
    let services = Services::get();
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-counter"), &[]);
    let id = unique_name("c");
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 4).await.unwrap();
    let name = format!("{id}-counter");
    let config = sink_config(
        &services,
        &topic,
        &[
            ("redis.type", "COUNTER"),
            ("tasks.max", "2"),
            ("redis.keyspace", &id),
        ],
    );
    worker.create_connector(&name, &config);
    worker.wait_for_tasks(&name, 2, "RUNNING", Duration::from_secs(30));

    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    let mut records = Vec::new();
    for i in 0..20_000 {
        let page = format!("page{}", i % 7);
        let amount = if i % 10 == 0 { 2.5 } else { f64::from(i % 3) };
        *expected.entry(page.clone()).or_default() += amount;
        records.push((
            i % 4,
            Some(page.into_bytes()),
            Some(amount.to_string().into_bytes()),
        ));
    }
    services.produce(&kafka, &topic, records).await.unwrap();

    let total: f64 = expected.values().sum();
    wait_until(
        "the counters to reach their totals",
        Duration::from_secs(60),
        || {
            let sum: f64 = expected
                .keys()
                .map(|page| {
                    cli(&services, &["GET", &format!("{id}:{page}")])
                        .parse::<f64>()
                        .unwrap_or(0.0)
                })
                .sum();
            (sum - total).abs() < 1e-6
        },
    );
    for (page, amount) in &expected {
        let got: f64 = cli(&services, &["GET", &format!("{id}:{page}")])
            .parse()
            .unwrap();
        assert!((got - amount).abs() < 1e-6, "{page}: {got} != {amount}");
    }
    // Both tasks wrote their partitions' offsets into the connector's hash.
    let offsets = cli(&services, &["HGETALL", &format!("connect:offsets:{name}")]);
    let fields: BTreeMap<&str, &str> = offsets
        .lines()
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|c| (c[0], c[1]))
        .collect();
    assert_eq!(fields.len(), 4, "{offsets}");
    let committed: i64 = fields.values().map(|v| v.parse::<i64>().unwrap()).sum();
    assert_eq!(committed, 20_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn errant_records_go_to_the_dead_letter_queue_or_fail_the_task() {
    let services = Services::get();
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-errant"), &[]);
    let id = unique_name("e");
    let topic = services.new_topic("errant", 1).await.unwrap();
    let dlq = format!("{id}-dlq");
    let tolerant = format!("{id}-tolerant");
    let config = sink_config(
        &services,
        &topic,
        &[
            ("redis.type", "HASH"),
            ("redis.keyspace", &tolerant),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", &dlq),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    worker.create_connector(&tolerant, &config);
    let strict = format!("{id}-strict");
    let config = sink_config(
        &services,
        &topic,
        &[("redis.type", "HASH"), ("redis.keyspace", &strict)],
    );
    worker.create_connector(&strict, &config);
    produce(
        &services,
        &topic,
        &[
            json!({"key": "a", "value": r#"{"n":1}"#}),
            json!({"key": "b", "value": r#""just text""#}),
            json!({"key": "c", "value": r#"{"n":3}"#}),
        ],
    );
    wait_for_output(&services, &["HGET", &format!("{tolerant}:c"), "n"], "3");
    assert_eq!(
        cli(&services, &["HGET", &format!("{tolerant}:a"), "n"]),
        "1"
    );
    assert_eq!(cli(&services, &["EXISTS", &format!("{tolerant}:b")]), "0");
    let dead = services
        .consume_with_kafka_python(&dlq, 1, Duration::from_secs(30))
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key.as_deref(), Some("b"));
    assert_eq!(dead[0].value.as_deref(), Some(r#""just text""#));

    // errors.tolerance=none: the task fails, naming the record and the reason, and the batch
    // is not written.
    worker.wait_for_tasks(&strict, 1, "FAILED", Duration::from_secs(30));
    let trace = worker.status(&strict)["tasks"][0]["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(trace.contains("offset 1"), "{trace}");
    assert!(
        trace.contains("redis.type=HASH needs a map or struct value, got string"),
        "{trace}"
    );
    assert_eq!(cli(&services, &["EXISTS", &format!("{strict}:a")]), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_run_leaves_every_record_in_the_list_exactly_once() {
    const RECORDS: usize = 200_000;
    let services = Services::get();
    let dir = temp_dir("sink-kill");
    let mut worker = WorkerProcess::start(WORKER, &services, &dir, &[]);
    let id = unique_name("k");
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 2).await.unwrap();
    services
        .produce(&kafka, &topic, numbered_records(RECORDS))
        .await
        .unwrap();

    let list = format!("{id}-list");
    let name = format!("{id}-sink");
    let config = sink_config(
        &services,
        &topic,
        &[("redis.type", "LIST"), ("redis.keyspace", &list)],
    );
    worker.create_connector(&name, &config);
    let len = || {
        cli(&services, &["LLEN", &list])
            .parse::<usize>()
            .unwrap_or(0)
    };
    wait_until("a quarter of the records", Duration::from_secs(60), || {
        len() >= RECORDS / 4
    });
    worker.kill9();
    let at_kill = len();
    assert!(
        at_kill < RECORDS,
        "the sink finished before the kill; the test proves nothing"
    );
    worker.restart();
    wait_until("every record", Duration::from_secs(120), || {
        len() >= RECORDS
    });
    // Nothing more arrives: no record written twice.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(len(), RECORDS, "killed at {at_kill}");
    let redis = services.redis().await.unwrap();
    let members: Vec<String> = fred::prelude::ListInterface::lrange(&redis, &list, 0, -1)
        .await
        .unwrap();
    let unique: BTreeSet<&String> = members.iter().collect();
    assert_eq!(unique.len(), RECORDS);
    // Within a partition, the order of Kafka is kept.
    assert_each_partition_in_order(&members, "kill -9");
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_stopped_for_ten_seconds_loses_nothing_and_the_task_stays_running() {
    const RECORDS: usize = 30_000;
    let services = Services::get();
    let mut redis = PrivateRedis::start(&temp_dir("sink-redis-down"), &[]);
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-outage"), &[]);
    let id = unique_name("o");
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 1).await.unwrap();
    let name = format!("{id}-sink");
    let mut config = sink_config(
        &services,
        &topic,
        &[("redis.type", "LIST"), ("redis.keyspace", "queue")],
    );
    config["redis.uri"] = json!(redis.url());
    config["redis.timeout"] = json!("2");
    worker.create_connector(&name, &config);
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(30));
    let task = [("connector", name.as_str()), ("task", "0")];
    let retrying = |w: &WorkerProcess| {
        w.scrape()
            .get("kafka_connect_connector_task_metrics_retrying", &task)
    };
    assert_eq!(retrying(&worker), Some(0.0), "retrying before any outage");

    // Records keep arriving while Redis is away: half before, half during the outage.
    let make = |range: std::ops::Range<usize>| {
        range
            .map(|i| (0, Some(format!("m{i}").into_bytes()), Some(b"1".to_vec())))
            .collect::<Vec<_>>()
    };
    services
        .produce(&kafka, &topic, make(0..RECORDS / 2))
        .await
        .unwrap();
    let len = |r: &PrivateRedis| r.cli(&["LLEN", "queue"]).parse::<usize>().unwrap_or(0);
    wait_until("the first records", Duration::from_secs(30), || {
        len(&redis) > 0
    });
    redis.stop();
    services
        .produce(&kafka, &topic, make(RECORDS / 2..RECORDS))
        .await
        .unwrap();
    let down = Instant::now();
    let mut seen_retrying = false;
    while down.elapsed() < Duration::from_secs(10) {
        let status = worker.status(&name);
        assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
        seen_retrying |= retrying(&worker) == Some(1.0);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        seen_retrying,
        "the retrying gauge never showed 1 during a 10 s outage; log:\n{}",
        worker.log_tail()
    );
    // The worker stays healthy (restarting it would not bring Redis back) and names the
    // stalled task.
    let health = worker.call("GET", "/health", None, 200);
    assert_eq!(health["status"], "healthy", "{health}");
    let stalled = &health["retrying_tasks"];
    assert_eq!(stalled.as_array().map(Vec::len), Some(1), "{health}");
    assert_eq!(stalled[0]["connector"], json!(name), "{health}");
    assert_eq!(stalled[0]["task"], 0, "{health}");
    assert_eq!(stalled[0]["operation"], "put", "{health}");
    assert!(
        stalled[0]["stalled_ms"].as_u64().unwrap() >= 3000,
        "{health}"
    );
    assert!(stalled[0]["attempts"].as_u64().unwrap() >= 2, "{health}");

    redis.start_again();
    wait_until(
        "the retrying gauge back to 0",
        Duration::from_secs(60),
        || retrying(&worker) == Some(0.0),
    );
    wait_until(
        "every record after the restart",
        Duration::from_secs(60),
        || len(&redis) >= RECORDS,
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(len(&redis), RECORDS);
    let members = redis.cli(&["LRANGE", "queue", "0", "-1"]);
    let expected: Vec<String> = (0..RECORDS).map(|i| format!("m{i}")).collect();
    assert!(
        members.lines().eq(expected.iter().map(String::as_str)),
        "the list is not every record once, in order"
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
    let health = worker.call("GET", "/health", None, 200);
    assert_eq!(health["retrying_tasks"], json!([]), "{health}");

    // One WARN when the task started retrying, one INFO when it wrote again, with how long
    // it was stalled and how many attempts failed.
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("put (writing a batch to the sink) failed, retrying"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    let recoveries: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("put succeeded again after "))
        .collect();
    assert_eq!(recoveries.len(), 1, "{log}");
    let (stalled_s, attempts) = recovery(recoveries[0]);
    assert!(
        (5.0..60.0).contains(&stalled_s),
        "stalled for {stalled_s} s around a 10 s outage: {}",
        recoveries[0]
    );
    assert!(attempts >= 2, "{}", recoveries[0]);
    let counted = worker
        .scrape()
        .get(
            "kafka_connect_connector_task_metrics_retry_attempts_total",
            &task,
        )
        .unwrap();
    assert_eq!(counted, attempts as f64, "{}", recoveries[0]);
}

/// Redis stopped and started again while one task has several batches in flight (written
/// ahead, not answered yet): with exactly-once every record is in the list once and in order;
/// at-least-once loses none and keeps each partition's order of first arrivals.
#[tokio::test(flavor = "multi_thread")]
async fn redis_restarted_while_batches_are_in_flight_loses_nothing() {
    const RECORDS: usize = 200_000;
    let services = Services::get();
    let mut redis = PrivateRedis::start(&temp_dir("sink-in-flight-redis"), &[]);
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-in-flight"), &[]);
    let id = unique_name("f");
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 2).await.unwrap();
    services
        .produce(&kafka, &topic, numbered_records(RECORDS))
        .await
        .unwrap();

    let modes = [("once", "true"), ("least", "false")];
    for (mode, exactly_once) in modes {
        let mut config = sink_config(
            &services,
            &topic,
            &[
                ("redis.type", "LIST"),
                ("redis.keyspace", &format!("{id}-{mode}")),
                ("redis.exactly.once", exactly_once),
            ],
        );
        config["redis.uri"] = json!(redis.url());
        config["redis.timeout"] = json!("2");
        worker.create_connector(&format!("{id}-{mode}"), &config);
    }
    let len = |r: &PrivateRedis, mode: &str| {
        r.cli(&["LLEN", &format!("{id}-{mode}")])
            .parse::<usize>()
            .unwrap_or(0)
    };
    wait_until(
        "an eighth of the records in both lists",
        Duration::from_secs(60),
        || {
            modes
                .iter()
                .all(|(mode, _)| len(&redis, mode) >= RECORDS / 8)
        },
    );
    redis.stop();
    std::thread::sleep(Duration::from_secs(2));
    redis.start_again();
    let at_restart: Vec<usize> = modes.iter().map(|(mode, _)| len(&redis, mode)).collect();
    assert!(
        at_restart.iter().all(|n| *n < RECORDS),
        "a sink finished before Redis stopped ({at_restart:?}); the test proves nothing"
    );
    wait_until(
        "every record in both lists",
        Duration::from_secs(120),
        || len(&redis, "once") >= RECORDS && len(&redis, "least") >= RECORDS,
    );
    std::thread::sleep(Duration::from_secs(2));
    for (mode, _) in modes {
        let members = redis.cli(&["LRANGE", &format!("{id}-{mode}"), "0", "-1"]);
        let members: Vec<&str> = members.lines().collect();
        let mut seen = BTreeSet::new();
        let firsts: Vec<&str> = members
            .iter()
            .copied()
            .filter(|m| seen.insert(*m))
            .collect();
        assert_eq!(
            seen.len(),
            RECORDS,
            "{mode}: records missing (stopped at {at_restart:?})"
        );
        if mode == "once" {
            assert_eq!(members.len(), RECORDS, "exactly-once wrote records twice");
        }
        assert_each_partition_in_order(&firsts, mode);
        worker.wait_for_tasks(
            &format!("{id}-{mode}"),
            1,
            "RUNNING",
            Duration::from_secs(10),
        );
    }
}

/// A record Redis refuses (its key holds another type) in a batch written ahead, in a
/// transaction (exactly-once) or a plain pipeline: it goes to the dead-letter queue once, and
/// every other record is written.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_redis_refuses_in_a_batch_written_ahead_goes_to_the_dead_letter_queue_once() {
    const RECORDS: usize = 3000;
    const REFUSED: usize = 1700;
    let services = Services::get();
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-refused"), &[]);
    let id = unique_name("r");
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 1).await.unwrap();
    let records = (0..RECORDS)
        .map(|i| {
            (
                0,
                Some(format!("k{i:04}").into_bytes()),
                Some(format!(r#"{{"n":{i}}}"#).into_bytes()),
            )
        })
        .collect();
    services.produce(&kafka, &topic, records).await.unwrap();
    for exactly_once in ["true", "false"] {
        let name = format!("{id}-{exactly_once}");
        let dlq = format!("{name}-dlq");
        // The key of one record already holds a string: HSET on it fails with WRONGTYPE.
        cli(
            &services,
            &["SET", &format!("{name}:k{REFUSED:04}"), "a string"],
        );
        let config = sink_config(
            &services,
            &topic,
            &[
                ("redis.type", "HASH"),
                ("redis.keyspace", &name),
                ("redis.exactly.once", exactly_once),
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", &dlq),
                ("errors.deadletterqueue.topic.replication.factor", "1"),
            ],
        );
        worker.create_connector(&name, &config);
        let last = format!("{name}:k{:04}", RECORDS - 1);
        wait_for_output(&services, &["HGET", &last, "n"], &(RECORDS - 1).to_string());
        let dead = services
            .consume_with_kafka_python(&dlq, 1, Duration::from_secs(30))
            .unwrap();
        let keys: Vec<_> = dead.iter().map(|r| r.key.as_deref()).collect();
        assert_eq!(
            keys,
            [Some(format!("k{REFUSED:04}").as_str())],
            "exactly.once={exactly_once}"
        );
        // Nothing more arrives in the dead-letter queue: the worker sent it one record.
        std::thread::sleep(Duration::from_secs(2));
        let task = [("connector", name.as_str()), ("task", "0")];
        let sent = worker.scrape().get(
            "kafka_connect_task_error_metrics_deadletterqueue_produce_requests",
            &task,
        );
        assert_eq!(sent, Some(1.0), "exactly.once={exactly_once}");
        let redis = services.redis().await.unwrap();
        for i in (0..RECORDS).filter(|i| *i != REFUSED) {
            let n: Option<String> =
                fred::prelude::HashesInterface::hget(&redis, format!("{name}:k{i:04}"), "n")
                    .await
                    .unwrap();
            assert_eq!(
                n,
                Some(i.to_string()),
                "exactly.once={exactly_once}: k{i:04}"
            );
        }
        assert_eq!(
            cli(&services, &["GET", &format!("{name}:k{REFUSED:04}")]),
            "a string"
        );
        worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(10));
    }
}

/// The seconds stalled and the failed attempts of a recovery line ("... succeeded again after
/// 10.3s of retries (12 failed attempts)").
fn recovery(line: &str) -> (f64, u64) {
    let after = line
        .split_once("succeeded again after ")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("not a recovery line: {line}"));
    let (seconds, rest) = after
        .split_once("s of retries (")
        .unwrap_or_else(|| panic!("no duration in {line}"));
    let (attempts, _) = rest
        .split_once(" failed attempts)")
        .unwrap_or_else(|| panic!("no attempts in {line}"));
    (seconds.parse().unwrap(), attempts.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn configs_from_the_java_connector_docs_run_unchanged() {
    let services = Services::get();
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-java"), &[]);
    let id = unique_name("j");
    let pageviews = services.new_topic("pageviews", 1).await.unwrap();

    // A HASH sink as the Java connector's documentation writes it.
    let hash_name = format!("{id}-hash");
    let keyspace = format!("{id}-pv");
    worker.create_connector(
        &hash_name,
        &json!({
            "connector.class": "com.redis.kafka.connect.RedisSinkConnector",
            "tasks.max": "1",
            "topics": pageviews,
            "redis.uri": services.redis_url,
            "redis.type": "HASH",
            "redis.keyspace": keyspace,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        }),
    );
    // The stream sink of the Java connector's quickstart (run.sh): default type STREAM,
    // keyspace ${topic}, a TTL.
    let stream_name = format!("{id}-stream");
    worker.create_connector(
        &stream_name,
        &json!({
            "connector.class": "com.redis.kafka.connect.RedisSinkConnector",
            "tasks.max": "1",
            "topics": pageviews,
            "redis.uri": services.redis_url,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "redis.key.ttl": "3600",
        }),
    );
    produce(
        &services,
        &pageviews,
        &[
            json!({"key": "6021", "value": r#"{"viewtime":1,"userid":"User_1","pageid":"Page_21"}"#}),
            json!({"key": "6022", "value": r#"{"viewtime":2,"userid":"User_2","pageid":"Page_22"}"#}),
        ],
    );
    wait_for_output(
        &services,
        &["HGET", &format!("{keyspace}:6022"), "pageid"],
        "Page_22",
    );
    assert_eq!(
        hash(&services, &format!("{keyspace}:6021")),
        fields(&[
            ("viewtime", "1"),
            ("userid", "User_1"),
            ("pageid", "Page_21")
        ])
    );
    wait_for_output(&services, &["XLEN", &pageviews], "2");
    let ttl: i64 = cli(&services, &["TTL", &pageviews]).parse().unwrap();
    assert!((3500..=3600).contains(&ttl), "TTL {ttl}");
    for name in [&hash_name, &stream_name] {
        worker.wait_for_tasks(name, 1, "RUNNING", Duration::from_secs(5));
        assert_eq!(worker.status(name)["type"], "sink");
    }

    // The offsets API reaches the offsets kept in Redis: DELETE removes them too.
    let offsets_key = format!("connect:offsets:{hash_name}");
    wait_for_output(
        &services,
        &["HGET", &offsets_key, &format!("{pageviews}/0")],
        "2",
    );
    // The worker stores them too, at its next offset flush.
    wait_until("the worker's offsets", Duration::from_secs(30), || {
        let offsets = worker.call(
            "GET",
            &format!("/connectors/{hash_name}/offsets"),
            None,
            200,
        );
        offsets["offsets"][0]["offset"]["kafka_offset"] == 2
    });
    worker.call("PUT", &format!("/connectors/{hash_name}/stop"), None, 204);
    worker.call(
        "DELETE",
        &format!("/connectors/{hash_name}/offsets"),
        None,
        200,
    );
    assert_eq!(cli(&services, &["EXISTS", &offsets_key]), "0");
    // Deleting a connector removes its offsets in Redis as well.
    let stream_offsets = format!("connect:offsets:{stream_name}");
    assert_eq!(cli(&services, &["EXISTS", &stream_offsets]), "1");
    worker.call("DELETE", &format!("/connectors/{stream_name}"), None, 204);
    assert_eq!(cli(&services, &["EXISTS", &stream_offsets]), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_cluster_takes_batches_across_hash_slots() {
    const RECORDS: usize = 3_000;
    let services = Services::get();
    let nodes = PrivateRedis::start_cluster("cluster");
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-cluster"), &[]);
    let id = unique_name("cl");
    let kafka = services.kafka().await.unwrap();
    let topic = services.create_topic(&kafka, &id, 2).await.unwrap();
    let records = (0..RECORDS)
        .map(|i| {
            (
                (i % 2) as i32,
                Some(format!("k{i}").into_bytes()),
                Some(format!("v{i}").into_bytes()),
            )
        })
        .collect();
    services.produce(&kafka, &topic, records).await.unwrap();
    let name = format!("{id}-sink");
    let mut config = sink_config(
        &services,
        &topic,
        &[("redis.type", "STRING"), ("redis.keyspace", "")],
    );
    config["value.converter"] = json!("org.apache.kafka.connect.storage.StringConverter");
    config["redis.uri"] = json!(format!(
        "redis://127.0.0.1:{},127.0.0.1:{}",
        nodes[0].port, nodes[1].port
    ));
    config["redis.cluster"] = json!("true");
    worker.create_connector(&name, &config);

    // Every key lands on the node that owns its slot; together they hold every record and
    // the offsets hash.
    let total = || -> usize {
        nodes
            .iter()
            .map(|n| n.cli(&["DBSIZE"]).parse::<usize>().unwrap_or(0))
            .sum()
    };
    wait_until(
        "every record in the cluster",
        Duration::from_secs(60),
        || total() > RECORDS,
    );
    assert_eq!(total(), RECORDS + 1);
    assert!(nodes
        .iter()
        .all(|n| n.cli(&["DBSIZE"]).parse::<usize>().unwrap() > RECORDS / 10));
    for i in [0, 1, 1234, RECORDS - 1] {
        let out = Command::new("redis-cli")
            .args([
                "-c",
                "-p",
                &nodes[0].port.to_string(),
                "GET",
                &format!("k{i}"),
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("v{i}"));
    }
    let offsets = Command::new("redis-cli")
        .args([
            "-c",
            "-p",
            &nodes[0].port.to_string(),
            "HGETALL",
            &format!("connect:offsets:{name}"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&offsets.stdout).into_owned();
    let expected = format!("{topic}/0\n{}\n{topic}/1\n{}", RECORDS / 2, RECORDS / 2);
    let mut lines: Vec<&str> = text.trim().lines().collect();
    if lines.first() == Some(&format!("{topic}/1").as_str()) {
        lines.rotate_left(2);
    }
    assert_eq!(lines.join("\n"), expected);
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sentinel_uri_finds_the_master() {
    let services = Services::get();
    let master = PrivateRedis::start(&temp_dir("sentinel-master"), &[]);
    let dir = temp_dir("sentinel");
    std::fs::create_dir_all(&dir).unwrap();
    let port = connect_e2e::free_port();
    let conf = dir.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 1\n",
            dir.display(),
            master.port
        ),
    )
    .unwrap();
    let mut sentinel = Command::new("redis-server")
        .arg(&conf)
        .arg("--sentinel")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        "the sentinel to know the master",
        Duration::from_secs(20),
        || {
            Command::new("redis-cli")
                .args([
                    "-p",
                    &port.to_string(),
                    "SENTINEL",
                    "get-master-addr-by-name",
                    "mymaster",
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains(&master.port.to_string()))
                .unwrap_or(false)
        },
    );

    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("sink-sentinel"), &[]);
    let topic = services.new_topic("sentinel", 1).await.unwrap();
    let name = unique_name("sentinel-sink");
    let mut config = sink_config(
        &services,
        &topic,
        &[("redis.type", "SET"), ("redis.keyspace", "members")],
    );
    // Lettuce's form: the sentinels, then the master's name as the fragment.
    config["redis.uri"] = json!(format!("redis-sentinel://127.0.0.1:{port}#mymaster"));
    worker.create_connector(&name, &config);
    produce(
        &services,
        &topic,
        &[
            json!({"key": "a", "value": "1"}),
            json!({"key": "b", "value": "1"}),
        ],
    );
    wait_until("the members on the master", Duration::from_secs(30), || {
        master.cli(&["SCARD", "members"]) == "2"
    });
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
    let _ = sentinel.kill();
    let _ = sentinel.wait();
}
