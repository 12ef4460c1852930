//! The connection keys every Redis connector shares (those of Redis Inc.'s Java connector),
//! and the fred client built from them.
//!
//! Topologies: `redis://` and `rediss://` (TLS) for one server, `redis.cluster=true` for Redis
//! Cluster (the URI names one or more seed nodes, comma-separated), and
//! `redis-sentinel://` / `rediss-sentinel://` for Sentinel (the URI names the sentinels; the
//! master's name is given as Lettuce writes it, `#mymaster`, or as fred does,
//! `?sentinelServiceName=mymaster`).

use std::time::Duration;

use connect_core::config::{
    hide_uri_passwords, Config as ConnectorConfig, ConfigKey, ConfigReader, ConfigType, Importance,
    Password, Validator, Width,
};
use connect_core::ConnectError;
use fred::error::{Error as FredError, ErrorKind};
use fred::prelude::{Builder, Client, ClientLike, Config, ReconnectPolicy, TcpConfig};
use fred::types::config::{TlsConfig, TlsConnector, TlsHostMapping};
use fred::types::ConnectHandle;

use crate::tls::{self, TlsFiles};

/// The Redis URI (Lettuce's syntax: `redis://[user:password@]host[:port][/database]`).
pub const URI_CONFIG: &str = "redis.uri";
/// The host when no URI is given.
pub const HOST_CONFIG: &str = "redis.host";
/// The port when no URI is given.
pub const PORT_CONFIG: &str = "redis.port";
/// Connect to a Redis Cluster.
pub const CLUSTER_CONFIG: &str = "redis.cluster";
/// The ACL user; overrides the URI's.
pub const USERNAME_CONFIG: &str = "redis.username";
/// The password; overrides the URI's.
pub const PASSWORD_CONFIG: &str = "redis.password";
/// Use TLS even with a `redis://` URI.
pub const TLS_CONFIG: &str = "redis.tls";
/// Do not verify the server's certificate.
pub const INSECURE_CONFIG: &str = "redis.insecure";
/// PEM file of the certificate authorities to trust.
pub const CACERT_CONFIG: &str = "redis.cacert";
/// PEM file of the client certificate chain.
pub const KEY_CERT_CONFIG: &str = "redis.key.cert";
/// PEM file of the client's private key.
pub const KEY_FILE_CONFIG: &str = "redis.key.file";
/// Password of an encrypted private key (not supported: rustls reads plain PEM keys only).
pub const KEY_PASSWORD_CONFIG: &str = "redis.key.password";
/// Command timeout, in seconds.
pub const TIMEOUT_CONFIG: &str = "redis.timeout";
/// The Java connector's connection pool size; accepted, not needed here.
pub const POOL_CONFIG: &str = "redis.pool";

const GROUP: &str = "Redis connection";

/// How to reach Redis, parsed from a connector's configuration.
#[derive(Clone)]
pub struct RedisSettings {
    /// The URL handed to fred.
    url: String,
    /// The URI with the password hidden, for logs and errors.
    shown: String,
    cluster: bool,
    username: Option<String>,
    password: Option<Password>,
    tls: bool,
    tls_files: TlsFiles,
    /// The command timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("uri", &self.shown)
            .field("cluster", &self.cluster)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for RedisSettings {
    /// The connection keys, in the group "Redis connection" of every Redis connector.
    fn read(c: &mut ConfigReader<'_>) -> Self {
        let mut order = 0;
        let mut key = |name: &str, ty: ConfigType| {
            order += 1;
            ConfigKey::new(name, ty).group(GROUP, order)
        };
        let uri = c.string(
            key(URI_CONFIG, ConfigType::String)
                    .default_value("")
                    .importance(Importance::High)
                    .width(Width::Long)
                    .display_name("Redis URI")
                    .doc(
                        "Redis URI, e.g. redis://localhost:6379, rediss://user:password@host:6380/2 \
                         (TLS, ACL user, database 2), redis-sentinel://host1:26379,host2:26379/0#mymaster \
                         (Sentinel). With redis.cluster=true, one or more comma-separated seed nodes. \
                         When empty, redis.host and redis.port are used. A password in it is masked in \
                         REST answers and logs; percent-encode '/', '?' and '#' in it.",
                    ),
        );
        let host = c.string(
            key(HOST_CONFIG, ConfigType::String)
                .default_value("localhost")
                .importance(Importance::Medium)
                .doc("Redis host, used when redis.uri is empty."),
        );
        let port = c.int(
            key(PORT_CONFIG, ConfigType::Int)
                .default_value("6379")
                .validator(Validator::between(1, 65535))
                .importance(Importance::Medium)
                .doc("Redis port, used when redis.uri is empty."),
        );
        let cluster = c.boolean(
            key(CLUSTER_CONFIG, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Connect to a Redis Cluster; redis.uri names the seed nodes."),
        );
        let username = c.optional_string(
            key(USERNAME_CONFIG, ConfigType::String)
                .optional()
                .importance(Importance::Medium)
                .doc("ACL user name. Overrides the one in redis.uri."),
        );
        let password = c.optional_password(
            key(PASSWORD_CONFIG, ConfigType::Password)
                    .optional()
                    .importance(Importance::Medium)
                    .doc("Password (of the ACL user, or the AUTH password). Overrides the one in redis.uri."),
        );
        let tls = c.boolean(
            key(TLS_CONFIG, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Connect with TLS, as a rediss:// URI does."),
        );
        let insecure = c.boolean(
            key(INSECURE_CONFIG, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Low)
                .doc("Accept any server certificate with TLS. For tests only."),
        );
        let ca = c.string(
            key(CACERT_CONFIG, ConfigType::String)
                .default_value("")
                .importance(Importance::Low)
                .doc(
                    "PEM file of the certificate authorities that sign the server's certificate. \
                         Empty: the system's trusted authorities.",
                ),
        );
        let cert = c.string(
            key(KEY_CERT_CONFIG, ConfigType::String)
                    .default_value("")
                    .importance(Importance::Low)
                    .doc("PEM file of the client certificate chain, for servers that verify clients (tls-auth-clients)."),
        );
        let key_file = c.string(
            key(KEY_FILE_CONFIG, ConfigType::String)
                    .default_value("")
                    .importance(Importance::Low)
                    .doc("PEM file of the client certificate's private key (PKCS#8, PKCS#1 or SEC1, unencrypted)."),
        );
        let key_password = c.optional_password(
            key(KEY_PASSWORD_CONFIG, ConfigType::Password)
                .optional()
                .importance(Importance::Low)
                .doc(
                    "Password of an encrypted private key. Not supported by this worker: give an \
                         unencrypted key file (e.g. openssl pkcs8 -nocrypt).",
                ),
        );
        let timeout = c.long(
            key(TIMEOUT_CONFIG, ConfigType::Long)
                    .default_value("60")
                    .validator(Validator::at_least(1))
                    .importance(Importance::Low)
                    .doc(
                        "Redis command timeout in seconds. A command without an answer in this time \
                         fails with a retriable error; connecting at task start is retried for as long.",
                    ),
        );
        // Accepted for compatibility, not used.
        c.int(
            key(POOL_CONFIG, ConfigType::Int)
                    .default_value("8")
                    .validator(Validator::at_least(1))
                    .importance(Importance::Low)
                    .doc(
                        "Accepted for compatibility with the Java connector and not used: each task \
                         pipelines its commands over one connection (a blocking reader has its own).",
                    ),
        );

        let uri = if uri.is_empty() {
            format!("redis://{host}:{port}")
        } else {
            uri
        };
        let url = fred_url(&uri, cluster).unwrap_or_else(|m| {
            c.error(URI_CONFIG, m);
            String::new()
        });
        if key_password.is_some() {
            c.error(
                KEY_PASSWORD_CONFIG,
                "encrypted private keys are not supported; give an unencrypted PEM key in redis.key.file",
            );
        }
        let given = |path: String| Some(path).filter(|p| !p.is_empty());
        let tls_files = TlsFiles {
            insecure,
            ca: given(ca),
            cert: given(cert),
            key: given(key_file),
        };
        if tls_files.cert.is_some() != tls_files.key.is_some() {
            c.error(
                KEY_CERT_CONFIG,
                "a client certificate needs both redis.key.cert and redis.key.file",
            );
        }
        let settings = Self {
            shown: hide_uri_passwords(&uri).into_owned(),
            tls: uri.starts_with("rediss") || tls,
            url,
            cluster,
            username: username.filter(|u| !u.is_empty()),
            password,
            tls_files,
            timeout: Duration::from_secs(timeout.clamp(1, 86_400).unsigned_abs()),
        };
        // Fail now, with the key's name, rather than when a task connects.
        if !c.is_declaring() && !c.has_error(URI_CONFIG) && !c.has_error(KEY_CERT_CONFIG) {
            match settings.fred_config() {
                Ok(_) => {}
                Err(ConnectError::Config(errors)) => {
                    for (key, message) in errors.iter() {
                        c.error(key, message);
                    }
                }
                Err(e) => c.error(URI_CONFIG, e.to_string()),
            }
        }
        settings
    }
}

impl RedisSettings {
    /// The URI with its password hidden.
    pub fn shown_uri(&self) -> &str {
        &self.shown
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    fn fred_config(&self) -> Result<Config, ConnectError> {
        let mut config = Config::from_url(&self.url).map_err(|e| {
            ConnectError::config(
                URI_CONFIG,
                format!(
                    "'{}' is not a Redis URI fred understands: {}",
                    self.shown,
                    e.details()
                ),
            )
        })?;
        if let Some(user) = &self.username {
            config.username = Some(user.clone());
        }
        if let Some(password) = &self.password {
            config.password = Some(password.value().to_owned());
        }
        if self.tls || config.tls.is_some() {
            let client_config = tls::client_config(&self.tls_files)?;
            config.tls = Some(TlsConfig {
                connector: TlsConnector::from(client_config),
                hostnames: TlsHostMapping::None,
            });
        }
        Ok(config)
    }

    /// A connected client. Connecting is retried until the timeout; after that, the client
    /// reconnects by itself and commands sent meanwhile fail with retriable errors.
    ///
    /// A command is sent at most once (fred would otherwise resend commands that were in
    /// flight when a connection dropped, and could apply a write twice).
    pub async fn connect(&self) -> Result<Client, ConnectError> {
        Ok(self.connect_until_timeout(true).await?.0)
    }

    /// A connected client that never reconnects by itself, and its connection task, which ends
    /// when the connection drops: from then on every command sent to the client fails and
    /// none is written on a later connection (the caller connects again). A writer that keeps
    /// batches in flight needs this: fred queues the commands sent while it reconnects and
    /// writes them on the new connection, which could apply a later batch before an earlier
    /// one that failed is written again. Connecting is retried until the timeout.
    pub async fn connect_without_reconnect(&self) -> Result<(Client, ConnectHandle), ConnectError> {
        self.connect_until_timeout(false).await
    }

    /// [`Self::connect_without_reconnect`] in one attempt: a server that cannot be reached is a
    /// retriable error.
    pub async fn connect_once_without_reconnect(
        &self,
    ) -> Result<(Client, ConnectHandle), ConnectError> {
        let config = self.fred_config()?;
        self.connect_once(config, false)
            .await
            .map_err(|(fatal, e)| {
                let message = format!("cannot connect to Redis at {}: {}", self.shown, e.details());
                if fatal {
                    ConnectError::fatal(message)
                } else {
                    ConnectError::retriable(message)
                }
            })
    }

    async fn connect_until_timeout(
        &self,
        reconnect: bool,
    ) -> Result<(Client, ConnectHandle), ConnectError> {
        let config = self.fred_config()?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            match self.connect_once(config.clone(), reconnect).await {
                Ok(connected) => return Ok(connected),
                Err((fatal, e)) => {
                    if fatal || tokio::time::Instant::now() + delay > deadline {
                        return Err(ConnectError::fatal(format!(
                            "cannot connect to Redis at {}: {}",
                            self.shown,
                            e.details()
                        )));
                    }
                    tracing::warn!(uri = %self.shown, error = %e, "cannot connect to Redis yet, retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// One attempt to connect; the error says whether trying again can help (`false`) or not
    /// (credentials, configuration, TLS: `true`).
    async fn connect_once(
        &self,
        config: Config,
        reconnect: bool,
    ) -> Result<(Client, ConnectHandle), (bool, FredError)> {
        let timeout = self.timeout;
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = timeout.min(Duration::from_secs(10));
                c.internal_command_timeout = timeout;
                c.max_command_attempts = 1;
                c.tcp = TcpConfig {
                    nodelay: Some(true),
                    ..TcpConfig::default()
                };
            })
            .with_performance_config(|p| p.default_command_timeout = timeout);
        if reconnect {
            builder.set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
        }
        let client = builder.build().map_err(|e| (true, e))?;
        match client.init().await {
            Ok(task) => Ok((client, task)),
            Err(e) => {
                let fatal = matches!(
                    e.kind(),
                    ErrorKind::Auth | ErrorKind::Config | ErrorKind::Tls
                );
                Err((fatal, e))
            }
        }
    }
}

/// Translates the URI forms fred does not read itself: several comma-separated hosts
/// (cluster seeds, sentinels) and Lettuce's `#master` fragment for Sentinel.
fn fred_url(uri: &str, cluster: bool) -> Result<String, String> {
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| {
        // Without a scheme, nothing tells where a password would end: not echoed then.
        let shown = if uri.contains('@') { "the value" } else { uri };
        format!("'{shown}' is not a URI (expected redis://host:port)")
    })?;
    let sentinel = scheme.ends_with("-sentinel");
    match scheme {
        "redis" | "rediss" | "redis-sentinel" | "rediss-sentinel" => {}
        "redis-socket" | "unix" => return Err("Unix sockets are not supported".into()),
        other => {
            return Err(format!(
            "unknown scheme '{other}' (expected redis, rediss, redis-sentinel or rediss-sentinel)"
        ))
        }
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    if [path, query, fragment]
        .into_iter()
        .flatten()
        .any(|p| p.contains('@'))
    {
        // A password with a '/', '?' or '#' of its own: what follows would be echoed below.
        return Err("'@' after the host: percent-encode '/', '?' and '#' in the user name and password (%2F, %3F, %23)".into());
    }
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut hosts = hosts.split(',').map(str::trim).filter(|h| !h.is_empty());
    let first = hosts.next().ok_or("the URI names no host")?;
    let others: Vec<&str> = hosts.collect();
    if !others.is_empty() && !cluster && !sentinel {
        return Err("several hosts need redis.cluster=true or a redis-sentinel:// URI".into());
    }
    let base_scheme = if scheme.starts_with("rediss") {
        "rediss"
    } else {
        "redis"
    };
    let scheme = if sentinel {
        format!("{base_scheme}-sentinel")
    } else if cluster {
        format!("{base_scheme}-cluster")
    } else {
        base_scheme.to_owned()
    };
    let mut url = format!("{scheme}://");
    if let Some(userinfo) = userinfo {
        // Lettuce also accepts a password alone before the '@'.
        if userinfo.contains(':') {
            url.push_str(userinfo);
        } else {
            url.push(':');
            url.push_str(userinfo);
        }
        url.push('@');
    }
    url.push_str(first);
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        if path.parse::<u8>().is_err() {
            return Err(format!("'{path}' is not a database number"));
        }
        if cluster {
            return Err(
                "Redis Cluster has only database 0; remove the database from the URI".into(),
            );
        }
        url.push('/');
        url.push_str(path);
    }
    let mut params: Vec<String> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    params.extend(others.iter().map(|h| format!("node={h}")));
    if let Some(master) = fragment.filter(|f| !f.is_empty()) {
        params.push(format!("sentinelServiceName={master}"));
    }
    if sentinel && !params.iter().any(|p| p.starts_with("sentinelServiceName=")) {
        return Err(
            "a Sentinel URI needs the master's name: redis-sentinel://host:26379#mymaster".into(),
        );
    }
    if !params.is_empty() {
        url.push('?');
        url.push_str(&params.join("&"));
    }
    Ok(url)
}

/// The error of a failed Redis command, classified: connection trouble and the server's
/// passing states (loading, busy, out of memory, failover) are retriable; a missing
/// permission, failed authentication or anything else is fatal.
pub fn redis_error(error: FredError, doing: &str) -> ConnectError {
    let details = error.details();
    let code = details.split_whitespace().next().unwrap_or("");
    let retriable = match error.kind() {
        ErrorKind::IO
        | ErrorKind::Timeout
        | ErrorKind::Canceled
        | ErrorKind::Backpressure
        | ErrorKind::Routing
        | ErrorKind::Cluster
        | ErrorKind::Sentinel => true,
        // fred's answer while no connection is up (Redis down, restarting).
        _ if details.starts_with("Failed to route command") => true,
        _ => matches!(
            code,
            "LOADING"
                | "BUSY"
                | "TRYAGAIN"
                | "CLUSTERDOWN"
                | "MASTERDOWN"
                | "READONLY"
                | "OOM"
                | "NOREPLICAS"
                | "MOVED"
                | "ASK"
                | "EXECABORT"
        ),
    };
    let message = match code {
        "NOPERM" => format!("{doing}: the Redis user lacks a permission: {details}"),
        "NOAUTH" | "WRONGPASS" => format!("{doing}: Redis refused the credentials: {details}"),
        _ => format!("{doing}: {details}"),
    };
    if retriable {
        ConnectError::retriable(message)
    } else {
        ConnectError::fatal(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_for_fred() {
        assert_eq!(
            fred_url("redis://localhost:6379", false).unwrap(),
            "redis://localhost:6379"
        );
        assert_eq!(
            fred_url("rediss://u:p@h:6380/2", false).unwrap(),
            "rediss://u:p@h:6380/2"
        );
        assert_eq!(
            fred_url("redis://secret@h:1", false).unwrap(),
            "redis://:secret@h:1"
        );
        assert_eq!(
            fred_url("redis://a:1,b:2", true).unwrap(),
            "redis-cluster://a:1?node=b:2"
        );
        assert_eq!(
            fred_url("redis-sentinel://s1:26379,s2:26379/1#mymaster", false).unwrap(),
            "redis-sentinel://s1:26379/1?node=s2:26379&sentinelServiceName=mymaster"
        );
        assert!(fred_url("redis-sentinel://s1:26379", false)
            .unwrap_err()
            .contains("master"));
        assert!(fred_url("http://h", false)
            .unwrap_err()
            .contains("unknown scheme"));
        assert!(fred_url("redis://a:1,b:2", false)
            .unwrap_err()
            .contains("redis.cluster"));
        assert!(fred_url("redis://h/x", false)
            .unwrap_err()
            .contains("database"));
        assert!(fred_url("localhost:6379", false)
            .unwrap_err()
            .contains("'localhost:6379' is not a URI"));
        // Passwords that would end up in the messages are not echoed.
        for (uri, message) in [
            ("u:s3cret@h:1", "'the value' is not a URI"),
            ("redis://u:s3/cret@h:1", "percent-encode"),
            ("redis://u:s3?cret@h:1", "percent-encode"),
            ("redis://u:s3#cret@h:1", "percent-encode"),
        ] {
            let error = fred_url(uri, false).unwrap_err();
            assert!(error.contains(message), "{uri}: {error}");
            assert!(
                !error.contains("s3") && !error.contains("cret"),
                "{uri}: {error}"
            );
        }
    }

    #[test]
    fn settings_from_keys() {
        let settings = RedisSettings::parse(&connect_core::config::props(&[
            ("redis.uri", "redis://u:pw@127.0.0.1:7000/3"),
            ("redis.password", "other"),
        ]))
        .unwrap();
        assert_eq!(settings.shown_uri(), "redis://u:********@127.0.0.1:7000/3");
        assert!(!format!("{settings:?}").contains("pw"));
        let config = settings.fred_config().unwrap();
        assert_eq!(config.password.as_deref(), Some("other"));
        assert_eq!(config.username.as_deref(), Some("u"));
        assert!(config.tls.is_none());

        let settings =
            RedisSettings::parse(&connect_core::config::props(&[("redis.port", "7001")])).unwrap();
        assert_eq!(settings.shown_uri(), "redis://localhost:7001");

        assert!(RedisSettings::parse(&connect_core::config::props(&[
            ("redis.uri", "redis://h:1"),
            ("redis.key.cert", "/x"),
        ]))
        .unwrap_err()
        .to_string()
        .contains("redis.key.file"));
    }

    #[test]
    fn error_classes() {
        let e = |kind, msg: &str| redis_error(FredError::new(kind, msg.to_owned()), "writing");
        assert!(e(ErrorKind::IO, "broken pipe").is_retriable());
        assert!(e(ErrorKind::Timeout, "timed out").is_retriable());
        assert!(e(ErrorKind::Unknown, "LOADING Redis is loading").is_retriable());
        assert!(e(ErrorKind::Unknown, "OOM command not allowed").is_retriable());
        assert!(e(ErrorKind::Unknown, "Failed to route command.").is_retriable());
        let perm = e(
            ErrorKind::Unknown,
            "NOPERM User u has no permissions to run the 'set' command",
        );
        assert!(!perm.is_retriable());
        assert!(perm.to_string().contains("lacks a permission"));
        assert!(!e(ErrorKind::Auth, "WRONGPASS invalid username-password pair").is_retriable());
    }
}
