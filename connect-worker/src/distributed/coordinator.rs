//! The worker's membership in its Kafka Connect group: one task owns the worker's
//! [`GroupMember`], joins the group with Kafka Connect's protocols and metadata, assigns the
//! work when the coordinator makes it the leader, and tells the herder through [`Event`]s what
//! to stop and what to run. The herder talks back through the [`Coordinator`] handle (rejoin,
//! leave) and answers every [`Event::Revoke`] once the work is stopped.
//!
//! A generation goes like this:
//! 1. before the join, under the eager protocol, everything the worker runs is revoked (eager
//!    assignments are complete, so nothing may run across a rebalance);
//! 2. JoinGroup offers the protocols of `connect.protocol`, each with this worker's metadata:
//!    its URL, the config offset it has read and, from v1 on, what it runs (its allocation);
//! 3. the leader reads every member's metadata, asks its [`Assignor`] and sends every member
//!    its assignment with SyncGroup; a follower sends none;
//! 4. the assignment comes back: under an incremental protocol it is a change (stop the
//!    revoked part first, then run what ran before, less the revoked, plus the assigned), under
//!    eager it is everything to run;
//! 5. [`Event::Assigned`] tells the herder, and heartbeats keep the worker in the generation
//!    until something calls for the next one: the coordinator (a member joined or left), the
//!    herder ([`Coordinator::request_rejoin`]), or the assignment itself (a delay, revoked
//!    work, or a config mismatch).
//!
//! A connection that breaks or a coordinator that moves costs the member: a new one joins
//! (with the same member id, through the coordinator looked up again) after a back-off. If the
//! worker stays out of the group longer than the session timeout, the group has given its
//! work to others, so it stops everything it runs and rejoins with an empty allocation.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep, sleep_until, Instant};

use super::assignor::{assignor_for, Assignor, ConfigView, Member, Round};
use super::protocol::{
    join_protocols, Assignment, ConnectProtocol, Work, WorkerMetadata, CONFIG_MISMATCH,
    PROTOCOL_TYPE,
};
use crate::kafka::{GroupMember, Heartbeat, Joined, Kafka, MemberConfig, Synced};

/// Events waiting for the herder. The coordinator waits for the herder's answer to every
/// revocation, so only a few are ever queued; a full queue makes it wait, heartbeating.
const EVENT_QUEUE: usize = 16;
/// The back-off between failed attempts to join: doubling from the first to the last.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);
/// The pause before rejoining after an assignment that failed with CONFIG_MISMATCH: the herder
/// reads the config topic to its end meanwhile. Doubling while the mismatch lasts.
const FIRST_MISMATCH_PAUSE: Duration = Duration::from_millis(100);
const LAST_MISMATCH_PAUSE: Duration = Duration::from_secs(1);

/// How this worker takes part in its group.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// The group of the Connect cluster (`group.id`).
    pub group_id: String,
    /// This worker's advertised REST URL; Java workers' end with `/`.
    pub url: String,
    /// What this worker offers (`connect.protocol`): it and every older protocol.
    pub protocol: ConnectProtocol,
    /// Without a heartbeat for this long the group drops the worker (`session.timeout.ms`).
    pub session_timeout: Duration,
    /// How often the worker tells the group it is alive (`heartbeat.interval.ms`).
    pub heartbeat_interval: Duration,
    /// How long a rebalance waits for every member to rejoin (`rebalance.timeout.ms`); also
    /// how long the herder has to stop revoked work.
    pub rebalance_timeout: Duration,
    /// `scheduled.rebalance.max.delay.ms`, for the incremental assignor.
    pub max_delay: Duration,
}

/// What the coordinator needs from the herder: the config offset it has read (metadata) and,
/// when leader, the config snapshot to assign. Called from the coordinator's task: both must
/// answer at once (no I/O).
pub trait ConfigSource: Send + Sync {
    /// The offset of the last config-topic record read, plus one; -1 if none.
    fn config_offset(&self) -> i64;
    /// The connectors and their committed task counts, as of [`ConfigView::offset`].
    fn config_view(&self) -> ConfigView;
}

/// What the coordinator tells the herder, in order.
#[derive(Debug)]
pub enum Event {
    /// Stop this work now (eager: everything, before joining; incremental: the revoked part of
    /// a new assignment; lost coordinator: everything). Answer on `done` once it is stopped.
    Revoke {
        work: Work,
        done: oneshot::Sender<()>,
    },
    /// A generation completed: `running` is everything this worker is to run now
    /// (incremental: the previous allocation minus revoked plus assigned; eager: the
    /// assignment), plus the assignment's header.
    Assigned {
        generation: i32,
        member_id: String,
        leader_id: String,
        leader_url: String,
        config_offset: i64,
        error: i16,
        running: Work,
        revoked_any: bool,
        delay: Duration,
    },
}

/// What Kafka Connect's rebalance metrics (`connect-worker-rebalance-metrics`) are made of,
/// as the coordinator's task last recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebalanceStats {
    /// This worker's member id in its last generation (empty before it joined).
    pub member_id: String,
    /// The last completed generation (Kafka Connect's `epoch`).
    pub generation: Option<i32>,
    /// Its leader's member id and URL (Kafka Connect's `leader-name` is the URL).
    pub leader_id: Option<String>,
    pub leader_url: Option<String>,
    /// The protocol the group chose.
    pub protocol: Option<ConnectProtocol>,
    /// Whether a rebalance is under way.
    pub rebalancing: bool,
    /// Rebalances that ended with an assignment (`completed-rebalances-total`).
    pub completed_rebalances: u64,
    /// When the last one ended (`time-since-last-rebalance-ms`) and how long it took.
    pub last_rebalance: Option<std::time::Instant>,
    pub last_rebalance_duration: Option<Duration>,
    /// The longest and the sum of all (`rebalance-max-time-ms`, and with the count,
    /// `rebalance-avg-time-ms`).
    pub max_rebalance_duration: Duration,
    pub total_rebalance_duration: Duration,
}

/// The handle on a worker's membership loop.
#[derive(Debug, Clone)]
pub struct Coordinator {
    commands: mpsc::UnboundedSender<Command>,
    stats: Arc<Mutex<RebalanceStats>>,
}

#[derive(Debug)]
enum Command {
    Rejoin,
    Leave(oneshot::Sender<()>),
}

impl Coordinator {
    /// Starts the membership loop on the current tokio runtime; it joins at once. The loop
    /// ends, and the event channel closes, after [`Coordinator::leave`], when the receiver is
    /// dropped, or when every handle is dropped (each of them leaves the group first).
    pub fn start(
        kafka: Kafka,
        config: CoordinatorConfig,
        source: Arc<dyn ConfigSource>,
    ) -> (Coordinator, mpsc::Receiver<Event>) {
        let (commands, inbox) = mpsc::unbounded_channel();
        let (events, receiver) = mpsc::channel(EVENT_QUEUE);
        let stats = Arc::new(Mutex::new(RebalanceStats::default()));
        let membership = Membership {
            kafka,
            config,
            source,
            events,
            inbox: Inbox {
                commands: inbox,
                rejoin: false,
            },
            stats: Arc::clone(&stats),
            member: None,
            member_id: String::new(),
            running: Work::default(),
            last_assignment: None,
            protocol: None,
            last_completed_generation: -1,
            assignor: None,
            last_in_group: Instant::now(),
            retries: Backoff::new(FIRST_RETRY, LAST_RETRY),
            mismatch_pauses: Backoff::new(FIRST_MISMATCH_PAUSE, LAST_MISMATCH_PAUSE),
        };
        tokio::spawn(membership.run());
        (Coordinator { commands, stats }, receiver)
    }

    /// Asks for a rebalance (the herder read a config change that needs one). Requests made
    /// before the coordinator answers the next JoinGroup are all answered by that generation.
    pub fn request_rejoin(&self) {
        // The loop has ended when this fails: there is nothing left to rejoin.
        let _ = self.commands.send(Command::Rejoin);
    }

    /// Leaves the group (LeaveGroup, within the request timeout) and ends the loop; returns
    /// once it has ended and the event channel is closed. The work the worker runs is the
    /// herder's to stop.
    pub async fn leave(&self) {
        let (reply, left) = oneshot::channel();
        if self.commands.send(Command::Leave(reply)).is_ok() {
            // An error means the loop ended without answering: left all the same.
            let _ = left.await;
        }
    }

    /// The loop's rebalance figures, for the rebalance metrics.
    pub fn rebalance_stats(&self) -> RebalanceStats {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Why the loop ends.
#[derive(Debug)]
enum Stop {
    /// [`Coordinator::leave`] (with the caller to answer), or every handle dropped.
    Leave(Option<oneshot::Sender<()>>),
    /// The herder dropped the event receiver.
    HerderGone,
}

/// The herder's commands, taken while the loop waits for anything.
struct Inbox {
    commands: mpsc::UnboundedReceiver<Command>,
    /// A rebalance is due: the herder asked, or a heartbeat said the group rebalances. The
    /// next JoinGroup answer clears it.
    rejoin: bool,
}

impl Inbox {
    fn take(&mut self, command: Option<Command>) -> Result<(), Stop> {
        match command {
            Some(Command::Rejoin) => {
                self.rejoin = true;
                Ok(())
            }
            Some(Command::Leave(reply)) => Err(Stop::Leave(Some(reply))),
            None => Err(Stop::Leave(None)),
        }
    }

    /// Runs `work` while taking commands, so that a leave never waits for a rebalance.
    async fn listen<T>(&mut self, work: impl Future<Output = T>) -> Result<T, Stop> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                command = self.commands.recv() => self.take(command)?,
                out = &mut work => return Ok(out),
            }
        }
    }
}

/// The membership loop's state; owned by its task.
struct Membership {
    kafka: Kafka,
    config: CoordinatorConfig,
    source: Arc<dyn ConfigSource>,
    events: mpsc::Sender<Event>,
    inbox: Inbox,
    stats: Arc<Mutex<RebalanceStats>>,
    /// The member, while its connection works.
    member: Option<GroupMember>,
    /// The id the coordinator gave this worker, kept for the next member.
    member_id: String,
    /// Everything this worker runs, as far as the group knows (its allocation).
    running: Work,
    /// The last assignment's header (its lists empty): with `running`, the allocation sent in
    /// v1+ metadata. `None` before the first assignment and after the group was lost.
    last_assignment: Option<Assignment>,
    /// The protocol and the number of the last completed generation (-1 before the first).
    protocol: Option<ConnectProtocol>,
    last_completed_generation: i32,
    /// The leader's assignor, kept between rounds (the incremental one remembers), made
    /// again when the group's protocol changes.
    assignor: Option<(ConnectProtocol, Box<dyn Assignor>)>,
    /// The last time the group answered this worker as a member (heartbeat, join or sync).
    last_in_group: Instant,
    retries: Backoff,
    mismatch_pauses: Backoff,
}

/// What one join and sync came to.
enum Attempt {
    Assigned(Completed),
    /// The group rebalances again (a member came or went during the sync): join at once.
    Rejoin,
    Failed(String),
}

/// A generation that completed, with this worker's assignment.
struct Completed {
    generation: i32,
    member_id: String,
    protocol: ConnectProtocol,
    assignment: Assignment,
}

impl Membership {
    async fn run(mut self) {
        let stop = self.run_until_stopped().await;
        self.leave_group().await;
        self.record(|stats| stats.rebalancing = false);
        let reply = match stop {
            Stop::Leave(reply) => reply,
            Stop::HerderGone => {
                tracing::info!(group = %self.config.group_id, "the herder no longer listens; left the group");
                None
            }
        };
        // The event channel closes before the caller of `leave` hears back.
        drop(self);
        if let Some(reply) = reply {
            let _ = reply.send(());
        }
    }

    async fn run_until_stopped(&mut self) -> Stop {
        loop {
            let rejoin_at = match self.rebalance().await {
                Ok(at) => at,
                Err(stop) => return stop,
            };
            if let Err(stop) = self.stay_in_group(rejoin_at).await {
                return stop;
            }
        }
    }

    /// Joins until a generation completes and the herder has its assignment; returns when
    /// the assignment wants the next rebalance.
    async fn rebalance(&mut self) -> Result<Option<Instant>, Stop> {
        let started = Instant::now();
        self.record(|stats| stats.rebalancing = true);
        loop {
            if let Some(all) = revoke_before_join(self.protocol, &self.running) {
                self.revoke(all, "everything before rejoining (eager protocol)")
                    .await?;
                self.running = Work::default();
            }
            self.revoke_if_out_of_group().await?;
            let mut member = match self.member.take() {
                Some(member) => member,
                None => match self.connect().await? {
                    Ok(member) => member,
                    Err(problem) => {
                        self.retry_later(&problem).await?;
                        continue;
                    }
                },
            };
            let attempt = self.join_and_sync(&mut member).await;
            if attempt.is_ok() {
                self.member = Some(member);
            } else {
                // Stopped in the middle of a JoinGroup or SyncGroup, which the coordinator may
                // hold until the rebalance ends, answering nothing else on that connection
                // meanwhile: the worker leaves through a new one.
                member.member_id().clone_into(&mut self.member_id);
            }
            match attempt? {
                Attempt::Assigned(completed) => {
                    self.retries.reset();
                    return self.complete(completed, started).await;
                }
                Attempt::Rejoin => {
                    tracing::debug!(group = %self.config.group_id, "the group rebalances again; rejoining");
                }
                Attempt::Failed(problem) => {
                    self.drop_member();
                    self.retry_later(&problem).await?;
                }
            }
        }
    }

    /// A new member on a new connection to the group's coordinator (looked up again), with the
    /// member id this worker had. While the worker runs work, the lookup gives up when the
    /// session timeout runs out (a lookup may retry for the whole request timeout), so that
    /// the work stops in time (`revoke_if_out_of_group`).
    async fn connect(&mut self) -> Result<Result<GroupMember, String>, Stop> {
        let config = self.member_config();
        let group = &self.config.group_id;
        let give_up = if self.running.is_empty() {
            None
        } else {
            Some(self.last_in_group + self.config.session_timeout)
        };
        let made = self
            .inbox
            .listen(async {
                let connecting = self.kafka.group_member(group, config);
                match give_up {
                    None => connecting.await.map_err(|e| e.to_string()),
                    Some(at) => match tokio::time::timeout_at(at, connecting).await {
                        Ok(made) => made.map_err(|e| e.to_string()),
                        Err(_) => Err(format!(
                            "cannot reach the coordinator of group {group} within the session \
                             timeout ({:?})",
                            self.config.session_timeout
                        )),
                    },
                }
            })
            .await?;
        Ok(made.map(|mut member| {
            if !self.member_id.is_empty() {
                member.set_member_id(&self.member_id);
            }
            member
        }))
    }

    async fn join_and_sync(&mut self, member: &mut GroupMember) -> Result<Attempt, Stop> {
        let group = self.config.group_id.clone();
        let allocation = self.allocation();
        let offset = self.source.config_offset();
        match join_protocols(
            self.config.protocol,
            &self.config.url,
            offset,
            allocation.as_ref(),
        ) {
            Ok(protocols) => member.set_protocols(protocols),
            Err(e) => {
                return Ok(Attempt::Failed(format!(
                    "cannot write this worker's metadata for group {group}: {e}"
                )))
            }
        }
        let joined = match self.inbox.listen(member.join()).await? {
            Ok(joined) => joined,
            Err(e) => return Ok(Attempt::Failed(e.to_string())),
        };
        // This generation answers every rebalance asked for until now.
        self.inbox.rejoin = false;
        self.last_in_group = Instant::now();
        self.member_id.clone_from(&joined.member_id);
        let Some(protocol) = ConnectProtocol::from_name(&joined.protocol) else {
            return Ok(Attempt::Failed(format!(
                "the coordinator of group {group} chose protocol `{}`, not one of Kafka \
                 Connect's",
                joined.protocol
            )));
        };
        let role = if joined.is_leader() {
            "leader"
        } else {
            "follower"
        };
        tracing::info!(
            group = %group,
            generation = joined.generation_id,
            member = %joined.member_id,
            leader = %joined.leader,
            "joined generation {} of group {group} as {role} with protocol {}",
            joined.generation_id,
            protocol.name()
        );
        let assignments = if joined.is_leader() {
            match self.assign(&joined, protocol) {
                Ok(assignments) => assignments,
                Err(problem) => return Ok(Attempt::Failed(problem)),
            }
        } else {
            Vec::new()
        };
        let bytes = match self.inbox.listen(member.sync(assignments)).await? {
            Ok(Synced::Assignment(bytes)) => bytes,
            Ok(Synced::RejoinNeeded) => return Ok(Attempt::Rejoin),
            Err(e) => return Ok(Attempt::Failed(e.to_string())),
        };
        self.last_in_group = Instant::now();
        match Assignment::decode(&bytes) {
            Ok(assignment) => Ok(Attempt::Assigned(Completed {
                generation: joined.generation_id,
                member_id: joined.member_id,
                protocol,
                assignment,
            })),
            Err(e) => Ok(Attempt::Failed(format!(
                "generation {} of group {group}: {e}",
                joined.generation_id
            ))),
        }
    }

    /// The leader's part: every member's assignment, from the members' metadata and the
    /// herder's config snapshot. A member whose metadata cannot be read, or whom the assignor
    /// leaves out, gets an empty assignment (every member must get one).
    fn assign(
        &mut self,
        joined: &Joined,
        protocol: ConnectProtocol,
    ) -> Result<Vec<(String, Bytes)>, String> {
        let group = self.config.group_id.clone();
        let url = self.config.url.clone();
        let mut members = Vec::with_capacity(joined.members.len());
        for (id, metadata) in &joined.members {
            match WorkerMetadata::decode(metadata) {
                Ok(metadata) => members.push(Member {
                    id: id.clone(),
                    metadata,
                }),
                Err(e) => tracing::warn!(
                    group = %group,
                    member = %id,
                    "member {id} of group {group}: {e}; it gets an empty assignment"
                ),
            }
        }
        let config = self.source.config_view();
        let round = Round {
            leader_id: &joined.member_id,
            leader_url: &url,
            generation: joined.generation_id,
            last_completed_generation: self.last_completed_generation,
            protocol,
            members: &members,
            config: &config,
            now: Instant::now().into_std(),
        };
        let mut assigned = self.assignor(protocol).assign(&round);
        tracing::info!(
            group = %group,
            generation = joined.generation_id,
            "assigning the work of config offset {} ({} connectors) to {} members",
            config.offset,
            config.connectors.len(),
            joined.members.len()
        );
        let empty = Assignment::empty(protocol, &joined.member_id, &url, config.offset);
        joined
            .members
            .iter()
            .map(|(id, _)| {
                let assignment = assigned.remove(id).unwrap_or_else(|| empty.clone());
                let bytes = assignment
                    .encode()
                    .or_else(|e| {
                        tracing::warn!(group = %group, member = %id, "{e}; member {id} gets an empty assignment");
                        empty.encode()
                    })
                    .map_err(|e| format!("cannot assign member {id} of group {group}: {e}"))?;
                Ok((id.clone(), bytes))
            })
            .collect()
    }

    /// The assignor for `protocol`, made anew when the group's protocol changed.
    fn assignor(&mut self, protocol: ConnectProtocol) -> &mut dyn Assignor {
        if matches!(&self.assignor, Some((current, _)) if *current != protocol) {
            self.assignor = None;
        }
        let max_delay = self.config.max_delay;
        let (_, assignor) = self
            .assignor
            .get_or_insert_with(|| (protocol, assignor_for(protocol, max_delay)));
        assignor.as_mut()
    }

    /// Applies a completed generation's assignment: stops what it revokes, tells the herder,
    /// and returns when the next rebalance is due because of it.
    async fn complete(
        &mut self,
        completed: Completed,
        started: Instant,
    ) -> Result<Option<Instant>, Stop> {
        let Completed {
            generation,
            member_id,
            protocol,
            assignment,
        } = completed;
        let group = self.config.group_id.clone();
        let change = apply_assignment(protocol, &self.running, &assignment);
        if !change.stop.is_empty() {
            self.revoke(
                change.stop,
                &format!("what generation {generation} revokes"),
            )
            .await?;
        }
        self.running = change.running;
        self.protocol = Some(protocol);
        self.last_completed_generation = generation;
        self.last_assignment = Some(Assignment {
            assigned: Work::default(),
            revoked: Work::default(),
            delay_ms: 0,
            ..assignment.clone()
        });
        let mismatch_pause = if assignment.error == CONFIG_MISMATCH {
            self.mismatch_pauses.next_pause()
        } else {
            self.mismatch_pauses.reset();
            Duration::ZERO
        };
        let rejoin_after = rejoin_after(&assignment, mismatch_pause);
        let delay = Duration::from_millis(u64::try_from(assignment.delay_ms).unwrap_or(0));

        let ended = Instant::now();
        let took = ended - started;
        self.record(|stats| {
            stats.member_id.clone_from(&member_id);
            stats.generation = Some(generation);
            stats.leader_id = Some(assignment.leader.clone());
            stats.leader_url = Some(assignment.leader_url.clone());
            stats.protocol = Some(protocol);
            stats.rebalancing = false;
            stats.completed_rebalances += 1;
            stats.last_rebalance = Some(ended.into_std());
            stats.last_rebalance_duration = Some(took);
            stats.max_rebalance_duration = stats.max_rebalance_duration.max(took);
            stats.total_rebalance_duration += took;
        });
        let mut notes = String::new();
        if assignment.error == CONFIG_MISMATCH {
            notes.push_str(&format!(
                "; the leader's configs are behind (CONFIG_MISMATCH at config offset {}), \
                 rejoining in {mismatch_pause:?}",
                assignment.config_offset
            ));
        } else if assignment.error != 0 {
            notes.push_str(&format!("; error {}", assignment.error));
        }
        if !delay.is_zero() {
            notes.push_str(&format!("; rejoining in {delay:?} (scheduled rebalance)"));
        }
        tracing::info!(
            group = %group,
            generation,
            "generation {generation} of group {group} (leader {}, config offset {}): assigned {}; \
             revoked {}; now running {}{notes} (rebalance took {took:?})",
            assignment.leader,
            assignment.config_offset,
            describe(&assignment.assigned),
            describe(&assignment.revoked),
            describe(&self.running),
        );
        self.deliver(Event::Assigned {
            generation,
            member_id,
            leader_id: assignment.leader.clone(),
            leader_url: assignment.leader_url.clone(),
            config_offset: assignment.config_offset,
            error: assignment.error,
            running: self.running.clone(),
            revoked_any: !assignment.revoked.is_empty(),
            delay,
        })
        .await?;
        Ok(rejoin_after.map(|after| Instant::now() + after))
    }

    /// Heartbeats until a rebalance is due: the coordinator or the herder asks for one, the
    /// member failed, or `rejoin_at` (from the assignment) has come.
    async fn stay_in_group(&mut self, rejoin_at: Option<Instant>) -> Result<(), Stop> {
        let interval = self.config.heartbeat_interval;
        let mut next_beat = Instant::now() + interval;
        loop {
            if self.inbox.rejoin || self.member.is_none() {
                return Ok(());
            }
            tokio::select! {
                biased;
                command = self.inbox.commands.recv() => self.inbox.take(command)?,
                () = sleep_until(rejoin_at.unwrap_or(next_beat)), if rejoin_at.is_some() => {
                    return Ok(());
                }
                () = sleep_until(next_beat) => {
                    self.beat().await;
                    next_beat = Instant::now() + interval;
                }
            }
        }
    }

    /// One heartbeat: a member that fails is dropped (the next join makes a new one).
    async fn beat(&mut self) {
        let Some(member) = self.member.as_mut() else {
            return;
        };
        match member.heartbeat().await {
            Ok(Heartbeat::Alive) => self.last_in_group = Instant::now(),
            Ok(Heartbeat::RejoinNeeded) => {
                tracing::debug!(group = %self.config.group_id, "the group rebalances");
                self.inbox.rejoin = true;
            }
            Err(e) => {
                tracing::warn!(group = %self.config.group_id, "{e}; joining again through a new connection");
                self.drop_member();
            }
        }
    }

    /// Waits for `work`, at most `limit` if given (`None` then), heartbeating meanwhile so
    /// that the worker stays in its generation, and taking the herder's commands.
    async fn keep_alive<T>(
        &mut self,
        work: impl Future<Output = T>,
        limit: Option<Duration>,
    ) -> Result<Option<T>, Stop> {
        tokio::pin!(work);
        let interval = self.config.heartbeat_interval;
        let deadline = limit.map(|limit| Instant::now() + limit);
        let mut next_beat = Instant::now() + interval;
        loop {
            tokio::select! {
                biased;
                command = self.inbox.commands.recv() => self.inbox.take(command)?,
                out = &mut work => return Ok(Some(out)),
                () = sleep_until(deadline.unwrap_or(next_beat)), if deadline.is_some() => {
                    return Ok(None);
                }
                () = sleep_until(next_beat) => {
                    self.beat().await;
                    next_beat = Instant::now() + interval;
                }
            }
        }
    }

    /// Hands the herder an event, however long its queue takes to make room.
    async fn deliver(&mut self, event: Event) -> Result<(), Stop> {
        let events = self.events.clone();
        match self
            .keep_alive(async move { events.send(event).await }, None)
            .await?
        {
            Some(Ok(())) => Ok(()),
            Some(Err(_)) | None => Err(Stop::HerderGone),
        }
    }

    /// Tells the herder to stop `work` and waits for it to confirm, at most the rebalance
    /// timeout (the group does not wait longer for this worker either).
    async fn revoke(&mut self, work: Work, what: &str) -> Result<(), Stop> {
        let group = self.config.group_id.clone();
        tracing::info!(group = %group, "stopping {what}: {}", describe(&work));
        let (done, stopped) = oneshot::channel();
        self.deliver(Event::Revoke { work, done }).await?;
        let limit = self.config.rebalance_timeout;
        match self.keep_alive(stopped, Some(limit)).await? {
            Some(Ok(())) => {}
            Some(Err(_)) => tracing::warn!(
                group = %group,
                "the herder dropped the revocation of {what} without confirming it; going on"
            ),
            None => tracing::warn!(
                group = %group,
                "the herder did not confirm within the rebalance timeout ({limit:?}) that it \
                 stopped {what}; going on"
            ),
        }
        Ok(())
    }

    /// Stops everything if the worker has been out of the group for longer than the session
    /// timeout: the group has given its work to others by now. It then rejoins with an empty
    /// allocation.
    async fn revoke_if_out_of_group(&mut self) -> Result<(), Stop> {
        let out_for = self.last_in_group.elapsed();
        if !lost_the_group(out_for, self.config.session_timeout, &self.running) {
            return Ok(());
        }
        tracing::warn!(
            group = %self.config.group_id,
            "this worker has not been in group {} for {out_for:?}, longer than the session \
             timeout ({:?}): stopping everything it runs, so that nothing runs outside the group",
            self.config.group_id,
            self.config.session_timeout
        );
        let all = std::mem::take(&mut self.running);
        self.last_assignment = None;
        self.revoke(all, "everything (out of the group)").await
    }

    async fn retry_later(&mut self, problem: &str) -> Result<(), Stop> {
        let pause = self.retries.next_pause();
        tracing::warn!(group = %self.config.group_id, "{problem}; joining again in {pause:?}");
        self.inbox.listen(sleep(pause)).await
    }

    fn drop_member(&mut self) {
        if let Some(member) = self.member.take() {
            // Empty when the coordinator no longer knew it: the next member joins as new.
            member.member_id().clone_into(&mut self.member_id);
        }
    }

    fn member_config(&self) -> MemberConfig {
        MemberConfig {
            protocol_type: PROTOCOL_TYPE.to_owned(),
            // Set before every join.
            protocols: Vec::new(),
            session_timeout: self.config.session_timeout,
            rebalance_timeout: self.config.rebalance_timeout,
        }
    }

    /// LeaveGroup, within the request timeout, so that the group rebalances now rather than
    /// after the session timeout. A worker without a working member (stopped in the middle of
    /// a join, or after a failure) leaves through a new one with its member id.
    async fn leave_group(&mut self) {
        let group = self.config.group_id.clone();
        if self.member.is_none() && self.member_id.is_empty() {
            return;
        }
        let limit = self.kafka.request_timeout();
        let leaving = async {
            let mut member = match self.member.take() {
                Some(member) => member,
                None => {
                    let config = self.member_config();
                    let mut member = self.kafka.group_member(&group, config).await?;
                    member.set_member_id(&self.member_id);
                    member
                }
            };
            member.leave().await
        };
        match tokio::time::timeout(limit, leaving).await {
            Ok(Ok(())) => tracing::info!(group = %group, "left group {group}"),
            Ok(Err(e)) => tracing::warn!(
                group = %group,
                "{e}; the group drops this worker after the session timeout"
            ),
            Err(_) => tracing::warn!(
                group = %group,
                "cannot leave group {group}: no answer within {limit:?}; the group drops this \
                 worker after the session timeout"
            ),
        }
    }

    /// What this worker runs, for its metadata; `None` before its first assignment.
    fn allocation(&self) -> Option<Assignment> {
        self.last_assignment.as_ref().map(|header| Assignment {
            assigned: self.running.clone(),
            ..header.clone()
        })
    }

    fn record(&self, update: impl FnOnce(&mut RebalanceStats)) {
        update(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// What a completed generation changes: the work to stop first, and everything to run after.
#[derive(Debug, PartialEq, Eq)]
struct Change {
    stop: Work,
    running: Work,
}

/// Incremental protocols assign changes: stop the revoked work, keep the rest and add the
/// assigned. Eager assignments are complete: anything not in it stops (nothing, normally, as
/// everything was revoked before the join; but a group that just went from incremental to
/// eager did not revoke).
fn apply_assignment(protocol: ConnectProtocol, running: &Work, assignment: &Assignment) -> Change {
    match protocol {
        ConnectProtocol::Eager => Change {
            stop: minus(running, &assignment.assigned),
            running: assignment.assigned.clone(),
        },
        ConnectProtocol::Compatible | ConnectProtocol::Sessioned => {
            let mut next = minus(running, &assignment.revoked);
            next.connectors
                .extend(assignment.assigned.connectors.iter().cloned());
            next.tasks.extend(assignment.assigned.tasks.iter().cloned());
            Change {
                stop: assignment.revoked.clone(),
                running: next,
            }
        }
    }
}

/// Under the eager protocol a worker stops everything before it joins: the next assignment
/// may give any of it to another worker at once.
fn revoke_before_join(protocol: Option<ConnectProtocol>, running: &Work) -> Option<Work> {
    (protocol == Some(ConnectProtocol::Eager) && !running.is_empty()).then(|| running.clone())
}

/// Whether a worker out of its group for `out_for` must stop what it runs: past the session
/// timeout the group has dropped it and given its work to others.
fn lost_the_group(out_for: Duration, session_timeout: Duration, running: &Work) -> bool {
    out_for > session_timeout && !running.is_empty()
}

/// How soon an assignment wants the next rebalance: after `mismatch_pause` when the leader's
/// configs were behind, at once when it revoked work (the follow-up round that hands it out),
/// after its delay when it has one; `None` when it does not.
fn rejoin_after(assignment: &Assignment, mismatch_pause: Duration) -> Option<Duration> {
    let mut after: Option<Duration> = None;
    let mut due = |at: Duration| after = Some(after.map_or(at, |a| a.min(at)));
    if assignment.error == CONFIG_MISMATCH {
        due(mismatch_pause);
    }
    if !assignment.revoked.is_empty() {
        due(Duration::ZERO);
    }
    if let Ok(delay) = u64::try_from(assignment.delay_ms) {
        if delay > 0 {
            due(Duration::from_millis(delay));
        }
    }
    after
}

fn minus(work: &Work, taken: &Work) -> Work {
    Work {
        connectors: work
            .connectors
            .difference(&taken.connectors)
            .cloned()
            .collect(),
        tasks: work.tasks.difference(&taken.tasks).cloned().collect(),
    }
}

/// `connectors [a, b], tasks [a-0, b-1]`, as Kafka Connect names them in its logs.
fn describe(work: &Work) -> String {
    if work.is_empty() {
        return "nothing".to_owned();
    }
    let connectors: Vec<&str> = work.connectors.iter().map(String::as_str).collect();
    let tasks: Vec<String> = work
        .tasks
        .iter()
        .map(|t| format!("{}-{}", t.connector, t.task))
        .collect();
    format!(
        "connectors [{}], tasks [{}]",
        connectors.join(", "),
        tasks.join(", ")
    )
}

/// A pause that doubles from `first` up to `last` until reset.
#[derive(Debug, Clone)]
struct Backoff {
    first: Duration,
    last: Duration,
    next: Duration,
}

impl Backoff {
    fn new(first: Duration, last: Duration) -> Self {
        Self {
            first,
            last,
            next: first,
        }
    }

    fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.last);
        pause
    }

    fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::protocol::{TaskRef, NO_ERROR};

    fn work(connectors: &[&str], tasks: &[(&str, i32)]) -> Work {
        Work {
            connectors: connectors.iter().map(|c| c.to_string()).collect(),
            tasks: tasks.iter().map(|(c, t)| TaskRef::new(*c, *t)).collect(),
        }
    }

    fn assignment(protocol: ConnectProtocol, assigned: Work, revoked: Work) -> Assignment {
        Assignment {
            assigned,
            revoked,
            ..Assignment::empty(protocol, "leader", "http://l:8083/", 5)
        }
    }

    #[test]
    fn incremental_assignments_change_what_runs() {
        let running = work(&["a", "b"], &[("a", 0), ("a", 1), ("b", 0)]);
        let given = assignment(
            ConnectProtocol::Compatible,
            work(&["c"], &[("c", 0), ("a", 2)]),
            work(&["b"], &[("a", 1)]),
        );
        let change = apply_assignment(ConnectProtocol::Compatible, &running, &given);
        assert_eq!(change.stop, work(&["b"], &[("a", 1)]));
        assert_eq!(
            change.running,
            work(&["a", "c"], &[("a", 0), ("a", 2), ("b", 0), ("c", 0)])
        );
        // An empty assignment (a follow-up round with nothing to move) keeps everything.
        let nothing = assignment(ConnectProtocol::Sessioned, Work::default(), Work::default());
        let change = apply_assignment(ConnectProtocol::Sessioned, &running, &nothing);
        assert_eq!(change.stop, Work::default());
        assert_eq!(change.running, running);
        // The first assignment of a worker that runs nothing is what it runs.
        let first = apply_assignment(ConnectProtocol::Sessioned, &Work::default(), &given);
        assert_eq!(first.running, given.assigned);
    }

    #[test]
    fn eager_assignments_are_everything_to_run() {
        let given = assignment(
            ConnectProtocol::Eager,
            work(&["a"], &[("b", 0)]),
            Work::default(),
        );
        // Normally nothing runs at this point: it was revoked before the join.
        let change = apply_assignment(ConnectProtocol::Eager, &Work::default(), &given);
        assert_eq!(change.stop, Work::default());
        assert_eq!(change.running, given.assigned);
        // After an incremental generation nothing was revoked: what is not assigned stops.
        let running = work(&["a", "x"], &[("b", 0), ("x", 0)]);
        let change = apply_assignment(ConnectProtocol::Eager, &running, &given);
        assert_eq!(change.stop, work(&["x"], &[("x", 0)]));
        assert_eq!(change.running, given.assigned);
    }

    #[test]
    fn only_eager_workers_revoke_everything_before_joining() {
        let running = work(&["a"], &[("a", 0)]);
        assert_eq!(
            revoke_before_join(Some(ConnectProtocol::Eager), &running),
            Some(running.clone())
        );
        assert_eq!(
            revoke_before_join(Some(ConnectProtocol::Eager), &Work::default()),
            None
        );
        for incremental in [ConnectProtocol::Compatible, ConnectProtocol::Sessioned] {
            assert_eq!(revoke_before_join(Some(incremental), &running), None);
        }
        // Before the first generation nothing runs.
        assert_eq!(revoke_before_join(None, &running), None);
    }

    #[test]
    fn a_worker_out_of_the_group_past_the_session_timeout_stops_its_work() {
        let session = Duration::from_secs(10);
        let running = work(&["a"], &[]);
        assert!(!lost_the_group(Duration::from_secs(9), session, &running));
        assert!(!lost_the_group(session, session, &running));
        assert!(lost_the_group(Duration::from_secs(11), session, &running));
        assert!(!lost_the_group(
            Duration::from_secs(11),
            session,
            &Work::default()
        ));
    }

    #[test]
    fn assignments_say_when_to_rejoin() {
        let pause = Duration::from_millis(400);
        let mut given = assignment(
            ConnectProtocol::Compatible,
            work(&["a"], &[]),
            Work::default(),
        );
        assert_eq!(rejoin_after(&given, pause), None);
        given.delay_ms = 1500;
        assert_eq!(
            rejoin_after(&given, pause),
            Some(Duration::from_millis(1500))
        );
        given.revoked = work(&[], &[("a", 0)]);
        assert_eq!(rejoin_after(&given, pause), Some(Duration::ZERO));
        let mut mismatch = assignment(ConnectProtocol::Eager, Work::default(), Work::default());
        mismatch.error = CONFIG_MISMATCH;
        assert_eq!(rejoin_after(&mismatch, pause), Some(pause));
        mismatch.error = NO_ERROR;
        mismatch.delay_ms = -5;
        assert_eq!(rejoin_after(&mismatch, pause), None);
    }

    #[test]
    fn back_off_doubles_up_to_its_cap_until_reset() {
        let mut backoff = Backoff::new(FIRST_RETRY, LAST_RETRY);
        let pauses: Vec<u128> = (0..7).map(|_| backoff.next_pause().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1600, 2000, 2000]);
        backoff.reset();
        assert_eq!(backoff.next_pause(), Duration::from_millis(100));
        let mut mismatch = Backoff::new(FIRST_MISMATCH_PAUSE, LAST_MISMATCH_PAUSE);
        let pauses: Vec<u128> = (0..6).map(|_| mismatch.next_pause().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn work_is_described_as_kafka_connect_logs_it() {
        assert_eq!(describe(&Work::default()), "nothing");
        assert_eq!(
            describe(&work(&["a", "b"], &[("a", 0), ("b", 1)])),
            "connectors [a, b], tasks [a-0, b-1]"
        );
    }
}
