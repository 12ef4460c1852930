//! The Redis keys source end to end, against a redis-server of the test's own (it turns on
//! keyspace notifications, which should not change the shared server): a snapshot of the
//! existing keys, then SET/HSET/DEL/EXPIRE changes as records, read back with kafka-python.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

mod redis_source_support;

use std::time::{Duration, Instant};

use connect_e2e::{unique_name, ConsumedRecord, PrivateRedis, Services, WorkerProcess};
use redis_source_support::{source_config, temp_dir, value, WORKER};
use serde_json::{json, Value as Json};

/// Reads `topic` until `done` holds for the records so far; the records.
fn read_until(
    services: &Services,
    topic: &str,
    what: &str,
    done: impl Fn(&[ConsumedRecord]) -> bool,
) -> Vec<ConsumedRecord> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut count = 1;
    loop {
        let records = services
            .consume_with_kafka_python(topic, count, Duration::from_secs(30))
            .unwrap_or_default();
        if done(&records) {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: no {what} in {:#?}",
            records
                .iter()
                .map(|r| (&r.key, &r.value))
                .collect::<Vec<_>>()
        );
        count = records.len() + 1;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last record of `key` (the key's latest state) as JSON; `Json::Null` for a tombstone.
fn latest(records: &[ConsumedRecord], key: &str) -> Option<Json> {
    records
        .iter()
        .rev()
        .find(|r| r.key.as_deref() == Some(key))
        .map(value)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_then_changes_and_tombstones() {
    let services = Services::get();
    let redis = PrivateRedis::start(&temp_dir("keys-redis"), &[]);
    assert_eq!(
        redis.cli(&["CONFIG", "GET", "notify-keyspace-events"]),
        "notify-keyspace-events"
    );
    let id = unique_name("k");
    let k = |name: &str| format!("{id}:{name}");
    // Existing keys of every type, and one outside the pattern.
    redis.cli(&["SET", &k("s"), "v", "EX", "1000"]);
    redis.cli(&["HSET", &k("h"), "f", "1"]);
    redis.cli(&["RPUSH", &k("l"), "a", "b"]);
    redis.cli(&["SADD", &k("set"), "x"]);
    redis.cli(&["ZADD", &k("z"), "1.5", "m"]);
    redis.cli(&["XADD", &k("x"), "*", "f", "v"]);
    redis.cli(&["SET", "other", "not matched"]);

    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("keys"), &[]);
    let topic = format!("{id}-keys");
    let name = format!("{id}-source");
    worker.create_connector(
        &name,
        &source_config(
            "com.redis.kafka.connect.RedisKeysSourceConnector",
            &redis.url(),
            &[
                ("redis.keys.pattern", &format!("{id}:*")),
                ("topic", &topic),
            ],
        ),
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(30));
    // The task turned keyspace notifications on.
    let flags = redis.cli(&["CONFIG", "GET", "notify-keyspace-events"]);
    assert!(flags.contains('K') && flags.contains('A'), "{flags}");

    let snapshot = read_until(&services, &topic, "snapshot of 6 keys", |r| r.len() >= 6);
    let s = latest(&snapshot, &k("s")).unwrap();
    assert_eq!(s["type"], "string");
    assert_eq!(s["string"], "v");
    let now = chrono::Utc::now().timestamp_millis();
    let ttl = s["ttl"].as_i64().unwrap();
    assert!(
        (now + 990_000..=now + 1_000_000).contains(&ttl),
        "ttl {ttl}, now {now}"
    );
    assert_eq!(
        latest(&snapshot, &k("h")).unwrap()["hash"],
        json!({"f": "1"})
    );
    assert_eq!(
        latest(&snapshot, &k("l")).unwrap()["list"],
        json!(["a", "b"])
    );
    assert_eq!(latest(&snapshot, &k("set")).unwrap()["set"], json!(["x"]));
    assert_eq!(
        latest(&snapshot, &k("z")).unwrap()["zset"],
        json!({"m": 1.5})
    );
    let x = latest(&snapshot, &k("x")).unwrap();
    assert_eq!(x["type"], "stream");
    assert_eq!(x["stream"][0]["body"], json!({"f": "v"}));
    assert!(latest(&snapshot, "other").is_none());

    // Changes.
    redis.cli(&["SET", &k("new"), "hello"]);
    redis.cli(&["HSET", &k("h"), "g", "2"]);
    redis.cli(&["DEL", &k("l")]);
    redis.cli(&["PEXPIRE", &k("set"), "200"]);
    let changes = read_until(&services, &topic, "the changes", |r| {
        latest(r, &k("new")).is_some_and(|v| v["string"] == "hello")
            && latest(r, &k("h")).is_some_and(|v| v["hash"] == json!({"f": "1", "g": "2"}))
            && latest(r, &k("l")) == Some(Json::Null)
            && latest(r, &k("set")) == Some(Json::Null)
    });
    // A tombstone has no value at all.
    let tombstone = changes
        .iter()
        .rev()
        .find(|r| r.key.as_deref() == Some(k("l").as_str()))
        .unwrap();
    assert_eq!(tombstone.value_b64, None);
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));

    // LIVEONLY: no snapshot, only what changes after the start.
    let live = format!("{id}-live");
    let live_name = format!("{id}-liveonly");
    worker.create_connector(
        &live_name,
        &source_config(
            "RedisKeysSource",
            &redis.url(),
            &[
                ("redis.keys.pattern", &format!("{id}:*")),
                ("topic", &live),
                ("mode", "LIVEONLY"),
            ],
        ),
    );
    worker.wait_for_tasks(&live_name, 1, "RUNNING", Duration::from_secs(30));
    redis.cli(&["SET", &k("after"), "1"]);
    let records = read_until(&services, &live, "the change", |r| !r.is_empty());
    assert_eq!(records[0].key.as_deref(), Some(k("after").as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_mid_snapshot_goes_on_from_the_stored_cursor() {
    // Enough that the snapshot (batches of 20, the next read while one is produced: ~7,500
    // keys/s in a debug build) is still running 2.5 s after the first 3,000 keys.
    const KEYS: usize = 50_000;
    let services = Services::get();
    let redis = PrivateRedis::start(&temp_dir("keys-resume-redis"), &["--appendfsync", "no"]);
    let client = {
        let config = fred::prelude::Config::from_url(&redis.url()).unwrap();
        let client = fred::prelude::Builder::from_config(config).build().unwrap();
        fred::prelude::ClientLike::init(&client).await.unwrap();
        client
    };
    let id = unique_name("big");
    redis_source_support::pipelined(
        &client,
        (0..KEYS).map(|i| vec!["SET".into(), format!("{id}:{i}"), i.to_string()]),
    )
    .await;
    let mut worker = WorkerProcess::start(WORKER, &services, &temp_dir("keys-resume"), &[]);
    let topic = format!("{id}-keys");
    let name = format!("{id}-source");
    worker.create_connector(
        &name,
        &source_config(
            "RedisKeysSource",
            &redis.url(),
            &[
                ("redis.keys.pattern", &format!("{id}:*")),
                ("topic", &topic),
                ("batch.size", "20"),
            ],
        ),
    );
    let snapshot = |w: &WorkerProcess| {
        redis_source_support::metric(w, "redis_source_keys_snapshot_total", &name).unwrap_or(0.0)
            as usize
    };
    redis_source_support::wait_until("part of the snapshot", Duration::from_secs(60), || {
        snapshot(&worker) >= 3_000
    });
    // Let offset flushes (every second here) store the cursor, then kill: what was read since
    // the last flush (up to a second's worth) is read again, well under half of what was read.
    std::thread::sleep(Duration::from_millis(2500));
    let before = snapshot(&worker);
    worker.kill9();
    assert!(
        before < KEYS,
        "the snapshot finished before the kill; the test proves nothing"
    );
    worker.restart();
    redis_source_support::wait_until("the snapshot to complete", Duration::from_secs(120), || {
        std::fs::read_to_string(worker.log_path())
            .unwrap()
            .contains("snapshot complete")
    });
    let after = snapshot(&worker);
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(
        log.contains("resuming the interrupted snapshot"),
        "no resume in the log"
    );
    // The restarted task read only what was left (SCAN pages overlap the kill a little).
    assert!(
        after < KEYS - before / 2,
        "{before} read before the kill, {after} after"
    );
    let records = redis_source_support::read_distinct(
        &services,
        &topic,
        KEYS,
        Duration::from_secs(120),
        |r| r.key.clone().unwrap_or_default(),
    );
    println!(
        "{before} keys before the kill, {after} after; {} records for {KEYS} keys",
        records.len()
    );
}
