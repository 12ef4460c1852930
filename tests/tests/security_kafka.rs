//! The worker talks to Kafka brokers that require TLS and SASL (issue 9): a worker whose
//! connection is SASL_SSL moves records from a file through Kafka into Redis; an SSL worker's
//! records are read back by kafka-python; connectors override the worker's credentials with
//! `producer.override.*` within the worker's override policy; wrong credentials and an
//! untrusted broker certificate are clear errors that never show the password.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use connect_e2e::secure_kafka::{SaslLogin, SecureKafka, SecurityProtocol, SASL_PASSWORD};
use connect_e2e::{temp_dir, unique_name, wait_until, ConsumedRecord, Services, WorkerProcess};
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

/// `client_properties` as the `extra` worker keys `WorkerProcess::start` takes.
fn worker_keys(props: &[(String, String)]) -> Vec<(&str, &str)> {
    props
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The values of records kafka-python read.
fn values(records: Vec<ConsumedRecord>) -> Vec<String> {
    records
        .into_iter()
        .map(|r| r.value.unwrap_or_default())
        .collect()
}

/// A FileStreamSource of `lines` numbered lines into `topic`, with extra keys.
fn file_source(dir: &Path, topic: &str, lines: usize, extra: &[(&str, &str)]) -> Json {
    let file = dir.join(format!("{topic}.txt"));
    let text: String = (0..lines).map(|i| format!("line-{i}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let mut config = json!({
        "connector.class": "FileStreamSource",
        "file": file.display().to_string(),
        "topic": topic,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    config
}

#[test]
fn a_sasl_ssl_worker_moves_records_from_a_file_through_kafka_into_redis() {
    let services = Services::get();
    let dir = temp_dir("kafka-sasl-ssl");
    let kafka = SecureKafka::start(&dir.join("brokers"));
    let login = SaslLogin::valid("SCRAM-SHA-512");
    let props = kafka.client_properties(SecurityProtocol::SaslSsl, Some(&login));
    let worker = WorkerProcess::start(WORKER, &services, &dir.join("worker"), &worker_keys(&props));

    let topic = unique_name("sasl-ssl");
    let source = unique_name("sasl-ssl-source");
    worker.create_connector(&source, &file_source(&dir, &topic, 500, &[]));
    let sink = unique_name("sasl-ssl-sink");
    let prefix = unique_name("sasl-ssl-line");
    worker.create_connector(
        &sink,
        &json!({
            "connector.class": "RedisSink",
            "topics": topic,
            "redis.uri": format!("redis://{}:{}", services.redis_host, services.redis_port),
            "redis.type": "STRING",
            "redis.key.template": format!("{prefix}:${{offset}}"),
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        }),
    );
    worker.wait_for_tasks(&source, 1, "RUNNING", Duration::from_secs(30));
    worker.wait_for_tasks(&sink, 1, "RUNNING", Duration::from_secs(30));
    let expected: Vec<String> = (0..500).map(|i| format!("line-{i}")).collect();
    let keys: Vec<String> = (0..500).map(|i| format!("{prefix}:{i}")).collect();
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    wait_until("500 lines in Redis", Duration::from_secs(60), || {
        services
            .redis_cli(&mget)
            .unwrap_or_default()
            .lines()
            .collect::<Vec<_>>()
            == expected
    });

    // kafka-python, over SASL_SSL too, finds the records the source wrote.
    let values = values(
        kafka
            .consume_with_kafka_python(SecurityProtocol::SaslSsl, Some(&login), &topic, 500)
            .unwrap(),
    );
    assert_eq!(values, expected);

    // GET / shows no cluster id: the worker does not look it up over SASL (docs/rest.md).
    assert_eq!(
        worker.call("GET", "/", None, 200)["kafka_cluster_id"],
        "unknown"
    );

    // The password is in no log line and no REST response.
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(!log.contains(SASL_PASSWORD));
    for path in ["/connectors?expand=status&expand=info", "/metrics"] {
        let (code, body) = worker.request("GET", path, None).unwrap();
        assert_eq!(code, 200);
        assert!(!body.contains(SASL_PASSWORD), "{path}: {body}");
    }
}

#[test]
fn an_ssl_worker_writes_records_kafka_python_reads_over_tls() {
    let services = Services::get();
    let dir = temp_dir("kafka-ssl");
    let kafka = SecureKafka::start(&dir.join("brokers"));
    let props = kafka.client_properties(SecurityProtocol::Ssl, None);
    let worker = WorkerProcess::start(WORKER, &services, &dir.join("worker"), &worker_keys(&props));
    let topic = unique_name("ssl");
    let source = unique_name("ssl-source");
    worker.create_connector(&source, &file_source(&dir, &topic, 200, &[]));
    worker.wait_for_tasks(&source, 1, "RUNNING", Duration::from_secs(30));
    let values = values(
        kafka
            .consume_with_kafka_python(SecurityProtocol::Ssl, None, &topic, 200)
            .unwrap(),
    );
    let expected: Vec<String> = (0..200).map(|i| format!("line-{i}")).collect();
    assert_eq!(values, expected);

    // GET / shows the cluster id, looked up over TLS, as kafka-python reads it over TLS.
    let cluster_id = kafka
        .cluster_id_with_kafka_python(SecurityProtocol::Ssl, None)
        .unwrap();
    assert_eq!(
        worker.call("GET", "/", None, 200)["kafka_cluster_id"],
        cluster_id.as_str()
    );
}

#[test]
fn connectors_override_the_worker_credentials_within_the_policy() {
    let services = Services::get();
    let dir = temp_dir("kafka-overrides");
    let kafka = SecureKafka::start(&dir.join("brokers"));
    let scram = SaslLogin::valid("SCRAM-SHA-256");
    let props = kafka.client_properties(SecurityProtocol::SaslPlaintext, Some(&scram));
    let worker = WorkerProcess::start(WORKER, &services, &dir.join("worker"), &worker_keys(&props));

    // A source whose own SCRAM password is wrong: its task fails on its own connection, with
    // Kafka's SASL error and the user, never the password; the worker's connection is fine.
    let wrong = "Wr0ng-Passw0rd";
    let jaas = |module: &str, password: &str| {
        format!("org.apache.kafka.common.security.{module} required username=\"connect\" password=\"{password}\";")
    };
    let bad_topic = unique_name("override-bad");
    let bad = unique_name("override-bad");
    worker.create_connector(
        &bad,
        &file_source(
            &dir,
            &bad_topic,
            10,
            &[(
                "producer.override.sasl.jaas.config",
                &jaas("scram.ScramLoginModule", wrong),
            )],
        ),
    );
    // A source that logs in with PLAIN instead of the worker's SCRAM-SHA-256.
    let plain_topic = unique_name("override-plain");
    let plain = unique_name("override-plain");
    worker.create_connector(
        &plain,
        &file_source(
            &dir,
            &plain_topic,
            50,
            &[
                ("producer.override.sasl.mechanism", "PLAIN"),
                (
                    "producer.override.sasl.jaas.config",
                    &jaas("plain.PlainLoginModule", "any"),
                ),
            ],
        ),
    );
    worker.wait_for_tasks(&plain, 1, "RUNNING", Duration::from_secs(30));
    let values = values(
        kafka
            .consume_with_kafka_python(
                SecurityProtocol::SaslPlaintext,
                Some(&scram),
                &plain_topic,
                50,
            )
            .unwrap(),
    );
    assert_eq!(values.len(), 50);
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(
        log.contains("SASL_PLAINTEXT (PLAIN, user 'connect')"),
        "{log}"
    );

    worker.wait_for_tasks(&bad, 1, "FAILED", Duration::from_secs(90));
    let trace = worker.status(&bad)["tasks"][0]["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        trace.contains("SASL_PLAINTEXT (SCRAM-SHA-256, user 'connect')"),
        "{trace}"
    );
    assert!(trace.to_lowercase().contains("sasl"), "{trace}");
    assert!(!trace.contains(wrong), "{trace}");
    let config = worker.call("GET", &format!("/connectors/{bad}/config"), None, 200);
    assert_eq!(config["producer.override.sasl.jaas.config"], "[hidden]");
    let log = std::fs::read_to_string(worker.log_path()).unwrap();
    assert!(!log.contains(wrong));

    // A worker with the Principal policy: who the client is may change, nothing else.
    let strict = WorkerProcess::start(
        WORKER,
        &services,
        &dir.join("strict-worker"),
        &[("connector.client.config.override.policy", "Principal")],
    );
    let topic = unique_name("policy");
    let refused = file_source(&dir, &topic, 1, &[("producer.override.linger.ms", "5")]);
    let (code, body) = strict
        .request(
            "POST",
            "/connectors",
            Some(&json!({"name": unique_name("policy"), "config": refused})),
        )
        .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("The 'Principal' policy does not allow 'linger.ms' to be overridden in the connector configuration."), "{body}");
    let mut named = refused.clone();
    named["name"] = json!("policy-check");
    let validated = strict.call(
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(&named),
        200,
    );
    assert_eq!(validated["error_count"], 1, "{validated}");
    let entry = validated["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "producer.override.linger.ms")
        .unwrap_or_else(|| panic!("no entry for the refused key: {validated}"));
    assert_eq!(entry["value"]["errors"].as_array().unwrap().len(), 1);
    // The security keys are allowed under Principal.
    let allowed = file_source(
        &dir,
        &topic,
        1,
        &[("producer.override.security.protocol", "PLAINTEXT")],
    );
    let (code, body) = strict
        .request(
            "POST",
            "/connectors",
            Some(&json!({"name": unique_name("policy-ok"), "config": allowed})),
        )
        .unwrap();
    assert_eq!(code, 201, "{body}");
}

/// Runs the worker binary with `props` and waits (at most `limit`) for it to exit on its own.
fn worker_start_failure(dir: &Path, props: &[(String, String)], limit: Duration) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = format!(
        "offset.storage.file.filename={}\nlisteners=http://127.0.0.1:{}\nrequest.timeout.ms=3000\n",
        dir.join("offsets.json").display(),
        connect_e2e::free_port(),
    );
    for (k, v) in props {
        text.push_str(&format!("{k}={v}\n"));
    }
    let file = dir.join("worker.properties");
    std::fs::write(&file, text).unwrap();
    let mut child = Command::new(WORKER)
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "the worker started");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the worker neither started nor failed within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn wrong_credentials_and_untrusted_brokers_stop_the_worker_with_a_clear_error() {
    let dir = temp_dir("kafka-refused");
    let kafka = SecureKafka::start(&dir.join("brokers"));

    let wrong = SaslLogin::new("SCRAM-SHA-256", "connect", "Wr0ng-Passw0rd");
    let props = kafka.client_properties(SecurityProtocol::SaslSsl, Some(&wrong));
    let out = worker_start_failure(&dir.join("wrong-password"), &props, Duration::from_secs(60));
    assert!(
        out.contains("SASL_SSL (SCRAM-SHA-256, user 'connect')"),
        "{out}"
    );
    assert!(out.to_lowercase().contains("sasl"), "{out}");
    assert!(!out.contains("Wr0ng-Passw0rd"), "{out}");

    // TLS without the test CA: the system's authorities do not know the broker.
    let props: Vec<(String, String)> = kafka
        .client_properties(SecurityProtocol::Ssl, None)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("ssl.truststore"))
        .collect();
    let out = worker_start_failure(&dir.join("untrusted"), &props, Duration::from_secs(60));
    assert!(out.contains("security.protocol=SSL"), "{out}");
    assert!(
        out.contains("UnknownIssuer") || out.to_lowercase().contains("certificate"),
        "{out}"
    );

    // A Java trust store is refused before any connection, naming the key.
    let mut props = kafka.client_properties(SecurityProtocol::Ssl, None);
    props.push(("ssl.truststore.type".into(), "JKS".into()));
    let out = worker_start_failure(&dir.join("jks"), &props, Duration::from_secs(20));
    assert!(
        out.contains("ssl.truststore.type") && out.contains("only PEM"),
        "{out}"
    );
}
