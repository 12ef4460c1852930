//! Secrets: a Redis password given as `${file:...}` (a config provider) reaches the task and
//! nothing else: no REST response, log line, status trace or stored file holds it. And Redis
//! ACL users: one with write rights is used; one without gets a clear task error.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failure should panic

use std::time::Duration;

use connect_e2e::{
    free_port, temp_dir, unique_name, wait_until, PrivateRedis, Services, WorkerProcess,
};
use serde_json::{json, Value as Json};

const WORKER: &str = env!("CARGO_BIN_EXE_e2e-worker");

#[tokio::test(flavor = "multi_thread")]
async fn a_file_provided_redis_password_reaches_the_task_and_nothing_else() {
    let services = Services::get();
    let secret = format!("S3cr3t-{}", unique_name("pw"));
    let redis = PrivateRedis::start_with_acl(
        &temp_dir("secrets-redis"),
        "writer",
        &secret,
        &["~*", "+@all"],
    );
    let dir = temp_dir("secrets-worker");
    std::fs::create_dir_all(&dir).unwrap();
    let secrets = dir.join("redis-secrets.properties");
    std::fs::write(
        &secrets,
        format!("# mounted from a secret store\nredis.password={secret}\n"),
    )
    .unwrap();
    let worker = WorkerProcess::start(
        WORKER,
        &services,
        &dir,
        &[
            ("config.providers", "file"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
        ],
    );
    let kafka = services.kafka().await.unwrap();
    let topic = services
        .create_topic(&kafka, &unique_name("secrets"), 1)
        .await
        .unwrap();
    let variable = format!("${{file:{}:redis.password}}", secrets.display());
    let config = json!({
        "connector.class": "RedisSink",
        "topics": topic,
        "redis.uri": redis.url(),
        "redis.username": "writer",
        "redis.password": variable,
        "redis.type": "STRING",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    });
    let name = unique_name("secret-sink");
    worker.create_connector(&name, &config);
    // The secret in a URI, to a port where nothing listens: the task fails, and its trace
    // must not show the password either.
    let failing = unique_name("secret-failing");
    let mut bad = config.clone();
    bad["redis.uri"] = json!(format!(
        "redis://writer:{variable}@127.0.0.1:{}",
        free_port()
    ));
    bad["redis.timeout"] = json!("1");
    worker.create_connector(&failing, &bad);

    services
        .produce(
            &kafka,
            &topic,
            vec![(0, Some(b"k".to_vec()), Some(b"written".to_vec()))],
        )
        .await
        .unwrap();
    wait_until(
        "the record in Redis, written as the ACL user",
        Duration::from_secs(30),
        || redis.cli(&["GET", &format!("{topic}:k")]) == "written",
    );
    worker.wait_for_tasks(&failing, 1, "FAILED", Duration::from_secs(30));
    let trace = worker.status(&failing)["tasks"][0]["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        trace.contains("cannot connect to Redis at redis://writer:********@"),
        "{trace}"
    );

    // Everything a user or an operator can read.
    let mut seen: Vec<(String, String)> = Vec::new();
    for path in [
        "/connectors?expand=status&expand=info".to_owned(),
        format!("/connectors/{name}"),
        format!("/connectors/{name}/config"),
        format!("/connectors/{name}/tasks"),
        format!("/connectors/{name}/tasks-config"),
        format!("/connectors/{name}/status"),
        format!("/connectors/{failing}/status"),
        format!("/connectors/{failing}/tasks"),
        format!("/connectors/{name}/offsets"),
        "/metrics".to_owned(),
    ] {
        let (code, body) = worker.request("GET", &path, None).unwrap();
        assert_eq!(code, 200, "{path}: {body}");
        seen.push((path, body));
    }
    let mut named = config.clone();
    named["name"] = json!(name);
    let (code, body) = worker
        .request(
            "PUT",
            "/connector-plugins/RedisSinkConnector/config/validate",
            Some(&named),
        )
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let validated: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(validated["error_count"], 0, "{body}");
    seen.push(("validate".into(), body));
    seen.push((
        "worker log".into(),
        std::fs::read_to_string(worker.log_path()).unwrap(),
    ));
    for file in ["configs.json", "offsets.json"] {
        seen.push((
            file.into(),
            std::fs::read_to_string(dir.join(file)).unwrap_or_default(),
        ));
    }
    for (what, text) in &seen {
        assert!(!text.contains(&secret), "{what} shows the secret:\n{text}");
    }
    // The configuration is shown as written: the variable, not its value (a password-typed
    // key is hidden altogether).
    let stored = std::fs::read_to_string(dir.join("configs.json")).unwrap();
    assert!(
        stored.contains(&variable),
        "the config store lost the variable: {stored}"
    );
    let shown = worker.call("GET", &format!("/connectors/{name}/config"), None, 200);
    assert_eq!(shown["redis.password"], "[hidden]");
    let tasks = worker.call("GET", &format!("/connectors/{failing}/tasks"), None, 200);
    assert!(
        tasks[0]["config"]["redis.uri"]
            .as_str()
            .unwrap()
            .contains("${file:"),
        "{tasks}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acl_user_without_write_permission_gets_a_clear_task_error() {
    let services = Services::get();
    let redis = PrivateRedis::start_with_acl(
        &temp_dir("acl-redis"),
        "reader",
        "reader-password",
        &["~*", "+@read", "+@connection"],
    );
    let worker = WorkerProcess::start(WORKER, &services, &temp_dir("acl-worker"), &[]);
    let kafka = services.kafka().await.unwrap();
    let topic = services
        .create_topic(&kafka, &unique_name("acl"), 1)
        .await
        .unwrap();
    let name = unique_name("acl-sink");
    worker.create_connector(
        &name,
        &json!({
            "connector.class": "RedisSink",
            "topics": topic,
            "redis.uri": redis.url(),
            "redis.username": "reader",
            "redis.password": "reader-password",
            "redis.type": "STRING",
            "redis.exactly.once": "false",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        }),
    );
    services
        .produce(
            &kafka,
            &topic,
            vec![(0, Some(b"k".to_vec()), Some(b"v".to_vec()))],
        )
        .await
        .unwrap();
    worker.wait_for_tasks(&name, 1, "FAILED", Duration::from_secs(30));
    let trace = worker.status(&name)["tasks"][0]["trace"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        trace.contains("the Redis user lacks a permission"),
        "{trace}"
    );
    assert!(trace.contains("NOPERM"), "{trace}");
    assert!(!trace.contains("panicked"), "{trace}");
    assert_eq!(redis.cli(&["EXISTS", &format!("{topic}:k")]), "0");
}

/// The docs' own `redis://user:password@host` form: the password in `redis.uri` is masked
/// (`redis://user:********@host`) in every answer that echoes a configuration, in error bodies,
/// in status traces and in the worker's log; a PUT of the masked configuration back keeps the
/// real password, and the sink goes on writing with it.
#[tokio::test(flavor = "multi_thread")]
async fn a_password_in_redis_uri_is_masked_everywhere_and_kept_when_sent_back_masked() {
    let services = Services::get();
    let secret = format!("UriS3cr3t-{}", unique_name("pw"));
    let redis = PrivateRedis::start_with_acl(
        &temp_dir("uri-secret-redis"),
        "writer",
        &secret,
        &["~*", "+@all"],
    );
    let address = redis.url().replace("redis://", "");
    let uri = format!("redis://writer:{secret}@{address}");
    let shown = format!("redis://writer:********@{address}");
    let dir = temp_dir("uri-secret-worker");
    let worker = WorkerProcess::start(WORKER, &services, &dir, &[]);
    let kafka = services.kafka().await.unwrap();
    let topic = services
        .create_topic(&kafka, &unique_name("uri-secret"), 1)
        .await
        .unwrap();
    let config = json!({
        "connector.class": "RedisSink",
        "topics": topic,
        "redis.uri": uri,
        "redis.type": "STRING",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    });
    let name = unique_name("uri-secret-sink");
    // Every answer and file an operator can read, checked at the end.
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut send = |method: &str, path: &str, body: Option<&Json>, expected: u16| {
        let (code, text) = worker.request(method, path, body).unwrap();
        assert_eq!(code, expected, "{method} {path}: {text}");
        seen.push((format!("{method} {path}"), text.clone()));
        serde_json::from_str::<Json>(&text).unwrap_or(Json::Null)
    };

    let created = send(
        "POST",
        "/connectors",
        Some(&json!({"name": name, "config": config})),
        201,
    );
    assert_eq!(created["config"]["redis.uri"], json!(shown), "{created}");
    let produce = |key: &'static str| {
        let (services, kafka, topic) = (&services, &kafka, &topic);
        async move {
            services
                .produce(
                    kafka,
                    topic,
                    vec![(0, Some(key.as_bytes().to_vec()), Some(b"written".to_vec()))],
                )
                .await
                .unwrap();
        }
    };
    produce("before").await;
    wait_until(
        "the first record in Redis, written with the password from the URI",
        Duration::from_secs(30),
        || redis.cli(&["GET", &format!("{topic}:before")]) == "written",
    );

    // Every route that echoes a configuration, and the status ones.
    let mut echoed = Vec::new();
    for path in [
        format!("/connectors/{name}"),
        format!("/connectors/{name}/config"),
        format!("/connectors/{name}/tasks"),
        format!("/connectors/{name}/tasks-config"),
        "/connectors?expand=info".to_owned(),
        "/connectors?expand=status".to_owned(),
        "/connectors?expand=status&expand=info".to_owned(),
        format!("/connectors/{name}/status"),
    ] {
        echoed.push(send("GET", &path, None, 200));
    }
    let task_key = format!("{name}-0");
    for uri_shown in [
        &echoed[0]["config"]["redis.uri"],
        &echoed[1]["redis.uri"],
        &echoed[2][0]["config"]["redis.uri"],
        &echoed[3][&task_key]["redis.uri"],
        &echoed[4][&name]["info"]["config"]["redis.uri"],
        &echoed[6][&name]["info"]["config"]["redis.uri"],
    ] {
        assert_eq!(uri_shown, &json!(shown), "{echoed:?}");
    }

    // Validation, with this URI and the other forms of a password in a Redis URI.
    for (form, form_shown) in [
        (uri.clone(), shown.clone()),
        (
            format!("rediss://writer:{secret}@{address}/1"),
            format!("rediss://writer:********@{address}/1"),
        ),
        (
            format!("redis-sentinel://writer:{secret}@{address}#mymaster"),
            format!("redis-sentinel://writer:********@{address}#mymaster"),
        ),
        (
            format!("redis://:{secret}@{address}"),
            format!("redis://:********@{address}"),
        ),
    ] {
        let mut named = config.clone();
        named["name"] = json!(name);
        named["redis.uri"] = json!(form);
        let validated = send(
            "PUT",
            "/connector-plugins/RedisSinkConnector/config/validate",
            Some(&named),
            200,
        );
        let value = validated["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["definition"]["name"] == "redis.uri")
            .map(|c| c["value"]["value"].clone());
        assert_eq!(value, Some(json!(form_shown)), "{validated}");
    }
    // Refused configurations holding the password: their 400 bodies.
    for (key, value) in [
        ("tasks.max", "0".to_owned()),
        ("redis.uri", format!("{uri}/not-a-database")),
        ("redis.type", uri.clone()),
    ] {
        let mut bad = config.clone();
        bad[key] = json!(value);
        send(
            "POST",
            "/connectors",
            Some(&json!({"name": unique_name("refused"), "config": bad})),
            400,
        );
    }
    // A task that cannot connect: its trace and the log lines of its retries.
    let failing = unique_name("uri-secret-failing");
    let mut unreachable = config.clone();
    unreachable["redis.uri"] = json!(format!("redis://writer:{secret}@127.0.0.1:{}", free_port()));
    unreachable["redis.timeout"] = json!("1");
    send(
        "POST",
        "/connectors",
        Some(&json!({"name": failing, "config": unreachable})),
        201,
    );
    worker.wait_for_tasks(&failing, 1, "FAILED", Duration::from_secs(30));
    let status = send("GET", &format!("/connectors/{failing}/status"), None, 200);
    let trace = status["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.contains("cannot connect to Redis at redis://writer:********@127.0.0.1:"),
        "{trace}"
    );

    // GET the configuration and PUT it back as it is, masked; PATCH with the masked URI too.
    let masked = send("GET", &format!("/connectors/{name}/config"), None, 200);
    let put = send(
        "PUT",
        &format!("/connectors/{name}/config"),
        Some(&masked),
        200,
    );
    assert_eq!(put["config"]["redis.uri"], json!(shown), "{put}");
    let patched = send(
        "PATCH",
        &format!("/connectors/{name}/config"),
        Some(&json!({"redis.uri": shown, "redis.timeout": "30"})),
        200,
    );
    assert_eq!(patched["config"]["redis.uri"], json!(shown), "{patched}");
    // The restarted task still has the real password: it writes.
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(30));
    produce("after").await;
    wait_until(
        "the record produced after the masked PUT, in Redis",
        Duration::from_secs(30),
        || redis.cli(&["GET", &format!("{topic}:after")]) == "written",
    );
    worker.wait_for_tasks(&name, 1, "RUNNING", Duration::from_secs(5));
    let stored = std::fs::read_to_string(dir.join("configs.json")).unwrap();
    assert!(
        stored.contains(&uri),
        "the stored configuration lost the real URI: {stored}"
    );

    seen.push((
        "worker log".into(),
        std::fs::read_to_string(worker.log_path()).unwrap(),
    ));
    assert!(
        seen.len() >= 20,
        "fewer answers than expected: {}",
        seen.len()
    );
    for (what, text) in &seen {
        assert!(
            !text.contains(&secret),
            "{what} shows the password:\n{text}"
        );
    }
    let log = &seen.last().unwrap().1;
    assert!(
        log.contains("redis://writer:********@127.0.0.1:"),
        "the log does not show the masked URI of the failing task's retries:\n{log}"
    );
}
