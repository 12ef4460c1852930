//! Kafka Connect workers' membership loops (connect_worker::distributed::coordinator) in one
//! group on the real broker: three workers share two connectors and their tasks with one
//! leader, each item running on exactly one worker; one that leaves hands its work to the
//! others within seconds; a rejoin the herder asks for assigns a changed config; a worker that
//! dies without leaving is dropped at the session timeout and its work goes to the others.
//! A stand-in herder per worker answers every revocation at once and keeps the last
//! assignment. kafka-python (DescribeGroups) checks who the broker has in the group.

#![allow(clippy::unwrap_used)] // test code; a failure should panic

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connect_e2e::{unique_name, PrivateKafka, Services};
use connect_worker::distributed::assignor::ConfigView;
use connect_worker::distributed::coordinator::{
    ConfigSource, Coordinator, CoordinatorConfig, Event,
};
use connect_worker::distributed::protocol::{ConnectProtocol, TaskRef, Work};
use connect_worker::kafka::{Kafka, KafkaConfig, KafkaSecurity};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
const REBALANCE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the first generation of three may take to form.
const LIMIT: Duration = Duration::from_secs(40);

async fn connect_kafka(services: &Services) -> Kafka {
    Kafka::connect(KafkaConfig {
        bootstrap_servers: vec![services.kafka_bootstrap.clone()],
        client_id: "e2e-coordinator".into(),
        request_timeout: Duration::from_secs(10),
        security: KafkaSecurity::default(),
    })
    .await
    .expect("connect to Kafka")
}

/// The config every worker's herder would have read from the config topic.
struct SharedConfig(Mutex<ConfigView>);

impl SharedConfig {
    fn new(offset: i64, connectors: &[(&str, u32)]) -> Arc<Self> {
        Arc::new(Self(Mutex::new(view(offset, connectors))))
    }

    fn set(&self, view: ConfigView) {
        *self.0.lock().unwrap() = view;
    }

    /// Every connector and task of the config.
    fn work(&self) -> Work {
        let view = self.0.lock().unwrap();
        Work {
            connectors: view.connectors.keys().cloned().collect(),
            tasks: view
                .connectors
                .iter()
                .flat_map(|(c, &n)| (0..n as i32).map(move |t| TaskRef::new(c.clone(), t)))
                .collect(),
        }
    }
}

impl ConfigSource for SharedConfig {
    fn config_offset(&self) -> i64 {
        self.0.lock().unwrap().offset
    }

    fn config_view(&self) -> ConfigView {
        self.0.lock().unwrap().clone()
    }
}

fn view(offset: i64, connectors: &[(&str, u32)]) -> ConfigView {
    ConfigView {
        offset,
        connectors: connectors
            .iter()
            .map(|(name, tasks)| (name.to_string(), *tasks))
            .collect(),
    }
}

/// What a worker's herder last heard.
#[derive(Debug, Clone)]
struct Assigned {
    generation: i32,
    member_id: String,
    leader_id: String,
    leader_url: String,
    config_offset: i64,
    error: i16,
    running: Work,
}

#[derive(Debug, Clone, Default)]
struct HerderState {
    last: Option<Assigned>,
    /// Assignments received so far.
    assignments: usize,
    /// Revocations answered so far, and the last one's work.
    revocations: usize,
    last_revoked: Option<Work>,
    /// The event channel closed.
    closed: bool,
}

/// A worker: its coordinator and the state of its stand-in herder.
struct Worker {
    url: String,
    coordinator: Coordinator,
    herder: watch::Receiver<HerderState>,
}

impl Worker {
    fn state(&self) -> HerderState {
        self.herder.borrow().clone()
    }
}

fn config(group: &str, url: &str, protocol: ConnectProtocol) -> CoordinatorConfig {
    CoordinatorConfig {
        group_id: group.to_owned(),
        url: url.to_owned(),
        protocol,
        session_timeout: SESSION_TIMEOUT,
        heartbeat_interval: HEARTBEAT_INTERVAL,
        rebalance_timeout: REBALANCE_TIMEOUT,
        max_delay: Duration::ZERO,
    }
}

/// Answers every revocation at once and keeps the last assignment, as the herder would
/// after stopping and starting the work.
fn stand_in_herder(mut events: mpsc::Receiver<Event>) -> watch::Receiver<HerderState> {
    let (state, watched) = watch::channel(HerderState::default());
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                Event::Revoke { work, done } => {
                    let running = state.borrow().last.as_ref().map(|a| a.running.clone());
                    if let Some(running) = running {
                        // Nothing is revoked that the worker was not given.
                        assert!(
                            work.connectors.is_subset(&running.connectors)
                                && work.tasks.is_subset(&running.tasks),
                            "revoked {work:?}, running {running:?}"
                        );
                    }
                    done.send(()).unwrap();
                    state.send_modify(|s| {
                        s.revocations += 1;
                        s.last_revoked = Some(work);
                    });
                }
                Event::Assigned {
                    generation,
                    member_id,
                    leader_id,
                    leader_url,
                    config_offset,
                    error,
                    running,
                    ..
                } => state.send_modify(|s| {
                    s.assignments += 1;
                    s.last = Some(Assigned {
                        generation,
                        member_id,
                        leader_id,
                        leader_url,
                        config_offset,
                        error,
                        running,
                    })
                }),
            }
        }
        state.send_modify(|s| s.closed = true);
    });
    watched
}

fn start_worker(
    kafka: &Kafka,
    group: &str,
    n: usize,
    protocol: ConnectProtocol,
    source: &Arc<SharedConfig>,
) -> Worker {
    let url = format!("http://worker-{n}:8083/");
    let (coordinator, events) = Coordinator::start(
        kafka.clone(),
        config(group, &url, protocol),
        Arc::clone(source) as Arc<dyn ConfigSource>,
    );
    Worker {
        url,
        coordinator,
        herder: stand_in_herder(events),
    }
}

/// Whether every worker's last assignment is of one generation newer than `after` (-1: any;
/// tansu counts generations from 0), with one leader among them, at config offset `offset`,
/// and the workers together run every item of `expected` exactly once. `Err` says what is not
/// so yet.
fn settled(
    workers: &[&Worker],
    after: i32,
    offset: i64,
    expected: &Work,
) -> Result<Vec<Assigned>, String> {
    let last: Vec<Assigned> = workers
        .iter()
        .map(|w| w.state().last.ok_or("a worker has no assignment yet"))
        .collect::<Result<_, _>>()?;
    let generations: BTreeSet<i32> = last.iter().map(|a| a.generation).collect();
    if generations.len() != 1 || last[0].generation <= after {
        return Err(format!(
            "generations {generations:?}, waiting for one after {after}"
        ));
    }
    let leaders: BTreeSet<&str> = last.iter().map(|a| a.leader_id.as_str()).collect();
    let members: BTreeSet<&str> = last.iter().map(|a| a.member_id.as_str()).collect();
    if leaders.len() != 1 || !members.contains(last[0].leader_id.as_str()) {
        return Err(format!("leaders {leaders:?} of members {members:?}"));
    }
    if last
        .iter()
        .any(|a| a.config_offset != offset || a.error != 0)
    {
        return Err(format!("config offsets and errors of {last:?}"));
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in &last {
        for c in &a.running.connectors {
            *counts.entry(c.clone()).or_default() += 1;
        }
        for t in &a.running.tasks {
            *counts
                .entry(format!("{}-{}", t.connector, t.task))
                .or_default() += 1;
        }
    }
    let wanted: BTreeMap<String, usize> = expected
        .connectors
        .iter()
        .cloned()
        .chain(
            expected
                .tasks
                .iter()
                .map(|t| format!("{}-{}", t.connector, t.task)),
        )
        .map(|item| (item, 1))
        .collect();
    if counts != wanted {
        return Err(format!(
            "running {counts:?}, wanted each of {wanted:?} once"
        ));
    }
    Ok(last)
}

/// Waits until `check` holds, at most `limit`; panics naming `what` otherwise.
async fn wait_for(what: &str, limit: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until [`settled`], at most `limit`; panics with the last reason otherwise.
async fn wait_settled(
    workers: &[&Worker],
    after: i32,
    offset: i64,
    expected: &Work,
    limit: Duration,
) -> Vec<Assigned> {
    let deadline = Instant::now() + limit;
    loop {
        match settled(workers, after, offset, expected) {
            Ok(last) => return last,
            Err(reason) => assert!(
                Instant::now() < deadline,
                "the workers did not settle within {limit:?}: {reason}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The member ids the broker has in `group`, as kafka-python's DescribeGroups sees them.
async fn members_seen_by_kafka_python(services: &Services, group: &str) -> BTreeSet<String> {
    let services = services.clone();
    let group = group.to_owned();
    let described =
        tokio::task::spawn_blocking(move || services.describe_group_with_kafka_python(&group))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(described.protocol_type, "connect", "{described:?}");
    described.members.into_iter().map(|m| m.member_id).collect()
}

fn ids(assigned: &[Assigned]) -> BTreeSet<String> {
    assigned.iter().map(|a| a.member_id.clone()).collect()
}

/// Three workers, two connectors of three tasks each: one generation, one leader, every item
/// on exactly one worker. Returns the workers and that generation.
async fn three_workers(
    services: &Services,
    kafka: &Kafka,
    group: &str,
    protocol: ConnectProtocol,
    source: &Arc<SharedConfig>,
) -> (Vec<Worker>, Vec<Assigned>) {
    let started = Instant::now();
    let workers: Vec<Worker> = (0..3)
        .map(|n| start_worker(kafka, group, n, protocol, source))
        .collect();
    let refs: Vec<&Worker> = workers.iter().collect();
    let first = wait_settled(&refs, -1, 7, &source.work(), LIMIT).await;
    eprintln!(
        "{protocol:?}: three workers settled in generation {} after {:?}",
        first[0].generation,
        started.elapsed()
    );
    let leader = &first[0].leader_id;
    let leader_url = &workers[first.iter().position(|a| &a.member_id == leader).unwrap()].url;
    for a in &first {
        assert_eq!(&a.leader_url, leader_url);
        // 8 items over 3 workers: 3, 3 and 2.
        let load = a.running.connectors.len() + a.running.tasks.len();
        assert!((2..=3).contains(&load), "{first:?}");
    }
    assert_eq!(
        members_seen_by_kafka_python(services, group).await,
        ids(&first)
    );
    (workers, first)
}

async fn workers_share_the_work_with_one_leader(protocol: ConnectProtocol) {
    let services = Services::get();
    let kafka = connect_kafka(&services).await;
    let group = unique_name("connect-coordinator");
    let source = SharedConfig::new(7, &[("c1", 3), ("c2", 3)]);
    let (workers, first) = three_workers(&services, &kafka, &group, protocol, &source).await;
    let stats = workers[0].coordinator.rebalance_stats();
    assert_eq!(stats.generation, Some(first[0].generation));
    assert_eq!(stats.leader_id.as_ref(), Some(&first[0].leader_id));
    assert!(
        stats.completed_rebalances >= 1 && !stats.rebalancing,
        "{stats:?}"
    );
    for worker in &workers {
        worker.coordinator.leave().await;
    }
}

async fn a_worker_that_leaves_hands_its_work_over(protocol: ConnectProtocol) {
    let services = Services::get();
    let kafka = connect_kafka(&services).await;
    let group = unique_name("connect-coordinator");
    let source = SharedConfig::new(7, &[("c1", 3), ("c2", 3)]);
    let (mut workers, first) = three_workers(&services, &kafka, &group, protocol, &source).await;

    // The leader leaves: the others elect another and share its work.
    let leader = workers
        .iter()
        .position(|w| w.state().last.unwrap().member_id == first[0].leader_id)
        .unwrap();
    let leaver = workers.remove(leader);
    let revocations_before: Vec<usize> = workers.iter().map(|w| w.state().revocations).collect();
    let left = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), leaver.coordinator.leave())
        .await
        .expect("leave returns within the request timeout");
    assert!(
        leaver.state().closed || {
            tokio::time::sleep(Duration::from_millis(200)).await;
            leaver.state().closed
        }
    );
    let refs: Vec<&Worker> = workers.iter().collect();
    // The group knew at once: it did not wait for the leaver's session to expire, which takes
    // the session timeout from its last heartbeat, then a heartbeat interval for the others to
    // hear of it, then the broker's wait for them to join (tansu's is about 3 s).
    let next = wait_settled(
        &refs,
        first[0].generation,
        7,
        &source.work(),
        SESSION_TIMEOUT + HEARTBEAT_INTERVAL,
    )
    .await;
    eprintln!(
        "{protocol:?}: the two others settled in generation {} {:?} after the leader left",
        next[0].generation,
        left.elapsed()
    );
    assert_ne!(next[0].leader_id, first[0].leader_id);
    if protocol == ConnectProtocol::Eager {
        // Eager workers stop everything before they rejoin.
        for (w, before) in workers.iter().zip(revocations_before) {
            assert!(w.state().revocations > before);
        }
    }
    assert_eq!(
        members_seen_by_kafka_python(&services, &group).await,
        ids(&next)
    );
    for worker in &workers {
        worker.coordinator.leave().await;
    }
}

async fn a_requested_rejoin_assigns_the_changed_config(protocol: ConnectProtocol) {
    let services = Services::get();
    let kafka = connect_kafka(&services).await;
    let group = unique_name("connect-coordinator");
    let source = SharedConfig::new(7, &[("c1", 3), ("c2", 3)]);
    let (workers, first) = three_workers(&services, &kafka, &group, protocol, &source).await;

    // Every herder reads a new connector c3 with two tasks (config offset 10); a follower's
    // asks for the rebalance.
    source.set(view(10, &[("c1", 3), ("c2", 3), ("c3", 2)]));
    let follower = workers
        .iter()
        .find(|w| w.state().last.unwrap().member_id != first[0].leader_id)
        .unwrap();
    let asked = Instant::now();
    follower.coordinator.request_rejoin();
    let refs: Vec<&Worker> = workers.iter().collect();
    let next = wait_settled(
        &refs,
        first[0].generation,
        10,
        &source.work(),
        Duration::from_secs(15),
    )
    .await;
    eprintln!(
        "{protocol:?}: generation {} with the new config {:?} after the rejoin request",
        next[0].generation,
        asked.elapsed()
    );
    assert!(next.iter().any(|a| a.running.connectors.contains("c3")));
    for worker in &workers {
        worker.coordinator.leave().await;
    }
}

async fn a_killed_worker_is_dropped_at_the_session_timeout(protocol: ConnectProtocol) {
    let services = Services::get();
    let kafka = connect_kafka(&services).await;
    let group = unique_name("connect-coordinator");
    let source = SharedConfig::new(7, &[("c1", 3), ("c2", 3)]);
    let started = Instant::now();
    let mut workers: Vec<Worker> = (0..2)
        .map(|n| start_worker(&kafka, &group, n, protocol, &source))
        .collect();

    // The third worker runs on a runtime of its own, with its own connections, so that it
    // can die as a process does: every task gone at once, no LeaveGroup.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = "http://worker-2:8083/".to_owned();
    let (coordinator, events) = doomed
        .spawn({
            let services = services.clone();
            let config = config(&group, &url, protocol);
            let source = Arc::clone(&source) as Arc<dyn ConfigSource>;
            async move { Coordinator::start(connect_kafka(&services).await, config, source) }
        })
        .await
        .unwrap();
    workers.push(Worker {
        url,
        coordinator,
        herder: stand_in_herder(events),
    });
    let refs: Vec<&Worker> = workers.iter().collect();
    let first = wait_settled(&refs, -1, 7, &source.work(), LIMIT).await;
    eprintln!(
        "{protocol:?}: three workers settled in generation {} after {:?}",
        first[0].generation,
        started.elapsed()
    );

    doomed.shutdown_background();
    let killed = Instant::now();
    let dead = workers.pop().unwrap();
    let survivors: Vec<&Worker> = workers.iter().collect();
    let next = wait_settled(
        &survivors,
        first[0].generation,
        7,
        &source.work(),
        SESSION_TIMEOUT + REBALANCE_TIMEOUT + Duration::from_secs(10),
    )
    .await;
    let took = killed.elapsed();
    eprintln!(
        "{protocol:?}: the two survivors settled in generation {} {took:?} after the third died",
        next[0].generation
    );
    // The group learnt of the death from the missing heartbeats only: at the session
    // timeout, counted from the dead worker's last heartbeat.
    assert!(
        took >= SESSION_TIMEOUT - HEARTBEAT_INTERVAL - Duration::from_millis(500),
        "{took:?}"
    );
    assert!(dead.state().closed);
    assert_eq!(
        members_seen_by_kafka_python(&services, &group).await,
        ids(&next)
    );
    for worker in &workers {
        worker.coordinator.leave().await;
    }
}

/// A worker told to leave while the broker holds its JoinGroup (until the others have
/// rejoined) leaves at once (through a new connection: the broker answers nothing else on the
/// held one), never gets work, and the group goes on without it. Kafka drops such a member at
/// once; tansu 0.6 answers the LeaveGroup but keeps the member in the generation that was
/// forming, until its session expires, so the other settles alone only after that.
#[tokio::test]
async fn a_worker_that_leaves_while_joining_is_not_waited_for() {
    let services = Services::get();
    let kafka = connect_kafka(&services).await;
    let group = unique_name("connect-coordinator");
    let source = SharedConfig::new(7, &[("c1", 3), ("c2", 3)]);
    let a = start_worker(&kafka, &group, 0, ConnectProtocol::Eager, &source);
    let first = wait_settled(&[&a], -1, 7, &source.work(), LIMIT).await;

    let b = start_worker(&kafka, &group, 1, ConnectProtocol::Eager, &source);
    // tansu holds a new member's JoinGroup about 3 s, until the others have rejoined.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats = b.coordinator.rebalance_stats();
    assert!(
        stats.rebalancing && stats.completed_rebalances == 0,
        "{stats:?}"
    );
    let asked = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), b.coordinator.leave())
        .await
        .expect("leave returns at once, not when the rebalance ends");
    eprintln!("the joining worker left in {:?}", asked.elapsed());
    let next = wait_settled(
        &[&a],
        first[0].generation,
        7,
        &source.work(),
        SESSION_TIMEOUT + REBALANCE_TIMEOUT + Duration::from_secs(10),
    )
    .await;
    eprintln!(
        "the other settled alone in generation {} {:?} after the leave",
        next[0].generation,
        asked.elapsed()
    );
    assert!(b.state().last.is_none(), "{:?}", b.state());
    assert_eq!(
        members_seen_by_kafka_python(&services, &group).await,
        ids(&next)
    );
    a.coordinator.leave().await;
}

/// Both workers lose the broker. Each keeps its work while the group may still count it in,
/// stops everything once the session timeout has passed without the group, and, when a broker
/// is back on the port (one that forgot the group), joins a new group that shares the work
/// again.
#[tokio::test]
async fn workers_cut_off_from_the_group_stop_their_work_and_come_back() {
    let mut broker = PrivateKafka::start().await;
    let kafka = Kafka::connect(KafkaConfig {
        bootstrap_servers: vec![broker.bootstrap()],
        client_id: "e2e-coordinator-outage".into(),
        request_timeout: Duration::from_secs(10),
        security: KafkaSecurity::default(),
    })
    .await
    .unwrap();
    let group = unique_name("connect-coordinator");
    let source = SharedConfig::new(7, &[("c1", 3), ("c2", 3)]);
    let workers: Vec<Worker> = (0..2)
        .map(|n| start_worker(&kafka, &group, n, ConnectProtocol::Compatible, &source))
        .collect();
    let refs: Vec<&Worker> = workers.iter().collect();
    wait_settled(&refs, -1, 7, &source.work(), LIMIT).await;
    let before: Vec<HerderState> = workers.iter().map(Worker::state).collect();

    broker.kill();
    let killed = Instant::now();
    let stopped_everything = || {
        workers.iter().zip(&before).all(|(w, before)| {
            let now = w.state();
            now.revocations > before.revocations
                && now.last_revoked.as_ref() == before.last.as_ref().map(|a| &a.running)
        })
    };
    wait_for(
        "every worker stopping all it runs",
        SESSION_TIMEOUT + Duration::from_secs(15),
        stopped_everything,
    )
    .await;
    let stopped = killed.elapsed();
    eprintln!("both workers stopped their work {stopped:?} after the broker died");
    // Not before the group may have dropped them: the session timeout after their last
    // heartbeat (at most one interval before the broker died).
    assert!(
        stopped >= SESSION_TIMEOUT - HEARTBEAT_INTERVAL - Duration::from_millis(500),
        "{stopped:?}"
    );

    let cut_off: Vec<HerderState> = workers.iter().map(Worker::state).collect();
    broker.restart().await;
    let restarted = Instant::now();
    wait_for(
        "an assignment for every worker from the new broker",
        LIMIT,
        || {
            workers
                .iter()
                .zip(&cut_off)
                .all(|(w, cut_off)| w.state().assignments > cut_off.assignments)
        },
    )
    .await;
    let next = wait_settled(&refs, -1, 7, &source.work(), LIMIT).await;
    eprintln!(
        "the workers settled in generation {} of the new broker's group {:?} after it started",
        next[0].generation,
        restarted.elapsed()
    );
    for worker in &workers {
        worker.coordinator.leave().await;
    }
}

#[tokio::test]
async fn eager_workers_share_the_work_with_one_leader() {
    workers_share_the_work_with_one_leader(ConnectProtocol::Eager).await;
}

#[tokio::test]
async fn eager_worker_that_leaves_hands_its_work_over() {
    a_worker_that_leaves_hands_its_work_over(ConnectProtocol::Eager).await;
}

#[tokio::test]
async fn eager_requested_rejoin_assigns_the_changed_config() {
    a_requested_rejoin_assigns_the_changed_config(ConnectProtocol::Eager).await;
}

#[tokio::test]
async fn eager_killed_worker_is_dropped_at_the_session_timeout() {
    a_killed_worker_is_dropped_at_the_session_timeout(ConnectProtocol::Eager).await;
}

#[tokio::test]
async fn compatible_workers_share_the_work_with_one_leader() {
    workers_share_the_work_with_one_leader(ConnectProtocol::Compatible).await;
}

#[tokio::test]
async fn compatible_worker_that_leaves_hands_its_work_over() {
    a_worker_that_leaves_hands_its_work_over(ConnectProtocol::Compatible).await;
}

#[tokio::test]
async fn compatible_requested_rejoin_assigns_the_changed_config() {
    a_requested_rejoin_assigns_the_changed_config(ConnectProtocol::Compatible).await;
}

#[tokio::test]
async fn compatible_killed_worker_is_dropped_at_the_session_timeout() {
    a_killed_worker_is_dropped_at_the_session_timeout(ConnectProtocol::Compatible).await;
}
