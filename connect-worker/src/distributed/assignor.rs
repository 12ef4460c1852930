//! PLACEHOLDER, to be replaced at merge by the real assignors (eager and incremental
//! cooperative, written on branch `d-assignor`). It exists only so that the coordinator
//! (`coordinator.rs`) builds and can be tested against the real broker meanwhile: the types
//! are those agreed in the distributed-mode brief, the logic is a plain round-robin that hands
//! every member a complete assignment as `assigned` and never revokes anything, whatever the
//! protocol. That is right for the eager protocol only: under an incremental protocol a
//! member adds what it is given to what it runs, so after a membership change work would run
//! twice. The coordinator does not depend on how the assignor decides.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::protocol::{Assignment, ConnectProtocol, TaskRef, WorkerMetadata};

/// A member of the group, as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub metadata: WorkerMetadata,
}

/// What the leader assigns: every connector in its config snapshot with its committed task
/// count (0 for a connector without committed tasks or marked inconsistent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigView {
    pub offset: i64,
    pub connectors: BTreeMap<String, u32>,
}

/// One rebalance, as the leader's assignor sees it.
#[derive(Debug, Clone)]
pub struct Round<'a> {
    pub leader_id: &'a str,
    pub leader_url: &'a str,
    pub generation: i32,
    /// The generation of the last rebalance this worker completed, -1 before its first (the
    /// real incremental assignor forgets its memory when that was not its own last round).
    pub last_completed_generation: i32,
    pub protocol: ConnectProtocol,
    pub members: &'a [Member],
    pub config: &'a ConfigView,
    pub now: Instant,
}

/// The leader's assignment logic; it may keep state between rounds.
pub trait Assignor: Send {
    /// An assignment for every member of the round, by member id.
    fn assign(&mut self, round: &Round<'_>) -> BTreeMap<String, Assignment>;
}

/// The assignor for the protocol the group runs. PLACEHOLDER: round-robin for every protocol.
pub fn assignor_for(_protocol: ConnectProtocol, _max_delay: Duration) -> Box<dyn Assignor> {
    Box::new(RoundRobin)
}

/// PLACEHOLDER: the members sorted by id, one circular walk over them, first for every
/// connector, then for every task (as Kafka Connect's eager assignor walks them).
#[derive(Debug)]
struct RoundRobin;

impl Assignor for RoundRobin {
    fn assign(&mut self, round: &Round<'_>) -> BTreeMap<String, Assignment> {
        let mut assignments: BTreeMap<String, Assignment> = round
            .members
            .iter()
            .map(|m| {
                let empty = Assignment::empty(
                    round.protocol,
                    round.leader_id,
                    round.leader_url,
                    round.config.offset,
                );
                (m.id.clone(), empty)
            })
            .collect();
        let ids: Vec<String> = assignments.keys().cloned().collect();
        if ids.is_empty() {
            return assignments;
        }
        let mut next = ids.iter().cycle();
        for connector in round.config.connectors.keys() {
            if let Some(assignment) = next.next().and_then(|id| assignments.get_mut(id)) {
                assignment.assigned.connectors.insert(connector.clone());
            }
        }
        for (connector, &tasks) in &round.config.connectors {
            for task in 0..i32::try_from(tasks).unwrap_or(i32::MAX) {
                if let Some(assignment) = next.next().and_then(|id| assignments.get_mut(id)) {
                    assignment
                        .assigned
                        .tasks
                        .insert(TaskRef::new(connector.clone(), task));
                }
            }
        }
        assignments
    }
}
