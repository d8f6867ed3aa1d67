//! The Raft replica: its state, its inputs and the [`Core`] implementation.

use crate::log::Log;
use crate::progress::Progress;
use crate::state::{HardState, RaftPersist, RaftState, SnapshotRecord};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use synod_core::{Applied, Core, NotLeader, Proposing, Ready, Snapshot, Standing, Status};
use synod_messages::raft::{Entry, EntryPayload, Index, RaftMessage, Term};
use synod_messages::{ActorAddr, Command, NodeId};

/// Tuning of one replica. Times are in ticks.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This server.
    pub id: NodeId,
    /// Every voting member, this server included.
    pub voters: Vec<NodeId>,
    /// Election timeouts are drawn uniformly from `[min, max)` ticks (§5.2).
    pub election_ticks: (u32, u32),
    /// A leader sends heartbeats every this many ticks.
    pub heartbeat_ticks: u32,
    /// Most entries in one AppendEntries.
    pub max_batch: usize,
    /// Most bytes of entries in one AppendEntries (by [`synod_messages::raft::Entry::approx_bytes`];
    /// one entry goes alone whatever its size), so no message outgrows a frame.
    pub max_batch_bytes: usize,
    /// Most unacknowledged AppendEntries batches per follower. One (the default) sends a
    /// follower everything that arrived while its last batch was on its way and on its disk,
    /// in one batch and one sync there; a deeper pipeline splits the same entries into more,
    /// smaller batches and syncs, which pays only where a round trip costs more than a sync
    /// and a step (a slow network) — not on one machine's loopback, where 1 beat 2 at 4, 16
    /// and 64 clients.
    pub max_inflight: usize,
    /// Seed of the election-timeout RNG (mixed with `id`).
    pub seed: u64,
    /// Bytes per InstallSnapshot chunk.
    pub snapshot_chunk: usize,
    /// PreVote (dissertation §9.6): a server whose election timeout elapses first asks whether
    /// a majority would vote for it, and raises its term only if so; a server that heard from
    /// a leader within the minimum election timeout says no. A server cut off alone then no
    /// longer comes back with a higher term that deposes a working leader.
    pub pre_vote: bool,
}

impl RaftConfig {
    /// Defaults suited to a 50 ms tick.
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> Self {
        Self {
            id,
            voters,
            election_ticks: (10, 20),
            heartbeat_ticks: 2,
            max_batch: 512,
            max_batch_bytes: 8 << 20,
            max_inflight: 1,
            seed: 0,
            snapshot_chunk: 1 << 20,
            pre_vote: true,
        }
    }

    pub(crate) fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    pub(crate) fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().copied().filter(move |&n| n != self.id)
    }
}

/// What this server is now.
#[derive(Debug)]
pub(crate) enum RoleState {
    Follower,
    /// Asking for pre-votes: the term has not been raised.
    PreCandidate {
        votes: BTreeSet<NodeId>,
    },
    Candidate {
        votes: BTreeSet<NodeId>,
    },
    Leader {
        progress: BTreeMap<NodeId, Progress>,
    },
}

/// One Raft server as a pure state machine.
#[derive(Debug)]
pub struct Raft {
    pub(crate) cfg: RaftConfig,
    rng: StdRng,
    pub(crate) hard: HardState,
    pub(crate) log: Log,
    pub(crate) commit_index: Index,
    pub(crate) applied_index: Index,
    /// The local log is durable up to here: a leader counts itself in a majority only up to
    /// this index, since it writes its entries while they are being replicated (§10.2.1).
    pub(crate) durable_index: Index,
    /// The last index handed to storage when the last `Ready` was taken: durable once it is
    /// persisted.
    syncing_index: Index,
    /// A leader's entries from here on are in its log but not yet handed to storage: they go
    /// when an AppendEntries carries entries (`send_append`), at a tick, or when it is no
    /// longer leader.
    held_from: Option<Index>,
    /// The latest snapshot, sent to followers whose entries were compacted away.
    pub(crate) snapshot: Option<SnapshotRecord>,
    /// A newer snapshot waiting for a transfer of `snapshot` to end (see `compact_or_defer`).
    pub(crate) deferred: synod_core::DeferredCompaction,
    /// A snapshot being received from the leader: (index, term, bytes so far).
    pub(crate) incoming: Option<(Index, Term, Vec<u8>)>,
    /// ReadIndex: reads waiting for a round of confirmation, and the rounds' bookkeeping.
    pub(crate) reads: synod_core::ReadRounds,
    /// Index of the first entry of the current leader's term (its no-op).
    pub(crate) term_start: Index,
    /// The commit index advanced in this step; followers are told with the next outputs.
    pub(crate) announce_commit: bool,
    pub(crate) role: RoleState,
    pub(crate) leader: Option<NodeId>,
    pub(crate) election_elapsed: u32,
    pub(crate) election_timeout: u32,
    pub(crate) heartbeat_elapsed: u32,
    pub(crate) ready: Ready<RaftMessage, RaftPersist>,
}

impl Raft {
    /// A server starting from what it had persisted (`RaftState::default()` for a new one).
    pub fn new(cfg: RaftConfig, state: RaftState) -> Self {
        assert!(
            cfg.voters.contains(&cfg.id),
            "a Raft server must be a voter"
        );
        assert!(
            cfg.election_ticks.0 > cfg.heartbeat_ticks
                && cfg.election_ticks.0 < cfg.election_ticks.1
        );
        let rng = StdRng::seed_from_u64(cfg.seed ^ cfg.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (base_index, base_term) = state
            .snapshot
            .as_ref()
            .map_or((0, 0), |s| (s.index, s.term));
        let log = Log::new(base_index, base_term, state.entries);
        let durable_index = log.last_index();
        let mut raft = Self {
            cfg,
            rng,
            hard: state.hard_state,
            log,
            commit_index: base_index,
            applied_index: base_index,
            durable_index,
            syncing_index: durable_index,
            held_from: None,
            snapshot: None,
            deferred: synod_core::DeferredCompaction::default(),
            incoming: None,
            reads: synod_core::ReadRounds::default(),
            term_start: 0,
            announce_commit: false,
            role: RoleState::Follower,
            leader: None,
            election_elapsed: 0,
            election_timeout: 0,
            heartbeat_elapsed: 0,
            ready: Ready::default(),
        };
        raft.reset_election_timer();
        if let Some(snapshot) = state.snapshot {
            // The state machine starts from the snapshot; entries after it apply once committed.
            raft.ready.snapshot = Some(Snapshot {
                index: snapshot.index,
                data: snapshot.data.clone(),
            });
            raft.snapshot = Some(snapshot);
        }
        raft
    }

    /// This server's id.
    pub fn id(&self) -> NodeId {
        self.cfg.id
    }

    /// `currentTerm`.
    pub fn term(&self) -> Term {
        self.hard.term
    }

    /// Whether this server leads.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, RoleState::Leader { .. })
    }

    /// The highest index known committed.
    pub fn commit_index(&self) -> Index {
        self.commit_index
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// `votedFor` in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.hard.voted_for
    }

    pub(crate) fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let (lo, hi) = self.cfg.election_ticks;
        self.election_timeout = self.rng.gen_range(lo..hi);
    }

    pub(crate) fn send(&mut self, to: NodeId, msg: RaftMessage) {
        self.ready
            .messages
            .push((ActorAddr::new(to, crate::RAFT), msg));
    }

    /// Sends `msg` to every other voter.
    pub(crate) fn send_to_peers(&mut self, msg: RaftMessage) {
        let peers: Vec<NodeId> = self.cfg.peers().collect();
        for peer in peers {
            self.send(peer, msg.clone());
        }
    }

    /// Sends without waiting for this step's persist: only for what depends on nothing it
    /// writes — a leader's AppendEntries, whose term was durable before it was elected and
    /// whose entries the leader counts as its own only once durable (§10.2.1).
    pub(crate) fn send_eager(&mut self, to: NodeId, msg: RaftMessage) {
        self.ready
            .eager
            .push((ActorAddr::new(to, crate::RAFT), msg));
    }

    pub(crate) fn persist_hard_state(&mut self) {
        self.ready.persist.push(RaftPersist::HardState(self.hard));
    }

    /// Appends entries to the local log and asks for them to be persisted.
    pub(crate) fn append_local(&mut self, entries: Vec<Entry>) {
        self.log.append(&entries);
        self.ready.persist.push(RaftPersist::Append(entries));
    }

    /// Hands the leader's held entries to storage.
    pub(crate) fn release_held(&mut self) {
        if let Some(from) = self.held_from.take() {
            let entries = self.log.slice(from, usize::MAX).to_vec();
            self.ready.persist.push(RaftPersist::Append(entries));
        }
    }

    /// Moves to `term` (if higher) as a follower of `leader`.
    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if self.is_leader() {
            self.fail_reads();
        }
        // Before whatever this step does to the log next (a truncation, say), in that order.
        self.release_held();
        if term > self.hard.term {
            self.hard = HardState {
                term,
                voted_for: None,
            };
            self.persist_hard_state();
        }
        if !matches!(self.role, RoleState::Follower) {
            self.reset_election_timer();
        }
        self.role = RoleState::Follower;
        self.leader = leader;
    }

    /// Raises the commit index and emits the newly committed entries, in order.
    pub(crate) fn commit_to(&mut self, index: Index) {
        let index = index.min(self.log.last_index());
        if index <= self.commit_index {
            return;
        }
        self.commit_index = index;
        while self.applied_index < self.commit_index {
            self.applied_index += 1;
            let Some(entry) = self.log.get(self.applied_index) else {
                break;
            };
            let command = match &entry.payload {
                EntryPayload::Noop => None,
                EntryPayload::Command(c) => Some(c.clone()),
            };
            self.ready.applied.push(Applied {
                index: entry.index,
                command,
            });
        }
    }

    fn standing(&self) -> Standing {
        match self.role {
            RoleState::Follower => Standing::Follower,
            RoleState::PreCandidate { .. } => Standing::PreCandidate,
            RoleState::Candidate { .. } => Standing::Candidate,
            RoleState::Leader { .. } => Standing::Leader,
        }
    }
}

impl Core for Raft {
    type Message = RaftMessage;
    type Persist = RaftPersist;

    fn on_message(&mut self, from: ActorAddr, msg: RaftMessage) {
        let from = from.node;
        if from == self.cfg.id || !self.cfg.voters.contains(&from) {
            return;
        }
        // All servers: a higher term makes us a follower of that term (§5.1). A PreVote only
        // names the term its sender would stand in: it changes nothing.
        if msg.term() > self.hard.term && !matches!(msg, RaftMessage::PreVote { .. }) {
            let leader = match &msg {
                RaftMessage::AppendEntries { leader_id, .. }
                | RaftMessage::InstallSnapshot { leader_id, .. }
                | RaftMessage::ReadIndexHeartbeat { leader_id, .. } => Some(*leader_id),
                _ => None,
            };
            self.become_follower(msg.term(), leader);
        }
        match msg {
            RaftMessage::RequestVote {
                term,
                candidate_id,
                last_log_index,
                last_log_term,
            } => self.on_request_vote(from, term, candidate_id, last_log_index, last_log_term),
            RaftMessage::RequestVoteResponse { term, vote_granted } => {
                self.on_vote_response(from, term, vote_granted)
            }
            RaftMessage::PreVote {
                term,
                candidate_id,
                last_log_index,
                last_log_term,
            } => self.on_pre_vote(from, term, candidate_id, last_log_index, last_log_term),
            RaftMessage::PreVoteResponse { asked, granted, .. } => {
                self.on_pre_vote_response(from, asked, granted)
            }
            RaftMessage::AppendEntries {
                term,
                leader_id,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => self.on_append_entries(
                from,
                term,
                leader_id,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            ),
            RaftMessage::AppendEntriesResponse {
                term,
                success,
                match_index,
                conflict,
            } => self.on_append_response(from, term, success, match_index, conflict),
            RaftMessage::InstallSnapshot {
                term,
                leader_id,
                last_included_index,
                last_included_term,
                offset,
                data,
                done,
            } => self.on_install_snapshot(
                from,
                term,
                leader_id,
                (last_included_index, last_included_term),
                offset,
                data,
                done,
            ),
            RaftMessage::ReadIndexHeartbeat {
                term,
                leader_id,
                seq,
            } => self.on_read_heartbeat(from, term, leader_id, seq),
            RaftMessage::ReadIndexHeartbeatResponse { term, seq } => {
                self.on_read_heartbeat_response(from, term, seq)
            }
            RaftMessage::InstallSnapshotResponse {
                term,
                last_included_index,
                next_offset,
                done,
            } => self.on_install_snapshot_response(
                from,
                term,
                last_included_index,
                next_offset,
                done,
            ),
        }
    }

    fn on_tick(&mut self) {
        self.compact_deferred();
        if self.is_leader() {
            self.release_held();
            self.tick_leader();
        } else {
            self.election_elapsed += 1;
            if self.election_elapsed >= self.election_timeout {
                if self.cfg.pre_vote {
                    self.pre_campaign();
                } else {
                    self.campaign();
                }
            }
        }
    }

    fn compact(&mut self, snapshot: Snapshot) {
        self.compact_or_defer(snapshot);
    }

    fn take_ready(&mut self) -> Ready<RaftMessage, RaftPersist> {
        self.start_read_round();
        self.announce_commit();
        if self.cfg.voters.len() == 1 || !self.is_leader() {
            self.release_held();
        }
        self.syncing_index = self
            .held_from
            .map_or(self.log.last_index(), |from| from - 1);
        std::mem::take(&mut self.ready)
    }

    fn persisted(&mut self) {
        self.durable_index = self.syncing_index;
        self.maybe_commit();
    }

    fn snapshot_stored(&mut self, index: u64, data: bytes::Bytes) {
        if let Some(s) = &mut self.snapshot {
            if s.index == index && s.data.len() == data.len() {
                s.data = data;
            }
        }
    }

    fn status(&self) -> Status {
        Status {
            protocol: "raft",
            standing: self.standing(),
            epoch: self.hard.term,
            leader: self.leader,
            commit_index: self.commit_index,
            last_index: self.log.last_index(),
            ballot: None,
            writes_to: Vec::new(),
            storage_failed: false,
        }
    }
}

impl Proposing for Raft {
    fn propose(&mut self, commands: Vec<Command>) -> Result<(), NotLeader> {
        if !self.is_leader() {
            return Err(NotLeader {
                leader: self.leader,
            });
        }
        if commands.is_empty() {
            return Ok(());
        }
        let term = self.hard.term;
        let first = self.log.last_index() + 1;
        let entries: Vec<Entry> = commands
            .into_iter()
            .zip(first..)
            .map(|(command, index)| Entry {
                term,
                index,
                payload: EntryPayload::Command(command),
            })
            .collect();
        // Not written yet: with every follower's pipeline full, the entries wait for the next
        // AppendEntries to carry them, and then share its step's one sync with everything
        // proposed meanwhile. Nothing depends on them before: the leader counts itself in a
        // majority only for durable entries, and no follower has them.
        self.log.append(&entries);
        self.held_from.get_or_insert(first);
        self.replicate();
        Ok(())
    }

    fn read_index(&mut self, id: u64) -> Result<(), NotLeader> {
        if !self.is_leader() {
            return Err(NotLeader {
                leader: self.leader,
            });
        }
        self.register_read(id);
        Ok(())
    }

    fn writes_to(&self) -> Vec<(NodeId, u64)> {
        let RoleState::Leader { progress } = &self.role else {
            return Vec::new();
        };
        self.cfg
            .voters
            .iter()
            .map(|&v| match progress.get(&v) {
                Some(p) => (v, p.match_index),
                None => (v, self.durable_index),
            })
            .collect()
    }
}
