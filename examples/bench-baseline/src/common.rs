//! Connections and the benchmark's record shapes.

use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike, Config, TcpConfig};
use rskafka::client::partition::{PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client as KafkaClient, ClientBuilder};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A Kafka client on `host:port`.
pub async fn kafka(bootstrap: &str) -> Result<KafkaClient> {
    Ok(ClientBuilder::new(vec![bootstrap.to_owned()])
        .client_id("bench-baseline")
        .build()
        .await?)
}

/// One client per partition of `topic`, in partition order (waits up to 10 s for the topic).
pub async fn partition_clients(client: &KafkaClient, topic: &str) -> Result<Vec<PartitionClient>> {
    for _ in 0..100 {
        let topics = client.list_topics().await?;
        if let Some(t) = topics.into_iter().find(|t| t.name == topic) {
            let mut clients = Vec::new();
            for p in t.partitions {
                clients.push(
                    client
                        .partition_client(topic, p, UnknownTopicHandling::Retry)
                        .await?,
                );
            }
            return Ok(clients);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("topic {topic} does not exist").into())
}

/// A connected Redis client, with TCP_NODELAY as the worker's Redis connector sets it.
pub async fn redis(url: &str) -> Result<Client> {
    let client = Builder::from_config(Config::from_url(url)?)
        .with_connection_config(|c| {
            c.tcp = TcpConfig {
                nodelay: Some(true),
                ..TcpConfig::default()
            };
        })
        .build()?;
    client.init().await?;
    Ok(client)
}

/// The value of record `seq`: a JSON object of about 60 bytes.
pub fn json_value(seq: u64) -> String {
    format!(
        r#"{{"id":{seq},"user":"user-{:04}","amount":{}.{:02},"ok":true}}"#,
        seq % 10_000,
        seq % 1000,
        seq % 100
    )
}

/// The fields of stream entry `seq`: the same data as [`json_value`].
pub fn stream_fields(seq: u64) -> Vec<(String, String)> {
    vec![
        ("id".to_owned(), seq.to_string()),
        ("user".to_owned(), format!("user-{:04}", seq % 10_000)),
        (
            "amount".to_owned(),
            format!("{}.{:02}", seq % 1000, seq % 100),
        ),
        ("ok".to_owned(), "true".to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_json_of_about_60_bytes() {
        for seq in [0, 7, 999_999] {
            let v = json_value(seq);
            assert!((50..=70).contains(&v.len()), "{v} is {} bytes", v.len());
            let parsed: serde_json::Value = serde_json::from_str(&v).expect("valid JSON");
            assert_eq!(parsed["id"], seq);
        }
    }
}
