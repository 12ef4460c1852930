//! The group leader's assignors: given every member's metadata and the leader's config
//! snapshot, what each worker is to run. Pure logic: no I/O, no clock (the caller passes `now`).
//!
//! Both assignors start the same way. The leader must have read the config topic at least as
//! far as every member; if a member is ahead, nobody gets work: every member gets
//! [`CONFIG_MISMATCH`] with the highest offset reported, catches up and rejoins. Otherwise
//! every member gets an assignment (possibly empty) at the leader's offset.
//!
//! - [`EagerAssignor`] (protocol `default`): members stop everything before they join, so each
//!   round hands out complete assignments, round-robin over the sorted member ids: connectors
//!   first, then the tasks, continuing the same rotation.
//! - [`IncrementalAssignor`] (protocols `compatible` and `sessioned`): members keep running
//!   while they rebalance and report what they run in their metadata's allocation. Each round
//!   hands out deltas (what to start, what to stop) and never lets two workers run the same
//!   connector or task: an item is only given out when no member reports it, so work moves in
//!   two rounds (revoked from its holder, given to another once the holder rejoined without
//!   it). See its documentation for the rules.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::protocol::{
    Assignment, ConnectProtocol, TaskRef, Work, WorkerMetadata, CONFIG_MISMATCH,
};

/// A group member as the leader sees it in the JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub metadata: WorkerMetadata,
}

/// What the leader assigns: every connector in its config snapshot with its committed task count
/// (0 for a connector without committed tasks or marked inconsistent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigView {
    /// The snapshot's config offset (the last record read + 1, -1 if none), as in metadata.
    pub offset: i64,
    pub connectors: BTreeMap<String, u32>,
}

impl ConfigView {
    /// Every configured connector and task (tasks `0..count` of each connector).
    fn work(&self) -> Work {
        let mut work = Work::default();
        for (connector, &count) in &self.connectors {
            work.connectors.insert(connector.clone());
            let count = i32::try_from(count).unwrap_or(i32::MAX);
            work.tasks
                .extend((0..count).map(|task| TaskRef::new(connector.clone(), task)));
        }
        work
    }
}

/// One rebalance as the leader sees it.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    /// The leader's (this worker's) member id and advertised URL.
    pub leader_id: &'a str,
    pub leader_url: &'a str,
    /// The generation being assigned (from the JoinGroup answer).
    pub generation: i32,
    /// The generation of the last rebalance this worker completed (its SyncGroup was answered),
    /// -1 before its first. The incremental assignor forgets what it assigned when that was not
    /// its own last round (another worker led since, or its SyncGroup failed): its memory may be
    /// wrong then.
    pub last_completed_generation: i32,
    /// The protocol the group runs: the version of every assignment.
    pub protocol: ConnectProtocol,
    pub members: &'a [Member],
    pub config: &'a ConfigView,
    /// The time the scheduled-rebalance delay is measured with.
    pub now: Instant,
}

impl Round<'_> {
    /// The assignment every member gets at least: no work, no error, the leader filled in.
    fn empty_assignment(&self, config_offset: i64) -> Assignment {
        Assignment::empty(
            self.protocol,
            self.leader_id,
            self.leader_url,
            config_offset,
        )
    }

    /// When a member has read further in the config topic than the leader: [`CONFIG_MISMATCH`]
    /// and no work for every member, at the highest offset reported.
    fn config_mismatch(&self) -> Option<BTreeMap<String, Assignment>> {
        let highest = self
            .members
            .iter()
            .map(|member| member.metadata.config_offset)
            .max()?;
        if self.config.offset >= highest {
            return None;
        }
        let failed = Assignment {
            error: CONFIG_MISMATCH,
            ..self.empty_assignment(highest)
        };
        Some(
            self.members
                .iter()
                .map(|member| (member.id.clone(), failed.clone()))
                .collect(),
        )
    }
}

/// The leader's assignor; one instance lives as long as the worker's group membership (the
/// incremental one remembers earlier rounds).
pub trait Assignor: Send {
    /// Every member's assignment, by member id.
    fn assign(&mut self, round: &Round<'_>) -> BTreeMap<String, Assignment>;
}

/// The assignor of the group's protocol: eager for `default`, incremental cooperative for
/// `compatible` and `sessioned` (`max_delay` is `scheduled.rebalance.max.delay.ms`).
pub fn assignor_for(protocol: ConnectProtocol, max_delay: Duration) -> Box<dyn Assignor> {
    match protocol {
        ConnectProtocol::Eager => Box::new(EagerAssignor),
        ConnectProtocol::Compatible | ConnectProtocol::Sessioned => {
            Box::new(IncrementalAssignor::new(max_delay))
        }
    }
}

/// Protocol `default`: complete assignments, round-robin. Member ids sorted; one rotation over
/// them gives out the connectors (sorted by name), then, without restarting, every task (by
/// connector, then task number).
#[derive(Debug, Clone, Copy, Default)]
pub struct EagerAssignor;

impl Assignor for EagerAssignor {
    fn assign(&mut self, round: &Round<'_>) -> BTreeMap<String, Assignment> {
        if let Some(failed) = round.config_mismatch() {
            return failed;
        }
        let mut assignments: BTreeMap<String, Assignment> = round
            .members
            .iter()
            .map(|member| {
                let assignment = round.empty_assignment(round.config.offset);
                (member.id.clone(), assignment)
            })
            .collect();
        let ids: Vec<String> = assignments.keys().cloned().collect();
        if ids.is_empty() {
            return assignments;
        }
        let configured = round.config.work();
        let mut turn = 0;
        let mut next_worker = || {
            let id = &ids[turn % ids.len()];
            turn += 1;
            id.clone()
        };
        for connector in configured.connectors {
            if let Some(assignment) = assignments.get_mut(&next_worker()) {
                assignment.assigned.connectors.insert(connector);
            }
        }
        for task in configured.tasks {
            if let Some(assignment) = assignments.get_mut(&next_worker()) {
                assignment.assigned.tasks.insert(task);
            }
        }
        assignments
    }
}

/// Protocols `compatible` and `sessioned`: incremental cooperative rebalancing.
///
/// Members report what they run (`allocation`; none = nothing). Each round gives each member
/// what it should start in addition and what it should stop, plus a delay after which every
/// member should rejoin (0: none). The rules:
///
/// - Anything a member runs that is no longer configured (a deleted connector, tasks beyond a
///   lowered count) is revoked; anything two members report is revoked from both (and handed
///   out again in a later round, once nobody reports it).
/// - Configured items nobody runs are given to the least-loaded workers (connectors by
///   connector count, tasks by task count), except "lost" ones: items the leader assigned in
///   its previous round that no member reports now. When a member of the previous round is
///   missing, those belonged to a worker that left and may come back: they stay unassigned
///   for up to `max_delay` (a scheduled rebalance; every member is told the time left). When
///   it has passed, they go to the workers that were empty during the delay (a returning
///   worker rejoins empty), or to the least loaded if none is left. With `max_delay` 0, or
///   when no member is missing (an assignment that did not arrive), they go out at once.
/// - When no delay runs, load balancing revokes from workers holding more than their share:
///   of `total` connectors (and, separately, tasks) over `W` workers each may hold
///   `total / W`, and `total % W` of them one more. The revoked items go out in the next
///   round, when their holders have rejoined without them. A balancing revocation in the
///   round right after one is postponed by 40 ms, then 1.6 s, 64 s, ... (40^n ms, capped at
///   `max_delay`) so that a group that keeps changing does not keep moving work.
#[derive(Debug)]
pub struct IncrementalAssignor {
    max_delay: Duration,
    /// What the previous round left assigned (including lost items still held back).
    previous: Work,
    /// The generation of the previous round (-1: none).
    previous_generation: i32,
    previous_members: BTreeSet<String>,
    /// While lost items are held back: when they are handed out.
    lost_deadline: Option<Instant>,
    /// Workers seen empty while lost items were held back: who gets them at the deadline.
    candidates: BTreeSet<String>,
    /// Whether the previous round revoked work to balance the load.
    revoked_in_previous: bool,
    /// How many times in a row a balancing revocation was due right after another (the
    /// backoff's exponent); back to 0 once the load is balanced.
    successive_revocations: u32,
    /// Balancing revocations are postponed until then.
    balance_hold: Option<Instant>,
}

impl IncrementalAssignor {
    /// `max_delay` is `scheduled.rebalance.max.delay.ms` (an int in Java: longer is capped).
    pub fn new(max_delay: Duration) -> Self {
        Self {
            max_delay: max_delay.min(Duration::from_millis(i32::MAX as u64)),
            previous: Work::default(),
            previous_generation: -1,
            previous_members: BTreeSet::new(),
            lost_deadline: None,
            candidates: BTreeSet::new(),
            revoked_in_previous: false,
            successive_revocations: 0,
            balance_hold: None,
        }
    }

    /// The postponement of the `n`-th balancing revocation in a row: 40^n ms, at most
    /// `max_delay`.
    fn backoff(&self, n: u32) -> Duration {
        Duration::from_millis(40u64.saturating_pow(n)).min(self.max_delay)
    }

    /// What happens to lost items this round; updates the scheduled delay.
    fn lost_fate(&mut self, round: &Round<'_>, lost: &Work, plans: &Plans) -> LostFate {
        if lost.is_empty() {
            self.lost_deadline = None;
            self.candidates.clear();
            return LostFate::Spread;
        }
        let nobody_left = self
            .previous_members
            .iter()
            .all(|id| plans.contains_key(id));
        if self.max_delay.is_zero() || (self.lost_deadline.is_none() && nobody_left) {
            return LostFate::Spread;
        }
        match self.lost_deadline {
            Some(deadline) if round.now >= deadline => {
                let present: BTreeSet<String> = self
                    .candidates
                    .iter()
                    .filter(|id| plans.contains_key(*id))
                    .cloned()
                    .collect();
                self.lost_deadline = None;
                self.candidates.clear();
                // The delay has run its course: balancing may revoke again at once.
                self.revoked_in_previous = false;
                if present.is_empty() {
                    LostFate::Spread
                } else {
                    LostFate::ToCandidates(present)
                }
            }
            deadline => {
                self.lost_deadline = Some(deadline.unwrap_or(round.now + self.max_delay));
                self.candidates.extend(
                    plans
                        .iter()
                        .filter(|(_, plan)| plan.keeps.is_empty())
                        .map(|(id, _)| id.clone()),
                );
                LostFate::Hold
            }
        }
    }

    /// Load-balancing revocations, unless a delay runs or the backoff postpones them.
    fn balance(&mut self, round: &Round<'_>, configured: &Work, plans: &mut Plans) {
        if self.balance_hold.is_some_and(|until| round.now >= until) {
            self.balance_hold = None;
            self.revoked_in_previous = false;
        }
        if self.lost_deadline.is_some() || self.balance_hold.is_some() {
            return;
        }
        let connectors = balance_revocations::<String>(plans, configured.connectors.len());
        let tasks = balance_revocations::<TaskRef>(plans, configured.tasks.len());
        if connectors.is_empty() && tasks.is_empty() {
            self.revoked_in_previous = false;
            self.successive_revocations = 0;
            return;
        }
        if self.revoked_in_previous {
            self.successive_revocations = self.successive_revocations.saturating_add(1);
            let backoff = self.backoff(self.successive_revocations);
            if !backoff.is_zero() {
                self.balance_hold = Some(round.now + backoff);
                return;
            }
        }
        revoke(plans, connectors);
        revoke(plans, tasks);
        self.revoked_in_previous = true;
    }

    /// Milliseconds until the earliest pending deadline (rounded up: never 0 while one is
    /// pending), 0 if none.
    fn delay_ms(&self, now: Instant) -> i32 {
        let Some(deadline) = [self.lost_deadline, self.balance_hold]
            .into_iter()
            .flatten()
            .min()
        else {
            return 0;
        };
        let left = deadline.saturating_duration_since(now);
        i32::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
    }
}

impl Assignor for IncrementalAssignor {
    fn assign(&mut self, round: &Round<'_>) -> BTreeMap<String, Assignment> {
        if let Some(failed) = round.config_mismatch() {
            // Nobody starts or stops anything on a failed round: what the leader remembers
            // stays true.
            self.previous_generation = round.generation;
            return failed;
        }
        if self.previous_generation != round.last_completed_generation {
            self.previous = Work::default();
        }
        let configured = round.config.work();

        let mut plans: Plans = round
            .members
            .iter()
            .map(|member| {
                let runs = member
                    .metadata
                    .allocation
                    .as_ref()
                    .map(|allocation| allocation.assigned.clone())
                    .unwrap_or_default();
                (member.id.clone(), Plan::keeping(runs))
            })
            .collect();
        let mut active = Work::default();
        let mut duplicated = Work::default();
        for plan in plans.values() {
            for connector in &plan.keeps.connectors {
                if !active.connectors.insert(connector.clone()) {
                    duplicated.connectors.insert(connector.clone());
                }
            }
            for task in &plan.keeps.tasks {
                if !active.tasks.insert(task.clone()) {
                    duplicated.tasks.insert(task.clone());
                }
            }
        }
        // Stop what is no longer configured, and what runs twice (everywhere: it goes out
        // again once nobody runs it).
        for plan in plans.values_mut() {
            plan.revoke_where(|connector: &String| {
                !configured.connectors.contains(connector)
                    || duplicated.connectors.contains(connector)
            });
            plan.revoke_where(|task: &TaskRef| {
                !configured.tasks.contains(task) || duplicated.tasks.contains(task)
            });
        }

        let unheld = minus(&configured, &active);
        let lost = intersection(&unheld, &self.previous);
        let created = minus(&unheld, &lost);

        let fate = self.lost_fate(round, &lost, &plans);
        self.balance(round, &configured, &mut plans);

        let everyone: BTreeSet<String> = plans.keys().cloned().collect();
        let mut to_spread = created;
        match fate {
            LostFate::Hold => {}
            LostFate::Spread => union(&mut to_spread, &lost),
            LostFate::ToCandidates(candidates) => {
                spread::<String>(&mut plans, lost.connectors.iter().cloned(), &candidates);
                spread::<TaskRef>(&mut plans, lost.tasks.iter().cloned(), &candidates);
            }
        }
        spread::<String>(&mut plans, to_spread.connectors, &everyone);
        spread::<TaskRef>(&mut plans, to_spread.tasks, &everyone);

        let mut previous = lost;
        for plan in plans.values() {
            union(&mut previous, &plan.keeps);
            union(&mut previous, &plan.assign);
        }
        self.previous = previous;
        self.previous_members = everyone;
        self.previous_generation = round.generation;

        let delay_ms = self.delay_ms(round.now);
        plans
            .into_iter()
            .map(|(id, plan)| {
                let assignment = Assignment {
                    assigned: plan.assign,
                    revoked: plan.revoke,
                    delay_ms,
                    ..round.empty_assignment(round.config.offset)
                };
                (id, assignment)
            })
            .collect()
    }
}

/// What becomes of lost items in a round.
enum LostFate {
    /// Held back: a scheduled rebalance runs.
    Hold,
    /// Given out with the new items, to the least loaded.
    Spread,
    /// Given to these workers (the ones that were empty while they were held back).
    ToCandidates(BTreeSet<String>),
}

/// Each member's plan for this round, by member id.
type Plans = BTreeMap<String, Plan>;

/// One member's part of a round.
#[derive(Debug, Default)]
struct Plan {
    /// What it runs and goes on running.
    keeps: Work,
    /// What it is to stop.
    revoke: Work,
    /// What it is to start.
    assign: Work,
}

impl Plan {
    fn keeping(runs: Work) -> Self {
        Self {
            keeps: runs,
            ..Self::default()
        }
    }

    /// What it will run, counted in connectors or tasks.
    fn load<T: Item>(&self) -> usize {
        T::of(&self.keeps).len() + T::of(&self.assign).len()
    }

    /// Moves the kept items that match `revoke` to the revoked ones.
    fn revoke_where<T: Item>(&mut self, revoke: impl Fn(&T) -> bool) {
        let (revoked, kept): (BTreeSet<T>, BTreeSet<T>) =
            std::mem::take(T::of_mut(&mut self.keeps))
                .into_iter()
                .partition(|item| revoke(item));
        *T::of_mut(&mut self.keeps) = kept;
        T::of_mut(&mut self.revoke).extend(revoked);
    }
}

/// Connectors and tasks are balanced and handed out separately, by the same rules.
trait Item: Ord + Clone {
    fn of(work: &Work) -> &BTreeSet<Self>;
    fn of_mut(work: &mut Work) -> &mut BTreeSet<Self>;
}

impl Item for String {
    fn of(work: &Work) -> &BTreeSet<Self> {
        &work.connectors
    }
    fn of_mut(work: &mut Work) -> &mut BTreeSet<Self> {
        &mut work.connectors
    }
}

impl Item for TaskRef {
    fn of(work: &Work) -> &BTreeSet<Self> {
        &work.tasks
    }
    fn of_mut(work: &mut Work) -> &mut BTreeSet<Self> {
        &mut work.tasks
    }
}

/// Gives each item to the worker among `workers` that will run the fewest of its kind (ties:
/// the smallest member id).
fn spread<T: Item>(
    plans: &mut Plans,
    items: impl IntoIterator<Item = T>,
    workers: &BTreeSet<String>,
) {
    for item in items {
        let least_loaded = workers
            .iter()
            .filter_map(|id| plans.get(id).map(|plan| (plan.load::<T>(), id)))
            .min()
            .map(|(_, id)| id.clone());
        if let Some(plan) = least_loaded.and_then(|id| plans.get_mut(&id)) {
            T::of_mut(&mut plan.assign).insert(item);
        }
    }
}

/// What each worker gives up so that none keeps more than its share of `total` items: each
/// may keep `total / W`, and `total % W` of them (the first in member order that hold more)
/// one more. The last items of a worker go first.
fn balance_revocations<T: Item>(plans: &Plans, total: usize) -> BTreeMap<String, BTreeSet<T>> {
    let mut revocations = BTreeMap::new();
    if plans.is_empty() {
        return revocations;
    }
    let share = total / plans.len();
    let mut extra = total % plans.len();
    for (id, plan) in plans {
        let held = T::of(&plan.keeps);
        if held.len() <= share {
            continue;
        }
        let allowed = if extra > 0 {
            extra -= 1;
            share + 1
        } else {
            share
        };
        if held.len() > allowed {
            let surplus = held.iter().rev().take(held.len() - allowed).cloned();
            revocations.insert(id.clone(), surplus.collect());
        }
    }
    revocations
}

fn revoke<T: Item>(plans: &mut Plans, revocations: BTreeMap<String, BTreeSet<T>>) {
    for (id, items) in revocations {
        if let Some(plan) = plans.get_mut(&id) {
            plan.revoke_where(|item| items.contains(item));
        }
    }
}

fn union(into: &mut Work, other: &Work) {
    into.connectors.extend(other.connectors.iter().cloned());
    into.tasks.extend(other.tasks.iter().cloned());
}

fn minus(work: &Work, other: &Work) -> Work {
    Work {
        connectors: work
            .connectors
            .difference(&other.connectors)
            .cloned()
            .collect(),
        tasks: work.tasks.difference(&other.tasks).cloned().collect(),
    }
}

fn intersection(work: &Work, other: &Work) -> Work {
    Work {
        connectors: work
            .connectors
            .intersection(&other.connectors)
            .cloned()
            .collect(),
        tasks: work.tasks.intersection(&other.tasks).cloned().collect(),
    }
}

#[cfg(test)]
mod tests;
