//! Extractors whose rejections are JSON error bodies. axum's own `Json` and `Path` reject
//! with plain text; Kafka Connect clients expect `{"error_code","message"}` for every failure,
//! so request bodies, path parameters and query strings are read here instead.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use super::BODY_LIMIT;

/// A request body parsed as JSON, of any shape: handlers check the shape themselves
/// ([`super::body`]) so that each mistake gets a message naming the field at fault. A body
/// that is not `Content-Type: application/json` is refused with 415, as Kafka Connect does.
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    status,
                    format!("The request body is larger than the limit of {BODY_LIMIT} bytes"),
                )
            } else {
                ApiError::new(status, rejection.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "The request body is empty; a JSON document is required",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
    }
}

/// Whether the request says its body is JSON: `Content-Type: application/json`, any case, with
/// or without parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Kafka Connect's answer to a body that is not `application/json`, `curl -d` without
/// `-H 'Content-Type: application/json'` included: its resources are
/// `@Consumes(MediaType.APPLICATION_JSON)`, so Jersey refuses other types, and reads a body
/// without one as `application/octet-stream`, which Jackson does not read either.
fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "HTTP 415 Unsupported Media Type",
    )
}

/// Path parameters, deserialized as axum's `Path` does, with a JSON rejection.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Params(value))
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))
    }
}

/// A task id from the path: a non-negative integer.
pub fn task_id(raw: &str) -> Result<usize, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "Invalid task id '{raw}': task ids are non-negative integers"
        ))
    })
}

/// The decoded `key=value` pairs of a query string, in order, repeated keys kept (axum's
/// `Query` keeps one value a key, and `?expand=status&expand=info` needs both).
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// A boolean query parameter: `true` or `false` in any case, `default` when absent. The first
/// value counts, as with JAX-RS `@QueryParam`. Anything else is a 400: Java's
/// `Boolean.valueOf` would silently read `includeTasks=1` as false.
pub fn bool_param(pairs: &[(String, String)], key: &str, default: bool) -> Result<bool, ApiError> {
    match pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
    {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "Invalid value '{v}' for query parameter {key}: expected true or false"
        ))),
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; a `%` not
/// followed by two hex digits stays as it is. Invalid UTF-8 becomes U+FFFD.
fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        query_pairs(Some(raw))
    }

    #[test]
    fn query_pairs_keep_repeated_keys_and_decode() {
        assert_eq!(
            pairs("expand=status&expand=info&x=a%20b+c&flag&%zz=%4"),
            [
                ("expand".into(), "status".into()),
                ("expand".into(), "info".into()),
                ("x".into(), "a b c".into()),
                ("flag".into(), String::new()),
                ("%zz".into(), "%4".into()),
            ]
        );
        assert!(query_pairs(None).is_empty());
        assert_eq!(pairs("a=%C3%A9%FF"), [("a".into(), "é\u{fffd}".into())]);
    }

    #[test]
    fn bool_params_are_strict() {
        let p = pairs("includeTasks=TRUE&onlyFailed=false&bad=1&includeTasks=false");
        assert_eq!(bool_param(&p, "includeTasks", false), Ok(true));
        assert_eq!(bool_param(&p, "onlyFailed", true), Ok(false));
        assert_eq!(bool_param(&p, "missing", true), Ok(true));
        let err = bool_param(&p, "bad", false).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            err.message,
            "Invalid value '1' for query parameter bad: expected true or false"
        );
    }

    #[test]
    fn only_application_json_is_json() {
        let headers = |value: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(CONTENT_TYPE, value.parse().unwrap());
            }
            headers
        };
        for json in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
        ] {
            assert!(is_json(&headers(Some(json))), "{json}");
        }
        for other in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/octet-stream"),
            Some("application/vnd.kafka+json"),
            Some("*/*"),
            Some(""),
        ] {
            assert!(!is_json(&headers(other)), "{other:?}");
        }
    }

    #[test]
    fn task_ids_are_non_negative_integers() {
        assert_eq!(task_id("0"), Ok(0));
        assert_eq!(task_id("12"), Ok(12));
        for bad in ["-1", "x", "", "1.5", "99999999999999999999999"] {
            assert_eq!(task_id(bad).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }
}
