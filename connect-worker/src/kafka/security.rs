//! How a Kafka client proves who it is and protects the connection, with Kafka's client keys:
//! `security.protocol` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), `sasl.mechanism` (PLAIN,
//! SCRAM-SHA-256, SCRAM-SHA-512) with the credentials in `sasl.jaas.config`, and TLS from PEM
//! (`ssl.truststore.*`, `ssl.keystore.*`). Java keystores (JKS, PKCS12) are not read: export
//! them to PEM (docs/security.md says how).
//!
//! Everything is checked, and every file read, when the settings are parsed, so a mistake is a
//! configuration error naming the key, before any connection is tried.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use connect_core::config::{
    ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValues, DefaultValue, Importance, Props,
    Validator,
};
use rskafka::client::{ClientBuilder, Credentials, SaslConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

pub const SECURITY_PROTOCOL: &str = "security.protocol";
pub const SASL_MECHANISM: &str = "sasl.mechanism";
pub const SASL_JAAS_CONFIG: &str = "sasl.jaas.config";
pub const TRUSTSTORE_LOCATION: &str = "ssl.truststore.location";
pub const TRUSTSTORE_CERTIFICATES: &str = "ssl.truststore.certificates";
pub const TRUSTSTORE_TYPE: &str = "ssl.truststore.type";
pub const TRUSTSTORE_PASSWORD: &str = "ssl.truststore.password";
pub const KEYSTORE_LOCATION: &str = "ssl.keystore.location";
pub const KEYSTORE_CERTIFICATE_CHAIN: &str = "ssl.keystore.certificate.chain";
pub const KEYSTORE_KEY: &str = "ssl.keystore.key";
pub const KEYSTORE_TYPE: &str = "ssl.keystore.type";
pub const KEYSTORE_PASSWORD: &str = "ssl.keystore.password";
pub const KEY_PASSWORD: &str = "ssl.key.password";
pub const ENDPOINT_IDENTIFICATION: &str = "ssl.endpoint.identification.algorithm";

const PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
const MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
const PLAIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// The security keys of a Kafka client, as Kafka names them (no prefix).
pub fn config_def() -> ConfigDef {
    let group = "Kafka security";
    let key = |name: &str, ty: ConfigType, order: i32, doc: &str| {
        ConfigKey::new(name, ty)
            .importance(Importance::Medium)
            .doc(doc)
            .group(group, order)
    };
    ConfigDef::new()
        .define(
            key(SECURITY_PROTOCOL, ConfigType::String, 1,
                "How the connection to the brokers is protected: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")
                .default_value("PLAINTEXT")
                .validator(Validator::one_of_ignore_case(PROTOCOLS))
                .importance(Importance::High),
        )
        .define(
            key(SASL_MECHANISM, ConfigType::String, 2,
                "The SASL mechanism with SASL_PLAINTEXT and SASL_SSL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (GSSAPI and OAUTHBEARER are not supported).")
                .default_value("GSSAPI")
                .importance(Importance::High),
        )
        .define(
            key(SASL_JAAS_CONFIG, ConfigType::Password, 3,
                "The SASL credentials as a JAAS login module line, as Kafka's: org.apache.kafka.common.security.plain.PlainLoginModule (PLAIN) or org.apache.kafka.common.security.scram.ScramLoginModule (SCRAM) required username=\"...\" password=\"...\";")
                .optional()
                .importance(Importance::High),
        )
        .define(
            key(TRUSTSTORE_LOCATION, ConfigType::String, 4,
                "PEM file of the certificate authorities the brokers' certificates must chain to. Unset (and no ssl.truststore.certificates): the system's authorities.")
                .optional(),
        )
        .define(
            key(TRUSTSTORE_CERTIFICATES, ConfigType::Password, 5,
                "The trusted certificate authorities as PEM text, instead of a file.")
                .optional(),
        )
        .define(
            key(TRUSTSTORE_TYPE, ConfigType::String, 6,
                "Format of the trust store: PEM only (Kafka's default is JKS: export it to PEM).")
                .default_value("PEM"),
        )
        .define(
            key(TRUSTSTORE_PASSWORD, ConfigType::Password, 7,
                "Accepted for compatibility; a PEM trust store has no password.")
                .optional()
                .importance(Importance::Low),
        )
        .define(
            key(KEYSTORE_LOCATION, ConfigType::String, 8,
                "PEM file holding this client's private key and certificate chain, for brokers that require client certificates (ssl.client.auth=required).")
                .optional(),
        )
        .define(
            key(KEYSTORE_CERTIFICATE_CHAIN, ConfigType::Password, 9,
                "This client's certificate chain as PEM text, with ssl.keystore.key, instead of a file.")
                .optional(),
        )
        .define(
            key(KEYSTORE_KEY, ConfigType::Password, 10,
                "This client's private key as PEM text (unencrypted), with ssl.keystore.certificate.chain.")
                .optional(),
        )
        .define(
            key(KEYSTORE_TYPE, ConfigType::String, 11,
                "Format of the key store: PEM only (export JKS or PKCS12 key stores to PEM).")
                .default_value("PEM"),
        )
        .define(
            key(KEYSTORE_PASSWORD, ConfigType::Password, 12,
                "Accepted for compatibility; a PEM key store has no password.")
                .optional()
                .importance(Importance::Low),
        )
        .define(
            key(KEY_PASSWORD, ConfigType::Password, 13,
                "Not supported: encrypted private keys cannot be read; decrypt the key (openssl pkcs8 -topk8 -nocrypt).")
                .optional()
                .importance(Importance::Low),
        )
        .define(
            key(ENDPOINT_IDENTIFICATION, ConfigType::String, 14,
                "https (default): the broker's certificate must name the host connected to. Empty: any name is accepted (the chain is still verified).")
                .default_value("https")
                .validator(Validator::one_of_ignore_case(&["https", ""]))
                .importance(Importance::Low),
        )
}

/// The keys of [`config_def`] in `props`, without those set to their default: what decides
/// whether two clients can share a connection.
pub fn security_props(props: &Props) -> Props {
    let def = config_def();
    props
        .iter()
        .filter(|(k, v)| {
            def.key(k).is_some_and(|key| match &key.default {
                DefaultValue::Value(default) => !default.eq_ignore_ascii_case(v.trim()),
                _ => true,
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Checked security settings, ready to configure a client.
#[derive(Clone)]
pub struct KafkaSecurity {
    protocol: String,
    tls: Option<Arc<ClientConfig>>,
    sasl: Option<Sasl>,
}

#[derive(Clone)]
struct Sasl {
    mechanism: String,
    username: String,
    password: String,
}

impl fmt::Debug for KafkaSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Default for KafkaSecurity {
    fn default() -> Self {
        Self {
            protocol: "PLAINTEXT".into(),
            tls: None,
            sasl: None,
        }
    }
}

impl KafkaSecurity {
    /// Reads a client's security keys (no prefix), reporting every problem by key. Secrets
    /// never appear in the messages.
    pub fn from_props(props: &Props) -> Result<Self, ConfigErrors> {
        let values = config_def().parse(props)?;
        let mut errors = ConfigErrors::default();
        let mut add = |(key, message): KeyProblem| {
            // Kafka's wording, so the key is named (and re-prefixed for overrides).
            let message = if message.starts_with("Invalid value") {
                message
            } else {
                format!("Invalid value for configuration {key}: {message}")
            };
            errors.add(key, message);
        };
        let protocol = values
            .string(SECURITY_PROTOCOL)
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase();
        let tls = if protocol.ends_with("SSL") {
            match tls_config(&values) {
                Ok(config) => Some(Arc::new(config)),
                Err(problem) => {
                    add(problem);
                    None
                }
            }
        } else {
            None
        };
        let sasl = if protocol.starts_with("SASL_") {
            match sasl(&values) {
                Ok(sasl) => Some(sasl),
                Err(problem) => {
                    add(problem);
                    None
                }
            }
        } else {
            None
        };
        errors.into_result(Self {
            protocol,
            tls,
            sasl,
        })
    }

    /// What the settings are, for logs: protocol, mechanism and user, never the password.
    pub fn describe(&self) -> String {
        match &self.sasl {
            Some(s) => format!("{} ({}, user '{}')", self.protocol, s.mechanism, s.username),
            None => self.protocol.clone(),
        }
    }

    /// The TLS settings, with `SSL` and `SASL_SSL`.
    pub(crate) fn tls(&self) -> Option<&Arc<ClientConfig>> {
        self.tls.as_ref()
    }

    /// Whether the connection needs SASL authentication.
    pub fn uses_sasl(&self) -> bool {
        self.sasl.is_some()
    }

    /// Configures a client builder with these settings.
    pub fn apply(&self, mut builder: ClientBuilder) -> ClientBuilder {
        if let Some(tls) = &self.tls {
            builder = builder.tls_config(Arc::clone(tls));
        }
        if let Some(s) = &self.sasl {
            let credentials = Credentials::new(s.username.clone(), s.password.clone());
            builder = builder.sasl_config(match s.mechanism.as_str() {
                "PLAIN" => SaslConfig::Plain(credentials),
                "SCRAM-SHA-256" => SaslConfig::ScramSha256(credentials),
                _ => SaslConfig::ScramSha512(credentials),
            });
        }
        builder
    }
}

type KeyProblem = (&'static str, String);

fn sasl(values: &ConfigValues) -> Result<Sasl, KeyProblem> {
    let mechanism = values
        .string(SASL_MECHANISM)
        .unwrap_or("GSSAPI")
        .trim()
        .to_ascii_uppercase();
    if !MECHANISMS.contains(&mechanism.as_str()) {
        return Err((
            SASL_MECHANISM,
            format!(
                "Invalid value {mechanism} for configuration {SASL_MECHANISM}: supported are {} (set it: Kafka's default GSSAPI is not)",
                MECHANISMS.join(", ")
            ),
        ));
    }
    let jaas = values
        .password(SASL_JAAS_CONFIG)
        .map(|p| p.value())
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            (
                SASL_JAAS_CONFIG,
                format!("required with {SASL_MECHANISM}={mechanism}: the user name and password, as {} required username=\"...\" password=\"...\";", module_for(&mechanism)),
            )
        })?;
    let login = parse_jaas(jaas).map_err(|m| (SASL_JAAS_CONFIG, m))?;
    let expected = module_for(&mechanism);
    if login.module != expected {
        return Err((
            SASL_JAAS_CONFIG,
            format!(
                "the login module {} does not do {SASL_MECHANISM}={mechanism}; use {expected}",
                login.module
            ),
        ));
    }
    let option = |name: &str| {
        login.options.get(name).cloned().ok_or_else(|| {
            (
                SASL_JAAS_CONFIG,
                format!("the login module has no {name} option"),
            )
        })
    };
    Ok(Sasl {
        username: option("username")?,
        password: option("password")?,
        mechanism,
    })
}

fn module_for(mechanism: &str) -> &'static str {
    if mechanism == "PLAIN" {
        PLAIN_MODULE
    } else {
        SCRAM_MODULE
    }
}

/// One JAAS login module entry: `<class> <flag> key="value" ...;`.
#[derive(Debug, PartialEq)]
struct JaasLogin {
    module: String,
    options: BTreeMap<String, String>,
}

/// Parses `sasl.jaas.config`. The messages describe the shape, never quote values.
fn parse_jaas(text: &str) -> Result<JaasLogin, String> {
    const SHAPE: &str =
        "expected '<LoginModule class> required username=\"...\" password=\"...\";'";
    let mut chars = text.trim().chars().peekable();
    let module = word(&mut chars);
    let flag = word(&mut chars);
    if module.is_empty()
        || !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str())
    {
        return Err(format!(
            "{SHAPE}: it does not start with a login module class and a flag"
        ));
    }
    let mut options = BTreeMap::new();
    loop {
        let name = word(&mut chars);
        if name.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            return Err(format!("{SHAPE}: option '{name}' has no '='"));
        }
        let value = if chars.next_if_eq(&'"').is_some() {
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => {
                            return Err(format!("{SHAPE}: the value of '{name}' is not closed"))
                        }
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("{SHAPE}: the value of '{name}' is not closed")),
                }
            }
            value
        } else {
            word(&mut chars)
        };
        options.insert(name, value);
    }
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    if chars.next() != Some(';') {
        return Err(format!("{SHAPE}: it must end with ';'"));
    }
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    if chars.peek().is_some() {
        return Err(format!(
            "{SHAPE}: only one login module may be given to a client"
        ));
    }
    Ok(JaasLogin { module, options })
}

/// The next word: skips white space, stops at white space, ';' or '='.
fn word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    let mut w = String::new();
    while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ';' && *c != '=') {
        w.push(c);
    }
    w
}

fn tls_config(values: &ConfigValues) -> Result<ClientConfig, KeyProblem> {
    for key in [TRUSTSTORE_TYPE, KEYSTORE_TYPE] {
        let ty = values.string(key).unwrap_or("PEM").trim();
        if !ty.eq_ignore_ascii_case("PEM") {
            return Err((key, format!("Invalid value {ty} for configuration {key}: only PEM is read here; export the Java key store to PEM (docs/security.md) and set {key}=PEM")));
        }
    }
    if values
        .password(KEY_PASSWORD)
        .is_some_and(|p| !p.value().is_empty())
    {
        return Err((KEY_PASSWORD, "encrypted private keys are not supported; give the key unencrypted (openssl pkcs8 -topk8 -nocrypt)".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(trusted_roots(values)?);
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| (SECURITY_PROTOCOL, format!("cannot set up TLS: {e}")))?;
    let verify_names = values
        .string(ENDPOINT_IDENTIFICATION)
        .is_none_or(|v| !v.trim().is_empty());
    let builder = if verify_names {
        builder.with_root_certificates(roots)
    } else {
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| {
                (
                    TRUSTSTORE_LOCATION,
                    format!("cannot verify brokers with it: {e}"),
                )
            })?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostName(verifier)))
    };
    match client_identity(values)? {
        Some((chain, key, key_name)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| (key_name, format!("unusable client certificate: {e}"))),
        None => Ok(builder.with_no_client_auth()),
    }
}

fn trusted_roots(values: &ConfigValues) -> Result<RootCertStore, KeyProblem> {
    let mut store = RootCertStore::empty();
    let file = values
        .string(TRUSTSTORE_LOCATION)
        .filter(|v| !v.trim().is_empty());
    let inline = values
        .password(TRUSTSTORE_CERTIFICATES)
        .map(|p| p.value())
        .filter(|v| !v.trim().is_empty());
    let given = match (file, inline) {
        (Some(path), _) => Some((
            TRUSTSTORE_LOCATION,
            certificates_from_file(path, TRUSTSTORE_LOCATION)?,
        )),
        (None, Some(pem)) => Some((
            TRUSTSTORE_CERTIFICATES,
            certificates_from_text(pem, TRUSTSTORE_CERTIFICATES)?,
        )),
        (None, None) => None,
    };
    match given {
        Some((key, certs)) => {
            for cert in certs {
                store
                    .add(cert)
                    .map_err(|e| (key, format!("unusable certificate authority: {e}")))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A certificate the system keeps but rustls cannot use is skipped, as browsers do.
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err((
                    TRUSTSTORE_LOCATION,
                    "no trusted certificate authorities found on this system; set it to a PEM file"
                        .into(),
                ));
            }
        }
    }
    Ok(store)
}

type Identity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    &'static str,
);

fn client_identity(values: &ConfigValues) -> Result<Option<Identity>, KeyProblem> {
    if let Some(path) = values
        .string(KEYSTORE_LOCATION)
        .filter(|v| !v.trim().is_empty())
    {
        let chain = certificates_from_file(path, KEYSTORE_LOCATION)?;
        let key = PrivateKeyDer::from_pem_file(path).map_err(|e| {
            (
                KEYSTORE_LOCATION,
                format!("no unencrypted PEM private key in {path}: {e}"),
            )
        })?;
        return Ok(Some((chain, key, KEYSTORE_LOCATION)));
    }
    let text = |key: &str| {
        values
            .password(key)
            .map(|p| p.value().to_owned())
            .filter(|v| !v.trim().is_empty())
    };
    match (text(KEYSTORE_CERTIFICATE_CHAIN), text(KEYSTORE_KEY)) {
        (Some(chain), Some(key)) => {
            let chain = certificates_from_text(&chain, KEYSTORE_CERTIFICATE_CHAIN)?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| {
                (
                    KEYSTORE_KEY,
                    format!("not an unencrypted PEM private key: {e}"),
                )
            })?;
            Ok(Some((chain, key, KEYSTORE_KEY)))
        }
        (None, None) => Ok(None),
        (Some(_), None) => Err((
            KEYSTORE_KEY,
            format!("required with {KEYSTORE_CERTIFICATE_CHAIN}"),
        )),
        (None, Some(_)) => Err((
            KEYSTORE_CERTIFICATE_CHAIN,
            format!("required with {KEYSTORE_KEY}"),
        )),
    }
}

fn certificates_from_file(
    path: &str,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, KeyProblem> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| (key, format!("cannot read {path}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            (
                key,
                format!("{path} is not PEM (a Java key store? export it to PEM): {e}"),
            )
        })?;
    if certs.is_empty() {
        return Err((key, format!("no PEM certificate in {path}")));
    }
    Ok(certs)
}

fn certificates_from_text(
    pem: &str,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, KeyProblem> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| (key, format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err((key, "no PEM certificate in the value".into()));
    }
    Ok(certs)
}

/// `ssl.endpoint.identification.algorithm=` (empty): the chain, dates and signatures are
/// verified as usual; only a certificate naming another host is accepted. webpki checks the
/// name last, so nothing else is skipped.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::config::props;

    fn errors_of(pairs: &[(&str, &str)]) -> String {
        KafkaSecurity::from_props(&props(pairs))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn plaintext_is_the_default() {
        let s = KafkaSecurity::from_props(&Props::new()).unwrap();
        assert_eq!(s.describe(), "PLAINTEXT");
        assert!(s.tls.is_none() && s.sasl.is_none());
    }

    #[test]
    fn jaas_lines_as_kafka_users_write_them() {
        let login = parse_jaas(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required
                 username="connect"  password="p@ss \"quoted\" ;=";"#,
        )
        .unwrap();
        assert_eq!(login.module, SCRAM_MODULE);
        assert_eq!(login.options["username"], "connect");
        assert_eq!(login.options["password"], "p@ss \"quoted\" ;=");
        let bare = parse_jaas(&format!("{PLAIN_MODULE} required username=u password=p;")).unwrap();
        assert_eq!(bare.options["password"], "p");
    }

    #[test]
    fn broken_jaas_lines_are_named_without_the_secret() {
        for (text, problem) in [
            ("username=\"u\" password=\"secret1\";", "does not start"),
            (&*format!("{PLAIN_MODULE} required username=\"u\" password=\"secret1\""), "end with ';'"),
            (&*format!("{PLAIN_MODULE} required username=\"u\" password=\"secret1;"), "not closed"),
            (&*format!("{PLAIN_MODULE} required password;"), "has no '='"),
            (&*format!("{PLAIN_MODULE} required username=\"u\" password=\"secret1\"; {PLAIN_MODULE} required;"), "only one"),
        ] {
            let message = parse_jaas(text).unwrap_err();
            assert!(message.contains(problem), "{text}: {message}");
            assert!(!message.contains("secret1"), "{message}");
        }
    }

    #[test]
    fn sasl_settings_are_checked_together() {
        let jaas = format!("{SCRAM_MODULE} required username=\"connect\" password=\"secret1\";");
        let s = KafkaSecurity::from_props(&props(&[
            (SECURITY_PROTOCOL, "sasl_plaintext"),
            (SASL_MECHANISM, "SCRAM-SHA-512"),
            (SASL_JAAS_CONFIG, &jaas),
        ]))
        .unwrap();
        assert_eq!(
            s.describe(),
            "SASL_PLAINTEXT (SCRAM-SHA-512, user 'connect')"
        );
        assert!(!format!("{s:?}").contains("secret1"));

        let text = errors_of(&[
            (SECURITY_PROTOCOL, "SASL_PLAINTEXT"),
            (SASL_JAAS_CONFIG, &jaas),
        ]);
        assert!(
            text.contains("sasl.mechanism") && text.contains("GSSAPI"),
            "{text}"
        );
        let text = errors_of(&[
            (SECURITY_PROTOCOL, "SASL_PLAINTEXT"),
            (SASL_MECHANISM, "PLAIN"),
        ]);
        assert!(
            text.contains("sasl.jaas.config") && text.contains("required with"),
            "{text}"
        );
        let text = errors_of(&[
            (SECURITY_PROTOCOL, "SASL_PLAINTEXT"),
            (SASL_MECHANISM, "PLAIN"),
            (SASL_JAAS_CONFIG, &jaas),
        ]);
        assert!(text.contains("does not do sasl.mechanism=PLAIN"), "{text}");
        assert!(!text.contains("secret1"), "{text}");
        let text = errors_of(&[(SECURITY_PROTOCOL, "KERBEROS")]);
        assert!(
            text.contains("Invalid value KERBEROS for configuration security.protocol"),
            "{text}"
        );
    }

    #[test]
    fn tls_files_are_read_when_parsed() {
        let text = errors_of(&[
            (SECURITY_PROTOCOL, "SSL"),
            (TRUSTSTORE_LOCATION, "/nonexistent/ca.pem"),
        ]);
        assert!(
            text.contains("ssl.truststore.location") && text.contains("/nonexistent/ca.pem"),
            "{text}"
        );
        let text = errors_of(&[(SECURITY_PROTOCOL, "SSL"), (TRUSTSTORE_TYPE, "JKS")]);
        assert!(text.contains("only PEM"), "{text}");
        let text = errors_of(&[(SECURITY_PROTOCOL, "SSL"), (KEY_PASSWORD, "x")]);
        assert!(text.contains("encrypted private keys"), "{text}");
        let text = errors_of(&[
            (SECURITY_PROTOCOL, "SSL"),
            (TRUSTSTORE_CERTIFICATES, "not pem"),
            (KEYSTORE_KEY, "k"),
        ]);
        assert!(
            text.contains("ssl.truststore.certificates") || text.contains("ssl.keystore"),
            "{text}"
        );
        // PLAINTEXT ignores TLS keys, as Kafka's clients do.
        assert!(
            KafkaSecurity::from_props(&props(&[(TRUSTSTORE_LOCATION, "/nonexistent")])).is_ok()
        );
    }
}
