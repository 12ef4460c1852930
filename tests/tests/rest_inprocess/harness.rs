//! The harness of the in-process REST tests: a router over a real herder on the real broker,
//! requests through `oneshot`, and a sink connector with a password key (none of the shipped
//! connectors has one).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use connect_core::config::{Config, ConfigKey, ConfigReader, ConfigType, Importance, Props};
use connect_core::connector::{
    Connector, ConnectorContext, SinkConnector, SinkTask, SinkTaskContext,
};
use connect_core::plugin::{PluginDescriptor, Plugins};
use connect_core::record::SinkRecord;
use connect_core::ConnectError;
use connect_e2e::{unique_name, Services};
use connect_worker::config::WorkerConfig;
use connect_worker::herder::Herder;
use connect_worker::kafka::{Kafka, KafkaConfig, Producer, ProducerConfig};
use connect_worker::store::{FileConfigStore, FileOffsetStore};

pub(crate) const WORKER_ID: &str = "rest-test:8083";
pub(crate) const SECRET_CLASS: &str = "org.example.SecretSinkConnector";

// ---------------------------------------------------------------------------------------
// A sink connector with a password key, defined here: none of the shipped ones has one.
// `fail.on.start=true` makes its tasks fail, for the restart tests.
// ---------------------------------------------------------------------------------------

/// The connector's keys: a password, a plain text, and the switch that fails its tasks.
#[derive(Debug)]
struct SecretConfig {
    fail_on_start: bool,
}

impl Config for SecretConfig {
    fn read(c: &mut ConfigReader<'_>) -> Self {
        c.optional_password(
            ConfigKey::new("secret.password", ConfigType::Password)
                .importance(Importance::High)
                .doc("A secret."),
        );
        c.string(
            ConfigKey::new("label", ConfigType::String)
                .default_value("")
                .doc("Not a secret."),
        );
        Self {
            fail_on_start: c.boolean(
                ConfigKey::new("fail.on.start", ConfigType::Boolean)
                    .default_value("false")
                    .doc("Make the tasks fail when they start."),
            ),
        }
    }
}

#[derive(Debug)]
struct SecretSink;

#[async_trait]
impl Connector for SecretSink {
    type Config = SecretConfig;
    const VERSION: &'static str = "9.9.9";

    async fn start(_: SecretConfig, _: ConnectorContext) -> Result<Self, ConnectError> {
        Ok(Self)
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>, ConnectError> {
        Ok(vec![Props::new(); max_tasks])
    }
}

impl SinkConnector for SecretSink {
    type Task = NoopTask;
}

#[derive(Debug)]
struct NoopTask;

#[async_trait]
impl SinkTask for NoopTask {
    type Config = SecretConfig;

    async fn start(
        config: SecretConfig,
        _ctx: Arc<dyn SinkTaskContext>,
    ) -> Result<Self, ConnectError> {
        if config.fail_on_start {
            return Err(ConnectError::fatal("told to fail on start"));
        }
        Ok(Self)
    }

    async fn put(&mut self, _records: &[SinkRecord]) -> Result<(), ConnectError> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A router over a fresh herder (its own stores) and a fresh topic of one partition.
pub(crate) struct App {
    pub(crate) router: Router,
    pub(crate) herder: Herder,
    pub(crate) topic: String,
    pub(crate) dir: PathBuf,
}

impl App {
    pub(crate) async fn new() -> Self {
        let services = Services::get();
        let dir = std::env::temp_dir().join(unique_name("rest-inprocess"));
        std::fs::create_dir_all(&dir).unwrap();
        let kafka = Kafka::connect(KafkaConfig {
            bootstrap_servers: vec![services.kafka_bootstrap.clone()],
            client_id: "rest-inprocess".into(),
            request_timeout: Duration::from_secs(20),
            security: Default::default(),
        })
        .await
        .unwrap();
        kafka.look_up_cluster_id().await;
        let topic = unique_name("rest-topic");
        kafka.create_topic(&topic, 1, 1).await.unwrap();
        let producer = Arc::new(Producer::new(kafka.clone(), ProducerConfig::default()));
        let offsets_file = dir.join("offsets.json");
        let worker = WorkerConfig::parse(
            [
                (
                    "offset.storage.file.filename",
                    offsets_file.to_str().unwrap(),
                ),
                ("bootstrap.servers", services.kafka_bootstrap.as_str()),
                ("offset.flush.interval.ms", "300"),
                ("task.shutdown.graceful.timeout.ms", "3000"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            [],
        )
        .unwrap();
        let mut plugins: Plugins = connect_core::builtin_plugins();
        for plugin in connect_file::plugins() {
            plugins.add(plugin);
        }
        plugins.add(PluginDescriptor::sink::<SecretSink>(SECRET_CLASS));
        let herder = Herder::new(
            Arc::new(plugins),
            Arc::new(worker),
            kafka,
            producer,
            Arc::new(FileOffsetStore::open(&offsets_file, "the in-process REST test").unwrap()),
            Arc::new(
                FileConfigStore::open(dir.join("configs.json"), "the in-process REST test")
                    .unwrap(),
            ),
            WORKER_ID.into(),
        );
        let router = connect_worker::rest::router(herder.clone());
        Self {
            router,
            herder,
            topic,
            dir,
        }
    }

    pub(crate) async fn send(&self, method: Method, uri: &str, body: Option<String>) -> Reply {
        self.send_as(method, uri, Some("application/json"), body)
            .await
    }

    /// [`App::send`] with this `Content-Type` (none with `None`).
    pub(crate) async fn send_as(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(body.map_or_else(Body::empty, Body::from))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            assert_eq!(
                headers.get(header::CONTENT_TYPE).unwrap(),
                "application/json",
                "{uri}"
            );
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None).await
    }

    pub(crate) async fn json(&self, method: Method, uri: &str, body: Value) -> Reply {
        self.send(method, uri, Some(body.to_string())).await
    }

    /// The config of a SecretSink connector reading the app's topic.
    pub(crate) fn sink_config(&self, extra: &[(&str, &str)]) -> Value {
        let mut config = json!({
            "connector.class": "SecretSink",
            "topics": self.topic,
            "secret.password": "hunter2",
            "label": "visible",
        });
        for (k, v) in extra {
            config[*k] = json!(v);
        }
        config
    }

    pub(crate) async fn create(&self, name: &str, extra: &[(&str, &str)]) -> Reply {
        let reply = self
            .json(
                Method::POST,
                "/connectors",
                json!({"name": name, "config": self.sink_config(extra)}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply
    }

    /// Polls the status until `check` holds (30 s at most) and returns it.
    pub(crate) async fn wait_status(&self, name: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let reply = self.get(&format!("/connectors/{name}/status")).await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            if check(&reply.body) {
                return reply.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name}: status never matched: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn shutdown(self) {
        self.herder.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    /// Asserts this is Kafka Connect's error body with this status and message.
    pub(crate) fn assert_error(&self, status: StatusCode, message: &str) {
        assert_eq!(
            (self.status, &self.body),
            (
                status,
                &json!({"error_code": status.as_u16(), "message": message})
            )
        );
    }

    pub(crate) fn assert_empty(&self, status: StatusCode) {
        assert_eq!((self.status, &self.body), (status, &Value::Null));
    }
}

pub(crate) fn states(status: &Value) -> (String, Vec<String>) {
    let connector = status["connector"]["state"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let tasks = status["tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .map(|t| t["state"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    (connector, tasks)
}

pub(crate) fn is(connector: &str, tasks: &[&str]) -> impl Fn(&Value) -> bool {
    let want = (
        connector.to_owned(),
        tasks.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
    );
    move |status| states(status) == want
}
