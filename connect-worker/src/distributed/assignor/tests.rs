use super::*;
use crate::distributed::protocol::NO_ERROR;

fn task(connector: &str, task: i32) -> TaskRef {
    TaskRef::new(connector, task)
}

fn work(connectors: &[&str], tasks: &[(&str, i32)]) -> Work {
    Work {
        connectors: connectors.iter().map(|c| c.to_string()).collect(),
        tasks: tasks.iter().map(|(c, t)| task(c, *t)).collect(),
    }
}

fn view(offset: i64, connectors: &[(&str, u32)]) -> ConfigView {
    ConfigView {
        offset,
        connectors: connectors
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect(),
    }
}

fn url(id: &str) -> String {
    format!("http://{id}:8083/")
}

/// A member whose metadata has `version`, `config_offset` and, when it runs something (or ran
/// something before), an allocation.
fn member(id: &str, version: i16, config_offset: i64, runs: Option<Work>) -> Member {
    Member {
        id: id.to_owned(),
        metadata: WorkerMetadata {
            version,
            url: url(id),
            config_offset,
            allocation: runs.map(|runs| Assignment {
                version,
                assigned: runs,
                ..Assignment::empty(ConnectProtocol::Compatible, "someone", "http://x/", 0)
            }),
        },
    }
}

fn round<'a>(
    protocol: ConnectProtocol,
    members: &'a [Member],
    config: &'a ConfigView,
    generation: i32,
    now: Instant,
) -> Round<'a> {
    Round {
        leader_id: "w1",
        leader_url: "http://w1:8083/",
        generation,
        last_completed_generation: generation - 1,
        protocol,
        members,
        config,
        now,
    }
}

fn count_items(work: &Work) -> usize {
    work.connectors.len() + work.tasks.len()
}

#[test]
fn eager_round_robin_continues_from_connectors_into_tasks() {
    let config = view(5, &[("b", 3), ("a", 3)]);
    // Out of order on purpose: the rotation follows the sorted ids.
    let members = [
        member("w2", 0, 5, None),
        member("w3", 0, 5, None),
        member("w1", 0, 5, None),
    ];
    let now = Instant::now();
    let assignments =
        EagerAssignor.assign(&round(ConnectProtocol::Eager, &members, &config, 3, now));

    let expected = |assigned: Work| Assignment {
        assigned,
        ..Assignment::empty(ConnectProtocol::Eager, "w1", "http://w1:8083/", 5)
    };
    // a→w1, b→w2, then the tasks carry on: a-0→w3, a-1→w1, a-2→w2, b-0→w3, b-1→w1, b-2→w2.
    let want: BTreeMap<String, Assignment> = [
        ("w1", expected(work(&["a"], &[("a", 1), ("b", 1)]))),
        ("w2", expected(work(&["b"], &[("a", 2), ("b", 2)]))),
        ("w3", expected(work(&[], &[("a", 0), ("b", 0)]))),
    ]
    .into_iter()
    .map(|(id, a)| (id.to_owned(), a))
    .collect();
    assert_eq!(assignments, want);
    assert!(assignments.values().all(|a| a.version == 0));

    // More members than work: the others still get an (empty) assignment.
    let config = view(5, &[("a", 0)]);
    let assignments =
        EagerAssignor.assign(&round(ConnectProtocol::Eager, &members, &config, 4, now));
    assert_eq!(assignments.len(), 3);
    assert_eq!(assignments["w1"].assigned, work(&["a"], &[]));
    assert_eq!(assignments["w2"], expected(Work::default()));
    assert_eq!(assignments["w3"], expected(Work::default()));
}

#[test]
fn a_leader_behind_a_member_fails_every_assignment_with_config_mismatch() {
    let members = [
        member("w1", 1, 5, Some(work(&["a"], &[("a", 0)]))),
        member("w2", 1, 9, None),
    ];
    let now = Instant::now();
    let behind = view(7, &[("a", 2)]);
    for (protocol, mut assignor) in [
        (
            ConnectProtocol::Eager,
            assignor_for(ConnectProtocol::Eager, Duration::ZERO),
        ),
        (
            ConnectProtocol::Sessioned,
            assignor_for(ConnectProtocol::Sessioned, Duration::from_secs(300)),
        ),
    ] {
        let assignments = assignor.assign(&round(protocol, &members, &behind, 1, now));
        let failed = Assignment {
            error: CONFIG_MISMATCH,
            ..Assignment::empty(protocol, "w1", "http://w1:8083/", 9)
        };
        assert_eq!(assignments.len(), 2, "{protocol:?}");
        for assignment in assignments.values() {
            assert_eq!(assignment, &failed, "{protocol:?}");
        }

        // Once the leader has caught up (here: read further than anyone), work goes out at
        // its offset.
        let ahead = view(12, &[("a", 2)]);
        let assignments = assignor.assign(&round(protocol, &members, &ahead, 2, now));
        for assignment in assignments.values() {
            assert_eq!(
                (
                    assignment.error,
                    assignment.config_offset,
                    assignment.version
                ),
                (NO_ERROR, 12, protocol.version()),
                "{protocol:?}"
            );
        }
        let given: usize = assignments.values().map(|a| count_items(&a.assigned)).sum();
        let expected = match protocol {
            ConnectProtocol::Eager => 3,
            // w1 already runs a and a-0: only a-1 is new.
            _ => 1,
        };
        assert_eq!(given, expected, "{protocol:?}");
    }
}

#[test]
fn created_work_goes_to_the_least_loaded_workers() {
    let config = view(3, &[("a", 4), ("b", 2)]);
    let members = [
        member(
            "w1",
            2,
            3,
            Some(work(&["a"], &[("a", 0), ("a", 1), ("a", 2)])),
        ),
        member("w2", 2, 3, Some(work(&[], &[("a", 3)]))),
    ];
    let mut assignor = IncrementalAssignor::new(Duration::from_secs(300));
    let assignments = assignor.assign(&round(
        ConnectProtocol::Sessioned,
        &members,
        &config,
        7,
        Instant::now(),
    ));
    // 6 tasks over 2 workers: w1's 3 are its share; the new connector and both its tasks go
    // to w2, which has fewer connectors and fewer tasks.
    assert_eq!(assignments["w1"].assigned, Work::default());
    assert_eq!(
        assignments["w2"].assigned,
        work(&["b"], &[("b", 0), ("b", 1)])
    );
    assert!(assignments.values().all(|a| a.revoked.is_empty()));
    assert!(assignments
        .values()
        .all(|a| a.delay_ms == 0 && a.version == 2));
}

#[test]
fn the_backoff_of_successive_revoking_rounds_grows_by_40_and_is_capped() {
    let assignor = IncrementalAssignor::new(Duration::from_secs(300));
    let backoffs: Vec<Duration> = (1..=5).map(|n| assignor.backoff(n)).collect();
    assert_eq!(
        backoffs,
        [40, 1_600, 64_000, 300_000, 300_000].map(Duration::from_millis)
    );
    assert_eq!(
        IncrementalAssignor::new(Duration::ZERO).backoff(1),
        Duration::ZERO
    );
}

/// A group of workers on the incremental protocol, driven round by round as real workers
/// behave: each reports what it runs, the leader's assignor (each worker has its own) assigns,
/// each stops what is revoked and starts what is assigned. Every round asserts that nothing
/// is started while another worker runs it and that no item runs twice afterwards.
struct Group {
    config: ConfigView,
    max_delay: Duration,
    workers: BTreeMap<String, Worker>,
    leader: Option<String>,
    generation: i32,
    /// How far the generation moves per round (tansu moves it once per joining member).
    generation_step: i32,
    /// A member whose SyncGroup fails in the next round: it changes nothing it runs.
    misses_next: Option<String>,
    now: Instant,
}

struct Worker {
    /// What it runs; `None` before its first assignment.
    runs: Option<Work>,
    assignor: IncrementalAssignor,
    last_completed_generation: i32,
}

impl Group {
    fn new(max_delay: Duration, config: ConfigView, ids: &[&str]) -> Self {
        let mut group = Self {
            config,
            max_delay,
            workers: BTreeMap::new(),
            leader: None,
            generation: 0,
            generation_step: 1,
            misses_next: None,
            now: Instant::now(),
        };
        for id in ids {
            group.join(id);
        }
        group
    }

    fn join(&mut self, id: &str) {
        let worker = Worker {
            runs: None,
            assignor: IncrementalAssignor::new(self.max_delay),
            last_completed_generation: -1,
        };
        assert!(
            self.workers.insert(id.to_owned(), worker).is_none(),
            "{id} twice"
        );
    }

    /// The worker stops and leaves; what it ran.
    fn leave(&mut self, id: &str) -> Work {
        let worker = self.workers.remove(id).expect("a member");
        worker.runs.unwrap_or_default()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    fn runs(&self, id: &str) -> Work {
        self.workers[id].runs.clone().unwrap_or_default()
    }

    fn set_runs(&mut self, id: &str, runs: Work) {
        self.workers.get_mut(id).expect("a member").runs = Some(runs);
    }

    /// One rebalance, led by the current leader (or, if it left, the smallest id).
    fn round(&mut self) -> BTreeMap<String, Assignment> {
        let leader = match &self.leader {
            Some(leader) if self.workers.contains_key(leader) => leader.clone(),
            _ => self.workers.keys().next().expect("a member").clone(),
        };
        self.round_led_by(&leader)
    }

    fn round_led_by(&mut self, leader: &str) -> BTreeMap<String, Assignment> {
        self.leader = Some(leader.to_owned());
        self.generation += self.generation_step;
        let protocol = ConnectProtocol::Compatible;
        let members: Vec<Member> = self
            .workers
            .iter()
            .map(|(id, w)| member(id, 1, self.config.offset, w.runs.clone()))
            .collect();
        let leader_url = url(leader);
        let generation = self.generation;
        let (now, config) = (self.now, self.config.clone());
        let worker = self
            .workers
            .get_mut(leader)
            .expect("the leader is a member");
        let assignments = worker.assignor.assign(&Round {
            leader_id: leader,
            leader_url: &leader_url,
            generation,
            last_completed_generation: worker.last_completed_generation,
            protocol,
            members: &members,
            config: &config,
            now,
        });

        // Every member gets an assignment with the header filled in.
        assert_eq!(
            assignments.keys().collect::<Vec<_>>(),
            self.workers.keys().collect::<Vec<_>>()
        );
        let delay = assignments.values().next().map(|a| a.delay_ms);
        for assignment in assignments.values() {
            assert_eq!(
                Assignment {
                    assigned: Work::default(),
                    revoked: Work::default(),
                    delay_ms: 0,
                    ..assignment.clone()
                },
                Assignment::empty(protocol, leader, &leader_url, config.offset)
            );
            assert_eq!(Some(assignment.delay_ms), delay, "one delay for everyone");
        }
        // Nothing is started that some worker runs, or that two workers are given; only what
        // a worker runs is revoked from it.
        let mut held_before = Work::default();
        for worker in self.workers.values() {
            union(
                &mut held_before,
                worker.runs.as_ref().unwrap_or(&Work::default()),
            );
        }
        let mut given = Work::default();
        for (id, assignment) in &assignments {
            let a = &assignment.assigned;
            assert!(
                intersection(a, &held_before).is_empty(),
                "{id} was given work that runs: {a:?}"
            );
            assert!(intersection(a, &given).is_empty(), "given twice: {a:?}");
            union(&mut given, a);
            let runs = self.runs(id);
            assert!(
                minus(&assignment.revoked, &runs).is_empty(),
                "{id} had revoked what it does not run: {:?}",
                assignment.revoked
            );
        }
        // The members apply the round (all but one whose SyncGroup failed).
        let missed = self.misses_next.take();
        for (id, assignment) in &assignments {
            if Some(id) == missed.as_ref() {
                continue;
            }
            let worker = self.workers.get_mut(id).expect("a member");
            let mut runs = minus(
                worker.runs.as_ref().unwrap_or(&Work::default()),
                &assignment.revoked,
            );
            union(&mut runs, &assignment.assigned);
            worker.runs = Some(runs);
            worker.last_completed_generation = generation;
        }
        self.assert_nothing_runs_twice();
        assignments
    }

    fn assert_nothing_runs_twice(&self) {
        let mut seen = Work::default();
        for (id, worker) in &self.workers {
            let runs = worker.runs.clone().unwrap_or_default();
            assert!(
                intersection(&runs, &seen).is_empty(),
                "{id} runs what another worker runs: {:?}",
                intersection(&runs, &seen)
            );
            union(&mut seen, &runs);
        }
    }

    /// Rounds (each after the delay the previous one asked for) until one changes nothing.
    fn settle(&mut self) {
        for _ in 0..50 {
            let assignments = self.round();
            let delay = assignments.values().next().map_or(0, |a| a.delay_ms);
            if delay == 0
                && assignments
                    .values()
                    .all(|a| a.assigned.is_empty() && a.revoked.is_empty())
            {
                return;
            }
            self.advance(Duration::from_millis(u64::try_from(delay).unwrap_or(0)));
        }
        panic!("the group did not settle in 50 rounds");
    }

    /// Every configured connector and task runs exactly once, nothing else runs, and every
    /// worker runs `total / W` or one more connectors, and the same for tasks.
    fn assert_complete_and_balanced(&self) {
        self.assert_nothing_runs_twice();
        let mut running = Work::default();
        for worker in self.workers.values() {
            union(
                &mut running,
                worker.runs.as_ref().unwrap_or(&Work::default()),
            );
        }
        assert_eq!(running, self.config.work());
        let workers = self.workers.len();
        let (connectors, tasks) = (running.connectors.len(), running.tasks.len());
        for (id, worker) in &self.workers {
            let runs = worker.runs.clone().unwrap_or_default();
            let fair = |held: usize, total: usize| {
                held == total / workers || held == total.div_ceil(workers)
            };
            assert!(
                fair(runs.connectors.len(), connectors) && fair(runs.tasks.len(), tasks),
                "{id} runs {} of {connectors} connectors and {} of {tasks} tasks over {workers} workers",
                runs.connectors.len(),
                runs.tasks.len()
            );
        }
    }

    /// Each worker's task count, by id.
    fn task_loads(&self) -> BTreeMap<String, usize> {
        self.workers
            .keys()
            .map(|id| (id.clone(), self.runs(id).tasks.len()))
            .collect()
    }
}

fn quiet(assignments: &BTreeMap<String, Assignment>) -> bool {
    assignments
        .values()
        .all(|a| a.assigned.is_empty() && a.revoked.is_empty() && a.delay_ms == 0)
}

fn revoked_anywhere(assignments: &BTreeMap<String, Assignment>) -> Work {
    let mut revoked = Work::default();
    for assignment in assignments.values() {
        union(&mut revoked, &assignment.revoked);
    }
    revoked
}

const MAX_DELAY: Duration = Duration::from_secs(10);

#[test]
fn the_first_round_spreads_tasks_evenly() {
    let mut group = Group::new(MAX_DELAY, view(1, &[("c", 6)]), &["w1", "w2", "w3"]);
    let assignments = group.round();
    assert!(assignments
        .values()
        .all(|a| a.revoked.is_empty() && a.delay_ms == 0));
    let task_counts: Vec<usize> = assignments
        .values()
        .map(|a| a.assigned.tasks.len())
        .collect();
    assert_eq!(task_counts, [2, 2, 2]);
    let connector_holders: Vec<&String> = assignments
        .iter()
        .filter(|(_, a)| a.assigned.connectors.contains("c"))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(connector_holders.len(), 1);
    group.assert_complete_and_balanced();
    assert!(quiet(&group.round()));
}

#[test]
fn a_joining_worker_gets_revoked_work_one_round_later_and_settled_tasks_stay() {
    let mut group = Group::new(MAX_DELAY, view(1, &[("c", 6)]), &["w1", "w2", "w3"]);
    group.round();
    let before: BTreeMap<String, Work> = group
        .workers
        .keys()
        .map(|id| (id.clone(), group.runs(id)))
        .collect();

    group.join("w4");
    let first = group.round();
    // 6 tasks over 4 workers: two may keep 2, the others 1: one task is revoked, from a
    // worker that had 2, and not handed out in the same round.
    let revoked = revoked_anywhere(&first);
    assert_eq!((revoked.connectors.len(), revoked.tasks.len()), (0, 1));
    assert!(first
        .values()
        .all(|a| a.assigned.is_empty() && a.delay_ms == 0));
    let revoked_from: Vec<&String> = first
        .iter()
        .filter(|(_, a)| !a.revoked.is_empty())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(revoked_from.len(), 1);
    assert_eq!(before[revoked_from[0]].tasks.len(), 2);

    // The members rejoin without the revoked task: it goes to the new worker.
    let second = group.round();
    assert_eq!(second["w4"].assigned, revoked);
    assert!(revoked_anywhere(&second).is_empty());
    assert!(second
        .iter()
        .all(|(id, a)| id == "w4" || a.assigned.is_empty()));
    group.assert_complete_and_balanced();
    // No task that stayed where it was was ever stopped.
    for (id, runs) in &before {
        assert_eq!(
            minus(runs, &group.runs(id)),
            if id == revoked_from[0] {
                revoked.clone()
            } else {
                Work::default()
            }
        );
    }
    assert!(quiet(&group.round()));
}

/// Three workers running three connectors with two tasks each.
fn three_workers(max_delay: Duration) -> Group {
    let mut group = Group::new(
        max_delay,
        view(1, &[("a", 2), ("b", 2), ("c", 2)]),
        &["w1", "w2", "w3"],
    );
    group.settle();
    group.assert_complete_and_balanced();
    group
}

#[test]
fn a_departed_workers_work_waits_for_it_and_goes_to_it_when_it_returns() {
    let mut group = three_workers(MAX_DELAY);
    let departed = group.leave("w3");
    assert_eq!(count_items(&departed), 3);

    let first = group.round();
    assert!(first
        .values()
        .all(|a| a.assigned.is_empty() && a.revoked.is_empty()));
    assert!(first.values().all(|a| a.delay_ms == 10_000));
    group.advance(Duration::from_secs(4));
    let second = group.round();
    assert!(second
        .values()
        .all(|a| a.assigned.is_empty() && a.delay_ms == 6_000));

    // It comes back under a new member id, running nothing: the delay still runs.
    group.advance(Duration::from_secs(1));
    group.join("w3-again");
    let third = group.round();
    assert!(third
        .values()
        .all(|a| a.assigned.is_empty() && a.delay_ms == 5_000));

    // At the deadline it gets its work back.
    group.advance(Duration::from_secs(5));
    let fourth = group.round();
    assert_eq!(fourth["w3-again"].assigned, departed);
    assert!(fourth
        .values()
        .all(|a| a.revoked.is_empty() && a.delay_ms == 0));
    group.assert_complete_and_balanced();
    assert!(quiet(&group.round()));
}

#[test]
fn a_departed_workers_work_goes_to_the_others_after_the_delay() {
    let mut group = three_workers(MAX_DELAY);
    let departed = group.leave("w3");
    let first = group.round();
    assert!(first
        .values()
        .all(|a| a.assigned.is_empty() && a.delay_ms == 10_000));

    // A round just before the deadline still holds it back.
    group.advance(MAX_DELAY - Duration::from_millis(1));
    let second = group.round();
    assert!(second
        .values()
        .all(|a| a.assigned.is_empty() && a.delay_ms == 1));

    group.advance(Duration::from_millis(1));
    let third = group.round();
    let given = {
        let mut given = Work::default();
        third.values().for_each(|a| union(&mut given, &a.assigned));
        given
    };
    assert_eq!(given, departed);
    assert!(third.values().all(|a| a.delay_ms == 0));
    group.settle();
    group.assert_complete_and_balanced();
}

#[test]
fn after_the_delay_lost_work_goes_to_the_workers_that_were_empty_during_it() {
    let mut group = Group::new(
        MAX_DELAY,
        view(1, &[("a", 2), ("b", 2), ("c", 2), ("d", 2)]),
        &["w1", "w2", "w3", "w4"],
    );
    group.settle();
    group.assert_complete_and_balanced();
    let mut departed = group.leave("w3");
    union(&mut departed, &group.leave("w4"));
    assert!(group.round().values().all(|a| a.delay_ms == 10_000));
    group.advance(Duration::from_secs(2));
    group.join("w5");
    assert!(group.round().values().all(|a| a.assigned.is_empty()));

    // All of it goes to the worker that came while it waited (the others keep theirs); the
    // balance is restored by the usual revocations afterwards.
    group.advance(Duration::from_secs(8));
    let at_deadline = group.round();
    assert_eq!(at_deadline["w5"].assigned, departed);
    assert!(at_deadline["w1"].assigned.is_empty() && at_deadline["w2"].assigned.is_empty());
    group.settle();
    group.assert_complete_and_balanced();
}

#[test]
fn without_a_delay_a_departed_workers_work_goes_out_at_once() {
    let mut group = three_workers(Duration::ZERO);
    let departed = group.leave("w2");
    let first = group.round();
    let mut given = Work::default();
    first.values().for_each(|a| union(&mut given, &a.assigned));
    assert_eq!(given, departed);
    assert!(first.values().all(|a| a.delay_ms == 0));
    group.assert_complete_and_balanced();
}

#[test]
fn deleted_connectors_and_surplus_tasks_are_revoked() {
    let mut group = Group::new(MAX_DELAY, view(1, &[("a", 2), ("b", 4)]), &["w1", "w2"]);
    group.round();
    // What each worker runs of connector a.
    let all_of_a = work(&["a"], &[("a", 0), ("a", 1)]);
    let runs_of_a: BTreeMap<String, Work> = group
        .workers
        .keys()
        .map(|id| (id.clone(), intersection(&group.runs(id), &all_of_a)))
        .collect();
    assert_eq!(
        runs_of_a.values().map(count_items).sum::<usize>(),
        3,
        "{runs_of_a:?}"
    );

    group.config = view(2, &[("b", 4)]);
    let assignments = group.round();
    for (id, assignment) in &assignments {
        assert_eq!(assignment.revoked, runs_of_a[id], "{id}");
        assert!(assignment.assigned.is_empty(), "{id}");
    }

    // Fewer tasks: the ones beyond the count stop where they run.
    let b3_holder = group
        .workers
        .keys()
        .find(|id| group.runs(id).tasks.contains(&task("b", 3)))
        .expect("someone runs b-3")
        .clone();
    group.config = view(3, &[("b", 3)]);
    let assignments = group.round();
    assert_eq!(assignments[&b3_holder].revoked, work(&[], &[("b", 3)]));
    assert_eq!(revoked_anywhere(&assignments), work(&[], &[("b", 3)]));
    group.settle();
    group.assert_complete_and_balanced();
}

#[test]
fn work_reported_by_two_workers_is_revoked_from_both() {
    let mut group = Group::new(MAX_DELAY, view(1, &[("c", 2)]), &["w1", "w2"]);
    group.set_runs("w1", work(&["c"], &[("c", 0)]));
    group.set_runs("w2", work(&["c"], &[("c", 0), ("c", 1)]));
    let first = group.round();
    assert_eq!(first["w1"].revoked, work(&["c"], &[("c", 0)]));
    assert_eq!(first["w2"].revoked, work(&["c"], &[("c", 0)]));
    assert!(first.values().all(|a| a.assigned.is_empty()));

    // Once neither runs them, they go out again, each to one worker.
    let second = group.round();
    let mut given = Work::default();
    second.values().for_each(|a| union(&mut given, &a.assigned));
    assert_eq!(given, work(&["c"], &[("c", 0)]));
    group.settle();
    group.assert_complete_and_balanced();
}

#[test]
fn a_leader_whose_last_round_was_not_its_own_forgets_what_it_assigned() {
    // The leader remembers: a departure holds the work back.
    let mut group = three_workers(MAX_DELAY);
    group.leave("w3");
    assert!(group
        .round()
        .values()
        .all(|a| a.delay_ms > 0 && a.assigned.is_empty()));

    // Another worker led a round in between: the leader's memory is stale, so what nobody
    // runs is handed out as new work, at once, once each.
    let mut group = three_workers(MAX_DELAY);
    assert!(quiet(&group.round_led_by("w2")));
    let departed = group.leave("w3");
    let assignments = group.round_led_by("w1");
    let mut given = Work::default();
    assignments
        .values()
        .for_each(|a| union(&mut given, &a.assigned));
    assert_eq!(given, departed);
    assert!(assignments.values().all(|a| a.delay_ms == 0));
    group.assert_complete_and_balanced();
}

#[test]
fn a_balancing_revocation_right_after_another_waits_for_the_backoff() {
    let mut group = Group::new(MAX_DELAY, view(1, &[("c", 12)]), &["w1", "w2", "w3"]);
    group.settle();
    group.join("w4");
    let first = group.round();
    assert_eq!(revoked_anywhere(&first).tasks.len(), 3);

    // w5 joins while w4 is being given the revoked tasks: the imbalance is not revoked at
    // once but 40 ms later.
    group.join("w5");
    let second = group.round();
    assert!(revoked_anywhere(&second).is_empty());
    assert!(second.values().all(|a| a.delay_ms == 40));
    assert_eq!(
        count_items(&second["w4"].assigned) + count_items(&second["w5"].assigned),
        3
    );

    group.advance(Duration::from_millis(40));
    let third = group.round();
    assert_eq!(revoked_anywhere(&third).tasks.len(), 1);
    group.settle();
    group.assert_complete_and_balanced();
    assert_eq!(group.task_loads().values().sum::<usize>(), 12);
}

/// xorshift64*: a small deterministic generator for the randomised test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, ids: &'a [String]) -> &'a String {
        &ids[self.below(ids.len() as u64) as usize]
    }
}

/// Random joins, departures, leader changes, config changes, failed SyncGroups and passing
/// time: after every round nothing runs twice (asserted by `Group::round`), and once the
/// group has settled everything configured runs exactly once, balanced.
#[test]
fn random_histories_never_run_work_twice_and_settle_balanced() {
    for seed in 1..=40u64 {
        let max_delay = if seed % 4 == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(5)
        };
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut group = Group::new(max_delay, view(0, &[("c0", 3)]), &["m0", "m1"]);
        let mut next_id = 2;
        let mut next_connector = 1;
        for _ in 0..60 {
            let ids: Vec<String> = group.workers.keys().cloned().collect();
            match rng.below(9) {
                0 if ids.len() < 6 => {
                    group.join(&format!("m{next_id}"));
                    next_id += 1;
                }
                1 if ids.len() > 1 => {
                    group.leave(rng.pick(&ids));
                }
                2 => {
                    let name = format!("c{next_connector}");
                    next_connector += 1;
                    group.config.connectors.insert(name, rng.below(6) as u32);
                    group.config.offset += 1;
                }
                3 if !group.config.connectors.is_empty() => {
                    let names: Vec<String> = group.config.connectors.keys().cloned().collect();
                    let name = rng.pick(&names).clone();
                    if rng.below(2) == 0 {
                        group.config.connectors.remove(&name);
                    } else {
                        group.config.connectors.insert(name, rng.below(6) as u32);
                    }
                    group.config.offset += 1;
                }
                4 => {
                    // Another worker takes the lead (the old leader left and came back, say).
                    group.leader = Some(rng.pick(&ids).clone());
                }
                5 => {
                    group.misses_next = Some(rng.pick(&ids).clone());
                }
                _ => {}
            }
            group.generation_step = 1 + rng.below(3) as i32;
            group.advance(Duration::from_millis(rng.below(3_000)));
            group.round();
        }
        group.generation_step = 1;
        group.settle();
        group.assert_complete_and_balanced();
    }
}
