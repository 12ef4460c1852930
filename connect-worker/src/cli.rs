//! The command line of `connect-worker` (and of any worker binary built on this library):
//! `connect-worker WORKER.properties [CONNECTOR.properties|CONNECTOR.json ...]`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::config::{config_def, WorkerConfig};
use crate::worker::WorkerBuilder;
use connect_core::config::{DefaultValue, Props};

const USAGE: &str = "\
Usage: connect-worker WORKER.properties [CONNECTOR.properties|CONNECTOR.json ...]

Runs a Kafka Connect-compatible worker (standalone mode) managed through Kafka Connect's REST
API. WORKER.properties uses Kafka Connect's worker keys; every key can also be set in the
environment as CONNECT_ + the key in upper case with '.' as '_' (CONNECT_BOOTSTRAP_SERVERS),
'-' as '__' and '_' as '___'. The environment wins over the file.

Connector files are created (or updated) at start: Java .properties with the connector's keys
(name=..., connector.class=...), or JSON as POST /connectors takes it ({\"name\", \"config\"}).
Connectors created over REST are stored in config.storage.file.filename and come back after a
restart.

Logging: RUST_LOG sets the level and filters (default: info).

Options:
  -h, --help     this help, with every worker key
  -V, --version  the version
";

/// Runs a worker from the command line with the plugins of `builder`, as `connect-worker`
/// does: a custom binary calls this with its own connectors added.
pub fn main(builder: WorkerBuilder) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}\nWorker keys:\n{}", worker_keys_help());
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        println!("connect-worker {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let Some((worker_file, connector_files)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    // The configuration comes first: it says how to log (log.format).
    let config = match read_properties(worker_file).and_then(|file| {
        WorkerConfig::parse(file, std::env::vars())
            .map_err(|e| format!("invalid worker configuration in {worker_file}:\n{e}"))
    }) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("connect-worker: {message}");
            return ExitCode::FAILURE;
        }
    };
    crate::logging::init_with(if config.log_json {
        crate::logging::Format::Json
    } else {
        crate::logging::Format::Text
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("connect-worker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(builder, config, connector_files)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("connect-worker: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    builder: WorkerBuilder,
    config: WorkerConfig,
    connector_files: &[String],
) -> Result<(), String> {
    for (key, reason) in config.unused_keys() {
        tracing::warn!(key, "worker configuration: {reason}");
    }
    let connectors = connector_files
        .iter()
        .map(|f| read_connector_file(f))
        .collect::<Result<Vec<_>, _>>()?;
    let worker = builder
        .config(config)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    worker
        .apply_connector_configs(connectors)
        .await
        .map_err(|e| e.to_string())?;
    worker
        .run(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// The worker keys as `--help` lists them: each key of [`config_def`] with its default and its
/// documentation, the same definitions `docs/worker.md`'s generated table comes from.
fn worker_keys_help() -> String {
    let mut out = String::new();
    for key in config_def().keys() {
        let default = match &key.default {
            DefaultValue::Value(v) => format!(" (default: {v})"),
            DefaultValue::Required => " (required)".to_owned(),
            DefaultValue::Null => String::new(),
        };
        let _ = writeln!(out, "  {}{default}\n      {}", key.name, key.documentation);
    }
    out
}

fn read_properties(path: &str) -> Result<Props, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    crate::properties::parse(&text).map_err(|e| format!("{path}: {e}"))
}

/// A connector file: .json in POST /connectors shape, anything else as .properties.
fn read_connector_file(path: &str) -> Result<Props, String> {
    let is_json = Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let mut props = if is_json {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        parse_connector_json(&text).map_err(|e| format!("{path}: {e}"))?
    } else {
        read_properties(path)?
    };
    match props.get("name").map(|n| n.trim().to_owned()) {
        Some(name) if !name.is_empty() => {
            props.insert("name".into(), name);
            Ok(props)
        }
        _ => Err(format!(
            "{path}: the connector configuration has no \"name\""
        )),
    }
}

/// `{"name": "...", "config": {...}}`, or a flat map of strings.
fn parse_connector_json(text: &str) -> Result<Props, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let (name, config) = match json.get("config") {
        Some(config) => (json.get("name").and_then(|n| n.as_str()), config),
        None => (None, &json),
    };
    let object = config
        .as_object()
        .ok_or("the connector configuration must be a JSON object")?;
    let mut props = Props::new();
    for (key, value) in object {
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => return Err(format!("the value of {key} must be a string, not {other}")),
        };
        props.insert(key.clone(), value);
    }
    if let Some(name) = name {
        props
            .entry("name".into())
            .or_insert_with(|| name.to_owned());
    }
    Ok(props)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("signal received");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--help` and `docs/worker.md` both come from `config_def()` (the doc's table is checked
    /// by `config::tests::the_key_table_in_the_docs_is_current`): here, that the help lists
    /// every key with its default.
    #[test]
    fn help_lists_every_worker_key_with_its_default() {
        let help = worker_keys_help();
        let keys = config_def();
        assert!(keys.keys().len() > 20, "{} keys", keys.keys().len());
        for key in keys.keys() {
            let line = match &key.default {
                DefaultValue::Value(v) => format!("  {} (default: {v})\n", key.name),
                DefaultValue::Required => format!("  {} (required)\n", key.name),
                DefaultValue::Null => format!("  {}\n", key.name),
            };
            assert!(help.contains(&line), "the help lacks {line:?}:\n{help}");
            assert!(
                help.contains(&format!("{line}      {}\n", key.documentation)),
                "the help lacks the documentation of {}",
                key.name
            );
        }
        assert!(help.contains("  listeners (default: http://0.0.0.0:8083)\n"));
        assert!(
            help.contains("  offset.storage.file.filename\n      Required by a standalone worker")
        );
        let listeners = keys.keys().iter().find(|k| k.name == "listeners").unwrap();
        assert!(
            listeners.documentation.contains("https://"),
            "{}",
            listeners.documentation
        );
    }

    /// No key's documentation has a doubled period (as "the keys under value.converter.."
    /// once had); an ellipsis ("...") is fine.
    #[test]
    fn no_key_documentation_has_a_doubled_period() {
        for key in config_def().keys() {
            let doc = key.documentation.replace("...", "");
            assert!(!doc.contains(".."), "{}: {}", key.name, key.documentation);
        }
    }

    #[test]
    fn connector_json_in_post_shape_or_flat() {
        let post =
            parse_connector_json(r#"{"name":"a","config":{"connector.class":"X","tasks.max":2}}"#)
                .unwrap();
        assert_eq!(post.get("name").map(String::as_str), Some("a"));
        assert_eq!(post.get("tasks.max").map(String::as_str), Some("2"));
        let flat = parse_connector_json(r#"{"name":"b","connector.class":"X"}"#).unwrap();
        assert_eq!(flat.get("name").map(String::as_str), Some("b"));
        let err = parse_connector_json(r#"{"config":{"a":[1]}}"#).unwrap_err();
        assert!(err.contains("must be a string"), "{err}");
    }
}
