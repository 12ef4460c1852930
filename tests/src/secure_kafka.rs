//! Kafka-compatible brokers of a test's own that require TLS and/or SASL, started and stopped
//! by `scripts/secure-kafka.sh` (run `scripts/secure-kafka.sh install` once per machine):
//!
//! - SSL: tansu behind stunnel, which terminates TLS with a certificate of the test's CA;
//! - SASL_PLAINTEXT: tansu with `--authentication` (SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512);
//! - SASL_SSL: a second such tansu behind stunnel.
//!
//! The user `connect` / `connect-secret` exists for SCRAM-SHA-256 and SCRAM-SHA-512. tansu's
//! PLAIN lets in any user name with any password (tansu 0.6.0 never compares it): only the
//! SCRAM mechanisms check credentials, so a wrong-password test must use SCRAM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{
    consumed_records, group_offsets_args, parse_tool_json, run_tool, ConsumedRecord, GroupOffsets,
    HarnessError, TestCa,
};

/// The user that exists on the SASL brokers.
pub const SASL_USER: &str = "connect";
/// Its password.
pub const SASL_PASSWORD: &str = "connect-secret";

/// A Kafka `security.protocol` the secure brokers offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// The name as in `security.protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the protocol is TLS underneath.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
}

/// The credentials a client presents with SASL: mechanism (`PLAIN`, `SCRAM-SHA-256`,
/// `SCRAM-SHA-512`), user, password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslLogin {
    pub mechanism: String,
    pub user: String,
    pub password: String,
}

impl SaslLogin {
    /// `mechanism` with the user that exists ([`SASL_USER`], [`SASL_PASSWORD`]).
    pub fn valid(mechanism: &str) -> Self {
        Self::new(mechanism, SASL_USER, SASL_PASSWORD)
    }

    pub fn new(mechanism: &str, user: &str, password: &str) -> Self {
        Self {
            mechanism: mechanism.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
        }
    }
}

/// The three secure brokers; stopped when dropped.
#[derive(Debug)]
pub struct SecureKafka {
    dir: PathBuf,
    script: PathBuf,
    ssl_bootstrap: String,
    sasl_plaintext_bootstrap: String,
    sasl_ssl_bootstrap: String,
    ca_file: PathBuf,
    /// The SASL mechanisms the brokers accept (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub mechanisms: Vec<String>,
    /// The virtualenv's Python, which has kafka-python.
    pub kafka_python: PathBuf,
    /// `tests/py/secure_kafka_client.py`.
    pub client: PathBuf,
    stopped: bool,
}

impl SecureKafka {
    /// Makes a test CA and a broker certificate (localhost, 127.0.0.1) in `dir` with
    /// [`TestCa`], starts the brokers with their files and logs in `dir`, and returns once each
    /// answers kafka-python. Panics, with the script's error, when they cannot start.
    pub fn start(dir: &Path) -> Self {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let ca = TestCa::new(dir);
        ca.issue("broker", &["localhost", "127.0.0.1"]);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/secure-kafka.sh");
        let out = run_tool(Command::new("bash").arg(&script).arg("start").arg(dir))
            .unwrap_or_else(|e| {
                panic!("{e}\n(scripts/secure-kafka.sh install installs stunnel and the SASL build of tansu)")
            });
        let vars: BTreeMap<&str, &str> = out
            .lines()
            .filter_map(|line| line.split_once('='))
            .collect();
        let get = |key: &str| -> String {
            match vars.get(key) {
                Some(value) => (*value).to_owned(),
                None => panic!("scripts/secure-kafka.sh start printed no {key}: {out}"),
            }
        };
        Self {
            dir: dir.to_owned(),
            script,
            ssl_bootstrap: get("SSL_BOOTSTRAP"),
            sasl_plaintext_bootstrap: get("SASL_PLAINTEXT_BOOTSTRAP"),
            sasl_ssl_bootstrap: get("SASL_SSL_BOOTSTRAP"),
            ca_file: get("CA_FILE").into(),
            mechanisms: get("SASL_MECHANISMS")
                .split(',')
                .map(str::to_owned)
                .collect(),
            kafka_python: get("KAFKA_PYTHON").into(),
            client: get("SECURE_KAFKA_CLIENT").into(),
            stopped: false,
        }
    }

    /// `host:port` of the broker that speaks `protocol`.
    pub fn bootstrap(&self, protocol: SecurityProtocol) -> &str {
        match protocol {
            SecurityProtocol::Ssl => &self.ssl_bootstrap,
            SecurityProtocol::SaslPlaintext => &self.sasl_plaintext_bootstrap,
            SecurityProtocol::SaslSsl => &self.sasl_ssl_bootstrap,
        }
    }

    /// The PEM file of the CA that signed the brokers' certificate (`ssl.truststore.location`
    /// with `ssl.truststore.type=PEM`).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The directory of the brokers' files and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Worker properties for a client of the broker that speaks `protocol`:
    /// `bootstrap.servers`, `security.protocol`, and the TLS and SASL settings.
    pub fn client_properties(
        &self,
        protocol: SecurityProtocol,
        login: Option<&SaslLogin>,
    ) -> Vec<(String, String)> {
        let mut props = vec![
            (
                "bootstrap.servers".to_owned(),
                self.bootstrap(protocol).to_owned(),
            ),
            ("security.protocol".to_owned(), protocol.as_str().to_owned()),
        ];
        if protocol.is_tls() {
            props.push(("ssl.truststore.type".into(), "PEM".into()));
            props.push((
                "ssl.truststore.location".into(),
                self.ca_file.display().to_string(),
            ));
        }
        if let Some(login) = login {
            let module = if login.mechanism == "PLAIN" {
                "org.apache.kafka.common.security.plain.PlainLoginModule"
            } else {
                "org.apache.kafka.common.security.scram.ScramLoginModule"
            };
            props.push(("sasl.mechanism".into(), login.mechanism.clone()));
            props.push((
                "sasl.jaas.config".into(),
                format!(
                    "{module} required username=\"{}\" password=\"{}\";",
                    login.user, login.password
                ),
            ));
        }
        props
    }

    /// `tests/py/secure_kafka_client.py COMMAND` with the options of `protocol`.
    fn client_command(
        &self,
        command: &str,
        protocol: SecurityProtocol,
        login: Option<&SaslLogin>,
        tls: bool,
    ) -> Command {
        self.python_command(&self.client, command, protocol, login, tls)
    }

    /// `script COMMAND` (a tool taking kafka_tool.py's security options) for `protocol`.
    fn python_command(
        &self,
        script: &Path,
        command: &str,
        protocol: SecurityProtocol,
        login: Option<&SaslLogin>,
        tls: bool,
    ) -> Command {
        let mut cmd = Command::new(&self.kafka_python);
        cmd.arg(script)
            .arg(command)
            .args(["--bootstrap", self.bootstrap(protocol)]);
        let wire = match (login.is_some(), tls) {
            (false, false) => "PLAINTEXT",
            (false, true) => "SSL",
            (true, false) => "SASL_PLAINTEXT",
            (true, true) => "SASL_SSL",
        };
        cmd.args(["--security-protocol", wire]);
        if tls {
            cmd.arg("--cafile").arg(&self.ca_file);
        }
        if let Some(login) = login {
            cmd.args(["--mechanism", &login.mechanism])
                .args(["--user", &login.user])
                .args(["--password", &login.password]);
        }
        cmd
    }

    /// With kafka-python over `protocol` (TLS trusting the test CA, SASL with `login`): creates
    /// a topic, produces `count` records and reads them back. Returns the client's JSON
    /// summary (`{"topic","produced","consumed","values"}`).
    pub fn roundtrip_with_kafka_python(
        &self,
        protocol: SecurityProtocol,
        login: Option<&SaslLogin>,
        count: usize,
    ) -> Result<serde_json::Value, HarnessError> {
        let mut cmd = self.client_command("roundtrip", protocol, login, protocol.is_tls());
        cmd.args(["--count", &count.to_string()]);
        let out = run_tool(&mut cmd)?;
        serde_json::from_str(out.trim()).map_err(|e| HarnessError::Tool {
            program: "secure_kafka_client.py roundtrip".into(),
            detail: format!("unparsable output {out:?}: {e}"),
        })
    }

    /// With kafka-python over `protocol` (`tests/py/kafka_tool.py consume`): the first
    /// `count` records of every partition of `topic`, from the beginning. Fails when fewer
    /// arrive within 60 s.
    pub fn consume_with_kafka_python(
        &self,
        protocol: SecurityProtocol,
        login: Option<&SaslLogin>,
        topic: &str,
        count: usize,
    ) -> Result<Vec<ConsumedRecord>, HarnessError> {
        let tool = self.client.with_file_name("kafka_tool.py");
        let mut cmd = self.python_command(&tool, "consume", protocol, login, protocol.is_tls());
        cmd.args(["--topic", topic])
            .args(["--count", &count.to_string()])
            .args(["--timeout", "60"]);
        consumed_records(&run_tool(&mut cmd)?)
    }

    /// The cluster id the broker of `protocol` reports to kafka-python
    /// (`tests/py/kafka_tool.py cluster-id`).
    pub fn cluster_id_with_kafka_python(
        &self,
        protocol: SecurityProtocol,
        login: Option<&SaslLogin>,
    ) -> Result<String, HarnessError> {
        let tool = self.client.with_file_name("kafka_tool.py");
        let mut cmd = self.python_command(&tool, "cluster-id", protocol, login, protocol.is_tls());
        cmd.args(["--timeout", "20"]);
        Ok(run_tool(&mut cmd)?.trim().to_owned())
    }

    /// `group`'s committed offsets of `partitions` of `topic`, read with kafka-python over
    /// `protocol` (`tests/py/kafka_tool.py group-offsets`).
    pub fn group_offsets_with_kafka_python(
        &self,
        protocol: SecurityProtocol,
        login: Option<&SaslLogin>,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<GroupOffsets, HarnessError> {
        let tool = self.client.with_file_name("kafka_tool.py");
        let mut cmd =
            self.python_command(&tool, "group-offsets", protocol, login, protocol.is_tls());
        cmd.args(group_offsets_args(group, topic, partitions));
        parse_tool_json("group-offsets", &run_tool(&mut cmd)?)
    }

    /// Whether the broker of `protocol` refuses kafka-python connecting with `login` (SASL
    /// when given) and `tls` (TLS trusting the test CA when true): `Ok(what kafka-python
    /// said)` when it was refused, `Err` when it got in (or the client could not run).
    pub fn refused_with_kafka_python(
        &self,
        protocol: SecurityProtocol,
        login: Option<&SaslLogin>,
        tls: bool,
    ) -> Result<String, HarnessError> {
        let mut cmd = self.client_command("refused", protocol, login, tls);
        cmd.args(["--timeout", "3"]);
        run_tool(&mut cmd)
    }

    /// Stops the brokers and the TLS terminators (only the processes `start` started).
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

impl Drop for SecureKafka {
    fn drop(&mut self) {
        self.stop();
    }
}
