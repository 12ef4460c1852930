//! A worker running as a process of its own, driven over its REST API: the way users run it,
//! and the only way to kill it with SIGKILL mid-run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::{Scrape, Services};

/// A `connect-worker` process with its REST listener on a free loopback port. Killed when
/// dropped.
#[derive(Debug)]
pub struct WorkerProcess {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    https: bool,
    child: Option<Child>,
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl WorkerProcess {
    /// Starts `binary` (pass `env!("CARGO_BIN_EXE_e2e-worker")`) with a worker configuration
    /// in `dir` (offsets and connector configs kept there, so a restart finds them), plus
    /// `extra` worker keys. Waits until the REST API answers.
    pub fn start(binary: &str, services: &Services, dir: &Path, extra: &[(&str, &str)]) -> Self {
        Self::start_as(binary, services, dir, extra, false)
    }

    /// [`start`](Self::start) with an `https://` listener; `extra` must give its
    /// `listeners.https.ssl.*` keys. [`request`](Self::request) speaks plain HTTP, so talk to
    /// it with an HTTPS client (curl) at [`url`](Self::url).
    pub fn start_https(
        binary: &str,
        services: &Services,
        dir: &Path,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::start_as(binary, services, dir, extra, true)
    }

    fn start_as(
        binary: &str,
        services: &Services,
        dir: &Path,
        extra: &[(&str, &str)],
        https: bool,
    ) -> Self {
        let port = free_port();
        write_config(services, dir, port, https, extra);
        let mut worker = Self {
            binary: binary.into(),
            dir: dir.to_owned(),
            port,
            https,
            child: None,
        };
        worker.spawn();
        worker
    }

    /// Runs a worker that should exit by itself (one refused at start), configured as
    /// [`start`](Self::start) does, and waits up to `timeout` for it to exit; panics with its
    /// log if it still runs then. Its exit status, how long it ran, and its log
    /// (`dir/worker.log`).
    pub fn run_to_exit(
        binary: &str,
        services: &Services,
        dir: &Path,
        extra: &[(&str, &str)],
        timeout: Duration,
    ) -> (std::process::ExitStatus, Duration, String) {
        write_config(services, dir, free_port(), false, extra);
        let log_path = dir.join("worker.log");
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let started = Instant::now();
        let mut child = Command::new(binary)
            .arg(dir.join("worker.properties"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the worker still ran after {timeout:?}; its log:\n{}",
                        read_log()
                    );
                }
                Err(e) => panic!("cannot wait for the worker: {e}"),
            }
        };
        (status, started.elapsed(), read_log())
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot open the worker log: {e}"));
        let child = Command::new(&self.binary)
            .arg(self.dir.join("worker.properties"))
            .env(
                "RUST_LOG",
                std::env::var("WORKER_LOG").unwrap_or_else(|_| "info".into()),
            )
            // The worker decides about colour from its stderr alone (a file here), whatever
            // the environment the tests run in says.
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let up = |w: &Self| {
            if w.https {
                TcpStream::connect(("127.0.0.1", w.port)).is_ok()
            } else {
                w.request("GET", "/", None).is_ok()
            }
        };
        while !up(self) {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "the worker exited with {status}; its log:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the worker's REST API never answered; log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>` (`https://localhost:<port>` for an HTTPS worker, the name
    /// its certificate is for).
    pub fn url(&self) -> String {
        if self.https {
            format!("https://localhost:{}", self.port)
        } else {
            format!("http://127.0.0.1:{}", self.port)
        }
    }

    /// The worker's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The worker's log file (stdout and stderr of every run).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("worker.log")
    }

    /// The last 60 lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// SIGKILL: no shutdown, no last offset flush.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while !matches!(child.try_wait(), Ok(Some(_))) {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!(
                        "the worker did not stop within 30 s of SIGTERM; log:\n{}",
                        self.log_tail()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// SIGTERM, wait for a clean exit (as [`stop`](Self::stop)), then start the worker again on
    /// the same port with the same files: a rolling restart's step.
    pub fn restart_gracefully(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Starts the worker again on the same port with the same files.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// One HTTP/1.1 request; the status and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// A request that must succeed with `expected`; the body as JSON (`null` when empty).
    pub fn call(&self, method: &str, path: &str, body: Option<&Json>, expected: u16) -> Json {
        let (status, text) = self
            .request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}; log:\n{}", self.log_tail()));
        assert_eq!(
            status,
            expected,
            "{method} {path} answered {status}: {text}; log:\n{}",
            self.log_tail()
        );
        if text.trim().is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e} in {text}"))
        }
    }

    /// `POST /connectors` (201 expected).
    pub fn create_connector(&self, name: &str, config: &Json) -> Json {
        let body = serde_json::json!({ "name": name, "config": config });
        self.call("POST", "/connectors", Some(&body), 201)
    }

    /// `GET /metrics`, parsed.
    pub fn scrape(&self) -> Scrape {
        let (status, text) = self
            .request("GET", "/metrics", None)
            .unwrap_or_else(|e| panic!("GET /metrics: {e}; log:\n{}", self.log_tail()));
        assert_eq!(status, 200, "GET /metrics answered {status}: {text}");
        Scrape::parse(&text)
    }

    /// `GET /connectors/{name}/status`.
    pub fn status(&self, name: &str) -> Json {
        self.call("GET", &format!("/connectors/{name}/status"), None, 200)
    }

    /// Waits until the connector has `tasks` tasks, all in `state`; panics with the status and
    /// the log after `timeout`.
    pub fn wait_for_tasks(&self, name: &str, tasks: usize, state: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let (code, text) = self
                .request("GET", &format!("/connectors/{name}/status"), None)
                .unwrap_or((0, String::new()));
            if code == 200 {
                let status: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
                let states: Vec<&str> = status["tasks"]
                    .as_array()
                    .map(|t| t.iter().filter_map(|t| t["state"].as_str()).collect())
                    .unwrap_or_default();
                if states.len() == tasks && states.iter().all(|s| *s == state) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not get {tasks} {state} tasks in {timeout:?}: {text}; log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Writes `dir/worker.properties`: the broker, a listener on `port`, offsets and connector
/// configs in `dir`, a 1 s offset flush, then `extra` (which wins over the keys before it).
fn write_config(services: &Services, dir: &Path, port: u16, https: bool, extra: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let mut properties = format!(
        "bootstrap.servers={}\nlisteners={}://127.0.0.1:{port}\n\
         offset.storage.file.filename={}\nconfig.storage.file.filename={}\n\
         offset.flush.interval.ms=1000\ntask.shutdown.graceful.timeout.ms=5000\n",
        services.kafka_bootstrap,
        if https { "https" } else { "http" },
        dir.join("offsets.json").display(),
        dir.join("configs.json").display(),
    );
    for (k, v) in extra {
        properties.push_str(&format!("{k}={v}\n"));
    }
    let config = dir.join("worker.properties");
    std::fs::write(&config, properties)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
