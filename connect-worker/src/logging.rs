//! Logging through `tracing`, with levels changeable at runtime (`/admin/loggers`).
//!
//! Loggers are `tracing` targets: module paths such as `connect_worker::task::sink` (a level
//! set on a path applies to everything below it). `root` is the default level. Kafka
//! Connect's log levels map as TRACE, DEBUG, INFO, WARN, ERROR; FATAL is ERROR and OFF turns
//! a logger off.
//!
//! Every line goes through [`UriPasswordMask`]: a password inside a URI
//! (`redis://user:password@host`) is written as `********`, whichever crate logged it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

/// The name of the default level.
pub const ROOT: &str = "root";

/// A logger's level and when it was last changed (ms since the epoch; `None` if never).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoggerLevel {
    pub level: String,
    pub last_modified: Option<u64>,
}

/// The log levels of the process, and the handle that applies changes.
#[derive(Debug)]
pub struct LogLevels {
    handle: reload::Handle<EnvFilter, Registry>,
    levels: Mutex<BTreeMap<String, LoggerLevel>>,
}

static LEVELS: OnceLock<LogLevels> = OnceLock::new();

/// How log lines are written (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, with the current span's fields (`connector`, `task`).
    Json,
}

/// Installs the global subscriber: human-readable lines to stderr, levels from `RUST_LOG`
/// (default `info`) and changeable at runtime. Does nothing when a subscriber is already set.
/// Lines are coloured only on a terminal (see [`colour`]).
pub fn init() {
    init_with(Format::Text)
}

/// [`init`] with the given line format.
pub fn init_with(format: Format) {
    let initial = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::try_new(&initial).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(filter);
    let json = (format == Format::Json).then(|| {
        fmt::layer()
            .json()
            .with_ansi(false)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(|| UriPasswordMask(std::io::stderr()))
    });
    let ansi = colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let text = (format == Format::Text).then(|| {
        fmt::layer()
            .with_ansi(ansi)
            .with_writer(|| UriPasswordMask(std::io::stderr()))
    });
    let installed = tracing_subscriber::registry()
        .with(layer)
        .with(json)
        .with(text)
        .try_init();
    if installed.is_ok() {
        let _ = LEVELS.set(LogLevels {
            handle,
            levels: Mutex::new(parse_directives(&initial)),
        });
    }
}

/// Whether text lines get ANSI colour codes: only when stderr is a terminal (a log file or a
/// pipe gets plain text, which `grep` and log shippers read as written) and `NO_COLOR` is
/// unset or empty (<https://no-color.org>: any non-empty value turns colour off).
fn colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// A writer that masks the passwords of URIs in what it writes. The `fmt` layer writes each
/// event with one `write_all`, so a URI is never split between two writes.
struct UriPasswordMask<W>(W);

impl<W: std::io::Write> std::io::Write for UriPasswordMask<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(connect_core::config::hide_uri_passwords(&text).as_bytes())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The process's log levels, when [`init`] installed the subscriber.
pub fn levels() -> Option<&'static LogLevels> {
    LEVELS.get()
}

/// Why a level could not be set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LevelError {
    #[error("Invalid log level '{0}'.")]
    InvalidLevel(String),
    #[error("Invalid logger name '{0}'.")]
    InvalidLogger(String),
    #[error("cannot apply the new levels: {0}")]
    Apply(String),
}

impl LogLevels {
    /// Every logger with a level set, and `root`.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        self.lock().clone()
    }

    /// The level that applies to `logger`: its own, or that of the nearest parent path.
    pub fn get(&self, logger: &str) -> Option<LoggerLevel> {
        let levels = self.lock();
        let mut name = logger;
        loop {
            if let Some(level) = levels.get(name) {
                return Some(level.clone());
            }
            match name.rsplit_once("::") {
                Some((parent, _)) => name = parent,
                None => return levels.get(ROOT).cloned(),
            }
        }
    }

    /// Sets a logger's level (and, as in Kafka Connect, that of the loggers below it) and
    /// returns the loggers affected.
    pub fn set(&self, logger: &str, level: &str) -> Result<Vec<String>, LevelError> {
        let level = normalize(level).ok_or_else(|| LevelError::InvalidLevel(level.to_owned()))?;
        if logger.is_empty()
            || !logger
                .chars()
                .all(|c| c.is_alphanumeric() || "_:.-".contains(c))
        {
            return Err(LevelError::InvalidLogger(logger.to_owned()));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .ok();
        let mut levels = self.lock();
        let mut next = levels.clone();
        let below = format!("{logger}::");
        let mut affected: Vec<String> = next
            .keys()
            .filter(|k| logger == ROOT || k.as_str() == logger || k.starts_with(&below))
            .cloned()
            .collect();
        if !affected.iter().any(|k| k == logger) {
            affected.push(logger.to_owned());
        }
        for name in &affected {
            next.insert(
                name.clone(),
                LoggerLevel {
                    level: level.to_owned(),
                    last_modified: now,
                },
            );
        }
        let filter =
            EnvFilter::try_new(directives(&next)).map_err(|e| LevelError::Apply(e.to_string()))?;
        self.handle
            .reload(filter)
            .map_err(|e| LevelError::Apply(e.to_string()))?;
        *levels = next;
        affected.sort();
        Ok(affected)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LoggerLevel>> {
        self.levels.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Kafka Connect's level names to `tracing`'s (upper case in answers).
fn normalize(level: &str) -> Option<&'static str> {
    Some(match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => "TRACE",
        "DEBUG" => "DEBUG",
        "INFO" => "INFO",
        "WARN" => "WARN",
        "ERROR" | "FATAL" => "ERROR",
        "OFF" => "OFF",
        _ => return None,
    })
}

/// The `RUST_LOG` directives for these levels.
fn directives(levels: &BTreeMap<String, LoggerLevel>) -> String {
    levels
        .iter()
        .map(|(name, l)| {
            let level = l.level.to_ascii_lowercase();
            if name == ROOT {
                level
            } else {
                format!("{name}={level}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The levels a `RUST_LOG` value sets (plain `target=level` and `level` directives).
fn parse_directives(spec: &str) -> BTreeMap<String, LoggerLevel> {
    let mut levels = BTreeMap::new();
    let entry = |level: &str| {
        normalize(level).map(|l| LoggerLevel {
            level: l.to_owned(),
            last_modified: None,
        })
    };
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.split_once('=') {
            Some((target, level)) => {
                if let Some(l) = entry(level) {
                    levels.insert(target.to_owned(), l);
                }
            }
            None => {
                if let Some(l) = entry(directive) {
                    levels.insert(ROOT.to_owned(), l);
                }
            }
        }
    }
    levels.entry(ROOT.to_owned()).or_insert(LoggerLevel {
        level: "INFO".to_owned(),
        last_modified: None,
    });
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_directives_become_loggers_and_back() {
        let levels = parse_directives("warn,connect_worker::task=debug,bad=nonsense");
        assert_eq!(levels[ROOT].level, "WARN");
        assert_eq!(levels["connect_worker::task"].level, "DEBUG");
        assert!(!levels.contains_key("bad"));
        assert_eq!(directives(&levels), "connect_worker::task=debug,warn");
        assert_eq!(parse_directives("")[ROOT].level, "INFO");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(colour(true, None));
        assert!(
            colour(true, empty),
            "an empty NO_COLOR does not disable colour"
        );
        assert!(!colour(true, set));
        assert!(!colour(true, Some(OsStr::new("false"))), "any value counts");
        for no_color in [None, empty, set] {
            assert!(!colour(false, no_color), "a file or pipe never gets colour");
        }
    }

    #[test]
    fn written_lines_have_uri_passwords_masked() {
        use std::io::Write;
        let mut out = UriPasswordMask(Vec::new());
        out.write_all(b"WARN cannot connect uri=redis://u:s3cret@h:1 error=refused\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "WARN cannot connect uri=redis://u:********@h:1 error=refused\n"
        );
    }

    #[test]
    fn kafka_level_names_map_to_tracing() {
        assert_eq!(normalize("fatal"), Some("ERROR"));
        assert_eq!(normalize("Debug"), Some("DEBUG"));
        assert_eq!(normalize("verbose"), None);
    }
}
