//! Membership of a consumer group as the group protocol defines it (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup), bytes in and bytes out: the protocol type, the protocols offered
//! with their metadata and the assignments are the caller's (Kafka Connect's are in
//! `distributed::protocol`), so any group protocol can use it.
//!
//! A [`GroupMember`] has a connection of its own to the group's coordinator: the coordinator
//! holds a JoinGroup (and a follower's SyncGroup) until the rebalance ends, and answers nothing
//! else on that connection meanwhile, so sharing it would stall every other group request.
//!
//! Errors are [`KafkaError`]s. Those that mean "join again" are not errors but answers:
//! [`Synced::RejoinNeeded`] and [`Heartbeat::RejoinNeeded`]. A coordinator that moved
//! (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE) or a connection that broke fails the call; the
//! caller then makes a new member (the coordinator is looked up again) and joins again.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;
use rskafka::client::error::{Error as RsError, ProtocolError, RequestContext, RequestError};
use rskafka::client::raw::RawConnection;
use rskafka::client::Client;
use tokio::time::Instant;

use super::coordinator::{connect_to_coordinator, Coordinators};
use super::raw_request::{self, answered_error};
use super::KafkaError;

/// JoinGroup v1 (rebalance timeout) to v8 (reason). v4 and later may answer
/// MEMBER_ID_REQUIRED. v9 adds `skip_assignment`, which only static members (which Kafka
/// Connect never is) can be told, so it is not asked for.
const JOIN_GROUP_VERSIONS: RangeInclusive<i16> = 1..=8;
/// SyncGroup v0 to v5 (v5 names the protocol type and name, which the coordinator checks).
const SYNC_GROUP_VERSIONS: RangeInclusive<i16> = 0..=5;
const HEARTBEAT_VERSIONS: RangeInclusive<i16> = 0..=4;
/// LeaveGroup v3 and later name the leaving members in a list (Kafka 2.4 and later); older
/// coordinators get v0 to v2, with the member id at the top.
const LEAVE_GROUP_BATCH_VERSIONS: RangeInclusive<i16> = 3..=5;
const LEAVE_GROUP_SINGLE_VERSIONS: RangeInclusive<i16> = 0..=2;
/// How much longer than the rebalance timeout a JoinGroup or SyncGroup answer may take before
/// it counts as lost (Kafka's clients allow 5 s too).
const REBALANCE_LAPSE: Duration = Duration::from_secs(5);
/// How often a JoinGroup answered MEMBER_ID_REQUIRED is sent again with the id given. Once
/// is enough for a coordinator that behaves; more would loop on one that does not.
const MEMBER_ID_ROUNDS: usize = 2;

/// How a member joins: what it offers and how long the coordinator waits for it.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// The group's protocol type (Kafka Connect's is `connect`); every member must name the
    /// same.
    pub protocol_type: String,
    /// The protocols this member speaks, most preferred first, each with its metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// Without a heartbeat for this long the coordinator drops the member.
    pub session_timeout: Duration,
    /// How long the coordinator waits for every member to rejoin during a rebalance.
    pub rebalance_timeout: Duration,
}

/// A member of one group, through its own connection to the group's coordinator.
#[derive(Debug)]
pub struct GroupMember {
    group: String,
    config: MemberConfig,
    connection: RawConnection,
    coordinators: Arc<Coordinators>,
    /// Ordinary requests (Heartbeat, LeaveGroup) get this long.
    request_timeout: Duration,
    /// The id the coordinator gave this member; empty before the first join.
    member_id: String,
    /// The generation joined last, if the member is in one.
    generation: Option<Generation>,
}

#[derive(Debug, Clone)]
struct Generation {
    id: i32,
    protocol: String,
    /// The members the leader must assign to; empty for a follower.
    members: BTreeSet<String>,
    is_leader: bool,
}

impl Generation {
    /// Whether `assignments` are for exactly the members this member must assign to: all
    /// the coordinator listed, each once, for the leader; none for a follower.
    fn check_assignments(&self, assignments: &[(String, Bytes)]) -> Result<(), String> {
        let given: BTreeSet<&str> = assignments.iter().map(|(id, _)| id.as_str()).collect();
        let expected: BTreeSet<&str> = if self.is_leader {
            self.members.iter().map(String::as_str).collect()
        } else {
            BTreeSet::new()
        };
        if given == expected && given.len() == assignments.len() {
            return Ok(());
        }
        let role = if self.is_leader { "leader" } else { "follower" };
        Err(format!(
            "{} assignments given for members {given:?}, but the coordinator listed {expected:?} \
             for this member ({role}) to assign to",
            assignments.len()
        ))
    }
}

/// What a JoinGroup got: the generation this member is now in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub generation_id: i32,
    /// The protocol the coordinator chose among those every member offered.
    pub protocol: String,
    /// This member's id.
    pub member_id: String,
    /// The leader's member id.
    pub leader: String,
    /// For the leader, every member with the metadata it sent for `protocol` (this member
    /// included); empty for a follower.
    pub members: Vec<(String, Bytes)>,
}

impl Joined {
    pub fn is_leader(&self) -> bool {
        self.leader == self.member_id
    }
}

/// What a SyncGroup got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// This member's assignment, as the leader wrote it.
    Assignment(Bytes),
    /// The group rebalances again (a member joined or left meanwhile): join again.
    RejoinNeeded,
}

/// What a heartbeat got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The member is in the current generation.
    Alive,
    /// The group rebalances (REBALANCE_IN_PROGRESS), or no longer knows this member or its
    /// generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION): join again.
    RejoinNeeded,
}

impl GroupMember {
    /// A member of `group` with a new connection to its coordinator; it has not joined yet.
    pub(crate) async fn connect(
        client: &Client,
        coordinators: Arc<Coordinators>,
        group: &str,
        config: MemberConfig,
        request_timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let deadline = Instant::now() + request_timeout;
        let node = coordinators.node_of(group, deadline).await?;
        let connection = connect_to_coordinator(client, group, node, deadline)
            .await
            .inspect_err(|_| coordinators.forget_coordinator(group))?;
        Ok(Self {
            group: group.to_owned(),
            config,
            connection,
            coordinators,
            request_timeout,
            member_id: String::new(),
            generation: None,
        })
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// The id the coordinator gave this member (empty before it joined).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Joins as `member_id` (an id the coordinator gave an earlier member of this worker): a
    /// worker that lost its connection, or whose coordinator moved, rejoins through a new
    /// member with the id it had, as Kafka's clients do, so that the coordinator does not
    /// wait for the old id to rejoin or expire before it completes the rebalance. A
    /// coordinator that no longer knows the id says so at the join, and the member then
    /// joins as a new one.
    pub fn set_member_id(&mut self, member_id: &str) {
        member_id.clone_into(&mut self.member_id);
        self.generation = None;
    }

    /// Replaces the metadata offered at the next join (it usually describes what the member
    /// runs, which changes between generations).
    pub fn set_protocols(&mut self, protocols: Vec<(String, Bytes)>) {
        self.config.protocols = protocols;
    }

    /// Joins the group (a new generation): the answer comes once every member has joined or
    /// the rebalance timeout has passed. A coordinator that asks for a member id first
    /// (MEMBER_ID_REQUIRED) is asked again with the id it gave.
    pub async fn join(&mut self) -> Result<Joined, KafkaError> {
        self.generation = None;
        let group = self.group.clone();
        let context = || format!("cannot join consumer group {group}");
        let limit = self.rebalance_limit();
        let mut rounds = 0;
        loop {
            let request = self.join_request();
            let (_, answer) =
                raw_request::send(&self.connection, JOIN_GROUP_VERSIONS, &request, limit)
                    .await
                    .map_err(|e| self.failed(context(), e))?;
            match answered_error(
                answer.error_code,
                None,
                RequestContext::Group(self.group.clone()),
            ) {
                None => {}
                Some(RsError::ServerError {
                    protocol_error: ProtocolError::MemberIdRequired,
                    ..
                }) if rounds < MEMBER_ID_ROUNDS && !answer.member_id.is_empty() => {
                    self.member_id = answer.member_id.to_string();
                    tracing::debug!(group = %self.group, member = %self.member_id, "the coordinator gave a member id; joining with it");
                    rounds += 1;
                    continue;
                }
                Some(error) => {
                    if matches!(
                        error,
                        RsError::ServerError {
                            protocol_error: ProtocolError::UnknownMemberId,
                            ..
                        }
                    ) {
                        // The coordinator forgot us: the next join starts as a new member.
                        self.member_id.clear();
                    }
                    return Err(self.failed(context(), error));
                }
            }
            let protocol = answer
                .protocol_name
                .map(|name| name.to_string())
                .ok_or_else(|| {
                    KafkaError::new(
                        context(),
                        RsError::InvalidResponse(
                            "the JoinGroup answer names no protocol".to_owned(),
                        ),
                    )
                })?;
            let joined = Joined {
                generation_id: answer.generation_id,
                protocol,
                member_id: answer.member_id.to_string(),
                leader: answer.leader.to_string(),
                members: answer
                    .members
                    .into_iter()
                    .map(|m| (m.member_id.to_string(), m.metadata))
                    .collect(),
            };
            self.member_id = joined.member_id.clone();
            self.generation = Some(Generation {
                id: joined.generation_id,
                protocol: joined.protocol.clone(),
                members: joined.members.iter().map(|(id, _)| id.clone()).collect(),
                is_leader: joined.is_leader(),
            });
            tracing::debug!(
                group = %self.group,
                generation = joined.generation_id,
                member = %joined.member_id,
                leader = %joined.leader,
                protocol = %joined.protocol,
                "joined consumer group"
            );
            return Ok(joined);
        }
    }

    /// Ends the join: the leader sends every member's assignment (`assignments` must name
    /// exactly the members its join listed), a follower sends none (`assignments` must be
    /// empty); both get their own. A follower's answer comes once the leader has sent its.
    pub async fn sync(&mut self, assignments: Vec<(String, Bytes)>) -> Result<Synced, KafkaError> {
        let group = self.group.clone();
        let context = || format!("cannot sync with consumer group {group}");
        let generation = self.generation.clone().ok_or_else(|| {
            KafkaError::new(
                context(),
                unbuildable("the member has not joined the group"),
            )
        })?;
        generation
            .check_assignments(&assignments)
            .map_err(|problem| KafkaError::new(context(), unbuildable(&problem)))?;
        let request = SyncGroupRequest::default()
            .with_group_id(text(&self.group).into())
            .with_generation_id(generation.id)
            .with_member_id(text(&self.member_id))
            .with_protocol_type(Some(text(&self.config.protocol_type)))
            .with_protocol_name(Some(text(&generation.protocol)))
            .with_assignments(
                assignments
                    .into_iter()
                    .map(|(member, assignment)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(text(&member))
                            .with_assignment(assignment)
                    })
                    .collect(),
            );
        let (_, answer) = raw_request::send(
            &self.connection,
            SYNC_GROUP_VERSIONS,
            &request,
            self.rebalance_limit(),
        )
        .await
        .map_err(|e| self.failed(context(), e))?;
        match self.rejoin_or_error(answer.error_code) {
            Ok(true) => Ok(Synced::Assignment(answer.assignment)),
            Ok(false) => Ok(Synced::RejoinNeeded),
            Err(error) => Err(self.failed(context(), error)),
        }
    }

    /// Tells the coordinator this member is alive (within every session timeout).
    pub async fn heartbeat(&mut self) -> Result<Heartbeat, KafkaError> {
        let group = self.group.clone();
        let context = || format!("cannot send a heartbeat to consumer group {group}");
        let Some(generation) = &self.generation else {
            return Ok(Heartbeat::RejoinNeeded);
        };
        let request = HeartbeatRequest::default()
            .with_group_id(text(&self.group).into())
            .with_generation_id(generation.id)
            .with_member_id(text(&self.member_id));
        let (_, answer) = raw_request::send(
            &self.connection,
            HEARTBEAT_VERSIONS,
            &request,
            self.request_timeout,
        )
        .await
        .map_err(|e| self.failed(context(), e))?;
        match self.rejoin_or_error(answer.error_code) {
            Ok(true) => Ok(Heartbeat::Alive),
            Ok(false) => Ok(Heartbeat::RejoinNeeded),
            Err(error) => Err(self.failed(context(), error)),
        }
    }

    /// Leaves the group, so that it rebalances now rather than after the session timeout.
    /// A member that never joined has nothing to leave. Afterwards the member may join again
    /// as a new member.
    pub async fn leave(&mut self) -> Result<(), KafkaError> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let group = self.group.clone();
        let context = || format!("cannot leave consumer group {group}");
        let batch = LeaveGroupRequest::default()
            .with_group_id(text(&self.group).into())
            .with_members(vec![
                MemberIdentity::default().with_member_id(text(&self.member_id))
            ]);
        let sent = raw_request::send(
            &self.connection,
            LEAVE_GROUP_BATCH_VERSIONS,
            &batch,
            self.request_timeout,
        )
        .await;
        let (error_code, member_codes) = match sent {
            Ok((_, answer)) => (
                answer.error_code,
                answer.members.iter().map(|m| m.error_code).collect(),
            ),
            Err(e) if raw_request::is_unsupported(&e) => {
                let single = LeaveGroupRequest::default()
                    .with_group_id(text(&self.group).into())
                    .with_member_id(text(&self.member_id));
                let (_, answer) = raw_request::send(
                    &self.connection,
                    LEAVE_GROUP_SINGLE_VERSIONS,
                    &single,
                    self.request_timeout,
                )
                .await
                .map_err(|e| self.failed(context(), e))?;
                (answer.error_code, Vec::new())
            }
            Err(e) => return Err(self.failed(context(), e)),
        };
        self.member_id.clear();
        self.generation = None;
        for code in std::iter::once(error_code).chain(member_codes) {
            match answered_error(code, None, RequestContext::Group(self.group.clone())) {
                None => {}
                // Already gone (the session expired): left all the same.
                Some(RsError::ServerError {
                    protocol_error: ProtocolError::UnknownMemberId,
                    ..
                }) => {}
                Some(error) => return Err(KafkaError::new(context(), error)),
            }
        }
        Ok(())
    }

    fn join_request(&self) -> JoinGroupRequest {
        JoinGroupRequest::default()
            .with_group_id(text(&self.group).into())
            .with_session_timeout_ms(millis(self.config.session_timeout))
            .with_rebalance_timeout_ms(millis(self.config.rebalance_timeout))
            .with_member_id(text(&self.member_id))
            .with_group_instance_id(None)
            .with_protocol_type(text(&self.config.protocol_type))
            .with_protocols(
                self.config
                    .protocols
                    .iter()
                    .map(|(name, metadata)| {
                        JoinGroupRequestProtocol::default()
                            .with_name(text(name))
                            .with_metadata(metadata.clone())
                    })
                    .collect(),
            )
    }

    /// `Ok(true)` for no error, `Ok(false)` for an answer that means "join again" (forgetting
    /// the generation, and the member id when the coordinator no longer knows it), the error
    /// otherwise.
    fn rejoin_or_error(&mut self, code: i16) -> Result<bool, RsError> {
        let Some(error) = answered_error(code, None, RequestContext::Group(self.group.clone()))
        else {
            return Ok(true);
        };
        match &error {
            RsError::ServerError {
                protocol_error:
                    ProtocolError::RebalanceInProgress | ProtocolError::IllegalGeneration,
                ..
            } => {
                self.generation = None;
                Ok(false)
            }
            RsError::ServerError {
                protocol_error: ProtocolError::UnknownMemberId,
                ..
            } => {
                self.generation = None;
                self.member_id.clear();
                Ok(false)
            }
            _ => Err(error),
        }
    }

    /// The error, after forgetting the coordinator when it says it moved (the next member
    /// made for the group finds it again).
    fn failed(&self, context: String, error: RsError) -> KafkaError {
        let moved = matches!(
            &error,
            RsError::ServerError {
                protocol_error: ProtocolError::NotCoordinator
                    | ProtocolError::CoordinatorNotAvailable,
                ..
            }
        );
        if moved {
            self.coordinators.forget_coordinator(&self.group);
        }
        KafkaError::new(context, error)
    }

    /// How long a JoinGroup or SyncGroup may wait for its answer.
    fn rebalance_limit(&self) -> Duration {
        (self.config.rebalance_timeout + REBALANCE_LAPSE).max(self.request_timeout)
    }
}

/// The error of a request that cannot be built as asked (a caller's mistake, not retriable).
fn unbuildable(problem: &str) -> RsError {
    RsError::Request(RequestError::EncodeError(problem.to_owned().into()))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// A timeout in the protocol's milliseconds, capped at what an INT32 holds.
fn millis(timeout: Duration) -> i32 {
    i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(is_leader: bool, members: &[&str]) -> Generation {
        Generation {
            id: 1,
            protocol: "p".into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            is_leader,
        }
    }

    fn assignments(members: &[&str]) -> Vec<(String, Bytes)> {
        members
            .iter()
            .map(|m| (m.to_string(), Bytes::from_static(b"x")))
            .collect()
    }

    #[test]
    fn the_leader_assigns_exactly_the_members_listed() {
        let leader = generation(true, &["a", "b"]);
        assert_eq!(leader.check_assignments(&assignments(&["b", "a"])), Ok(()));
        for wrong in [&["a"][..], &["a", "b", "c"], &["a", "a", "b"], &[]] {
            let error = leader.check_assignments(&assignments(wrong)).unwrap_err();
            assert!(error.contains(r#"listed {"a", "b"}"#), "{error}");
        }
        let follower = generation(false, &[]);
        assert_eq!(follower.check_assignments(&[]), Ok(()));
        let error = follower
            .check_assignments(&assignments(&["a"]))
            .unwrap_err();
        assert!(error.contains("(follower)"), "{error}");
    }

    #[test]
    fn timeouts_in_milliseconds_saturate() {
        assert_eq!(millis(Duration::from_secs(6)), 6000);
        assert_eq!(millis(Duration::from_secs(u64::MAX / 2)), i32::MAX);
    }
}
