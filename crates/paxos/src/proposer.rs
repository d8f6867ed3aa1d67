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

use crate::config::{by_slot, PaxosConfig};
use crate::fanout::Fanout;
use crate::window::Window;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use synod_core::{Core, NotLeader, Ready, Status};
use synod_messages::batch::{into_batches, within_bytes};
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

    /// Phase 1a: try to lead with a ballot above every ballot seen. Public so the worked
    /// examples can make an officer propose at a chosen moment.
    pub fn campaign(&mut self) {
        let round = self.highest_seen.round.max(self.ballot.round) + 1;
        self.ballot = Ballot::new(round, self.cfg.id);
        self.highest_seen = self.highest_seen.max(self.ballot);
        self.leader = None;
        self.reset_election_timer();
        let from_slot = self.learned_upto + 1;
        self.phase = Phase::Preparing {
            from_slot,
            promises: BTreeMap::new(),
            compacted: BTreeMap::new(),
            partial: BTreeMap::new(),
        };
        tracing::debug!(node = self.cfg.id, ballot = %self.ballot, from_slot, "phase 1: prepare");
        let msg = PaxosMessage::Prepare {
            ballot: self.ballot,
            from_slot,
        };
        let acceptors = self.cfg.acceptors.clone();
        self.broadcast(&acceptors, crate::ACCEPTOR, msg);
    }

    fn step_down(&mut self, leader: Option<NodeId>) {
        if self.is_leader() {
            self.fail_reads();
        }
        if !matches!(self.phase, Phase::Follower) {
            tracing::debug!(node = self.cfg.id, ballot = %self.ballot, "stepping down");
        }
        self.phase = Phase::Follower;
        self.leader = leader;
        self.reset_election_timer();
    }

    /// Part `part` of `parts` of acceptor `from`'s promise: it counts once every part came.
    fn on_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        accepted: Vec<AcceptedValue>,
        compacted: Slot,
        (part, parts): (u32, u32),
    ) {
        if ballot != self.ballot {
            return;
        }
        let quorum = self.cfg.quorum();
        match &mut self.phase {
            Phase::Preparing {
                promises,
                compacted: points,
                partial,
                ..
            } => {
                if promises.contains_key(&from) || part >= parts.max(1) {
                    return; // a duplicate part of a complete promise, or nonsense
                }
                let got = partial.entry(from).or_default();
                got.insert(part, accepted);
                if got.len() < parts.max(1) as usize {
                    // A long promise is on its way (many large votes): give it the time it
                    // takes rather than start over with a higher ballot and ask for it again.
                    self.election_elapsed = 0;
                    return;
                }
                let accepted = partial
                    .remove(&from)
                    .unwrap_or_default()
                    .into_values()
                    .flatten()
                    .collect();
                points.insert(from, compacted);
                promises.insert(from, accepted);
                if promises.len() >= quorum {
                    self.become_leader();
                }
            }
            Phase::Leading(l) => {
                // A late promise can name one more holder of slots this node lacks.
                if let Some(s) = &mut l.skipped {
                    if compacted > self.learned_upto {
                        s.holders.insert(from, compacted);
                    }
                }
                l.promised_by.insert(from);
                l.hear(from, self.now);
                l.window(from);
                self.feed_after_answer(from);
            }
            Phase::Follower => {}
        }
    }

    /// A majority promised: recover every open slot, then lead.
    fn become_leader(&mut self) {
        let Phase::Preparing {
            from_slot: first_unlearned,
            promises,
            compacted,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Follower)
        else {
            return;
        };
        // Slots an acceptor of the quorum compacted are chosen, and its vote on them is gone:
        // lead only after them. This node's learner fetches them from that acceptor's learner
        // (see `Skipped` in `tick_leader` for when it cannot).
        let compacted_through = compacted.values().copied().max().unwrap_or(0);
        let from_slot = first_unlearned.max(compacted_through + 1);
        let skipped = (from_slot > first_unlearned).then(|| Skipped {
            through: from_slot - 1,
            holders: compacted
                .into_iter()
                .filter(|&(_, c)| c >= first_unlearned)
                .collect(),
        });
        // Per slot, the value accepted with the highest ballot.
        let mut recovered: BTreeMap<Slot, (Ballot, Value)> = BTreeMap::new();
        for a in promises.values().flatten() {
            if a.slot >= from_slot && recovered.get(&a.slot).is_none_or(|(b, _)| a.ballot > *b) {
                recovered.insert(a.slot, (a.ballot, a.value.clone()));
            }
        }
        let last = recovered
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(from_slot - 1);
        let pending: BTreeMap<Slot, InFlight> = (from_slot..=last)
            .map(|slot| {
                let value = recovered.remove(&slot).map_or(Value::Noop, |(_, v)| v);
                (
                    slot,
                    InFlight {
                        value,
                        acks: BTreeSet::new(),
                        sent_at: self.now,
                        sent: false,
                    },
                )
            })
            .collect();
        tracing::debug!(node = self.cfg.id, ballot = %self.ballot, recovered = pending.len(), "phase 1 done: leading");
        let promised_by: BTreeSet<NodeId> = promises.keys().copied().collect();
        // Its own acceptor first (no network between them), then the others by number.
        let mut fanout = Fanout::new(self.cfg.id, self.cfg.accept_fanout());
        for &a in &promised_by {
            fanout.add(a);
        }
        self.recovered_upto = last;
        self.phase = Phase::Leading(Leadership {
            heard_at: promised_by.iter().map(|&a| (a, self.now)).collect(),
            checked_at: self.now,
            next_slot: last + 1,
            chosen_upto: from_slot - 1,
            chosen_above: BTreeSet::new(),
            windows: promised_by
                .iter()
                .map(|&a| (a, Window::new(from_slot)))
                .collect(),
            fanout,
            promised_by,
            pending,
            barriers_answered: BTreeMap::new(),
            last_progress: self.now,
            skipped,
        });
        self.leader = Some(self.cfg.id);
        self.feed_all();
        self.heartbeat();
    }

    fn send_accepts(&mut self, to: Vec<NodeId>, entries: Vec<(Slot, Value)>) {
        for chunk in self.cut(entries) {
            let msg = PaxosMessage::Accept {
                ballot: self.ballot,
                entries: chunk,
            };
            self.broadcast(&to, crate::ACCEPTOR, msg);
        }
    }

    fn on_accepted(&mut self, from: NodeId, ballot: Ballot, slots: Vec<Slot>) {
        let quorum = self.cfg.quorum();
        let now = self.now;
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        if ballot != self.ballot {
            return;
        }
        l.hear(from, now);
        // An acceptor that missed phase 1 (down then) and answers a resent Accept gets a
        // window: it may be needed for a majority, and resends alone come every
        // `resend_ticks`.
        let w = l.window(from);
        if let Some(&top) = slots.iter().max() {
            w.answered(top);
        }
        let mut chosen = Vec::new();
        for slot in slots {
            let Some(p) = l.pending.get_mut(&slot) else {
                continue;
            };
            p.acks.insert(from);
            if p.acks.len() >= quorum {
                if let Some(p) = l.pending.remove(&slot) {
                    chosen.push((slot, p.value));
                    l.chosen_above.insert(slot);
                }
            }
        }
        if chosen.is_empty() {
            self.feed_after_answer(from);
            return;
        }
        l.last_progress = now;
        while l.chosen_above.remove(&(l.chosen_upto + 1)) {
            l.chosen_upto += 1;
        }
        // Only for large values, and before the feed below moves the windows on past these
        // slots. This node's learner gets the values (no network between them), so that it
        // does not wait for this node's acceptor when the others were faster.
        let me = self.cfg.id;
        let sent_upto = chosen.iter().any(|(_, v)| by_slot(v)).then(|| {
            self.cfg
                .learners
                .iter()
                .map(|&n| {
                    let sent = l.windows.get(&n).filter(|_| n != me);
                    (n, sent.map_or(0, |w| w.next()))
                })
                .collect::<Vec<(NodeId, Slot)>>()
        });
        self.feed_after_answer(from);
        self.announce(chosen, sent_upto);
    }

    /// Tells each learner that `chosen` are chosen. A large value (see
    /// [`crate::config::BY_SLOT_BYTES`]) goes by its slot only to a learner whose node's
    /// acceptor was sent it (below `sent_upto` of its window): that acceptor tells it the value
    /// (`Voted`), so the value crosses the network once. Other values, and learners without
    /// such an acceptor (none on the node, it is left out of phase 2 (`fanout`), or it was
    /// passed over while its window was full), get the value itself. (A slot sent but lost on the way is caught up by that learner
    /// from the others.)
    /// `sent_upto` is `None` when no value is large: every learner then gets the same `Chosen`.
    fn announce(&mut self, mut chosen: Vec<(Slot, Value)>, sent_upto: Option<Vec<(NodeId, Slot)>>) {
        let Some(sent_upto) = sent_upto else {
            let learners = self.cfg.learners.clone();
            for chunk in self.cut(chosen) {
                let msg = PaxosMessage::Chosen { entries: chunk };
                self.broadcast(&learners, crate::LEARNER, msg);
            }
            return;
        };
        chosen.sort_unstable_by_key(|(slot, _)| *slot);
        for (learner, upto) in sent_upto {
            let (known, unknown): (Vec<_>, Vec<_>) = chosen
                .iter()
                .partition(|(slot, value)| *slot < upto && by_slot(value));
            if !known.is_empty() {
                let msg = PaxosMessage::ChosenSlots {
                    ballot: self.ballot,
                    slots: known.into_iter().map(|(slot, _)| *slot).collect(),
                };
                self.send(learner, crate::LEARNER, msg);
            }
            let unknown: Vec<(Slot, Value)> = unknown.into_iter().cloned().collect();
            for chunk in self.cut(unknown) {
                self.send(
                    learner,
                    crate::LEARNER,
                    PaxosMessage::Chosen { entries: chunk },
                );
            }
        }
    }

    fn on_rejected(&mut self, ballot: Ballot, promised: Ballot) {
        self.highest_seen = self.highest_seen.max(promised);
        if ballot == self.ballot && promised > self.ballot && !matches!(self.phase, Phase::Follower)
        {
            self.step_down(Some(promised.node));
        }
    }

    fn on_heartbeat(&mut self, ballot: Ballot) {
        if ballot < self.highest_seen || ballot.node == self.cfg.id {
            return;
        }
        self.highest_seen = ballot;
        if ballot > self.ballot || matches!(self.phase, Phase::Follower) {
            self.step_down(Some(ballot.node));
        }
    }

    fn heartbeat(&mut self) {
        self.heartbeat_elapsed = 0;
        let msg = PaxosMessage::Heartbeat {
            ballot: self.ballot,
            chosen_upto: self.chosen_upto(),
        };
        let proposers: Vec<NodeId> = self
            .cfg
            .proposers
            .iter()
            .copied()
            .filter(|&p| p != self.cfg.id)
            .collect();
        self.broadcast(&proposers, crate::PROPOSER, msg.clone());
        let learners = self.cfg.learners.clone();
        self.broadcast(&learners, crate::LEARNER, msg);
        // The acceptors answer a barrier even when no write is in flight: that is how an idle
        // leader knows a majority still hears it (check-quorum in `tick_leader`). A later
        // confirmation of the last read round is still a confirmation of its reads.
        // Each barrier is a round of its own, so an answer names the barrier it answers.
        let seq = self.reads.next_round();
        self.send_barrier(seq);
    }

    /// `entries` in messages of at most `max_batch` slots and `max_batch_bytes`.
    /// `entries` cut into messages of at most `max_batch` slots and `max_batch_bytes`.
    fn cut(&self, entries: Vec<(Slot, Value)>) -> Vec<Vec<(Slot, Value)>> {
        into_batches(
            entries,
            self.cfg.max_batch,
            self.cfg.max_batch_bytes,
            |(_, v)| v.approx_bytes(),
        )
    }

    /// Sends every acceptor read barrier `seq` (numbers only grow).
    pub(crate) fn send_barrier(&mut self, seq: u64) {
        let msg = PaxosMessage::ReadBarrier {
            ballot: self.ballot,
            seq,
        };
        let acceptors = self.cfg.acceptors.clone();
        self.broadcast(&acceptors, crate::ACCEPTOR, msg);
    }

    /// Acceptor `from` answered read barrier `seq` of this leader: the Accepts sent to it
    /// before that barrier and still unanswered were lost, and their places in its window are
    /// free.
    pub(crate) fn on_barrier_answered(&mut self, from: NodeId, seq: u64) {
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        let answered = l.barriers_answered.entry(from).or_default();
        *answered = (*answered).max(seq);
        let answered = *answered;
        if l.windows
            .get_mut(&from)
            .is_some_and(|w| w.barriers_answered(answered))
        {
            self.feed_after_answer(from);
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat();
        }
        let (now, resend, stall) = (
            self.now,
            u64::from(self.cfg.resend_ticks),
            u64::from(self.cfg.election_ticks.1),
        );
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        if !l.pending.is_empty() && now - l.last_progress > stall {
            // No slot was chosen for a whole election timeout: no majority is listening.
            self.step_down(None);
            return;
        }
        if now - l.checked_at >= stall {
            // Check-quorum: a leader no majority of acceptors answered for a whole election
            // timeout steps down, so a leader cut off with nothing to write stops saying it
            // leads (and its reads fail at once instead of waiting for their deadline).
            let heard = l.heard();
            if heard.len() < self.cfg.quorum() {
                self.step_down(None);
                return;
            }
            if l.skipped
                .as_ref()
                .is_some_and(|s| self.learned_upto >= s.through)
            {
                l.skipped = None;
            }
            let learned = self.learned_upto;
            if l.skipped
                .as_ref()
                .is_some_and(|s| !s.reachable(learned, &heard))
            {
                // This node's learner still lacks slots only the holders' snapshots had when
                // this leadership began, and none that has the next of them answered for an
                // election timeout:
                // phase 1 again from what it learned, with the acceptors still here, whose
                // votes recover those slots (a majority accepted each one).
                self.step_down(None);
                self.campaign();
                return;
            }
            l.checked_at = now;
        }
        // A slot that waited a heartbeat round for a majority, while an acceptor fed Accepts
        // left one unanswered as long: that acceptor is slow or gone, and one left out that
        // answered within two heartbeat rounds takes its place (see `fanout`). Checked before
        // the expiry below forgets that Accept; at least two ticks, as a tick is coarse.
        let suspect = u64::from(self.cfg.heartbeat_ticks.min(self.cfg.resend_ticks).max(2));
        let recent = 2 * u64::from(self.cfg.heartbeat_ticks);
        if l.pending
            .values()
            .any(|p| p.sent && now - p.sent_at >= suspect)
        {
            let stale = |a: &NodeId| {
                l.windows
                    .get(a)
                    .and_then(Window::oldest_unanswered)
                    .is_some_and(|at| now - at >= suspect)
            };
            let silent: Vec<NodeId> = l.fanout.fed().filter(stale).collect();
            let healthy =
                |a: NodeId| !stale(&a) && l.heard_at.get(&a).is_some_and(|&at| now - at <= recent);
            l.fanout.replace(&silent, healthy);
        }
        for w in l.windows.values_mut() {
            w.expire(now, resend);
        }
        let mut again = Vec::new();
        for (slot, p) in l.pending.iter_mut() {
            // Only what left: a slot still waiting for a window goes through it.
            if p.sent && now - p.sent_at >= resend {
                p.sent_at = now;
                p.sent = true;
                again.push((*slot, p.value.clone()));
            }
        }
        if !again.is_empty() {
            let acceptors = self.cfg.acceptors.clone();
            self.send_accepts(acceptors, again);
        }
        self.feed_all();
        // A tick also feeds this node's acceptor on its own, should the others' windows stay
        // full (their Accepts lost): what it was not sent does not wait for them.
        let me = self.cfg.id;
        self.feed(me);
    }

    /// Sends acceptor `to` the pending slots it was not sent yet, while its window has room.
    /// True if it sent any.
    fn feed(&mut self, to: NodeId) -> bool {
        let (max, batch, max_bytes, now, ballot, barrier) = (
            self.cfg.max_inflight,
            self.cfg.max_batch,
            self.cfg.max_batch_bytes,
            self.now,
            self.ballot,
            self.reads.last_round(),
        );
        let Phase::Leading(l) = &mut self.phase else {
            return false;
        };
        if !l.fanout.feeds(to) {
            return false;
        }
        let Some(w) = l.windows.get_mut(&to) else {
            return false;
        };
        let mut messages = Vec::new();
        while w.has_room(max) {
            // The resend timer of a slot runs from when it left, not from when it was proposed:
            // slots that waited for a window are not broadcast past the windows.
            let wanted = l.pending.range_mut(w.next()..).take(batch);
            let entries: Vec<(Slot, Value)> =
                within_bytes(wanted, max_bytes, |(_, p)| p.value.approx_bytes())
                    .map(|(s, p)| {
                        if !std::mem::replace(&mut p.sent, true) {
                            p.sent_at = now;
                        }
                        (*s, p.value.clone())
                    })
                    .collect();
            let (Some(&(first, _)), Some(&(last, _))) = (entries.first(), entries.last()) else {
                break;
            };
            w.sent(first, last, now, barrier);
            messages.push(PaxosMessage::Accept { ballot, entries });
        }
        let sent = !messages.is_empty();
        for msg in messages {
            self.send(to, crate::ACCEPTOR, msg);
        }
        sent
    }

    /// Whether this node's acceptor is the only one this leader has a window for.
    fn feeds_itself_only(&self) -> bool {
        match &self.phase {
            Phase::Leading(l) => l.windows.keys().all(|&a| a == self.cfg.id),
            _ => false,
        }
    }

    /// Feeds acceptor `to` after it answered (or promised). This node's own acceptor is fed
    /// along with the others, not on its own answers: it then writes the slots while they are
    /// on their way to another acceptor, in parallel with it, and not each burst of proposals
    /// by itself (as a Raft leader holds its entries).
    fn feed_after_answer(&mut self, to: NodeId) {
        let me = self.cfg.id;
        let sent = to != me && self.feed(to);
        self.feed_own(sent || (to == me && self.own_acceptor_behind()));
    }

    /// Feeds this node's acceptor if `due` or if it is the only one.
    fn feed_own(&mut self, due: bool) {
        if due || self.feeds_itself_only() {
            let me = self.cfg.id;
            self.feed(me);
        }
    }

    /// Whether another acceptor was sent slots this node's acceptor was not (its window was
    /// full then): they must not wait for the next tick once it answers.
    fn own_acceptor_behind(&self) -> bool {
        let Phase::Leading(l) = &self.phase else {
            return false;
        };
        let Some(mine) = l.windows.get(&self.cfg.id) else {
            return false;
        };
        l.windows
            .iter()
            .any(|(&a, w)| a != self.cfg.id && w.next() > mine.next())
    }

    /// [`Self::feed`] every acceptor that promised, this node's own one last and only if
    /// another was sent something (see [`Self::feed_after_answer`]).
    fn feed_all(&mut self) {
        let Phase::Leading(l) = &self.phase else {
            return;
        };
        let me = self.cfg.id;
        let others: Vec<NodeId> = l.windows.keys().copied().filter(|&a| a != me).collect();
        let mut sent = false;
        for a in others {
            sent |= self.feed(a);
        }
        self.feed_own(sent);
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

    fn take_ready(&mut self) -> Ready<PaxosMessage, Infallible> {
        self.start_read_round();
        std::mem::take(&mut self.ready)
    }

    fn status(&self) -> Status {
        let (role, last_index) = match &self.phase {
            Phase::Follower => ("follower", self.learned_upto),
            Phase::Preparing { .. } => ("candidate", self.learned_upto),
            Phase::Leading(l) => ("leader", l.next_slot - 1),
        };
        let ballot = if self.is_leader() {
            self.ballot
        } else {
            self.highest_seen
        };
        Status {
            protocol: "paxos",
            role,
            term: ballot.round,
            leader: self.leader,
            commit_index: self.chosen_upto(),
            last_index,
            ballot: Some((ballot.round, ballot.node)),
            writes_to: Vec::new(),
        }
    }

    fn writes_to(&self) -> Vec<NodeId> {
        match &self.phase {
            Phase::Leading(l) => l.fanout.fed().collect(),
            _ => Vec::new(),
        }
    }
}
