//! A redis-server of a test's own, with append-only persistence, that the test can stop and
//! start again on the same port (the shared one from `scripts/services.sh` must stay up for
//! the other tests).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A private redis-server; killed when dropped.
#[derive(Debug)]
pub struct PrivateRedis {
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    extra: Vec<String>,
    /// The ACL user and password redis-cli logs in with, when the default user is off.
    login: Option<(String, String)>,
    /// With TLS only: the CA file and a client certificate and key redis-cli presents.
    tls: Option<TlsFiles>,
    child: Option<Child>,
}

/// The PEM files of a TLS server and of the client redis-cli plays.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl PrivateRedis {
    /// Starts redis-server (from `PATH`, installed by `scripts/install-deps.sh`) with its data
    /// in `dir` (append-only file, fsync every write) and `extra` arguments
    /// (e.g. `["--loadmodule", path]`).
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let mut redis = Self {
            dir: dir.to_owned(),
            port: free_port(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            login: None,
            tls: None,
            child: None,
        };
        redis.spawn();
        redis
    }

    /// A server that speaks TLS only (no plain port), requires client certificates signed by
    /// `files.ca`, and whose only user is `user`/`password` with every right.
    pub fn start_tls(dir: &Path, files: TlsFiles, user: &str, password: &str) -> Self {
        let mut redis = Self::start_with_acl(dir, user, password, &["~*", "+@all"]);
        redis.stop();
        redis.tls = Some(files);
        redis.spawn();
        redis
    }

    /// A server whose only user is `user` with `password` and the ACL `rules` (e.g.
    /// `["~*", "+@all"]`); the default user is off. redis-cli logs in as `admin` (all
    /// rights, password `admin-password`) to check what was written.
    pub fn start_with_acl(dir: &Path, user: &str, password: &str, rules: &[&str]) -> Self {
        let mut extra = vec![
            "--user".to_owned(),
            "default".to_owned(),
            "off".to_owned(),
            "--user".to_owned(),
            "admin".to_owned(),
            "on".to_owned(),
            ">admin-password".to_owned(),
            "~*".to_owned(),
            "&*".to_owned(),
            "+@all".to_owned(),
            "--user".to_owned(),
            user.to_owned(),
            "on".to_owned(),
            format!(">{password}"),
        ];
        extra.extend(rules.iter().map(|r| r.to_string()));
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let mut redis = Self {
            dir: dir.to_owned(),
            port: free_port(),
            extra,
            login: Some(("admin".into(), "admin-password".into())),
            tls: None,
            child: None,
        };
        redis.spawn();
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let ports: Vec<String> = match &self.tls {
            None => vec!["--port".into(), port],
            Some(tls) => vec![
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                port,
                "--tls-cert-file".into(),
                tls.server_cert.display().to_string(),
                "--tls-key-file".into(),
                tls.server_key.display().to_string(),
                "--tls-ca-cert-file".into(),
                tls.ca.display().to_string(),
                "--tls-auth-clients".into(),
                "yes".into(),
            ],
        };
        let child = Command::new("redis-server")
            .args(&ports)
            .args(["--bind", "127.0.0.1"])
            .args(["--dir", &self.dir.to_string_lossy()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--daemonize", "no", "--logfile", "redis.log"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server (run scripts/install-deps.sh): {e}")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.ping() {
            assert!(
                Instant::now() < deadline,
                "the private redis-server on port {} never answered",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn login_args(&self) -> Vec<String> {
        let mut args = match &self.login {
            Some((user, password)) => vec![
                "--user".into(),
                user.clone(),
                "--pass".into(),
                password.clone(),
                "--no-auth-warning".into(),
            ],
            None => Vec::new(),
        };
        if let Some(tls) = &self.tls {
            args.extend([
                "--tls".into(),
                "--cacert".into(),
                tls.ca.display().to_string(),
                "--cert".into(),
                tls.client_cert.display().to_string(),
                "--key".into(),
                tls.client_key.display().to_string(),
            ]);
        }
        args
    }

    fn ping(&self) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(self.login_args())
            .arg("PING")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
            .unwrap_or(false)
    }

    /// Stops the server the way an operator does (SIGTERM: it finishes the append-only file).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn start_again(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Three masters on loopback, their slots spread by `redis-cli --cluster create`, ready
    /// (`cluster_state:ok`).
    pub fn start_cluster(prefix: &str) -> Vec<PrivateRedis> {
        let nodes: Vec<PrivateRedis> = (0..3)
            .map(|i| {
                PrivateRedis::start(
                    &crate::temp_dir(&format!("{prefix}-node{i}")),
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                    ],
                )
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli --cluster create: {e}"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        crate::wait_until("the cluster to be ok", Duration::from_secs(30), || {
            nodes
                .iter()
                .all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        });
        nodes
    }

    /// redis-cli following a cluster's redirections (`-c`); the output, trimmed.
    pub fn cluster_cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-c", "-p", &self.port.to_string()])
            .args(self.login_args())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli: {e}"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Runs redis-cli against it; the output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(self.login_args())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli: {e}"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
