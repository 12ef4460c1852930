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

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::sync::Semaphore;

/// The header by which a script says it handles a 401 itself (no `WWW-Authenticate`).
pub const X_REQUESTED_WITH: &str = "x-requested-with";

/// How many verified `Authorization` values are remembered, so a client does not pay a
/// bcrypt/argon2 verification (tens of ms) on every request.
const CACHE_SIZE: usize = 256;

/// A credential from a file: a name and the hash of its secret.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    hash: String,
}

/// What an `Authorization` header offers. The scheme is case-insensitive (RFC 7235 2.1):
/// `Basic`, `basic` and `BASIC` are the same.
enum Credentials {
    Basic { user: String, password: String },
    Bearer(String),
}

/// Checks the `Authorization` of requests.
#[derive(Debug)]
pub struct Authenticator {
    basic: Vec<Entry>,
    bearer: Vec<Entry>,
    health_open: bool,
    /// `Authorization` values verified before.
    verified: Mutex<HashMap<String, String>>,
    /// A hash with the algorithm and cost of the first user's, made when first needed: the
    /// password of an unknown user is verified against it, so that a 401 takes as long for an
    /// unknown user as for a known one with a wrong password and does not tell names apart.
    dummy: OnceLock<Option<String>>,
    /// Bounds the hash verifications running at once (half the cores, at least one): a
    /// password-guessing loop gets slower answers, the connectors keep the other cores.
    checks: Arc<Semaphore>,
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
        let costs: BTreeSet<String> = basic.iter().filter_map(|e| cost(&e.hash)).collect();
        if costs.len() > 1 {
            tracing::warn!(
                costs = ?costs,
                "rest.auth.basic.file: the hashes have different algorithms or costs; a wrong password takes as long as its user's hash, so the time of a 401 can tell user names apart: give every user the same cost"
            );
        }
        let health_open = props
            .get("rest.auth.health.open")
            .map(|v| !v.trim().eq_ignore_ascii_case("false"))
            .unwrap_or(true);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Some(Arc::new(Self {
            basic,
            bearer,
            health_open,
            verified: Mutex::default(),
            dummy: OnceLock::new(),
            checks: Arc::new(Semaphore::new((cores / 2).max(1))),
        })))
    }

    /// The name of the user or token an `Authorization` value proves, if any: remembered, or
    /// checked against the hashes (CPU work: call it off the async threads).
    fn verify(&self, authorization: &str) -> Option<String> {
        if let Some(name) = self.remembered(authorization) {
            return Some(name);
        }
        let name = match credentials(authorization)? {
            Credentials::Basic { user, password } => self.check_basic(&user, &password),
            Credentials::Bearer(token) => self
                .bearer
                .iter()
                .find(|e| matches(&token, &e.hash))
                .map(|e| e.name.clone()),
        }?;
        let mut cache = self.cache();
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(authorization.to_owned(), name.clone());
        Some(name)
    }

    /// [`verify`](Self::verify) on the blocking threads, at most as many at once as the
    /// semaphore allows; remembered values answer at once.
    async fn authenticate(self: &Arc<Self>, authorization: String) -> Option<String> {
        if let Some(name) = self.remembered(&authorization) {
            return Some(name);
        }
        let permit = Arc::clone(&self.checks).acquire_owned().await.ok()?;
        let checker = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            checker.verify(&authorization)
        })
        .await
        .ok()
        .flatten()
    }

    /// The user `user` when `password` is theirs. An unknown user costs a verification too.
    fn check_basic(&self, user: &str, password: &str) -> Option<String> {
        match self.basic.iter().find(|e| e.name == user) {
            Some(entry) => matches(password, &entry.hash).then(|| entry.name.clone()),
            None => {
                if let Some(dummy) = self.dummy() {
                    let _ = matches(password, dummy);
                }
                None
            }
        }
    }

    fn dummy(&self) -> Option<&str> {
        self.dummy
            .get_or_init(|| self.basic.first().and_then(|e| hash_like(&e.hash)))
            .as_deref()
    }

    fn remembered(&self, authorization: &str) -> Option<String> {
        self.cache().get(authorization).cloned()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The credentials in an `Authorization` value: `<scheme> <credentials>`, the scheme in any
/// case, Basic's user and password base64-encoded as `user:password`.
fn credentials(authorization: &str) -> Option<Credentials> {
    let (scheme, value) = authorization.trim().split_once([' ', '\t'])?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("Basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        let (user, password) = String::from_utf8(decoded)
            .ok()?
            .split_once(':')
            .map(|(user, password)| (user.to_owned(), password.to_owned()))?;
        Some(Credentials::Basic { user, password })
    } else if scheme.eq_ignore_ascii_case("Bearer") {
        Some(Credentials::Bearer(value.to_owned()))
    } else {
        None
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

/// What verifying against `hash` costs: its algorithm and parameters (`bcrypt 12`,
/// `argon2id m=19456,t=2,p=1`); `None` when it does not parse.
fn cost(hash: &str) -> Option<String> {
    if hash.starts_with("$argon2") {
        let parsed = PasswordHash::new(hash).ok()?;
        Some(format!("{} {}", parsed.algorithm, parsed.params))
    } else {
        let cost: u32 = hash.get(4..6)?.parse().ok()?;
        Some(format!("bcrypt {cost}"))
    }
}

/// A hash of a secret nobody has, with the algorithm and parameters of `hash`: verifying a
/// password against it costs what verifying against `hash` does.
fn hash_like(hash: &str) -> Option<String> {
    const NOBODYS: &[u8] = b"the password of no user";
    if hash.starts_with("$argon2") {
        let parsed = PasswordHash::new(hash).ok()?;
        let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => argon2::Version::try_from(v).ok()?,
            None => argon2::Version::default(),
        };
        let params = argon2::Params::try_from(&parsed).ok()?;
        // A fixed salt: this hash guards nothing.
        let salt = SaltString::from_b64("ZHVtbXlzYWx0ZHVtbXlzYWx0").ok()?;
        argon2::Argon2::new(algorithm, version, params)
            .hash_password(NOBODYS, &salt)
            .ok()
            .map(|h| h.to_string())
    } else {
        let cost: u32 = hash.get(4..6)?.parse().ok()?;
        bcrypt::hash_with_salt(NOBODYS, cost, [0; 16])
            .ok()
            .map(|h| h.to_string())
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
    // Any value, as Spring Security and others read it.
    let scripted = request.headers().contains_key(X_REQUESTED_WITH);
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let message = match header {
        None => "Authentication required: give HTTP Basic credentials or a bearer token",
        Some(value) => match auth.authenticate(value).await {
            Some(_) => return next.run(request).await,
            None => "Invalid credentials",
        },
    };
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({"error_code": 401, "message": message})),
    )
        .into_response();
    // A script (the web console sends `X-Requested-With: connect-console`) asks for its
    // credentials itself: without the challenge, the browser does not pop up its own
    // Basic dialog over the page.
    if !scripted {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"connect-worker\""),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use connect_core::config::props;

    use super::*;

    /// An argon2id hash with light parameters (1 MiB, one pass): the defaults take a second
    /// in a debug build, and would disturb the timing test running beside.
    fn argon(secret: &str) -> String {
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(1024, 1, 1, None).unwrap(),
        )
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

    /// An authenticator over a users file written with `users` (`name:hash` lines).
    fn authenticator(test: &str, users: &str) -> Arc<Authenticator> {
        let dir = std::env::temp_dir().join(format!("auth-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("users");
        std::fs::write(&file, users).unwrap();
        let auth =
            Authenticator::from_config(&props(&[("rest.auth.basic.file", file.to_str().unwrap())]))
                .unwrap()
                .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        auth
    }

    fn basic(user_password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_password)
        )
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        let dir = std::env::temp_dir().join(format!("auth-case-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let users = dir.join("users");
        std::fs::write(&users, format!("ann:{}\n", bcrypt::hash("pw1", 4).unwrap())).unwrap();
        let tokens = dir.join("tokens");
        std::fs::write(&tokens, format!("prometheus:{}\n", argon("tok"))).unwrap();
        let auth = Authenticator::from_config(&props(&[
            ("rest.auth.basic.file", users.to_str().unwrap()),
            ("rest.auth.bearer.file", tokens.to_str().unwrap()),
        ]))
        .unwrap()
        .unwrap();
        let encoded = &basic("ann:pw1")["Basic ".len()..];
        for scheme in ["basic", "BASIC", "bAsIc"] {
            for separator in [" ", "  ", "\t"] {
                let header = format!("{scheme}{separator}{encoded}");
                assert_eq!(auth.verify(&header).as_deref(), Some("ann"), "{header:?}");
            }
        }
        for header in ["bearer tok", "BEARER tok", "Bearer  tok "] {
            assert_eq!(
                auth.verify(header).as_deref(),
                Some("prometheus"),
                "{header:?}"
            );
        }
        for header in [
            "Basictok",
            "Bearertok",
            "bearer",
            "Basic",
            "Negotiate tok",
            "",
        ] {
            assert_eq!(auth.verify(header), None, "{header:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The CPU time this thread has used, from `/proc/thread-self/schedstat` (ns on a CPU).
    fn thread_cpu_time() -> Duration {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        Duration::from_nanos(stat.split_whitespace().next().unwrap().parse().unwrap())
    }

    /// The mean CPU times of `rounds` calls of each of `a` and `b`, alternated (each first in
    /// turn). CPU time, not wall time: the verification runs on this thread, and on a loaded
    /// machine (tests run in parallel, builds beside them) wall time is mostly other processes'
    /// turns. The mean, not the median: the kernel may account CPU time by scheduler tick
    /// (4 ms here, so one 16 ms check reads 12, 16 or 20 ms); a single sample is that coarse,
    /// the mean of many back-to-back ones is not. The end-to-end test in `security_rest.rs`
    /// measures wall time too.
    fn means(rounds: usize, a: impl Fn(), b: impl Fn()) -> (Duration, Duration) {
        let time = |f: &dyn Fn()| {
            let start = thread_cpu_time();
            f();
            thread_cpu_time() - start
        };
        let (mut total_a, mut total_b) = (Duration::ZERO, Duration::ZERO);
        for round in 0..rounds {
            if round % 2 == 0 {
                total_a += time(&a);
                total_b += time(&b);
            } else {
                total_b += time(&b);
                total_a += time(&a);
            }
        }
        let rounds = u32::try_from(rounds).unwrap();
        (total_a / rounds, total_b / rounds)
    }

    #[test]
    fn a_wrong_password_takes_as_long_for_an_unknown_user_as_for_a_known_one() {
        for (algorithm, hash) in [
            ("bcrypt", bcrypt::hash("right", 6).unwrap()),
            ("argon2", argon("right")),
        ] {
            let auth = authenticator(algorithm, &format!("ann:{hash}\nbob:{hash}\n"));
            // The first unknown user builds the dummy hash (once per worker): not measured.
            assert_eq!(auth.verify(&basic("nobody:wrong")), None);
            let (known, unknown) = means(
                48,
                || assert_eq!(auth.verify(&basic("ann:wrong")), None),
                || assert_eq!(auth.verify(&basic("nobody:wrong")), None),
            );
            let ratio = unknown.as_secs_f64() / known.as_secs_f64();
            eprintln!(
                "{algorithm}: known user {known:?}, unknown user {unknown:?}, ratio {ratio:.2}"
            );
            assert!(
                known >= Duration::from_millis(5),
                "{algorithm}: a check this fast ({known:?}) measures nothing"
            );
            assert!(
                (0.8..=1.2).contains(&ratio),
                "{algorithm}: a wrong password takes {known:?} for a known user, {unknown:?} for an unknown one"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_checks_wait_for_a_permit_but_remembered_ones_do_not() {
        let auth = authenticator(
            "bounded",
            &format!("ann:{}\n", bcrypt::hash("pw", 4).unwrap()),
        );
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(auth.checks.available_permits(), (cores / 2).max(1));
        assert_eq!(
            auth.authenticate(basic("ann:pw")).await.as_deref(),
            Some("ann")
        );
        // Every permit taken, as by a password-guessing loop.
        let all = auth
            .checks
            .clone()
            .acquire_many_owned(auth.checks.available_permits() as u32)
            .await
            .unwrap();
        let waiting = tokio::spawn({
            let auth = Arc::clone(&auth);
            async move { auth.authenticate(basic("ann:wrong")).await }
        });
        // A client whose credentials were verified before is not held up.
        let remembered =
            tokio::time::timeout(Duration::from_secs(5), auth.authenticate(basic("ann:pw")))
                .await
                .expect("a remembered value waited for a permit");
        assert_eq!(remembered.as_deref(), Some("ann"));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiting.is_finished(), "a check ran without a permit");
        drop(all);
        let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the check did not run once a permit was free")
            .unwrap();
        assert_eq!(answer, None);
    }
}
