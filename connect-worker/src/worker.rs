//! The worker as a library: `Worker::builder().plugin(..).build()` lets a binary of one's own
//! run the worker with the connectors it registers (its own, and the built-in ones from
//! `crate::builtin_connectors` if it enables the `builtin-connectors` feature).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use connect_core::config::{ConfigErrors, Props};
use connect_core::plugin::{PluginDescriptor, Plugins};

use crate::config::WorkerConfig;
use crate::herder::{Herder, HerderError};
use crate::kafka::{Kafka, KafkaConfig, KafkaError, Producer, ProducerConfig};
use crate::store::{FileConfigStore, FileOffsetStore, StoreError, TargetState};

/// Why the worker could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    #[error("invalid worker configuration:\n{0}")]
    Config(ConfigErrors),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("connector {name}: {source}")]
    Connector { name: String, source: HerderError },
    /// Distributed mode could not start (an internal topic, the cluster's state).
    #[error("{0}")]
    Cluster(String),
}

/// Assembles a worker.
#[derive(Debug)]
pub struct WorkerBuilder {
    plugins: Plugins,
    config: Option<WorkerConfig>,
}

impl WorkerBuilder {
    /// Adds a plugin (e.g. a connector of your own crate).
    pub fn plugin(mut self, plugin: PluginDescriptor) -> Self {
        self.plugins.add(plugin);
        self
    }

    /// Adds several plugins.
    pub fn plugins(mut self, plugins: impl IntoIterator<Item = PluginDescriptor>) -> Self {
        for p in plugins {
            self.plugins.add(p);
        }
        self
    }

    /// Sets the worker configuration.
    pub fn config(mut self, config: WorkerConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Connects to Kafka, opens the stores and brings back the stored connectors.
    pub async fn build(self) -> Result<Worker, WorkerError> {
        let config = match self.config {
            Some(c) => c,
            None => {
                let mut errors = ConfigErrors::default();
                errors.add(
                    "offset.storage.file.filename",
                    "no worker configuration was given",
                );
                return Err(WorkerError::Config(errors));
            }
        };
        if let Some(distributed) = config.distributed.clone() {
            let herder =
                crate::distributed::start::herder(self.plugins, &config, distributed).await?;
            return Ok(Worker { config, herder });
        }
        // The state files first: a second worker on them stops here, before it reads them or
        // waits for Kafka.
        let holder = format!("listeners {}", config.listeners.join(", "));
        let offsets = Arc::new(FileOffsetStore::open(&config.offsets_file, &holder)?);
        let configs = Arc::new(FileConfigStore::open(&config.configs_file, &holder)?);
        let kafka = Kafka::connect(kafka_config(&config)).await?;
        kafka.look_up_cluster_id().await;
        let producer = Arc::new(Producer::new(kafka.clone(), producer_config(&config)));
        let worker_id = worker_id(&config);
        let herder = Herder::new(
            Arc::new(self.plugins),
            Arc::new(config.clone()),
            kafka,
            producer,
            offsets,
            configs,
            worker_id,
        );
        herder.restore().await;
        Ok(Worker { config, herder })
    }
}

/// The settings of the worker's own Kafka connection.
pub(crate) fn kafka_config(config: &WorkerConfig) -> KafkaConfig {
    KafkaConfig {
        bootstrap_servers: config.bootstrap_servers.clone(),
        client_id: config.client_id.clone(),
        request_timeout: config.request_timeout,
        security: config.kafka_security.clone(),
    }
}

/// The settings of the producers source tasks and dead-letter queues write with.
pub(crate) fn producer_config(config: &WorkerConfig) -> ProducerConfig {
    ProducerConfig {
        compression: crate::kafka::producer::compression(
            config
                .props
                .get("producer.compression.type")
                .map(String::as_str),
        ),
        request_timeout: config.request_timeout,
        ..ProducerConfig::default()
    }
}

/// `host:port` of the first listener, as status responses show it.
fn worker_id(config: &WorkerConfig) -> String {
    let listener = config
        .listeners
        .first()
        .map(String::as_str)
        .unwrap_or("0.0.0.0:8083");
    match listener.rsplit_once(':') {
        Some(("0.0.0.0" | "" | "[::]", port)) => format!("localhost:{port}"),
        _ => listener.to_owned(),
    }
}

/// A running worker: its herder and REST API.
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    herder: Herder,
}

impl Worker {
    /// A builder with Kafka's converters, transforms and predicates (connect-core's) and no
    /// connector: add them with `plugin` / `plugins`.
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder {
            plugins: connect_core::builtin_plugins(),
            config: None,
        }
    }

    /// The herder, to manage connectors from code.
    pub fn herder(&self) -> &Herder {
        &self.herder
    }

    /// Creates or updates connectors given on the command line (as Kafka Connect standalone
    /// does with its connector files).
    pub async fn apply_connector_configs(&self, configs: Vec<Props>) -> Result<(), WorkerError> {
        for props in configs {
            let name = props.get("name").cloned().unwrap_or_default();
            match self.herder.put_config(&name, props).await {
                Ok((created, _)) => {
                    tracing::info!(connector = %name, created, "connector configured from the command line")
                }
                Err(source) => return Err(WorkerError::Connector { name, source }),
            }
        }
        Ok(())
    }

    /// Binds the REST listeners, serves until `shutdown` completes, then stops every connector
    /// (tasks finish in-flight work and store their offsets).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WorkerError> {
        let address = self
            .config
            .listeners
            .first()
            .cloned()
            .unwrap_or_else(|| "0.0.0.0:8083".into());
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|source| WorkerError::Listen {
                address: address.clone(),
                source,
            })?;
        let local: Option<SocketAddr> = listener.local_addr().ok();
        tracing::info!(address = ?local, "REST API listening");
        let auth = crate::rest::auth::Authenticator::from_config(&self.config.props).map_err(
            |message| {
                let mut errors = ConfigErrors::default();
                errors.add("rest.auth.basic.file", message);
                WorkerError::Config(errors)
            },
        )?;
        if auth.is_none() {
            for address in self
                .config
                .listeners
                .iter()
                .chain(&self.config.metrics_listeners)
            {
                if !is_loopback(address) {
                    tracing::warn!(
                        address,
                        "THE REST API ON {address} IS OPEN TO ANYONE WHO CAN REACH IT: set rest.auth.basic.file or rest.auth.bearer.file, or listen on 127.0.0.1"
                    );
                }
            }
        }
        let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
        for address in &self.config.metrics_listeners {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| WorkerError::Listen {
                    address: address.clone(),
                    source,
                })?;
            tracing::info!(address = ?listener.local_addr().ok(), "metrics listening");
            let router = crate::rest::secured(
                crate::rest::metrics::router(self.herder.clone()),
                auth.clone(),
            );
            let mut stopped = metrics_stopped.clone();
            tokio::spawn(async move {
                let until = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(e) = crate::rest::serve(listener, router, until).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        let router = crate::console::beside(
            crate::rest::secured(crate::rest::router(self.herder.clone()), auth),
            self.config.ui_enabled,
        );
        let served = if self.config.listener_https {
            let tls = crate::rest::tls::server_config(&self.config.props).map_err(|message| {
                let mut errors = ConfigErrors::default();
                errors.add("listeners", message);
                WorkerError::Config(errors)
            })?;
            let listener = crate::rest::tls::TlsListener::new(listener, tls).map_err(|source| {
                WorkerError::Listen {
                    address: address.clone(),
                    source,
                }
            })?;
            crate::rest::serve(listener, router, shutdown).await
        } else {
            crate::rest::serve(listener, router, shutdown).await
        };
        let _ = stop_metrics.send(true);
        tracing::info!("shutting down: stopping connectors");
        self.herder.shutdown().await;
        served.map_err(|source| WorkerError::Listen { address, source })
    }
}

/// Whether a listener's `host:port` is reachable from this machine only.
fn is_loopback(address: &str) -> bool {
    let host = address
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(address)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The target state a connector starts in, from a request's `initial_state`.
pub fn initial_state(value: Option<&str>) -> Option<TargetState> {
    match value.map(str::to_ascii_uppercase).as_deref() {
        None | Some("RUNNING") => Some(TargetState::Started),
        Some("PAUSED") => Some(TargetState::Paused),
        Some("STOPPED") => Some(TargetState::Stopped),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_id_names_a_reachable_host() {
        let config = |listener: &str| {
            WorkerConfig::parse(
                Props::from([
                    ("offset.storage.file.filename".into(), "/tmp/o".into()),
                    ("listeners".into(), listener.into()),
                ]),
                [],
            )
            .unwrap()
        };
        assert_eq!(worker_id(&config("http://0.0.0.0:8083")), "localhost:8083");
        assert_eq!(
            worker_id(&config("http://127.0.0.1:9000")),
            "127.0.0.1:9000"
        );
    }
}
