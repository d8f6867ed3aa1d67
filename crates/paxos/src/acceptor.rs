//! The acceptor ("general"): votes on proposals.
//!
//! It remembers the highest ballot it promised and, per slot, the value it accepted with its
//! ballot. `Prepare(b)` with `b` above the promise is answered `Promise` with the values
//! accepted from the asked slot on; `Accept(b, …)` with `b` at least the promise is stored,
//! answered `Accepted`, and its large values told to this node's learner (`Voted`); anything
//! lower is answered `Rejected` with the promise held. A `Prepare` at the promised ballot
//! itself is refused too: phase 1 runs once per ballot, so such a `Prepare` comes from a
//! proposer that restarted and forgot it used that ballot, and leading with it again could put
//! a second value in a slot under one ballot. Both the promise and the accepted values are
//! persisted before the answer leaves (the shell's rule).
//! Votes of slots up to `s` are forgotten when this node's learner reports `Snapshotted(s)`:
//! its snapshot through `s` is durable by then; later promises say how far they were forgotten.

use crate::config::by_slot;
use std::collections::BTreeMap;
use synod_core::{
    decode_row, encode_row, Core, DurableState, Ready, Row, Rows, Schema, Standing, Status,
    StorageError,
};
use synod_messages::batch::batches;
use synod_messages::paxos::{AcceptedValue, Ballot, PaxosMessage, Slot, Value};
use synod_messages::{ActorAddr, NodeId};

/// What an acceptor must not forget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptorState {
    /// The highest ballot promised.
    pub promised: Ballot,
    /// Per slot, the last value accepted and its ballot.
    pub accepted: BTreeMap<Slot, (Ballot, Value)>,
    /// Every slot up to here is chosen, in this node's snapshot, and forgotten here.
    pub compacted_through: Slot,
}

/// One change to an acceptor's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptorOp {
    /// Promise not to accept ballots below this one.
    Promise(Ballot),
    /// Accept these values in this ballot.
    Accept(Ballot, Vec<(Slot, Value)>),
    /// Forget the slots up to here: they are chosen and in this node's snapshot.
    Compact(Slot),
}

impl DurableState for AcceptorState {
    type Op = AcceptorOp;

    fn apply(&mut self, op: &AcceptorOp) {
        match op {
            AcceptorOp::Promise(b) => self.promised = self.promised.max(*b),
            AcceptorOp::Accept(b, entries) => {
                self.promised = self.promised.max(*b);
                for (slot, value) in entries {
                    self.accepted.insert(*slot, (*b, value.clone()));
                }
            }
            AcceptorOp::Compact(slot) => {
                self.compacted_through = self.compacted_through.max(*slot);
                self.accepted.retain(|s, _| *s > *slot);
            }
        }
    }
}

impl Schema for AcceptorState {
    fn rows(op: &AcceptorOp) -> Result<Vec<Row>, StorageError> {
        Ok(match op {
            AcceptorOp::Promise(b) => vec![Row::Meta {
                key: "promised",
                value: encode_row(b)?,
            }],
            // An Accept raises the promise to its ballot; `from_rows` recovers that from the
            // ballots stored with the values.
            AcceptorOp::Accept(b, entries) => entries
                .iter()
                .map(|(slot, value)| {
                    Ok(Row::Put {
                        index: *slot,
                        value: encode_row(&(b, value))?,
                    })
                })
                .collect::<Result<_, StorageError>>()?,
            AcceptorOp::Compact(slot) => vec![
                Row::Meta {
                    key: "compacted_through",
                    value: encode_row(slot)?,
                },
                Row::RemoveThrough(*slot),
            ],
        })
    }

    fn from_rows(rows: Rows) -> Result<Self, StorageError> {
        let Rows { meta, log, .. } = rows;
        let mut promised: Ballot = match meta.get("promised") {
            Some(bytes) => decode_row(bytes, "acceptor promise")?,
            None => Ballot::default(),
        };
        let compacted_through: Slot = match meta.get("compacted_through") {
            Some(bytes) => decode_row(bytes, "acceptor compaction point")?,
            None => 0,
        };
        let mut accepted = BTreeMap::new();
        for (slot, bytes) in log {
            let (ballot, value): (Ballot, Value) =
                decode_row(&bytes, &format!("acceptor slot {slot}"))?;
            promised = promised.max(ballot);
            accepted.insert(slot, (ballot, value));
        }
        Ok(Self {
            promised,
            accepted,
            compacted_through,
        })
    }
}

/// The acceptor role of one node.
#[derive(Debug)]
pub struct Acceptor {
    id: NodeId,
    state: AcceptorState,
    /// Most bytes of values in one part of a `Promise`.
    max_batch_bytes: usize,
    ready: Ready<PaxosMessage, AcceptorOp>,
}

impl Acceptor {
    /// An acceptor on `id` starting from what it persisted.
    pub fn new(id: NodeId, state: AcceptorState) -> Self {
        Self {
            id,
            state,
            max_batch_bytes: 8 << 20,
            ready: Ready::default(),
        }
    }

    /// Sends its votes in promises of at most `bytes` of values per message (as the
    /// proposer's `max_batch_bytes`).
    pub fn with_max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes;
        self
    }

    /// Its state (for tests and the scenario trace).
    pub fn state(&self) -> &AcceptorState {
        &self.state
    }

    fn reply(&mut self, to: ActorAddr, msg: PaxosMessage) {
        self.ready.messages.push((to, msg));
    }

    fn persist(&mut self, op: AcceptorOp) {
        self.state.apply(&op);
        self.ready.persist.push(op);
    }
}

impl Core for Acceptor {
    type Message = PaxosMessage;
    type Persist = AcceptorOp;

    fn on_message(&mut self, from: ActorAddr, msg: PaxosMessage) {
        match msg {
            PaxosMessage::Prepare { ballot, from_slot } => {
                if ballot <= self.state.promised {
                    let promised = self.state.promised;
                    self.reply(from, PaxosMessage::Rejected { ballot, promised });
                    return;
                }
                self.persist(AcceptorOp::Promise(ballot));
                let compacted_through = self.state.compacted_through;
                let accepted: Vec<AcceptedValue> = self
                    .state
                    .accepted
                    .range(from_slot.max(compacted_through + 1)..)
                    .map(|(&slot, (b, value))| AcceptedValue {
                        slot,
                        ballot: *b,
                        value: value.clone(),
                    })
                    .collect();
                let mut chunks = batches(&accepted, usize::MAX, self.max_batch_bytes, |a| {
                    a.value.approx_bytes()
                });
                if chunks.is_empty() {
                    chunks.push(Vec::new());
                }
                let parts = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
                for (part, accepted) in (0..parts).zip(chunks) {
                    self.reply(
                        from,
                        PaxosMessage::Promise {
                            ballot,
                            accepted,
                            compacted_through,
                            part,
                            parts,
                        },
                    );
                }
            }
            PaxosMessage::ReadBarrier { ballot, seq } => {
                let msg = if ballot < self.state.promised {
                    PaxosMessage::Rejected {
                        ballot,
                        promised: self.state.promised,
                    }
                } else {
                    PaxosMessage::ReadBarrierAck { ballot, seq }
                };
                self.reply(from, msg);
            }
            PaxosMessage::Accept { ballot, entries } => {
                if ballot < self.state.promised {
                    let promised = self.state.promised;
                    self.reply(from, PaxosMessage::Rejected { ballot, promised });
                    return;
                }
                // A compacted slot is chosen already; its old vote is gone, so it must not be
                // counted toward another value.
                let compacted = self.state.compacted_through;
                let entries: Vec<(Slot, Value)> = entries
                    .into_iter()
                    .filter(|(s, _)| *s > compacted)
                    .collect();
                if entries.is_empty() {
                    return;
                }
                let slots = entries.iter().map(|(s, _)| *s).collect();
                // This node's learner learns the large values from here (the leader tells it
                // only which slots were chosen, `ChosenSlots`), a resent Accept's too: the
                // learner may have restarted since.
                let voted: Vec<(Slot, Value)> = entries
                    .iter()
                    .filter(|(_, v)| by_slot(v))
                    .cloned()
                    .collect();
                // The Accept raises the promise. Stored on its own, it outlives compaction,
                // which removes the accepted values whose ballots would otherwise recall it.
                if ballot > self.state.promised {
                    self.persist(AcceptorOp::Promise(ballot));
                }
                // A slot already accepted in this ballot holds this very value (one value per
                // slot and ballot): a resent Accept is answered without writing it again.
                let fresh: Vec<(Slot, Value)> = entries
                    .into_iter()
                    .filter(|(s, _)| self.state.accepted.get(s).is_none_or(|(b, _)| *b != ballot))
                    .collect();
                if !fresh.is_empty() {
                    self.persist(AcceptorOp::Accept(ballot, fresh));
                }
                self.reply(from, PaxosMessage::Accepted { ballot, slots });
                if !voted.is_empty() {
                    let learner = ActorAddr::new(self.id, crate::LEARNER);
                    let voted = PaxosMessage::Voted {
                        ballot,
                        entries: voted,
                    };
                    self.reply(learner, voted);
                }
            }
            // Only this node's learner: its durable snapshot is what makes forgetting safe.
            PaxosMessage::Snapshotted { slot }
                if from == ActorAddr::new(self.id, crate::LEARNER)
                    && slot > self.state.compacted_through =>
            {
                self.persist(AcceptorOp::Compact(slot));
            }
            _ => {}
        }
    }

    fn on_tick(&mut self) {}

    fn take_ready(&mut self) -> Ready<PaxosMessage, AcceptorOp> {
        std::mem::take(&mut self.ready)
    }

    fn status(&self) -> Status {
        Status {
            protocol: "paxos",
            standing: Standing::Acceptor,
            epoch: self.state.promised.round,
            leader: None,
            commit_index: 0,
            last_index: self.state.accepted.keys().next_back().copied().unwrap_or(0),
            ballot: Some((self.state.promised.round, self.state.promised.node)),
            writes_to: Vec::new(),
            storage_failed: false,
        }
    }
}

impl Acceptor {
    /// The node this acceptor runs on.
    pub fn id(&self) -> NodeId {
        self.id
    }
}

/// The address of the acceptor on `node`.
pub fn addr(node: NodeId) -> ActorAddr {
    ActorAddr::new(node, crate::ACCEPTOR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_messages::Command;

    fn prepare(round: u64, node: NodeId) -> PaxosMessage {
        PaxosMessage::Prepare {
            ballot: Ballot::new(round, node),
            from_slot: 1,
        }
    }
    fn proposer(node: NodeId) -> ActorAddr {
        ActorAddr::new(node, crate::PROPOSER)
    }

    #[test]
    fn promises_once_per_higher_ballot_and_rejects_lower_ones_with_the_ballot_held() {
        let mut a = Acceptor::new(1, AcceptorState::default());
        a.on_message(proposer(2), prepare(1, 2));
        a.on_message(proposer(1), prepare(1, 1));
        let r = a.take_ready();
        assert_eq!(r.persist, vec![AcceptorOp::Promise(Ballot::new(1, 2))]);
        assert!(matches!(r.messages[0].1, PaxosMessage::Promise { .. }));
        assert_eq!(
            r.messages[1].1,
            PaxosMessage::Rejected {
                ballot: Ballot::new(1, 1),
                promised: Ballot::new(1, 2)
            }
        );
    }

    #[test]
    fn accepts_at_or_above_the_promise_and_reports_accepted_values_in_promises() {
        let mut a = Acceptor::new(1, AcceptorState::default());
        let b = Ballot::new(3, 2);
        a.on_message(
            proposer(2),
            PaxosMessage::Accept {
                ballot: b,
                entries: vec![(4, Value::Noop)],
            },
        );
        a.on_message(proposer(3), prepare(5, 3));
        let r = a.take_ready();
        assert_eq!(
            r.messages[1].1,
            PaxosMessage::Promise {
                ballot: Ballot::new(5, 3),
                accepted: vec![AcceptedValue {
                    slot: 4,
                    ballot: b,
                    value: Value::Noop
                }],
                compacted_through: 0,
                part: 0,
                parts: 1,
            }
        );
        // The earlier ballot is now refused for phase 2 as well.
        a.on_message(
            proposer(2),
            PaxosMessage::Accept {
                ballot: b,
                entries: vec![(5, Value::Noop)],
            },
        );
        assert!(matches!(
            a.take_ready().messages[0].1,
            PaxosMessage::Rejected { .. }
        ));
        assert!(!a.state().accepted.contains_key(&5));
    }

    #[test]
    fn tells_its_learner_the_large_values_it_accepted_and_nothing_of_the_small_ones() {
        let mut a = Acceptor::new(1, AcceptorState::default());
        let b = Ballot::new(3, 2);
        let big = Value::Command(Command {
            id: synod_messages::RequestId { client: 1, seq: 1 },
            op: synod_messages::KvOp::Put {
                key: "k".into(),
                value: vec![7; crate::config::BY_SLOT_BYTES],
            },
        });
        let accept = PaxosMessage::Accept {
            ballot: b,
            entries: vec![(4, Value::Noop), (5, big.clone())],
        };
        a.on_message(proposer(2), accept.clone());
        let voted = PaxosMessage::Voted {
            ballot: b,
            entries: vec![(5, big)],
        };
        let learner = ActorAddr::new(1, crate::LEARNER);
        let r = a.take_ready();
        assert_eq!(r.messages[1], (learner, voted.clone()));
        // A resent Accept is not written again, but its votes are told again: the learner
        // may have restarted meanwhile.
        a.on_message(proposer(2), accept);
        let r = a.take_ready();
        assert!(r.persist.is_empty());
        assert_eq!(r.messages[1], (learner, voted));
        // Small values only: no message to the learner.
        a.on_message(
            proposer(2),
            PaxosMessage::Accept {
                ballot: b,
                entries: vec![(6, Value::Noop)],
            },
        );
        assert_eq!(a.take_ready().messages.len(), 1, "only the Accepted");
    }

    /// What a backend would hold after `ops`, read back.
    fn restored(ops: &[AcceptorOp]) -> AcceptorState {
        let mut rows = Rows::default();
        for op in ops {
            for row in AcceptorState::rows(op).unwrap() {
                match row {
                    Row::Meta { key, value } => {
                        rows.meta.insert(key.to_string(), value);
                    }
                    Row::Put { index, value } => {
                        rows.log.retain(|(i, _)| *i != index);
                        rows.log.push((index, value));
                        rows.log.sort_by_key(|(i, _)| *i);
                    }
                    Row::RemoveFrom(i) => rows.log.retain(|(j, _)| *j < i),
                    Row::RemoveThrough(i) => rows.log.retain(|(j, _)| *j > i),
                    Row::Blob { key, data } => {
                        rows.blobs.insert(key.to_string(), data);
                    }
                }
            }
        }
        AcceptorState::from_rows(rows).unwrap()
    }

    #[test]
    fn a_promise_raised_by_an_accept_survives_compaction_and_restart() {
        // Promised (1, 2) in phase 1, then accepted slot 1 at (4, 3), a ballot it never
        // promised (an Accept resent to every acceptor), then compacted slot 1.
        let mut a = Acceptor::new(1, AcceptorState::default());
        a.on_message(proposer(2), prepare(1, 2));
        a.on_message(
            proposer(3),
            PaxosMessage::Accept {
                ballot: Ballot::new(4, 3),
                entries: vec![(1, Value::Noop)],
            },
        );
        a.on_message(
            ActorAddr::new(1, crate::LEARNER),
            PaxosMessage::Snapshotted { slot: 1 },
        );
        let persisted = a.take_ready().persist;
        let back = restored(&persisted);
        assert_eq!(back, *a.state());
        assert_eq!(
            back.promised,
            Ballot::new(4, 3),
            "the promise must not go back"
        );
    }

    #[test]
    fn a_second_prepare_at_the_promised_ballot_is_refused() {
        // A proposer that led with (2, 3), restarted and forgot its ballot must not lead with
        // it again: its old Accepts at (2, 3) may still be on their way.
        let mut a = Acceptor::new(1, AcceptorState::default());
        a.on_message(proposer(3), prepare(2, 3));
        assert!(matches!(
            a.take_ready().messages[0].1,
            PaxosMessage::Promise { .. }
        ));
        a.on_message(proposer(3), prepare(2, 3));
        assert_eq!(
            a.take_ready().messages[0].1,
            PaxosMessage::Rejected {
                ballot: Ballot::new(2, 3),
                promised: Ballot::new(2, 3)
            }
        );
    }

    /// Found with 1 MB values: a promise carrying every vote of the slots asked about
    /// outgrew the frame limit and was dropped, again at every campaign. It now comes in parts
    /// of at most `max_batch_bytes` of values.
    #[test]
    fn a_promise_of_many_large_votes_comes_in_parts() {
        let mut a = Acceptor::new(1, AcceptorState::default()).with_max_batch_bytes(2500);
        let big = |seq: u64| {
            Value::Command(Command {
                id: synod_messages::RequestId { client: 1, seq },
                op: synod_messages::KvOp::Put {
                    key: format!("k{seq}"),
                    value: vec![1; 1000],
                },
            })
        };
        a.on_message(
            proposer(2),
            PaxosMessage::Accept {
                ballot: Ballot::new(1, 2),
                entries: (1..=5).map(|s| (s, big(s))).collect(),
            },
        );
        a.take_ready();
        a.on_message(proposer(3), prepare(2, 3));
        let parts: Vec<(u32, u32, Vec<Slot>)> = a
            .take_ready()
            .messages
            .into_iter()
            .filter_map(|(_, m)| match m {
                PaxosMessage::Promise {
                    accepted,
                    part,
                    parts,
                    ..
                } => Some((part, parts, accepted.iter().map(|v| v.slot).collect())),
                _ => None,
            })
            .collect();
        assert_eq!(
            parts,
            vec![(0, 3, vec![1, 2]), (1, 3, vec![3, 4]), (2, 3, vec![5])]
        );
    }

    /// A resent Accept (same ballot, same slots) is answered without writing the votes again;
    /// a slot new to it is written.
    #[test]
    fn a_resent_accept_is_answered_without_writing_it_again() {
        let mut a = Acceptor::new(1, AcceptorState::default());
        let b = Ballot::new(1, 2);
        let accept = |slots: std::ops::RangeInclusive<Slot>| PaxosMessage::Accept {
            ballot: b,
            entries: slots.map(|s| (s, Value::Noop)).collect(),
        };
        a.on_message(proposer(2), accept(1..=2));
        a.take_ready();
        a.on_message(proposer(2), accept(1..=3));
        let r = a.take_ready();
        assert_eq!(
            r.persist,
            vec![AcceptorOp::Accept(b, vec![(3, Value::Noop)])]
        );
        assert_eq!(
            r.messages[0].1,
            PaxosMessage::Accepted {
                ballot: b,
                slots: vec![1, 2, 3]
            }
        );
        a.on_message(proposer(2), accept(1..=3));
        assert!(a.take_ready().persist.is_empty());
    }

    #[test]
    fn compacted_slots_are_reported_in_promises_and_never_voted_on_again() {
        let mut a = Acceptor::new(1, AcceptorState::default());
        let b = Ballot::new(1, 2);
        a.on_message(
            proposer(2),
            PaxosMessage::Accept {
                ballot: b,
                entries: (1..=6).map(|s| (s, Value::Noop)).collect(),
            },
        );
        // Another node's learner is not enough: its snapshot is not on this node.
        a.on_message(
            ActorAddr::new(2, crate::LEARNER),
            PaxosMessage::Snapshotted { slot: 4 },
        );
        assert_eq!(a.state().compacted_through, 0);
        a.on_message(
            ActorAddr::new(1, crate::LEARNER),
            PaxosMessage::Snapshotted { slot: 4 },
        );
        assert_eq!(
            a.state().accepted.keys().copied().collect::<Vec<_>>(),
            vec![5, 6]
        );
        a.take_ready();
        a.on_message(proposer(3), prepare(2, 3));
        match &a.take_ready().messages[0].1 {
            PaxosMessage::Promise {
                accepted,
                compacted_through,
                ..
            } => {
                assert_eq!(*compacted_through, 4);
                assert_eq!(
                    accepted.iter().map(|v| v.slot).collect::<Vec<_>>(),
                    vec![5, 6]
                );
            }
            other => panic!("{other:?}"),
        }
        a.on_message(
            proposer(3),
            PaxosMessage::Accept {
                ballot: Ballot::new(2, 3),
                entries: vec![(3, Value::Noop)],
            },
        );
        let r = a.take_ready();
        assert!(
            r.messages.is_empty() && r.persist.is_empty(),
            "no vote on a compacted slot"
        );
    }
}
