//! Kafka Connect's group membership against the real broker: two workers join one group with
//! Kafka Connect's protocol type and metadata (connect_worker::kafka::membership and
//! connect_worker::distributed::protocol), the leader the broker chose assigns work to both,
//! each reads its own assignment, heartbeats keep them in, and when one leaves the other is
//! told to rejoin, rejoins alone (reporting what it runs) and takes over (a v1 assignment with
//! revocations and a delay). kafka-python (DescribeGroups) checks what the broker holds.

#![allow(clippy::unwrap_used)] // test code; a failure should panic

use std::collections::BTreeSet;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use connect_e2e::{unique_name, Services};
use connect_worker::distributed::protocol::{
    join_protocols, Assignment, ConnectProtocol, TaskRef, Work, WorkerMetadata, PROTOCOL_TYPE,
};
use connect_worker::kafka::{
    GroupMember, Heartbeat, Kafka, KafkaConfig, KafkaSecurity, MemberConfig, Synced,
};
use tokio::time::{timeout, Instant};

/// tansu holds a JoinGroup for about half the session timeout waiting for other members: a
/// short one keeps the test short.
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// The longest any join, sync or wait for a rebalance may take.
const LIMIT: Duration = Duration::from_secs(30);

async fn kafka(services: &Services) -> Kafka {
    Kafka::connect(KafkaConfig {
        bootstrap_servers: vec![services.kafka_bootstrap.clone()],
        client_id: "e2e-membership".into(),
        request_timeout: Duration::from_secs(10),
        security: KafkaSecurity::default(),
    })
    .await
    .expect("connect to Kafka")
}

/// A worker advertising `url` with the `compatible` protocol, before any assignment.
async fn worker(kafka: &Kafka, group: &str, url: &str) -> GroupMember {
    let config = MemberConfig {
        protocol_type: PROTOCOL_TYPE.to_owned(),
        protocols: join_protocols(ConnectProtocol::Compatible, url, -1, None).unwrap(),
        session_timeout: SESSION_TIMEOUT,
        rebalance_timeout: SESSION_TIMEOUT,
    };
    kafka.group_member(group, config).await.unwrap()
}

fn work(connectors: &[&str], tasks: &[(&str, i32)]) -> Work {
    Work {
        connectors: connectors.iter().map(|c| c.to_string()).collect(),
        tasks: tasks.iter().map(|(c, t)| TaskRef::new(*c, *t)).collect(),
    }
}

#[tokio::test]
async fn two_workers_share_a_connect_group_until_one_leaves() {
    let services = Services::get();
    let kafka = kafka(&services).await;
    let group = unique_name("connect-membership");
    let urls = ["http://worker-a:8083/", "http://worker-b:8083/"];
    let mut a = worker(&kafka, &group, urls[0]).await;
    let mut b = worker(&kafka, &group, urls[1]).await;

    // Both join at once, so that the broker puts them in one generation.
    let (joined_a, joined_b) = timeout(LIMIT, async { tokio::join!(a.join(), b.join()) })
        .await
        .expect("both joins answered within 30 s");
    let joined = [joined_a.unwrap(), joined_b.unwrap()];
    assert_ne!(joined[0].member_id, joined[1].member_id);
    assert_eq!(joined[0].generation_id, joined[1].generation_id);
    assert_eq!(joined[0].leader, joined[1].leader);
    for j in &joined {
        assert_eq!(j.protocol, "compatible", "the newest protocol both offer");
    }
    let leaders: Vec<usize> = (0..2).filter(|&i| joined[i].is_leader()).collect();
    assert_eq!(leaders.len(), 1, "exactly one leader: {joined:?}");
    let leader = leaders[0];
    let follower = 1 - leader;
    assert!(
        joined[follower].members.is_empty(),
        "only the leader learns the members"
    );

    // The leader sees both members with the v1 metadata they sent.
    let members = &joined[leader].members;
    let ids: BTreeSet<&str> = members.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([joined[0].member_id.as_str(), joined[1].member_id.as_str()])
    );
    for (id, metadata) in members {
        let metadata = WorkerMetadata::decode(metadata).unwrap();
        let index = if *id == joined[0].member_id { 0 } else { 1 };
        assert_eq!(metadata.version, 1);
        assert_eq!(metadata.url, urls[index]);
        assert_eq!(metadata.config_offset, -1);
        assert_eq!(metadata.allocation, None);
    }

    // The leader gives worker a connector c1 and its task 0, worker b task c1-1.
    let wanted = [work(&["c1"], &[("c1", 0)]), work(&[], &[("c1", 1)])];
    let leader_id = joined[leader].member_id.clone();
    let assignments: Vec<(String, Bytes)> = (0..2)
        .map(|i| {
            let mut assignment =
                Assignment::empty(ConnectProtocol::Compatible, &leader_id, urls[leader], 0);
            assignment.assigned = wanted[i].clone();
            (joined[i].member_id.clone(), assignment.encode().unwrap())
        })
        .collect();
    let (leader_share, follower_share) = if leader == 0 {
        (assignments, Vec::new())
    } else {
        (Vec::new(), assignments)
    };
    let (synced_a, synced_b) = timeout(LIMIT, async {
        tokio::join!(a.sync(leader_share), b.sync(follower_share))
    })
    .await
    .expect("both syncs answered within 30 s");
    let mut received = Vec::new();
    for (i, synced) in [synced_a.unwrap(), synced_b.unwrap()]
        .into_iter()
        .enumerate()
    {
        let Synced::Assignment(bytes) = synced else {
            panic!("worker {i} was told to rejoin instead of getting its assignment");
        };
        let assignment = Assignment::decode(&bytes).unwrap();
        assert_eq!(assignment.version, 1);
        assert_eq!(assignment.leader, leader_id);
        assert_eq!(assignment.leader_url, urls[leader]);
        assert_eq!(
            assignment.assigned, wanted[i],
            "worker {i}'s own assignment"
        );
        assert!(assignment.revoked.is_empty());
        received.push(assignment);
    }

    // kafka-python sees the group as a user of Kafka's tools would: stable, of Kafka Connect's
    // protocol type, with both members. tansu 0.6 answers DescribeGroups with an empty
    // protocol name, metadata and assignment (Kafka fills them in): where they are filled in,
    // they must be what the members sent and got.
    let described = {
        let services = services.clone();
        let group = group.clone();
        tokio::task::spawn_blocking(move || services.describe_group_with_kafka_python(&group))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(described.state, "Stable", "{described:?}");
    assert_eq!(described.protocol_type, "connect", "{described:?}");
    assert!(
        ["compatible", ""].contains(&described.protocol.as_str()),
        "{described:?}"
    );
    let described_ids: BTreeSet<&str> = described
        .members
        .iter()
        .map(|m| m.member_id.as_str())
        .collect();
    assert_eq!(described_ids, ids, "{described:?}");
    for member in &described.members {
        let i = if member.member_id == joined[0].member_id {
            0
        } else {
            1
        };
        let bytes = |field: &Option<String>| BASE64.decode(field.as_deref().unwrap_or("")).unwrap();
        let metadata = bytes(&member.metadata_b64);
        if !metadata.is_empty() {
            assert_eq!(WorkerMetadata::decode(&metadata).unwrap().url, urls[i]);
        }
        let assignment = bytes(&member.assignment_b64);
        if !assignment.is_empty() {
            assert_eq!(Assignment::decode(&assignment).unwrap().assigned, wanted[i]);
        }
    }

    // Both stay in the generation past a session timeout's worth of heartbeats.
    let stay_until = Instant::now() + SESSION_TIMEOUT + Duration::from_secs(1);
    while Instant::now() < stay_until {
        assert_eq!(a.heartbeat().await.unwrap(), Heartbeat::Alive);
        assert_eq!(b.heartbeat().await.unwrap(), Heartbeat::Alive);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }

    // Worker a leaves: worker b's heartbeats say the group rebalances.
    a.leave().await.unwrap();
    assert_eq!(a.member_id(), "");
    let deadline = Instant::now() + LIMIT;
    loop {
        match b.heartbeat().await.unwrap() {
            Heartbeat::RejoinNeeded => break,
            Heartbeat::Alive => {
                assert!(
                    Instant::now() < deadline,
                    "worker b was not told to rejoin within 30 s of worker a leaving"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    // Worker b rejoins, telling in its metadata what it runs (its assignment), and is the
    // group on its own, in a newer generation.
    b.set_protocols(
        join_protocols(ConnectProtocol::Compatible, urls[1], 0, Some(&received[1])).unwrap(),
    );
    let rejoined = timeout(LIMIT, b.join())
        .await
        .expect("the rejoin answered within 30 s")
        .unwrap();
    assert!(rejoined.generation_id > joined[0].generation_id);
    assert!(rejoined.is_leader());
    let [(id, metadata)] = &rejoined.members[..] else {
        panic!("worker b alone in the group: {:?}", rejoined.members);
    };
    assert_eq!(id, &rejoined.member_id);
    let allocation = WorkerMetadata::decode(metadata).unwrap().allocation;
    assert_eq!(allocation.unwrap().assigned, wanted[1]);

    // As leader it takes over what worker a ran, revokes its own task for later and asks
    // itself to rejoin after a delay: the bytes come back through the broker unchanged.
    let mut takeover =
        Assignment::empty(ConnectProtocol::Compatible, &rejoined.member_id, urls[1], 0);
    takeover.assigned = wanted[0].clone();
    takeover.revoked = wanted[1].clone();
    takeover.delay_ms = 1500;
    let synced = timeout(
        LIMIT,
        b.sync(vec![(
            rejoined.member_id.clone(),
            takeover.encode().unwrap(),
        )]),
    )
    .await
    .expect("the sync answered within 30 s")
    .unwrap();
    let Synced::Assignment(bytes) = synced else {
        panic!("worker b was told to rejoin instead of getting its assignment");
    };
    assert_eq!(Assignment::decode(&bytes).unwrap(), takeover);
    assert_eq!(b.heartbeat().await.unwrap(), Heartbeat::Alive);
    b.leave().await.unwrap();
}
