//! Multi-Paxos's safety properties, checked by the simulator after every step of a node: at
//! most one value is chosen per slot (computed from the acceptors' votes, the definition of
//! "chosen"), a chosen value never changes, and learners deliver only chosen values.
//!
//! ```text
//!   StepView ──► the acceptor's AcceptorOp::Accept ops ──► votes per (slot, ballot)
//!                 a majority in one ballot ──► chosen[slot] (must never differ)
//!            ──► what the learner delivered ──► must be chosen[slot]
//! ```

use crate::AcceptorOp;
use std::collections::{BTreeMap, HashMap};
use synod_core::{Invariants, StepView};
use synod_messages::paxos::{Ballot, Slot, Value};
use synod_messages::NodeId;

/// What the invariants remember of a whole run.
pub struct PaxosInvariants {
    quorum: usize,
    /// Votes per (slot, ballot): acceptor → value.
    votes: HashMap<(Slot, Ballot), BTreeMap<NodeId, Value>>,
    /// Chosen values.
    chosen: BTreeMap<Slot, Value>,
}

impl PaxosInvariants {
    /// For a cluster of `acceptors` acceptors.
    pub fn new(acceptors: usize) -> Self {
        Self {
            quorum: acceptors / 2 + 1,
            votes: HashMap::new(),
            chosen: BTreeMap::new(),
        }
    }
}

impl Invariants for PaxosInvariants {
    fn observe(&mut self, step: &StepView<'_>) -> Result<(), String> {
        let node = step.node;
        for op in step.persisted::<AcceptorOp>(crate::ACCEPTOR) {
            let AcceptorOp::Accept(ballot, entries) = op else {
                continue;
            };
            for (slot, value) in entries {
                let voters = self.votes.entry((*slot, *ballot)).or_default();
                voters.insert(node, value.clone());
                if voters.values().any(|v| v != value) {
                    return Err(format!(
                        "paxos: acceptors voted for two values in slot {slot}, ballot {ballot}"
                    ));
                }
                if voters.len() >= self.quorum {
                    match self.chosen.get(slot) {
                        Some(v) if v != value => {
                            return Err(format!(
                                "paxos: two values chosen for slot {slot}: {v:?}, then {value:?} in ballot {ballot}"
                            ))
                        }
                        Some(_) => {}
                        None => {
                            self.chosen.insert(*slot, value.clone());
                        }
                    }
                }
            }
        }
        for a in step.applied {
            let delivered = match &a.command {
                Some(c) => Value::Command(c.clone()),
                None => Value::Noop,
            };
            match self.chosen.get(&a.index) {
                Some(v) if *v == delivered => {}
                other => {
                    return Err(format!(
                        "paxos: learner {node} delivered {delivered:?} at slot {} but the chosen value is {other:?}",
                        a.index
                    ))
                }
            }
        }
        Ok(())
    }

    fn decided(&self) -> usize {
        self.chosen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::any::Any;
    use synod_messages::{Command, KvOp, RequestId, Role};

    fn command(seq: u64) -> Command {
        Command {
            id: RequestId { client: 1, seq },
            op: KvOp::Delete { key: "k".into() },
        }
    }

    fn vote(inv: &mut PaxosInvariants, node: NodeId, round: u64, seq: u64) -> Result<(), String> {
        let ops = vec![AcceptorOp::Accept(
            Ballot::new(round, 1),
            vec![(1, Value::Command(command(seq)))],
        )];
        let persisted: Vec<(Role, Box<dyn Any>)> = vec![(crate::ACCEPTOR, Box::new(ops))];
        inv.observe(&StepView {
            node,
            cores: &[],
            persisted: &persisted,
            applied: &[],
        })
    }

    #[test]
    fn two_values_chosen_for_one_slot_are_caught() {
        let mut inv = PaxosInvariants::new(3);
        vote(&mut inv, 1, 1, 1).unwrap();
        vote(&mut inv, 2, 1, 1).unwrap();
        vote(&mut inv, 2, 2, 2).unwrap();
        let err = vote(&mut inv, 3, 2, 2).unwrap_err();
        assert!(err.contains("two values chosen"), "{err}");
    }

    #[test]
    fn a_learner_delivering_what_was_not_chosen_is_caught() {
        let mut inv = PaxosInvariants::new(3);
        let applied = [synod_core::Applied {
            index: 1,
            command: Some(command(1)),
        }];
        let err = inv
            .observe(&StepView {
                node: 1,
                cores: &[],
                persisted: &[],
                applied: &applied,
            })
            .unwrap_err();
        assert!(err.contains("delivered"), "{err}");
    }
}
