//! A worker run inside the test process (its plugins chosen by the test), serving its REST API
//! on a free loopback port, over the test broker.

use std::time::{Duration, Instant};

use connect_core::config::Props;
use connect_worker::config::WorkerConfig;
use connect_worker::worker::WorkerBuilder;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{free_port, temp_dir, Services};

/// A worker running in this process; [`stop`](InProcessWorker::stop) shuts it down.
#[derive(Debug)]
pub struct InProcessWorker {
    /// The REST API's base URL (`http://127.0.0.1:<port>`).
    pub url: String,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

impl InProcessWorker {
    /// Builds `builder` with a configuration over the test broker (offsets in a new temporary
    /// directory) plus `extra` keys, runs it, and waits until its REST API listens (10 s at
    /// most).
    pub async fn start(
        services: &Services,
        builder: WorkerBuilder,
        extra: &[(&str, &str)],
    ) -> Self {
        let dir = temp_dir("in-process-worker");
        let port = free_port();
        let mut props: Props = connect_core::config::props(&[
            ("bootstrap.servers", &services.kafka_bootstrap),
            ("listeners", &format!("http://127.0.0.1:{port}")),
            (
                "offset.storage.file.filename",
                &dir.join("offsets.json").to_string_lossy(),
            ),
        ]);
        props.extend(connect_core::config::props(extra));
        let config = WorkerConfig::parse(props, [])
            .unwrap_or_else(|e| panic!("invalid worker configuration: {e}"));
        let worker = builder
            .config(config)
            .build()
            .await
            .unwrap_or_else(|e| panic!("the worker did not start: {e}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let run = worker.run(async {
                let _ = stopped.await;
            });
            if let Err(e) = run.await {
                panic!("the worker failed: {e}");
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the worker did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            url: format!("http://127.0.0.1:{port}"),
            stop,
            handle,
        }
    }

    /// Shuts the worker down and waits for it (30 s at most).
    pub async fn stop(self) {
        drop(self.stop);
        match tokio::time::timeout(Duration::from_secs(30), self.handle).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the worker's run ended badly: {e}"),
            Err(_) => panic!("the worker did not stop within 30 s"),
        }
    }
}
