//! The Kafka cluster's id, which `GET /` shows as `kafka_cluster_id` (Kafka Connect reads it
//! with its admin client). rskafka does not expose it, so it is asked for here with the two
//! requests it takes, on a connection of its own: ApiVersions (which Metadata versions the
//! broker speaks), then Metadata v2 to v8 for no topics, whose answer carries the id.
//!
//! The connection is plaintext or TLS, as `security.protocol` says. SASL is not spoken here:
//! with `SASL_PLAINTEXT` or `SASL_SSL` the id stays unknown (docs/rest.md).
//!
//! [`ClusterId::look_up`] asks once and, while no broker answers, again in the background
//! with growing pauses; until one does the id is unknown, and nothing waits for it.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;
use tokio_rustls::TlsConnector;

use super::KafkaConfig;

const API_VERSIONS: i16 = 18;
const METADATA: i16 = 3;
/// Metadata v2 is the first that carries the cluster id; v9 is the first in the flexible
/// encoding, which is not spoken here (Kafka 4 brokers still speak v8).
const FIRST_METADATA: i16 = 2;
const LAST_METADATA: i16 = 8;
/// The largest answer read: a Metadata answer for no topics lists only the brokers.
const MAX_RESPONSE: usize = 1024 * 1024;
/// The pauses between lookups while no broker answers: 1 s, doubling up to 30 s.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LAST_PAUSE: Duration = Duration::from_secs(30);

/// The cluster's id once a broker told it; shared by every clone. Dropping the last clone
/// stops a lookup still retrying in the background.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterId(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    id: Arc<OnceLock<String>>,
    retries: Mutex<Option<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let retries = self.retries.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(retries) = retries.take() {
            retries.abort();
        }
    }
}

impl ClusterId {
    /// The id, once known.
    pub(crate) fn get(&self) -> Option<String> {
        self.0.id.get().cloned()
    }

    /// Asks the brokers for the id: once now, and if none answers, again in the background
    /// until one does. Returns after the first attempt, whatever its outcome.
    pub(crate) async fn look_up(&self, config: &KafkaConfig) {
        if self.get().is_some() {
            return;
        }
        if config.security.uses_sasl() {
            tracing::info!(
                security = %config.security.describe(),
                "the Kafka cluster id is not looked up over SASL: GET / shows kafka_cluster_id \"unknown\""
            );
            return;
        }
        match ask_brokers(config).await {
            Ok(id) => remember(&self.0.id, id),
            Err(problem) => {
                tracing::warn!(%problem, "cannot learn the Kafka cluster id yet; GET / shows \"unknown\" until a broker tells it (retrying in the background)");
                let mut retries = self.0.retries.lock().unwrap_or_else(|e| e.into_inner());
                if retries.is_none() {
                    let id = Arc::clone(&self.0.id);
                    let config = config.clone();
                    *retries = Some(tokio::spawn(retry(id, config)).abort_handle());
                }
            }
        }
    }
}

fn remember(cell: &OnceLock<String>, id: String) {
    tracing::info!(kafka_cluster_id = %id, "Kafka cluster id");
    let _ = cell.set(id);
}

/// Asks again with growing pauses until a broker tells the id.
async fn retry(id: Arc<OnceLock<String>>, config: KafkaConfig) {
    let mut pause = FIRST_PAUSE;
    loop {
        tokio::time::sleep(pause).await;
        match ask_brokers(&config).await {
            Ok(found) => return remember(&id, found),
            Err(problem) => {
                tracing::debug!(%problem, "cannot learn the Kafka cluster id yet");
                pause = (pause * 2).min(LAST_PAUSE);
            }
        }
    }
}

/// The id from the first bootstrap server that tells it; each may take up to the request
/// timeout.
async fn ask_brokers(config: &KafkaConfig) -> Result<String, String> {
    let mut problems = Vec::new();
    for server in &config.bootstrap_servers {
        match tokio::time::timeout(config.request_timeout, ask(server, config)).await {
            Ok(Ok(id)) => return Ok(id),
            Ok(Err(problem)) => problems.push(format!("{server}: {problem}")),
            Err(_) => problems.push(format!(
                "{server}: no answer within {} ms",
                config.request_timeout.as_millis()
            )),
        }
    }
    if problems.is_empty() {
        problems.push("no bootstrap.servers".to_owned());
    }
    Err(problems.join("; "))
}

async fn ask(server: &str, config: &KafkaConfig) -> Result<String, String> {
    let tcp = TcpStream::connect(server)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    match config.security.tls() {
        None => cluster_id(tcp, &config.client_id).await,
        Some(tls) => {
            let host = host_of(server);
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
            let stream = TlsConnector::from(Arc::clone(tls))
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            cluster_id(stream, &config.client_id).await
        }
    }
}

/// `host` of `host:port` or `[v6]:port`.
fn host_of(server: &str) -> &str {
    let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The two requests on an open connection.
async fn cluster_id<S>(mut stream: S, client_id: &str) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let answer = round_trip(&mut stream, API_VERSIONS, 0, 1, client_id, &[]).await?;
    let (min, max) = metadata_versions(&answer)?;
    let version = max.min(LAST_METADATA);
    if version < min.max(FIRST_METADATA) {
        return Err(format!(
            "the broker speaks Metadata v{min} to v{max}; the cluster id needs one of v{FIRST_METADATA} to v{LAST_METADATA}"
        ));
    }
    let answer = round_trip(
        &mut stream,
        METADATA,
        version,
        2,
        client_id,
        &metadata_request(version),
    )
    .await?;
    metadata_cluster_id(version, &answer)
}

/// Sends one request (header v1) and returns the body of its answer (header v0).
async fn round_trip<S>(
    stream: &mut S,
    api_key: i16,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &[u8],
) -> Result<Vec<u8>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let io = |e: std::io::Error| format!("connection failed: {e}");
    stream
        .write_all(&request(api_key, version, correlation_id, client_id, body))
        .await
        .map_err(io)?;
    stream.flush().await.map_err(io)?;
    let length = stream.read_i32().await.map_err(io)?;
    let length = usize::try_from(length)
        .ok()
        .filter(|l| (4..=MAX_RESPONSE).contains(l))
        .ok_or_else(|| format!("the broker answered a frame of {length} bytes"))?;
    let mut frame = vec![0; length];
    stream.read_exact(&mut frame).await.map_err(io)?;
    let mut reader = Reader(&frame);
    let answered = reader.i32()?;
    if answered != correlation_id {
        return Err(format!(
            "the broker answered request {answered} to request {correlation_id}"
        ));
    }
    Ok(reader.0.to_vec())
}

/// A request frame: length, header v1 (api key, version, correlation id, client id), body.
fn request(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut frame = vec![0; 4];
    frame.extend(api_key.to_be_bytes());
    frame.extend(version.to_be_bytes());
    frame.extend(correlation_id.to_be_bytes());
    match i16::try_from(client_id.len()) {
        Ok(length) => {
            frame.extend(length.to_be_bytes());
            frame.extend(client_id.as_bytes());
        }
        Err(_) => frame.extend((-1i16).to_be_bytes()), // too long for the field: none
    }
    frame.extend(body);
    let length = i32::try_from(frame.len() - 4).unwrap_or(i32::MAX);
    frame[..4].copy_from_slice(&length.to_be_bytes());
    frame
}

/// A Metadata request for no topics (an empty array; null would mean all of them).
fn metadata_request(version: i16) -> Vec<u8> {
    let mut body = 0i32.to_be_bytes().to_vec();
    if version >= 4 {
        body.push(0); // allow_auto_topic_creation: false
    }
    if version >= 8 {
        body.extend([0, 0]); // include_cluster/topic_authorized_operations: false
    }
    body
}

/// The Metadata versions an ApiVersions v0 answer lists.
fn metadata_versions(answer: &[u8]) -> Result<(i16, i16), String> {
    let mut reader = Reader(answer);
    let error = reader.i16()?;
    if error != 0 {
        return Err(format!(
            "the broker answered ApiVersions with error {error}"
        ));
    }
    for _ in 0..reader.array_length()? {
        let (key, min, max) = (reader.i16()?, reader.i16()?, reader.i16()?);
        if key == METADATA {
            return Ok((min, max));
        }
    }
    Err("the broker does not speak Metadata".to_owned())
}

/// The cluster id of a Metadata answer of `version` (2 to 8).
fn metadata_cluster_id(version: i16, answer: &[u8]) -> Result<String, String> {
    let mut reader = Reader(answer);
    if version >= 3 {
        reader.i32()?; // throttle_time_ms
    }
    for _ in 0..reader.array_length()? {
        reader.i32()?; // node_id
        reader.string()?; // host
        reader.i32()?; // port
        reader.string()?; // rack
    }
    reader
        .string()?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| "the broker has no cluster id".to_owned())
}

/// Reads Kafka's big-endian primitives; every read checks the bytes are there.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or("the broker's answer ends too early")?;
        self.0 = rest;
        Ok(*head)
    }

    fn i16(&mut self) -> Result<i16, String> {
        self.take().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, String> {
        self.take().map(i32::from_be_bytes)
    }

    /// An array's length; null (-1) is empty.
    fn array_length(&mut self) -> Result<usize, String> {
        match self.i32()? {
            -1 => Ok(0),
            n => {
                usize::try_from(n).map_err(|_| format!("the broker answered an array of {n} items"))
            }
        }
    }

    /// A nullable string (i16 length, -1 for null).
    fn string(&mut self) -> Result<Option<String>, String> {
        let length = self.i16()?;
        if length == -1 {
            return Ok(None);
        }
        let length = usize::try_from(length)
            .map_err(|_| format!("the broker answered a string of {length} bytes"))?;
        if self.0.len() < length {
            return Err("the broker's answer ends too early".to_owned());
        }
        let (text, rest) = self.0.split_at(length);
        self.0 = rest;
        String::from_utf8(text.to_vec())
            .map(Some)
            .map_err(|_| "the broker answered a string that is not UTF-8".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Vec<u8> {
        let mut bytes = (text.len() as i16).to_be_bytes().to_vec();
        bytes.extend(text.as_bytes());
        bytes
    }

    /// A Metadata answer body of `version` with one broker and `cluster_id`.
    fn metadata_answer(version: i16, cluster_id: Option<&str>) -> Vec<u8> {
        let mut body = Vec::new();
        if version >= 3 {
            body.extend(0i32.to_be_bytes());
        }
        body.extend(1i32.to_be_bytes());
        body.extend(7i32.to_be_bytes());
        body.extend(string("broker-7"));
        body.extend(9092i32.to_be_bytes());
        body.extend((-1i16).to_be_bytes());
        match cluster_id {
            Some(id) => body.extend(string(id)),
            None => body.extend((-1i16).to_be_bytes()),
        }
        body.extend(7i32.to_be_bytes()); // controller_id
        body.extend(0i32.to_be_bytes()); // no topics
        body
    }

    #[test]
    fn requests_are_framed_with_header_v1() {
        let frame = request(METADATA, 8, 2, "w", &metadata_request(8));
        assert_eq!(
            frame,
            [
                0, 0, 0, 18, // length
                0, 3, 0, 8, 0, 0, 0, 2, 0, 1, b'w', // key, version, correlation, client id
                0, 0, 0, 0, 0, 0, 0, // no topics, three false flags
            ]
        );
        assert_eq!(metadata_request(2), [0, 0, 0, 0]);
        assert_eq!(metadata_request(4), [0, 0, 0, 0, 0]);
    }

    #[test]
    fn the_metadata_versions_come_from_api_versions() {
        let mut answer = 0i16.to_be_bytes().to_vec();
        answer.extend(2i32.to_be_bytes());
        answer.extend([0, 0, 0, 0, 0, 9]); // Produce 0-9
        answer.extend([0, 3, 0, 1, 0, 12]); // Metadata 1-12
        assert_eq!(metadata_versions(&answer), Ok((1, 12)));
        assert_eq!(
            metadata_versions(&[0, 35, 0, 0, 0, 0]),
            Err("the broker answered ApiVersions with error 35".to_owned())
        );
        assert!(metadata_versions(&answer[..10]).is_err());
    }

    #[test]
    fn the_cluster_id_is_read_from_every_version() {
        for version in FIRST_METADATA..=LAST_METADATA {
            let answer = metadata_answer(version, Some("abc-123"));
            assert_eq!(
                metadata_cluster_id(version, &answer),
                Ok("abc-123".to_owned()),
                "v{version}"
            );
        }
        assert!(metadata_cluster_id(8, &metadata_answer(8, None)).is_err());
        let cut = metadata_answer(8, Some("abc-123"));
        assert!(metadata_cluster_id(8, &cut[..12]).is_err());
        assert!(metadata_cluster_id(8, &[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn hosts_lose_their_port_and_brackets() {
        assert_eq!(host_of("broker-1:9092"), "broker-1");
        assert_eq!(host_of("[::1]:9092"), "::1");
        assert_eq!(host_of("broker"), "broker");
    }

    /// Answers one connection's ApiVersions and Metadata v8 with `id`, as a broker does.
    async fn answer_as_broker(listener: tokio::net::TcpListener, id: &str) {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut versions = 0i16.to_be_bytes().to_vec();
        versions.extend(1i32.to_be_bytes());
        versions.extend([0, 3, 0, 0, 0, 12]);
        let answers = [
            (API_VERSIONS, versions),
            (METADATA, metadata_answer(8, Some(id))),
        ];
        for (expected_key, body) in answers {
            let length = socket.read_i32().await.unwrap();
            let mut request = vec![0; length as usize];
            socket.read_exact(&mut request).await.unwrap();
            assert_eq!(i16::from_be_bytes([request[0], request[1]]), expected_key);
            let mut answer = request[4..8].to_vec(); // the correlation id
            answer.extend(body);
            let length = (answer.len() as i32).to_be_bytes();
            socket.write_all(&length).await.unwrap();
            socket.write_all(&answer).await.unwrap();
        }
    }

    fn config(server: String) -> KafkaConfig {
        KafkaConfig {
            bootstrap_servers: vec![server],
            client_id: "test".into(),
            request_timeout: Duration::from_secs(10),
            security: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_broker_is_asked_over_tcp() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = config(listener.local_addr().unwrap().to_string());
        let broker = tokio::spawn(async move { answer_as_broker(listener, "the-id").await });
        let id = ClusterId::default();
        id.look_up(&config).await;
        assert_eq!(id.get().as_deref(), Some("the-id"));
        broker.await.unwrap();
    }

    #[tokio::test]
    async fn a_broker_away_at_first_is_asked_again_in_the_background() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let id = ClusterId::default();
        id.look_up(&config(address.to_string())).await;
        assert_eq!(id.get(), None, "nobody listens yet");
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        tokio::spawn(async move { answer_as_broker(listener, "later").await });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while id.get().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "never asked again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(id.get().as_deref(), Some("later"));
    }
}
