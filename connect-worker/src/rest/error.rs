//! The one error type of the REST API and its body, Kafka Connect's `ErrorMessage`:
//! `{"error_code": <HTTP status>, "message": "..."}` for every failure, whatever its cause.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::herder::HerderError;

/// A failed request: the status to answer and the message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status, repeated as `error_code` in the body.
    pub status: StatusCode,
    /// What went wrong, for a person to read.
    pub message: String,
}

/// The JSON body of every error response, Kafka Connect's `ErrorMessage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorMessage {
    /// The HTTP status of the response.
    #[schema(example = 404)]
    pub error_code: u16,
    /// What went wrong, for a person to read.
    #[schema(example = "Connector my-sink not found")]
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// `400 Bad Request`: the request itself is wrong; nothing was changed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `404 Not Found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// `500 Internal Server Error`: the worker failed, not the request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<HerderError> for ApiError {
    /// The status codes Kafka Connect's `ConnectExceptionMapper` gives the same failures.
    fn from(error: HerderError) -> Self {
        let status = match &error {
            HerderError::NotFound(_)
            | HerderError::TaskNotFound { .. }
            | HerderError::PluginNotFound(_) => StatusCode::NOT_FOUND,
            HerderError::AlreadyExists(_) | HerderError::Busy { .. } => StatusCode::CONFLICT,
            HerderError::InvalidConfig { .. } | HerderError::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            // `Internal` and any variant added later: the worker's fault until mapped.
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Messages may quote a configuration value: a password in a URI is masked whatever
        // produced the message.
        let message = connect_core::config::hide_uri_passwords(&self.message).into_owned();
        if self.status.is_server_error() {
            // Client errors are the client's business; server errors are ours to look into.
            tracing::warn!(status = %self.status, message = %message, "REST request failed");
        }
        let body = ErrorMessage {
            error_code: self.status.as_u16(),
            message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn herder_errors_map_to_kafka_connects_status_codes() {
        let cases = [
            (
                HerderError::NotFound("a".into()),
                404,
                "Connector a not found",
            ),
            (
                HerderError::TaskNotFound {
                    connector: "a".into(),
                    task: 3,
                },
                404,
                "Task 3 not found for connector a",
            ),
            (HerderError::PluginNotFound("p".into()), 404, "p"),
            (
                HerderError::AlreadyExists("a".into()),
                409,
                "Connector a already exists",
            ),
            (
                HerderError::Busy {
                    connector: "a".into(),
                    doing: "stopping its tasks (they have not stopped after 7 s)".into(),
                },
                409,
                "Connector a is busy stopping its tasks (they have not stopped after 7 s); try again later",
            ),
            (HerderError::BadRequest("b".into()), 400, "b"),
            (HerderError::Internal("i".into()), 500, "i"),
        ];
        for (error, status, message) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status.as_u16(), status);
            assert_eq!(api.message, message);
        }
    }
}
