//! The errors connectors, converters and transforms return, and what the worker does with them.

use std::error::Error as StdError;
use std::fmt;

use crate::config::ConfigErrors;

/// A boxed error kept as the cause of a [`ConnectError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong, in the three kinds the worker treats differently.
///
/// - [`Retriable`](ConnectError::Retriable): a passing condition (a broker or server away for a
///   moment). The worker backs off and retries the same batch; the task stays `RUNNING`.
/// - [`Fatal`](ConnectError::Fatal): the task cannot go on. It becomes `FAILED` and the message,
///   with its causes, is the `trace` in the status API. Also used for a record that cannot be
///   converted or transformed: the worker's `errors.tolerance` decides whether that fails the
///   task or skips the record.
/// - [`Config`](ConfigErrors): the configuration is invalid; the REST API answers 400 and lists
///   every problem.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// Back off and retry the same work.
    Retriable {
        /// What happened, for logs.
        message: String,
        /// The underlying error, if any.
        source: Option<BoxError>,
    },
    /// Stop the task; it becomes `FAILED` with this error as its trace.
    Fatal {
        /// What happened, for the status trace and logs.
        message: String,
        /// The underlying error, if any.
        source: Option<BoxError>,
    },
    /// The configuration is invalid; every problem is listed.
    Config(ConfigErrors),
}

impl ConnectError {
    /// A retriable error with this message.
    pub fn retriable(message: impl Into<String>) -> Self {
        Self::Retriable {
            message: message.into(),
            source: None,
        }
    }

    /// A fatal error with this message.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::Fatal {
            message: message.into(),
            source: None,
        }
    }

    /// A configuration error about one key.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = ConfigErrors::default();
        errors.add(key, message);
        Self::Config(errors)
    }

    /// Attaches the underlying error (kept as [`std::error::Error::source`]).
    /// Configuration errors have no single cause and are returned unchanged.
    pub fn with_source(self, cause: impl Into<BoxError>) -> Self {
        match self {
            Self::Retriable { message, .. } => Self::Retriable {
                message,
                source: Some(cause.into()),
            },
            Self::Fatal { message, .. } => Self::Fatal {
                message,
                source: Some(cause.into()),
            },
            other => other,
        }
    }

    /// True when the worker should back off and retry the same work.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Retriable { .. })
    }

    /// The message followed by every cause, one per line: the `trace` a `FAILED` task shows.
    pub fn trace(&self) -> String {
        let mut trace = self.to_string();
        let mut cause = StdError::source(self);
        while let Some(err) = cause {
            trace.push_str("\nCaused by: ");
            trace.push_str(&err.to_string());
            cause = err.source();
        }
        trace
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retriable { message, .. } => write!(f, "retriable error: {message}"),
            Self::Fatal { message, .. } => f.write_str(message),
            Self::Config(errors) => errors.fmt(f),
        }
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Retriable { source, .. } | Self::Fatal { source, .. } => {
                source.as_deref().map(|e| e as &(dyn StdError + 'static))
            }
            Self::Config(_) => None,
        }
    }
}

impl From<ConfigErrors> for ConnectError {
    fn from(errors: ConfigErrors) -> Self {
        Self::Config(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_apart() {
        assert!(ConnectError::retriable("broker away").is_retriable());
        assert!(!ConnectError::fatal("bad").is_retriable());
        assert!(matches!(
            ConnectError::config("topic", "must not be empty"),
            ConnectError::Config(_)
        ));
    }

    #[test]
    fn trace_lists_every_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = ConnectError::fatal("cannot write to Redis").with_source(io);
        assert_eq!(err.trace(), "cannot write to Redis\nCaused by: refused");
    }

    #[test]
    fn config_errors_display_every_problem() {
        let mut errors = ConfigErrors::default();
        errors.add("a", "Invalid value x for configuration a: bad");
        errors.add(
            "b",
            "Missing required configuration \"b\" which has no default value.",
        );
        let err = ConnectError::from(errors);
        assert_eq!(
            err.to_string(),
            "Invalid value x for configuration a: bad\n\
             Missing required configuration \"b\" which has no default value."
        );
    }
}
