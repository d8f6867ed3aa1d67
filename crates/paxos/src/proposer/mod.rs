//! The proposer ("staff officer"). One proposer at a time is the distinguished proposer: the
//! leader of Multi-Paxos.
//!
//! ```text
//!            timeout, or      majority of Promise
//!            Rejected/higher  ───────────────────►
//!  Follower ───────────────► Preparing          Leading ── phase 2 only, many slots at once
//!     ▲  ▲   campaign()         │                  │
//!     │  └── higher ballot ─────┘                  │
//!     └──── higher ballot, no progress, or no majority heard for an election timeout
//! ```
//!
//! Phase 1 covers every slot from the first one this node has not learned: each slot gets the
//! value with the highest ballot among the promises (worked Example 1, step 8), holes get a
//! no-op. Slots an acceptor of the quorum compacted (its learner's snapshot has them) are
//! skipped, and this node's learner fetches them; if no such acceptor answers for an election
//! timeout before it has, phase 1 runs again, and the other acceptors' votes recover them.
//! Phase 2 Accepts go to the acceptors that promised (the seed: "to the generals that
//! answered"), and of those to a majority and `spare_acceptors` spares ([`crate::fanout`]);
//! an Accept not chosen after `resend_ticks` goes again to every acceptor. A
//! leader's heartbeat also goes to the acceptors as a read barrier: a leader that a majority of
//! acceptors has not answered for an election timeout steps down (check-quorum). The
//! proposer keeps no durable state: a restarted proposer cannot lead again with a ballot it
//! led with before, since a majority promised that ballot already and acceptors refuse a
//! `Prepare` that is not above their promise.
//!
//! This file holds the proposer's state and its [`Core`] implementation; `phase1` (prepare and
//! promises), `phase2` (Accepts and their answers), `announce` (telling the learners) and
//! `liveness` (heartbeats, higher ballots, the leader's tick) hold the rest.

mod announce;
mod liveness;
mod phase1;
mod phase2;

use crate::config::PaxosConfig;
use crate::fanout::Fanout;
use crate::window::Window;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use synod_core::{Core, NotLeader, Proposing, Ready, Standing, Status};
use synod_messages::paxos::{AcceptedValue, Ballot, PaxosMessage, Slot, Value};
use synod_messages::{ActorAddr, Command, NodeId, Role};

#[derive(Debug)]
struct InFlight {
    value: Value,
    acks: BTreeSet<NodeId>,
    /// When it first left for an acceptor (or was last resent to all), for the resend timer.
    sent_at: u64,
    /// Whether it left for an acceptor yet.
    sent: bool,
}

#[derive(Debug)]
struct Leadership {
    promised_by: BTreeSet<NodeId>,
    /// The tick each acceptor was last heard from (Promise, Accepted, ReadBarrierAck).
    heard_at: BTreeMap<NodeId, u64>,
    checked_at: u64,
    next_slot: Slot,
    chosen_upto: Slot,
    chosen_above: BTreeSet<Slot>,
    pending: BTreeMap<Slot, InFlight>,
    /// The Accept messages out to each acceptor that promised.
    windows: BTreeMap<NodeId, Window>,
    /// Which of them are sent Accepts.
    fanout: Fanout,
    /// The highest read barrier each acceptor answered (see [`Window`]).
    barriers_answered: BTreeMap<NodeId, u64>,
    /// The highest slot each acceptor accepted in this leadership (for `/v1/status`).
    accepted_upto: BTreeMap<NodeId, Slot>,
    last_progress: u64,
    /// Slots before this leadership's first one that this node had not learned when it began:
    /// chosen (an acceptor of the quorum compacted them), held by the snapshots of `holders`.
    skipped: Option<Skipped>,
}

/// Chosen slots a leader did not recover in its phase 1 (see [`Proposer::become_leader`]).
#[derive(Debug)]
struct Skipped {
    /// The last of them.
    through: Slot,
    /// The acceptors that promised having compacted some of them, with their compaction
    /// points: their learners have the slots up to there.
    holders: BTreeMap<NodeId, Slot>,
}

impl Skipped {
    /// Whether an acceptor in `heard` holds slots after `learned` (its learner can still send
    /// them to this node's).
    fn reachable(&self, learned: Slot, heard: &BTreeSet<NodeId>) -> bool {
        self.holders
            .iter()
            .any(|(a, &c)| c > learned && heard.contains(a))
    }
}

impl Leadership {
    /// Acceptor `a` answered at tick `now`.
    fn hear(&mut self, a: NodeId, now: u64) {
        self.heard_at.insert(a, now);
    }

    /// The acceptors heard from since `checked_at`.
    fn heard(&self) -> BTreeSet<NodeId> {
        self.heard_at
            .iter()
            .filter(|&(_, &at)| at >= self.checked_at)
            .map(|(&a, _)| a)
            .collect()
    }

    /// Acceptor `a`'s window, opened at the first slot not chosen if it has none yet.
    fn window(&mut self, a: NodeId) -> &mut Window {
        let first = self
            .pending
            .keys()
            .next()
            .copied()
            .unwrap_or(self.next_slot);
        self.fanout.add(a);
        self.windows.entry(a).or_insert_with(|| Window::new(first))
    }
}

#[derive(Debug)]
enum Phase {
    Follower,
    Preparing {
        from_slot: Slot,
        promises: BTreeMap<NodeId, Vec<AcceptedValue>>,
        /// Each promise's compaction point: the slots up to it are chosen.
        compacted: BTreeMap<NodeId, Slot>,
        /// The parts of promises not complete yet, by acceptor and part.
        partial: BTreeMap<NodeId, BTreeMap<u32, Vec<AcceptedValue>>>,
    },
    Leading(Leadership),
}

/// The proposer role of one node.
#[derive(Debug)]
pub struct Proposer {
    pub(crate) cfg: PaxosConfig,
    rng: StdRng,
    now: u64,
    pub(crate) ballot: Ballot,
    highest_seen: Ballot,
    phase: Phase,
    leader: Option<NodeId>,
    learned_upto: Slot,
    election_elapsed: u32,
    election_timeout: u32,
    heartbeat_elapsed: u32,
    pub(crate) ready: Ready<PaxosMessage, Infallible>,
    /// Read barriers in progress.
    pub(crate) reads: synod_core::ReadRounds,
    /// The last slot recovered by this leadership's phase 1.
    pub(crate) recovered_upto: Slot,
}

impl Proposer {
    /// A follower proposer.
    pub fn new(cfg: PaxosConfig) -> Self {
        let rng = StdRng::seed_from_u64(cfg.seed ^ cfg.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut p = Self {
            cfg,
            rng,
            now: 0,
            ballot: Ballot::default(),
            highest_seen: Ballot::default(),
            phase: Phase::Follower,
            leader: None,
            learned_upto: 0,
            election_elapsed: 0,
            election_timeout: 0,
            heartbeat_elapsed: 0,
            ready: Ready::default(),
            reads: synod_core::ReadRounds::default(),
            recovered_upto: 0,
        };
        p.reset_election_timer();
        p
    }

    /// The ballot this proposer last used.
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    /// Whether it is the distinguished proposer now.
    pub fn is_leader(&self) -> bool {
        matches!(self.phase, Phase::Leading(_))
    }

    /// Slots this leader knows are chosen, contiguous from 1.
    pub fn chosen_upto(&self) -> Slot {
        match &self.phase {
            Phase::Leading(l) => l.chosen_upto,
            _ => self.learned_upto,
        }
    }

    /// This node's learner delivered every slot through `slot`: they are chosen, whoever chose
    /// them. A leader stops proposing them (a recovered slot whose acceptors compacted it would
    /// otherwise be re-sent forever, never reaching a quorum) and counts them chosen.
    fn known_chosen_through(&mut self, slot: Slot) {
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        if slot <= l.chosen_upto {
            return;
        }
        l.pending.retain(|&s, _| s > slot);
        l.chosen_above.retain(|&s| s > slot);
        l.chosen_upto = slot;
        while l.chosen_above.remove(&(l.chosen_upto + 1)) {
            l.chosen_upto += 1;
        }
    }

    /// Acceptor `a` answered this leader; false unless it leads.
    pub(crate) fn heard_from(&mut self, a: NodeId) -> bool {
        match &mut self.phase {
            Phase::Leading(l) => {
                l.hear(a, self.now);
                true
            }
            _ => false,
        }
    }

    /// The highest slot known chosen here: as a leader, the highest it saw chosen (possibly
    /// above a hole in its chosen prefix); otherwise the learned prefix.
    pub(crate) fn highest_chosen(&self) -> Slot {
        match &self.phase {
            Phase::Leading(l) => l.chosen_above.last().copied().unwrap_or(l.chosen_upto),
            _ => self.learned_upto,
        }
    }

    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let (lo, hi) = self.cfg.election_ticks;
        self.election_timeout = self.rng.gen_range(lo..hi);
    }

    fn send(&mut self, node: NodeId, role: Role, msg: PaxosMessage) {
        self.ready.messages.push((ActorAddr::new(node, role), msg));
    }

    /// Sends `msg` to `role` on each of `nodes` (a copy each, the last one the message itself).
    fn broadcast(&mut self, nodes: &[NodeId], role: Role, msg: PaxosMessage) {
        let Some((&last, rest)) = nodes.split_last() else {
            return;
        };
        for &n in rest {
            self.send(n, role, msg.clone());
        }
        self.send(last, role, msg);
    }
}

impl Core for Proposer {
    type Message = PaxosMessage;
    type Persist = Infallible;

    fn on_message(&mut self, from: ActorAddr, msg: PaxosMessage) {
        match msg {
            PaxosMessage::Promise {
                ballot,
                accepted,
                compacted_through,
                part,
                parts,
            } => self.on_promise(
                from.node,
                ballot,
                accepted,
                compacted_through,
                (part, parts),
            ),
            PaxosMessage::Accepted { ballot, slots } => self.on_accepted(from.node, ballot, slots),
            PaxosMessage::Rejected { ballot, promised } => self.on_rejected(ballot, promised),
            PaxosMessage::Heartbeat { ballot, .. } => self.on_heartbeat(ballot),
            PaxosMessage::ReadBarrierAck { ballot, seq } => {
                self.on_barrier_ack(from.node, ballot, seq)
            }
            PaxosMessage::Progress { delivered_upto } if from.node == self.cfg.id => {
                self.learned_upto = self.learned_upto.max(delivered_upto);
                self.known_chosen_through(delivered_upto);
            }
            _ => {}
        }
    }

    fn on_tick(&mut self) {
        self.now += 1;
        if self.is_leader() {
            self.tick_leader();
            return;
        }
        self.election_elapsed += 1;
        if self.election_elapsed >= self.election_timeout {
            self.campaign();
        }
    }

    fn take_ready(&mut self) -> Ready<PaxosMessage, Infallible> {
        self.start_read_round();
        std::mem::take(&mut self.ready)
    }

    fn status(&self) -> Status {
        let (standing, last_index) = match &self.phase {
            Phase::Follower => (Standing::Follower, self.learned_upto),
            Phase::Preparing { .. } => (Standing::Candidate, self.learned_upto),
            Phase::Leading(l) => (Standing::Leader, l.next_slot - 1),
        };
        let ballot = if self.is_leader() {
            self.ballot
        } else {
            self.highest_seen
        };
        Status {
            protocol: "paxos",
            standing,
            epoch: ballot.round,
            leader: self.leader,
            commit_index: self.chosen_upto(),
            last_index,
            ballot: Some((ballot.round, ballot.node)),
            writes_to: Vec::new(),
            storage_failed: false,
        }
    }
}

impl Proposing for Proposer {
    fn propose(&mut self, commands: Vec<Command>) -> Result<(), NotLeader> {
        let now = self.now;
        let Phase::Leading(l) = &mut self.phase else {
            return Err(NotLeader {
                leader: self.leader.filter(|&l| l != self.cfg.id),
            });
        };
        if l.pending.is_empty() {
            l.last_progress = now;
        }
        for command in commands {
            let slot = l.next_slot;
            l.next_slot += 1;
            l.pending.insert(
                slot,
                InFlight {
                    value: Value::Command(command),
                    acks: BTreeSet::new(),
                    sent_at: now,
                    sent: false,
                },
            );
        }
        self.feed_all();
        Ok(())
    }

    fn read_index(&mut self, id: u64) -> Result<(), NotLeader> {
        if !self.is_leader() {
            return Err(NotLeader {
                leader: self.leader.filter(|&l| l != self.cfg.id),
            });
        }
        self.register_read(id);
        Ok(())
    }

    fn writes_to(&self) -> Vec<(NodeId, u64)> {
        match &self.phase {
            Phase::Leading(l) => l
                .fanout
                .fed()
                .map(|a| (a, l.accepted_upto.get(&a).copied().unwrap_or(0)))
                .collect(),
            _ => Vec::new(),
        }
    }
}
