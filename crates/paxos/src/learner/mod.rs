//! The learner: learns chosen values, delivers them in slot order, helps others catch up.
//!
//! A learner hears which slots are chosen from the leader, and every contiguous slot is
//! delivered to the state machine at once. A large value crosses the network once, in the
//! leader's Accept: the learner takes it from its own node's acceptor, which tells it its votes
//! for large values (`Voted`), and the leader names only the slots and their ballot
//! (`ChosenSlots`). Small values, the leader's own learner, a learner whose node has no
//! acceptor, and one whose acceptor was passed over for a slot get the value itself (`Chosen`);
//! so does a learner catching up from the others (`CatchUp`), as one whose vote never came (the
//! Accept was lost) does after a round of grace.
//!
//! Chosen values are kept in memory only; a learner persists nothing but its snapshots. No
//! chosen value is lost by that: it was accepted by a majority of acceptors, and an acceptor
//! forgets a vote only after its own node's learner tells it (`Snapshotted`) that a snapshot
//! covering the slot is durable. A restarted learner pulls what it lacks from the other
//! learners, and after a whole-cluster restart the new leader's phase 1 recovers the values
//! from the acceptors. This saves the second fsync per batch that a durable learner log costs.
//!
//! ```text
//!   own acceptor ──Voted(b, values)──────┐
//!   leader ──ChosenSlots(b, slots)───────┼─► learner ──(in slot order)──► state machine
//!   leader, learners ──Chosen(values)────┘    │  ▲                            │ snapshot
//!                    other learners ◄─CatchUp─┘  └───────── compact ◄─────────┘
//!   persist snapshot, then Snapshotted ──► own acceptor forgets those votes
//! ```
//! A learner that sees a gap, or hears from the leader's heartbeat that more is chosen than it
//! has, asks every other learner for the slots from its first missing one. It reports its
//! delivered prefix to its node's proposer, which starts phase 1 there when it becomes leader,
//! so a value chosen but learned by nobody is recovered from the acceptors.
//!
//! When the state machine is snapshotted the learner keeps the snapshot and forgets the slots
//! it covers. A learner asking for slots another one compacted gets that snapshot instead, in
//! chunks it pulls one at a time, then the slots after it.
//!
//! This file holds the learner's state, delivery in slot order and its [`Core`]
//! implementation; `catch_up` holds how a lagging learner pulls values and snapshots.

mod catch_up;

use crate::config::PaxosConfig;
use std::collections::BTreeMap;
use synod_core::{
    decode_row, encode_row, Applied, Core, DurableState, Ready, Row, Rows, Schema, Snapshot,
    Standing, Status, StorageError,
};
use synod_messages::paxos::{Ballot, PaxosMessage, Slot, Value};
use synod_messages::{ActorAddr, NodeId};

/// What a learner persists: its latest snapshot (chosen values live in memory, see above).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnerState {
    /// The state machine image covering every slot up to its index.
    pub snapshot: Option<Snapshot>,
}

/// One change to a learner's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnerOp {
    /// This snapshot replaces every slot up to its index.
    Snapshot(Snapshot),
}

impl DurableState for LearnerState {
    type Op = LearnerOp;

    fn snapshot_index(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.index)
    }

    fn apply(&mut self, op: &LearnerOp) {
        match op {
            LearnerOp::Snapshot(snapshot) => self.snapshot = Some(snapshot.clone()),
        }
    }
}

impl Schema for LearnerState {
    fn rows(op: &LearnerOp) -> Result<Vec<Row>, StorageError> {
        match op {
            LearnerOp::Snapshot(snapshot) => Ok(vec![
                Row::Blob {
                    key: synod_core::SNAPSHOT_BLOB,
                    data: snapshot.data.clone(),
                },
                Row::Meta {
                    key: "snapshot_at",
                    value: encode_row(&snapshot.index)?,
                },
            ]),
        }
    }

    fn from_rows(rows: Rows) -> Result<Self, StorageError> {
        if rows.meta.contains_key("snapshot") || !rows.log.is_empty() {
            return Err(StorageError::Corrupt(
                "learner: state in the format of an older Synod (a persisted log); start this node from an empty data directory".into(),
            ));
        }
        let snapshot = match rows.meta.get("snapshot_at") {
            Some(bytes) => {
                let index: Slot = decode_row(bytes, "learner snapshot position")?;
                let data = rows
                    .blobs
                    .get(synod_core::SNAPSHOT_BLOB)
                    .cloned()
                    .ok_or_else(|| {
                        StorageError::Corrupt(format!(
                            "learner snapshot {index}: its data is missing"
                        ))
                    })?;
                Some(Snapshot { index, data })
            }
            None => None,
        };
        Ok(Self { snapshot })
    }
}

/// A snapshot being pulled from another learner.
#[derive(Debug)]
struct Incoming {
    from: ActorAddr,
    slot: Slot,
    data: Vec<u8>,
    /// Catch-up rounds asked of `from` without a chunk arriving.
    silent_rounds: u32,
}

/// Rounds without a chunk after which a learner gives up on a snapshot's sender.
const GIVE_UP_ROUNDS: u32 = 3;

/// Catch-up rounds without a request after which a learner sending its snapshot takes the
/// receiver for gone (a receiver asks again every round while it is behind).
const QUIET_ROUNDS: u32 = 3;

/// The learner role of one node.
#[derive(Debug)]
pub struct Learner {
    cfg: PaxosConfig,
    state: LearnerState,
    /// Chosen values by slot, after the snapshot; not persisted.
    chosen: BTreeMap<Slot, Value>,
    /// This node's acceptor's votes not known chosen yet: slot → (ballot, value).
    votes: BTreeMap<Slot, (Ballot, Value)>,
    /// Slots the leader said are chosen in a ballot (`ChosenSlots`) before this node's
    /// acceptor told their votes in it, with the tick they were first awaited at.
    awaited: BTreeMap<Slot, (Ballot, u64)>,
    /// Ticks since the start.
    now: u64,
    delivered: Slot,
    known_chosen_upto: Slot,
    ballot: Ballot,
    leader: Option<NodeId>,
    ticks_since_catch_up: u32,
    reported: Slot,
    incoming: Option<Incoming>,
    /// Learners pulling this one's snapshot: ticks since each last asked for a chunk.
    serving: BTreeMap<NodeId, u32>,
    /// A newer snapshot waiting until they have this one (see [`synod_core::deferred`]).
    deferred: synod_core::DeferredCompaction,
    ready: Ready<PaxosMessage, LearnerOp>,
}

impl Learner {
    /// A learner starting from what it persisted: its snapshot. The slots after it are
    /// learned again from the other learners or the leader.
    pub fn new(cfg: PaxosConfig, state: LearnerState) -> Self {
        let mut learner = Self {
            cfg,
            delivered: state.snapshot.as_ref().map_or(0, |s| s.index),
            state,
            chosen: BTreeMap::new(),
            votes: BTreeMap::new(),
            awaited: BTreeMap::new(),
            now: 0,
            known_chosen_upto: 0,
            ballot: Ballot::default(),
            leader: None,
            ticks_since_catch_up: 0,
            reported: 0,
            incoming: None,
            serving: BTreeMap::new(),
            deferred: synod_core::DeferredCompaction::default(),
            ready: Ready::default(),
        };
        learner.ready.snapshot = learner.state.snapshot.clone();
        learner
    }

    /// The contiguous prefix delivered so far.
    pub fn delivered(&self) -> Slot {
        self.delivered
    }

    /// The chosen value of `slot`, if learned and not compacted.
    pub fn chosen(&self, slot: Slot) -> Option<&Value> {
        self.chosen.get(&slot)
    }

    /// Persists `snapshot`, forgets the slots it covers and, once it is durable (the shell
    /// sends after persisting), lets this node's acceptor forget their votes.
    fn keep_snapshot(&mut self, snapshot: Snapshot) {
        let slot = snapshot.index;
        self.chosen.retain(|s, _| *s > slot);
        let op = LearnerOp::Snapshot(snapshot);
        self.state.apply(&op);
        self.ready.persist.push(op);
        if self.cfg.acceptors.contains(&self.cfg.id) {
            self.ready.messages.push((
                ActorAddr::new(self.cfg.id, crate::ACCEPTOR),
                PaxosMessage::Snapshotted { slot },
            ));
        }
    }

    /// Learns `entries`; `from` a learner answering a catch-up, asks it for more at once, so
    /// a restarted learner streams what it lacks instead of pulling a batch per round.
    fn learn(&mut self, from: ActorAddr, entries: Vec<(Slot, Value)>) {
        let mut fresh = false;
        for (slot, value) in entries {
            if slot <= self.delivered {
                continue;
            }
            match self.chosen.get(&slot) {
                Some(known) if *known != value => {
                    // Paxos guarantees this cannot happen; say so loudly if it ever does.
                    tracing::error!(
                        node = self.cfg.id,
                        slot,
                        ?known,
                        ?value,
                        "two different values chosen for one slot"
                    );
                }
                Some(_) => {}
                None => {
                    self.chosen.insert(slot, value);
                    fresh = true;
                }
            }
        }
        if !fresh {
            return;
        }
        self.deliver();
        if from.role == crate::LEARNER && self.behind() {
            self.ask(from);
        }
    }

    /// This node's acceptor accepted `entries` in `ballot`: a slot the leader already said is
    /// chosen in that ballot is learned, the others wait for the leader's word.
    fn on_voted(&mut self, from: ActorAddr, ballot: Ballot, entries: Vec<(Slot, Value)>) {
        let mut learned = Vec::new();
        for (slot, value) in entries {
            if slot <= self.delivered || self.chosen.contains_key(&slot) {
                continue;
            }
            if self.awaited.get(&slot).is_some_and(|(b, _)| *b == ballot) {
                self.awaited.remove(&slot);
                learned.push((slot, value));
            } else if self.votes.get(&slot).is_none_or(|(b, _)| *b <= ballot) {
                self.votes.insert(slot, (ballot, value));
            }
        }
        self.learn(from, learned);
    }

    /// The leader chose `slots` in `ballot`: the value of each is this node's acceptor's vote
    /// in that ballot (a ballot proposes one value per slot). A slot whose vote has not come
    /// waits for it (for the highest ballot it was announced in), and catch-up fetches it from
    /// the others if it does not come within a round (`behind`).
    fn on_chosen_slots(&mut self, from: ActorAddr, ballot: Ballot, slots: Vec<Slot>) {
        let mut learned = Vec::new();
        for slot in slots {
            if slot <= self.delivered || self.chosen.contains_key(&slot) {
                continue;
            }
            if self.votes.get(&slot).is_some_and(|(b, _)| *b == ballot) {
                if let Some((_, value)) = self.votes.remove(&slot) {
                    learned.push((slot, value));
                }
            } else {
                let now = self.now;
                let awaited = self.awaited.entry(slot).or_insert((ballot, now));
                awaited.0 = awaited.0.max(ballot);
            }
        }
        self.known_chosen_upto = self.known_chosen_upto.max(self.awaited_top());
        self.learn(from, learned);
    }

    fn awaited_top(&self) -> Slot {
        self.awaited.last_key_value().map_or(0, |(slot, _)| *slot)
    }

    fn deliver(&mut self) {
        while let Some(value) = self.chosen.get(&(self.delivered + 1)) {
            self.delivered += 1;
            let command = match value {
                Value::Noop => None,
                Value::Command(c) => Some(c.clone()),
            };
            self.ready.applied.push(Applied {
                index: self.delivered,
                command,
            });
        }
        // The votes and awaited slots that delivery (or a snapshot) went past.
        let delivered = self.delivered;
        while self
            .votes
            .first_key_value()
            .is_some_and(|(s, _)| *s <= delivered)
        {
            self.votes.pop_first();
        }
        while self
            .awaited
            .first_key_value()
            .is_some_and(|(s, _)| *s <= delivered)
        {
            self.awaited.pop_first();
        }
    }
}

impl Core for Learner {
    type Message = PaxosMessage;
    type Persist = LearnerOp;

    fn on_message(&mut self, from: ActorAddr, msg: PaxosMessage) {
        match msg {
            PaxosMessage::Chosen { entries } => self.learn(from, entries),
            PaxosMessage::ChosenSlots { ballot, slots } => {
                self.on_chosen_slots(from, ballot, slots)
            }
            PaxosMessage::Voted { ballot, entries }
                if from == ActorAddr::new(self.cfg.id, crate::ACCEPTOR) =>
            {
                self.on_voted(from, ballot, entries)
            }
            PaxosMessage::Heartbeat {
                ballot,
                chosen_upto,
            } => {
                if ballot >= self.ballot {
                    self.ballot = ballot;
                    self.leader = Some(ballot.node);
                }
                self.known_chosen_upto = self.known_chosen_upto.max(chosen_upto);
            }
            PaxosMessage::CatchUp {
                from_slot,
                snapshot_offset,
            } => self.on_catch_up(from, from_slot, snapshot_offset),
            PaxosMessage::SnapshotChunk {
                slot,
                offset,
                data,
                done,
            } => self.on_snapshot_chunk(from, slot, offset, data, done),
            _ => {}
        }
    }

    fn on_tick(&mut self) {
        let quiet = QUIET_ROUNDS * 2 * self.cfg.heartbeat_ticks;
        self.serving.retain(|_, ticks| {
            *ticks += 1;
            *ticks <= quiet
        });
        if let Some(snapshot) = self.deferred.release(!self.serving.is_empty()) {
            self.compact(snapshot);
        }
        self.now += 1;
        self.ticks_since_catch_up += 1;
        if self.behind() && self.ticks_since_catch_up >= 2 * self.cfg.heartbeat_ticks {
            self.ticks_since_catch_up = 0;
            // A transfer that no longer helps (the slots came otherwise) or whose sender went
            // quiet is dropped, and everyone is asked again.
            let delivered = self.delivered;
            if let Some(i) = &mut self.incoming {
                i.silent_rounds += 1;
                if i.slot <= delivered || i.silent_rounds > GIVE_UP_ROUNDS {
                    self.incoming = None;
                }
            }
            match self.incoming.as_ref().map(|i| i.from) {
                // Pulling a snapshot: ask its sender again, in case a chunk was lost.
                Some(from) => self.ask(from),
                None => {
                    let others: Vec<NodeId> = self
                        .cfg
                        .learners
                        .iter()
                        .copied()
                        .filter(|&n| n != self.cfg.id)
                        .collect();
                    for node in others {
                        self.ask(ActorAddr::new(node, crate::LEARNER));
                    }
                }
            }
        }
        if self.delivered > self.reported && self.cfg.proposers.contains(&self.cfg.id) {
            self.reported = self.delivered;
            self.ready.messages.push((
                ActorAddr::new(self.cfg.id, crate::PROPOSER),
                PaxosMessage::Progress {
                    delivered_upto: self.delivered,
                },
            ));
        }
    }

    /// A newer snapshot waits while another learner is pulling this one's (see
    /// [`synod_core::deferred`]).
    fn compact(&mut self, snapshot: Snapshot) {
        let current = self.state.snapshot.as_ref().map_or(0, |s| s.index);
        if snapshot.index <= current || snapshot.index > self.delivered {
            return;
        }
        if let Some(snapshot) = self.deferred.offer(snapshot, !self.serving.is_empty()) {
            self.keep_snapshot(snapshot);
        }
    }

    fn take_ready(&mut self) -> Ready<PaxosMessage, LearnerOp> {
        std::mem::take(&mut self.ready)
    }

    fn snapshot_stored(&mut self, index: u64, data: bytes::Bytes) {
        if let Some(s) = &mut self.state.snapshot {
            if s.index == index && s.data.len() == data.len() {
                s.data = data;
            }
        }
    }

    fn status(&self) -> Status {
        Status {
            protocol: "paxos",
            standing: Standing::Learner,
            epoch: self.ballot.round,
            leader: self.leader,
            commit_index: self.delivered,
            last_index: self
                .chosen
                .keys()
                .next_back()
                .copied()
                .unwrap_or(self.delivered),
            ballot: Some((self.ballot.round, self.ballot.node)),
            writes_to: Vec::new(),
            storage_failed: false,
        }
    }
}

#[cfg(test)]
mod tests;
