//! REST authentication (our keys): HTTP Basic against `rest.auth.basic.file` and bearer
//! tokens against `rest.auth.bearer.file`, both holding bcrypt or argon2 hashes, never
//! plain text. Off when neither is set (the worker warns when such a listener is not on
//! loopback). `GET /health` stays open unless `rest.auth.health.open=false`.
//!
//! File format, one entry a line (`#` starts a comment):
//!
//! ```text
//! admin:$2b$12$...          # rest.auth.basic.file: user:bcrypt-or-argon2-hash
//! prometheus:$argon2id$...  # rest.auth.bearer.file: name:hash-of-the-token
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// How many verified `Authorization` values are remembered, so a client does not pay a
/// bcrypt/argon2 verification (tens of ms) on every request.
const CACHE_SIZE: usize = 256;

/// A credential from a file: a name and the hash of its secret.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    hash: String,
}

/// Checks the `Authorization` of requests.
#[derive(Debug)]
pub struct Authenticator {
    basic: Vec<Entry>,
    bearer: Vec<Entry>,
    health_open: bool,
    /// `Authorization` values verified before.
    verified: Mutex<HashMap<String, String>>,
}

impl Authenticator {
    /// The authenticator the worker keys ask for; `None` when authentication is off. The
    /// error names the key and the problem.
    pub fn from_config(props: &connect_core::config::Props) -> Result<Option<Arc<Self>>, String> {
        let read = |key: &str| -> Result<Vec<Entry>, String> {
            match props.get(key).map(|p| p.trim()).filter(|p| !p.is_empty()) {
                None => Ok(Vec::new()),
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("{key}: cannot read {path}: {e}"))?;
                    parse_entries(&text).map_err(|e| format!("{key}: {path}: {e}"))
                }
            }
        };
        let basic = read("rest.auth.basic.file")?;
        let bearer = read("rest.auth.bearer.file")?;
        if basic.is_empty() && bearer.is_empty() {
            if props.contains_key("rest.auth.basic.file")
                || props.contains_key("rest.auth.bearer.file")
            {
                return Err("rest.auth.basic.file / rest.auth.bearer.file: the credentials file has no entry".into());
            }
            return Ok(None);
        }
        let health_open = props
            .get("rest.auth.health.open")
            .map(|v| !v.trim().eq_ignore_ascii_case("false"))
            .unwrap_or(true);
        Ok(Some(Arc::new(Self {
            basic,
            bearer,
            health_open,
            verified: Mutex::default(),
        })))
    }

    /// The name of the user or token an `Authorization` value proves, if any.
    fn verify(&self, authorization: &str) -> Option<String> {
        if let Some(name) = self.cache().get(authorization) {
            return Some(name.clone());
        }
        let name = if let Some(encoded) = authorization.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, password) = decoded.split_once(':')?;
            self.basic
                .iter()
                .find(|e| e.name == user && matches(password, &e.hash))
                .map(|e| e.name.clone())
        } else if let Some(token) = authorization.strip_prefix("Bearer ") {
            let token = token.trim();
            self.bearer
                .iter()
                .find(|e| matches(token, &e.hash))
                .map(|e| e.name.clone())
        } else {
            None
        }?;
        let mut cache = self.cache();
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(authorization.to_owned(), name.clone());
        Some(name)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn parse_entries(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, hash) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected name:hash", n + 1))?;
        let hash = hash.trim();
        let known = hash.starts_with("$2a$")
            || hash.starts_with("$2b$")
            || hash.starts_with("$2y$")
            || hash.starts_with("$argon2");
        if !known {
            return Err(format!(
                "line {}: the secret of '{}' is not a bcrypt ($2b$...) or argon2 ($argon2id$...) hash; plain text is refused",
                n + 1,
                name.trim()
            ));
        }
        entries.push(Entry {
            name: name.trim().to_owned(),
            hash: hash.to_owned(),
        });
    }
    Ok(entries)
}

/// Whether `secret` matches a bcrypt or argon2 hash.
fn matches(secret: &str, hash: &str) -> bool {
    if hash.starts_with("$argon2") {
        match PasswordHash::new(hash) {
            Ok(parsed) => argon2::Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    } else {
        bcrypt::verify(secret, hash).unwrap_or(false)
    }
}

/// The middleware: 401 with Kafka Connect's error body unless the request proves a known
/// user or token.
pub async fn require(
    State(auth): State<Arc<Authenticator>>,
    request: Request,
    next: Next,
) -> Response {
    if auth.health_open && request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let message = match header {
        None => "Authentication required: give HTTP Basic credentials or a bearer token",
        Some(value) => {
            // Hash verification is CPU work: keep it off the async threads.
            let checker = Arc::clone(&auth);
            let verified = tokio::task::spawn_blocking(move || checker.verify(&value))
                .await
                .ok()
                .flatten();
            match verified {
                Some(_) => return next.run(request).await,
                None => "Invalid credentials",
            }
        }
    };
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({"error_code": 401, "message": message})),
    )
        .into_response();
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"connect-worker\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use connect_core::config::props;

    use super::*;

    fn argon(secret: &str) -> String {
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        argon2::Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn basic_and_bearer_credentials_are_checked_against_hashes() {
        let dir = std::env::temp_dir().join(format!("auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let basic = dir.join("users");
        let bcrypt_hash = bcrypt::hash("pw1", 4).unwrap();
        std::fs::write(
            &basic,
            format!("# users\nann:{bcrypt_hash}\nbob:{}\n", argon("pw2")),
        )
        .unwrap();
        let bearer = dir.join("tokens");
        std::fs::write(&bearer, format!("prometheus:{}\n", argon("tok"))).unwrap();
        let auth = Authenticator::from_config(&props(&[
            ("rest.auth.basic.file", basic.to_str().unwrap()),
            ("rest.auth.bearer.file", bearer.to_str().unwrap()),
        ]))
        .unwrap()
        .unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            auth.verify(&format!("Basic {}", b64("ann:pw1"))).as_deref(),
            Some("ann")
        );
        assert_eq!(
            auth.verify(&format!("Basic {}", b64("bob:pw2"))).as_deref(),
            Some("bob")
        );
        assert_eq!(auth.verify(&format!("Basic {}", b64("ann:pw2"))), None);
        assert_eq!(auth.verify("Bearer tok").as_deref(), Some("prometheus"));
        assert_eq!(auth.verify("Bearer nope"), None);
        assert_eq!(auth.verify("Digest x"), None);
        // Remembered: the second check of the same header needs no hashing.
        assert_eq!(auth.verify("Bearer tok").as_deref(), Some("prometheus"));

        std::fs::write(&basic, "ann:plaintext\n").unwrap();
        let err = Authenticator::from_config(&props(&[(
            "rest.auth.basic.file",
            basic.to_str().unwrap(),
        )]))
        .unwrap_err();
        assert!(err.contains("plain text is refused"), "{err}");
        assert!(Authenticator::from_config(&props(&[])).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
