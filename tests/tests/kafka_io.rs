//! The worker's Kafka layer against the real broker, checked with kafka-python.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use connect_core::record::TopicPartition;
use connect_e2e::{unique_name, Services};
use connect_worker::kafka::fetcher::{FetchConfig, Fetchers};
use connect_worker::kafka::{
    Kafka, KafkaConfig, ProduceError, Producer, ProducerConfig, ProducerRecord,
};

async fn kafka(services: &Services) -> Kafka {
    Kafka::connect(KafkaConfig {
        bootstrap_servers: vec![services.kafka_bootstrap.clone()],
        client_id: "e2e".into(),
        request_timeout: Duration::from_secs(20),
        security: Default::default(),
    })
    .await
    .expect("connect to Kafka")
}

fn keyed(topic: &str, i: usize) -> ProducerRecord {
    ProducerRecord {
        topic: topic.into(),
        key: Some(Bytes::from(format!("user-{i}"))),
        value: Some(Bytes::from(format!(
            "{{\"id\":{i},\"name\":\"user {i}\",\"balance\":{i}.5}}"
        ))),
        headers: vec![("origin".into(), Bytes::from_static(b"e2e"))],
        ..ProducerRecord::default()
    }
}

#[tokio::test]
async fn keyed_records_land_in_the_partitions_the_java_partitioner_picks() {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let ours = unique_name("ours");
    let theirs = unique_name("theirs");
    assert!(kafka.create_topic(&ours, 4, 1).await.unwrap());
    assert!(
        !kafka.create_topic(&ours, 4, 1).await.unwrap(),
        "second create reports it existed"
    );
    assert!(kafka.create_topic(&theirs, 4, 1).await.unwrap());

    // 3,000 records of ~60 bytes: about 180 KB, so the producer cuts requests of every size.
    const N: usize = 3000;
    let producer = Producer::new(kafka.clone(), ProducerConfig::default());
    let metadata = producer
        .send(&(0..N).map(|i| keyed(&ours, i)).collect::<Vec<_>>())
        .await
        .expect("send");
    assert_eq!(metadata.len(), N);

    // kafka-python partitions the same keys with its own (Java-compatible) partitioner.
    let lines: String = (0..N)
        .map(|i| format!("{{\"key\":\"user-{i}\",\"value\":\"x\"}}\n"))
        .collect();
    services
        .produce_with_kafka_python(&theirs, &lines)
        .expect("kafka-python produces");

    let read_ours = services
        .consume_with_kafka_python(&ours, N, Duration::from_secs(60))
        .expect("read ours");
    let read_theirs = services
        .consume_with_kafka_python(&theirs, N, Duration::from_secs(60))
        .expect("read theirs");
    let partition_of = |records: &[connect_e2e::ConsumedRecord]| -> BTreeMap<String, i32> {
        records
            .iter()
            .map(|r| (r.key.clone().unwrap(), r.partition))
            .collect()
    };
    assert_eq!(partition_of(&read_ours), partition_of(&read_theirs));

    // Values, headers, and the metadata the producer reported, record by record.
    let by_key: BTreeMap<_, _> = read_ours
        .iter()
        .map(|r| (r.key.clone().unwrap(), r))
        .collect();
    for (i, meta) in metadata.iter().enumerate() {
        let r = by_key[&format!("user-{i}")];
        assert_eq!(
            (meta.partition, meta.offset),
            (r.partition, r.offset),
            "user-{i}"
        );
        assert_eq!(
            r.value.as_deref(),
            Some(format!("{{\"id\":{i},\"name\":\"user {i}\",\"balance\":{i}.5}}").as_str())
        );
        assert_eq!(r.headers["origin"].as_deref(), Some("e2e"));
    }
    // Within each partition, records keep the order they were sent in.
    for p in 0..4 {
        let ids: Vec<usize> = read_ours
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.key.as_ref().unwrap()[5..].parse().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "partition {p} order");
    }
}

#[tokio::test]
async fn unkeyed_records_of_a_batch_share_one_partition() {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let topic = unique_name("unkeyed");
    kafka.create_topic(&topic, 3, 1).await.unwrap();
    let producer = Producer::new(kafka, ProducerConfig::default());
    let batch = |n: usize| {
        (0..n)
            .map(|i| ProducerRecord {
                topic: topic.as_str().into(),
                value: Some(Bytes::from(format!("v{i}"))),
                ..ProducerRecord::default()
            })
            .collect::<Vec<_>>()
    };
    let first = producer.send(&batch(10)).await.unwrap();
    let second = producer.send(&batch(10)).await.unwrap();
    assert!(first.iter().all(|m| m.partition == first[0].partition));
    assert!(second.iter().all(|m| m.partition == second[0].partition));
    assert_ne!(first[0].partition, second[0].partition);
    let read = services
        .consume_with_kafka_python(&topic, 20, Duration::from_secs(30))
        .unwrap();
    assert_eq!(read.len(), 20);
}

#[tokio::test]
async fn a_batch_of_two_topics_reports_each_records_own_topic_partition_and_offset() {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let (one, two) = (unique_name("mixed-one"), unique_name("mixed-two"));
    kafka.create_topic(&one, 3, 1).await.unwrap();
    kafka.create_topic(&two, 2, 1).await.unwrap();
    // Interleaved, with an unkeyed record of each topic, as a source batch may come.
    let mut batch: Vec<ProducerRecord> = (0..200)
        .map(|i| keyed(if i % 3 == 0 { &two } else { &one }, i))
        .collect();
    for topic in [&one, &two] {
        batch.push(ProducerRecord {
            topic: topic.as_str().into(),
            value: Some(Bytes::from_static(b"unkeyed")),
            ..ProducerRecord::default()
        });
    }
    let producer = Producer::new(kafka, ProducerConfig::default());
    let metadata = producer.send(&batch).await.expect("send");
    assert_eq!(metadata.len(), batch.len());
    for (topic, count) in [(&one, 134), (&two, 68)] {
        let read = services
            .consume_with_kafka_python(topic, count, Duration::from_secs(60))
            .expect("read");
        assert_eq!(read.len(), count, "{topic}");
        // Every record where the producer said it went, and nothing else there.
        let placed: BTreeMap<(i32, i64), Option<&str>> = read
            .iter()
            .map(|r| ((r.partition, r.offset), r.key.as_deref()))
            .collect();
        let reported: BTreeMap<(i32, i64), Option<&str>> = batch
            .iter()
            .zip(&metadata)
            .filter(|(record, _)| record.topic == topic.as_str())
            .map(|(record, meta)| {
                assert_eq!(meta.topic, topic.as_str());
                let key = record.key.as_ref().map(|k| std::str::from_utf8(k).unwrap());
                ((meta.partition, meta.offset), key)
            })
            .collect();
        assert_eq!(placed, reported, "{topic}");
    }
}

#[tokio::test]
async fn sending_to_a_missing_topic_or_partition_is_an_error() {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let producer = Producer::new(kafka.clone(), ProducerConfig::default());
    let missing = unique_name("missing");
    let err = producer.send(&[keyed(&missing, 1)]).await.unwrap_err();
    assert!(matches!(err, ProduceError::UnknownTopic(_)), "{err}");
    assert_eq!(err.to_string(), format!("topic {missing} does not exist"));

    let topic = unique_name("two");
    kafka.create_topic(&topic, 2, 1).await.unwrap();
    let mut record = keyed(&topic, 1);
    record.partition = Some(5);
    let err = producer.send(&[record]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("partition 5 of topic {topic} does not exist (it has 2)")
    );
}

#[tokio::test]
async fn fetchers_read_what_kafka_python_wrote_from_any_offset() {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let topic = unique_name("fetch");
    kafka.create_topic(&topic, 2, 1).await.unwrap();
    let lines: String = (0..500)
        .map(|i| {
            format!(
                "{{\"key\":\"k{i}\",\"value\":\"value {i}\",\"partition\":{},\"headers\":{{\"h\":\"{i}\"}}}}\n",
                i % 2
            )
        })
        .collect();
    services.produce_with_kafka_python(&topic, &lines).unwrap();

    let mut fetchers = Fetchers::new(kafka, FetchConfig::default(), 2);
    fetchers.start(TopicPartition::new(topic.as_str(), 0), 0);
    fetchers.start(TopicPartition::new(topic.as_str(), 1), 100); // skip the first 100 of p1
    let mut got: BTreeMap<i32, Vec<(i64, String, String)>> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.values().map(Vec::len).sum::<usize>() < 250 + 150 {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {got:?}");
        for batch in fetchers.next(1000, Duration::from_secs(1)).await.unwrap() {
            assert_eq!(batch.high_watermark, 250);
            for r in batch.records {
                let header = r.headers.iter().find(|(k, _)| k == "h").unwrap();
                got.entry(batch.partition.partition).or_default().push((
                    r.offset,
                    String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
                    String::from_utf8(header.1.to_vec()).unwrap(),
                ));
            }
        }
    }
    let p0: Vec<i64> = got[&0].iter().map(|r| r.0).collect();
    assert_eq!(p0, (0..250).collect::<Vec<_>>());
    let p1: Vec<i64> = got[&1].iter().map(|r| r.0).collect();
    assert_eq!(p1, (100..250).collect::<Vec<_>>());
    // Offset n of partition p holds record 2n + p.
    for (p, records) in &got {
        for (offset, value, header) in records {
            let i = 2 * offset + i64::from(*p);
            assert_eq!(value, &format!("value {i}"));
            assert_eq!(header, &i.to_string());
        }
    }
    // Nothing more arrives, and a seek back re-reads.
    assert!(fetchers
        .next(1000, Duration::from_millis(700))
        .await
        .unwrap()
        .is_empty());
    fetchers.start(TopicPartition::new(topic.as_str(), 0), 249);
    let again = fetchers.next(1000, Duration::from_secs(5)).await.unwrap();
    let offsets: Vec<i64> = again
        .iter()
        .flat_map(|b| b.records.iter().map(|r| r.offset))
        .collect();
    assert_eq!(offsets, [249]);
}

#[tokio::test]
async fn fetchers_stop_reading_when_the_sink_does_not_keep_up() {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let topic = unique_name("backpressure");
    kafka.create_topic(&topic, 1, 1).await.unwrap();
    // 20,000 records in 200 small requests, so the log holds small record batches.
    let producer = Producer::new(kafka.clone(), ProducerConfig::default());
    for chunk in 0..200 {
        let records: Vec<_> = (0..100).map(|i| keyed(&topic, chunk * 100 + i)).collect();
        producer.send(&records).await.unwrap();
    }
    let config = FetchConfig {
        max_partition_bytes: 4096,
        buffered_batches_per_partition: 2,
        ..FetchConfig::default()
    };
    let mut fetchers = Fetchers::new(kafka, config, 1);
    fetchers.start(TopicPartition::new(topic.as_str(), 0), 0);
    // A sink that does not ask for records: the fetcher must stop once its buffer is full.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let buffered: usize = fetchers
        .next(usize::MAX, Duration::from_millis(10))
        .await
        .unwrap()
        .iter()
        .map(|b| b.records.len())
        .sum();
    // Two buffered fetches (plus one waiting to be sent) of at most a few small batches each.
    assert!(buffered > 0, "nothing was read");
    assert!(
        buffered <= 1000,
        "{buffered} of 20,000 records were read ahead"
    );
    // Reading resumes as the sink takes records.
    let mut total = buffered;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while total < 20_000 {
        assert!(tokio::time::Instant::now() < deadline, "read {total}");
        total += fetchers
            .next(usize::MAX, Duration::from_secs(1))
            .await
            .unwrap()
            .iter()
            .map(|b| b.records.len())
            .sum::<usize>();
    }
    assert_eq!(total, 20_000);
}
