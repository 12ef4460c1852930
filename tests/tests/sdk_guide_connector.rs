//! A connector written from `docs/sdk.md` alone, as a test of the guide: **KeyCountSink**
//! counts the records of each key. Unit tests run its task through connect-core's test kit;
//! the end-to-end test runs it in a worker on the real broker, created over the REST API.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use connect_e2e::{unique_name, InProcessWorker, Scrape, Services};
use connect_worker::worker::Worker;
use serde_json::{json, Value as Json};

/// The connector, as a connector crate would hold it.
mod key_count {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use connect_core::config::{
        Config, ConfigKey, ConfigReader, ConfigType, Importance, Props, Validator,
    };
    use connect_core::connector::{
        Connector, ConnectorContext, SinkConnector, SinkTask, SinkTaskContext,
    };
    use connect_core::metrics::Counter;
    use connect_core::plugin::PluginDescriptor;
    use connect_core::record::SinkRecord;
    use connect_core::ConnectError;

    pub const CLASS: &str = "com.example.KeyCountSinkConnector";

    /// Where the tasks keep their counts, by `count.label`, then by prefixed key: the test
    /// reads them here.
    static COUNTS: Mutex<BTreeMap<String, BTreeMap<String, u64>>> = Mutex::new(BTreeMap::new());

    /// The counts kept under `label`.
    pub fn counts(label: &str) -> BTreeMap<String, u64> {
        let counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(label).cloned().unwrap_or_default()
    }

    pub fn plugin() -> PluginDescriptor {
        PluginDescriptor::sink::<KeyCountSinkConnector>(CLASS)
    }

    #[derive(Debug, Clone)]
    pub struct KeyCountConfig {
        label: String,
        prefix: String,
    }

    impl Config for KeyCountConfig {
        fn read(c: &mut ConfigReader<'_>) -> Self {
            Self {
                label: c.string(
                    ConfigKey::new("count.label", ConfigType::String)
                        .validator(Validator::NonEmptyString)
                        .importance(Importance::High)
                        .doc("The name the counts are kept under."),
                ),
                prefix: c.string(
                    ConfigKey::new("count.prefix", ConfigType::String)
                        .default_value("key:")
                        .doc("Put before each key in the counts."),
                ),
            }
        }
    }

    pub struct KeyCountSinkConnector;

    #[async_trait]
    impl Connector for KeyCountSinkConnector {
        type Config = KeyCountConfig;
        const VERSION: &'static str = env!("CARGO_PKG_VERSION");

        async fn start(_: KeyCountConfig, _: ConnectorContext) -> Result<Self, ConnectError> {
            Ok(Self)
        }

        fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
            // Nothing differs between tasks: the worker deals the partitions.
            Ok(vec![Props::new(); max_tasks])
        }
    }

    impl SinkConnector for KeyCountSinkConnector {
        type Task = KeyCountTask;
    }

    pub struct KeyCountTask {
        config: KeyCountConfig,
        records: Counter,
    }

    #[async_trait]
    impl SinkTask for KeyCountTask {
        type Config = KeyCountConfig;

        async fn start(
            config: KeyCountConfig,
            ctx: Arc<dyn SinkTaskContext>,
        ) -> Result<Self, ConnectError> {
            let records = ctx.counter(
                "key_count_records_total",
                "Records counted by KeyCountSink tasks.",
            );
            Ok(Self { config, records })
        }

        async fn put(&mut self, records: &[SinkRecord]) -> Result<(), ConnectError> {
            let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
            let table = counts.entry(self.config.label.clone()).or_default();
            for record in records {
                // A record without a key counts under `null` (Value's Display).
                *table
                    .entry(format!("{}{}", self.config.prefix, record.key))
                    .or_default() += 1;
            }
            self.records.inc_by(records.len() as u64);
            Ok(())
        }
    }
}

use key_count::KeyCountTask;

mod unit {
    use std::collections::BTreeMap;

    use connect_core::config::props;
    use connect_core::connector::{SinkTask, TaskIdentity};
    use connect_core::data::Value;
    use connect_core::record::{ConnectRecord, SinkRecord};
    use connect_core::testing::{self, TestSinkContext};
    use connect_e2e::unique_name;

    use super::key_count::{self, KeyCountConfig, KeyCountTask};

    fn record(offset: i64, key: Value) -> SinkRecord {
        let mut r = ConnectRecord::new("users", "v");
        r.key = key;
        SinkRecord::new("users".into(), 0, offset, r)
    }

    #[tokio::test]
    async fn counts_records_per_key_under_the_default_prefix() {
        let label = unique_name("unit-counts");
        let ctx = TestSinkContext::for_task(TaskIdentity::new("counter", 1, 2));
        let mut task: KeyCountTask =
            testing::start_sink_task(&props(&[("count.label", &label)]), &ctx)
                .await
                .unwrap();
        task.put(&[
            record(0, Value::from("a")),
            record(1, Value::from("b")),
            record(2, Value::from("a")),
            record(3, Value::Null),
        ])
        .await
        .unwrap();
        assert_eq!(
            key_count::counts(&label),
            BTreeMap::from([
                ("key:a".to_owned(), 2),
                ("key:b".to_owned(), 1),
                ("key:null".to_owned(), 1),
            ])
        );
        assert_eq!(ctx.counter_value("key_count_records_total"), Some(4));
    }

    #[tokio::test]
    async fn a_given_prefix_is_used_and_a_missing_label_is_refused() {
        let label = unique_name("unit-prefix");
        let ctx = TestSinkContext::new();
        let given = props(&[("count.label", &label), ("count.prefix", "user/")]);
        let mut task: KeyCountTask = testing::start_sink_task(&given, &ctx).await.unwrap();
        task.put(&[record(0, Value::from("ann"))]).await.unwrap();
        assert_eq!(
            key_count::counts(&label),
            BTreeMap::from([("user/ann".to_owned(), 1)])
        );

        let err = testing::start_sink_task::<KeyCountTask>(&props(&[]), &ctx)
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "Missing required configuration \"count.label\" which has no default value."
        );
    }

    #[test]
    fn served_defaults_are_the_ones_used() {
        let required = props(&[("count.label", "x")]);
        testing::check_defaults::<KeyCountConfig>(&key_count::plugin().config_def, &required)
            .unwrap();
    }
}

/// Runs curl; the status code and the body: JSON, `null` when empty, or a JSON string when
/// it is not JSON (`/metrics`).
async fn curl(method: &str, url: String, body: Option<Json>) -> (u16, Json) {
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new("curl");
        command.args([
            "-s",
            "--max-time",
            "30",
            "-X",
            &method,
            "-w",
            "\n%{http_code}",
        ]);
        if let Some(body) = body {
            command.args([
                "-H",
                "Content-Type: application/json",
                "-d",
                &body.to_string(),
            ]);
        }
        let out = command.arg(&url).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        let code = code
            .parse()
            .unwrap_or_else(|_| panic!("{method} {url}: no answer: {text:?}"));
        let body = if body.trim().is_empty() {
            Json::Null
        } else {
            serde_json::from_str(body).unwrap_or(Json::String(body.to_owned()))
        };
        (code, body)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_count_sink_counts_every_record_in_a_real_worker() {
    let services = Services::get();
    let kafka = services.kafka().await.unwrap();
    let topic = unique_name("key-count");
    services.create_topic(&kafka, &topic, 2).await.unwrap();
    // 30 keyed records over both partitions (10 of each key), and one without a key.
    let mut records: Vec<connect_e2e::PlainRecord> = (0..30)
        .map(|i| {
            let key = format!("k{}", i % 3);
            (
                i % 2,
                Some(key.into_bytes()),
                Some(format!("v{i}").into_bytes()),
            )
        })
        .collect();
    records.push((0, None, Some(b"unkeyed".to_vec())));
    services.produce(&kafka, &topic, records).await.unwrap();

    // A worker with KeyCountSink and no other connector.
    let builder = Worker::builder().plugin(key_count::plugin());
    let worker =
        InProcessWorker::start(&services, builder, &[("offset.flush.interval.ms", "500")]).await;
    let url = worker.url.clone();
    let name = unique_name("key-counter");
    let label = unique_name("e2e-counts");
    let string = "org.apache.kafka.connect.storage.StringConverter";
    let (code, created) = curl(
        "POST",
        format!("{url}/connectors"),
        Some(json!({"name": name, "config": {
            "connector.class": "KeyCountSink",
            "topics": topic,
            "tasks.max": "2",
            "count.label": label,
            "key.converter": string,
            "value.converter": string,
        }})),
    )
    .await;
    assert_eq!(code, 201, "{created}");

    let expected: BTreeMap<String, u64> = [
        ("key:k0", 10),
        ("key:k1", 10),
        ("key:k2", 10),
        ("key:null", 1),
    ]
    .map(|(k, n)| (k.to_owned(), n))
    .into();
    let deadline = Instant::now() + Duration::from_secs(60);
    while key_count::counts(&label) != expected {
        assert!(
            Instant::now() < deadline,
            "counts after 60 s: {:?}",
            key_count::counts(&label)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each task's configuration: the worker's task.class, then the connector's keys.
    let (code, tasks) = curl("GET", format!("{url}/connectors/{name}/tasks"), None).await;
    assert_eq!(code, 200, "{tasks}");
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    for (i, task) in tasks.iter().enumerate() {
        assert_eq!(task["id"], json!({"connector": name, "task": i}));
        assert_eq!(
            task["config"]["task.class"],
            "sdk_guide_connector::key_count::KeyCountTask"
        );
        assert_eq!(
            task["config"]["task.class"],
            std::any::type_name::<KeyCountTask>()
        );
        assert_eq!(task["config"]["count.label"], label.as_str());
    }

    // The tasks' own counter, labelled with the connector and each task's number.
    let (code, text) = curl("GET", format!("{url}/metrics"), None).await;
    assert_eq!(code, 200);
    let scrape = Scrape::parse(text.as_str().unwrap());
    let counted: Vec<f64> = ["0", "1"]
        .iter()
        .map(|task| {
            scrape
                .get(
                    "key_count_records_total",
                    &[("connector", &name), ("task", task)],
                )
                .unwrap_or_else(|| panic!("no series for task {task}"))
        })
        .collect();
    assert_eq!(counted.iter().sum::<f64>(), 31.0, "{counted:?}");

    worker.stop().await;
}
