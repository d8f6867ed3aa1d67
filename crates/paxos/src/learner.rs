//! The learner: learns chosen values, delivers them in slot order, helps others catch up.
//!
//! Chosen values arrive from the leader (`Chosen`) or from other learners answering a
//! `CatchUp`. They are persisted, then every contiguous slot is delivered to the state machine.
//! A learner that sees a gap, or hears from the leader's heartbeat that more is chosen than it
//! has, asks every other learner for the slots from its first missing one. It reports its
//! delivered prefix to its node's proposer, which starts phase 1 there when it becomes leader,
//! so a value chosen but learned by nobody is recovered from the acceptors.

use crate::config::PaxosConfig;
use std::collections::BTreeMap;
use synod_core::{
    decode_row, encode_row, Applied, Core, DurableState, NotLeader, Ready, Row, Rows, Schema,
    Status, StorageError,
};
use synod_messages::paxos::{Ballot, PaxosMessage, Slot, Value};
use synod_messages::{ActorAddr, Command, NodeId, Role};

/// What a learner persisted: every chosen value it knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnerState {
    /// Chosen values by slot.
    pub chosen: BTreeMap<Slot, Value>,
}

/// One change to a learner's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnerOp {
    /// These slots are chosen with these values.
    Learn(Vec<(Slot, Value)>),
}

impl DurableState for LearnerState {
    type Op = LearnerOp;

    fn apply(&mut self, op: &LearnerOp) {
        let LearnerOp::Learn(entries) = op;
        for (slot, value) in entries {
            self.chosen.insert(*slot, value.clone());
        }
    }
}

impl Schema for LearnerState {
    fn rows(op: &LearnerOp) -> Result<Vec<Row>, StorageError> {
        let LearnerOp::Learn(entries) = op;
        entries
            .iter()
            .map(|(slot, value)| {
                Ok(Row::Put {
                    index: *slot,
                    value: encode_row(value)?,
                })
            })
            .collect()
    }

    fn from_rows(rows: Rows) -> Result<Self, StorageError> {
        let Rows { log, .. } = rows;
        let mut chosen = BTreeMap::new();
        for (slot, bytes) in log {
            chosen.insert(slot, decode_row(&bytes, &format!("learner slot {slot}"))?);
        }
        Ok(Self { chosen })
    }
}

/// The learner role of one node.
#[derive(Debug)]
pub struct Learner {
    cfg: PaxosConfig,
    state: LearnerState,
    delivered: Slot,
    known_chosen_upto: Slot,
    ballot: Ballot,
    leader: Option<NodeId>,
    ticks_since_catch_up: u32,
    reported: Slot,
    ready: Ready<PaxosMessage, LearnerOp>,
}

impl Learner {
    /// A learner starting from what it persisted; it delivers everything again from slot 1.
    pub fn new(cfg: PaxosConfig, state: LearnerState) -> Self {
        let mut learner = Self {
            cfg,
            state,
            delivered: 0,
            known_chosen_upto: 0,
            ballot: Ballot::default(),
            leader: None,
            ticks_since_catch_up: 0,
            reported: 0,
            ready: Ready::default(),
        };
        learner.deliver();
        learner
    }

    /// The contiguous prefix delivered so far.
    pub fn delivered(&self) -> Slot {
        self.delivered
    }

    /// The chosen value of `slot`, if learned.
    pub fn chosen(&self, slot: Slot) -> Option<&Value> {
        self.state.chosen.get(&slot)
    }

    fn learn(&mut self, entries: Vec<(Slot, Value)>) {
        let mut fresh = Vec::new();
        for (slot, value) in entries {
            match self.state.chosen.get(&slot) {
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
                None => fresh.push((slot, value)),
            }
        }
        if fresh.is_empty() {
            return;
        }
        let op = LearnerOp::Learn(fresh);
        self.state.apply(&op);
        self.ready.persist.push(op);
        self.deliver();
    }

    fn deliver(&mut self) {
        while let Some(value) = self.state.chosen.get(&(self.delivered + 1)) {
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
    }

    fn behind(&self) -> bool {
        self.known_chosen_upto > self.delivered
            || self
                .state
                .chosen
                .range(self.delivered + 1..)
                .next()
                .is_some()
    }
}

impl Core for Learner {
    type Message = PaxosMessage;
    type Persist = LearnerOp;

    fn on_message(&mut self, from: ActorAddr, msg: PaxosMessage) {
        match msg {
            PaxosMessage::Chosen { entries } => self.learn(entries),
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
            PaxosMessage::CatchUp { from_slot } => {
                let entries: Vec<(Slot, Value)> = self
                    .state
                    .chosen
                    .range(from_slot..)
                    .take(self.cfg.max_batch)
                    .map(|(s, v)| (*s, v.clone()))
                    .collect();
                if !entries.is_empty() {
                    self.ready
                        .messages
                        .push((from, PaxosMessage::Chosen { entries }));
                }
            }
            _ => {}
        }
    }

    fn on_tick(&mut self) {
        self.ticks_since_catch_up += 1;
        if self.behind() && self.ticks_since_catch_up >= 2 * self.cfg.heartbeat_ticks {
            self.ticks_since_catch_up = 0;
            let from_slot = self.delivered + 1;
            for &node in self.cfg.learners.iter().filter(|&&n| n != self.cfg.id) {
                self.ready.messages.push((
                    ActorAddr::new(node, Role::Learner),
                    PaxosMessage::CatchUp { from_slot },
                ));
            }
        }
        if self.delivered > self.reported && self.cfg.proposers.contains(&self.cfg.id) {
            self.reported = self.delivered;
            self.ready.messages.push((
                ActorAddr::new(self.cfg.id, Role::Proposer),
                PaxosMessage::Progress {
                    delivered_upto: self.delivered,
                },
            ));
        }
    }

    fn propose(&mut self, _: Vec<Command>) -> Result<(), NotLeader> {
        Err(NotLeader {
            leader: self.leader,
        })
    }

    fn take_ready(&mut self) -> Ready<PaxosMessage, LearnerOp> {
        std::mem::take(&mut self.ready)
    }

    fn status(&self) -> Status {
        Status {
            protocol: "paxos",
            role: "learner",
            term: self.ballot.round,
            leader: self.leader,
            commit_index: self.delivered,
            last_index: self.state.chosen.keys().next_back().copied().unwrap_or(0),
            ballot: Some((self.ballot.round, self.ballot.node)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_messages::{KvOp, RequestId};

    fn value(seq: u64) -> Value {
        Value::Command(Command {
            id: RequestId { client: 1, seq },
            op: KvOp::Delete { key: "k".into() },
        })
    }

    #[test]
    fn delivers_in_slot_order_once_the_gap_is_filled() {
        let mut l = Learner::new(
            PaxosConfig::all_roles(1, vec![1, 2, 3]),
            LearnerState::default(),
        );
        let from = ActorAddr::new(2, Role::Proposer);
        l.on_message(
            from,
            PaxosMessage::Chosen {
                entries: vec![(2, value(2)), (3, Value::Noop)],
            },
        );
        assert!(l.take_ready().applied.is_empty(), "slot 1 is missing");
        l.on_message(
            from,
            PaxosMessage::Chosen {
                entries: vec![(1, value(1)), (2, value(2))],
            },
        );
        let r = l.take_ready();
        let order: Vec<u64> = r.applied.iter().map(|a| a.index).collect();
        assert_eq!(order, vec![1, 2, 3]);
        assert_eq!(r.applied[2].command, None);
        assert_eq!(
            r.persist,
            vec![LearnerOp::Learn(vec![(1, value(1))])],
            "nothing persisted twice"
        );
    }

    #[test]
    fn a_learner_that_is_behind_asks_the_others() {
        let mut l = Learner::new(
            PaxosConfig::all_roles(1, vec![1, 2, 3]),
            LearnerState::default(),
        );
        l.on_message(
            ActorAddr::new(2, Role::Proposer),
            PaxosMessage::Heartbeat {
                ballot: Ballot::new(1, 2),
                chosen_upto: 5,
            },
        );
        for _ in 0..4 {
            l.on_tick();
        }
        let asks: Vec<_> = l.take_ready().messages;
        assert_eq!(asks.len(), 2);
        assert!(asks.iter().all(
            |(to, m)| to.role == Role::Learner && *m == PaxosMessage::CatchUp { from_slot: 1 }
        ));
        assert_eq!(l.status().leader, Some(2));
    }
}
