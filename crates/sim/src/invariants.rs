//! Safety invariants, checked after every step from what the stepping node did.
//!
//! * Raft (Figure 3): election safety, leader append-only, log matching, leader completeness,
//!   state machine safety.
//! * Paxos: at most one value chosen per slot (computed from the acceptors' votes, the
//!   definition of "chosen"), a chosen value never changes, learners deliver only chosen values.
//! * Both: every node applies the same command at each position.

use crate::replica::{Output, Replica};
use std::collections::{BTreeMap, HashMap};
use synod_messages::paxos::{Ballot, Slot, Value};
use synod_messages::raft::{EntryPayload, Index, Term};
use synod_messages::{Command, NodeId};
use synod_paxos::AcceptorOp;
use synod_raft::RaftPersist;

/// The invariants' memory of the whole run.
#[derive(Default)]
pub struct Invariants {
    quorum: usize,
    /// Raft: the leader of each term.
    leaders: BTreeMap<Term, NodeId>,
    /// Raft: last index of each leader's log while it led, per (node, term).
    leader_last: HashMap<(NodeId, Term), Index>,
    /// Raft: every (index, term) ever stored: the previous entry's term and the payload.
    entries: HashMap<(Index, Term), (Term, EntryPayload)>,
    /// Raft: committed entries: index → (term, payload, term of the node that first applied
    /// it — the entry was committed in that term or earlier).
    committed: BTreeMap<Index, (Term, EntryPayload, Term)>,
    /// Paxos: votes per (slot, ballot): acceptor → value.
    votes: HashMap<(Slot, Ballot), BTreeMap<NodeId, Value>>,
    /// Paxos: chosen values.
    chosen: BTreeMap<Slot, Value>,
    /// Both: what was applied at each position.
    applied: BTreeMap<u64, Option<Command>>,
    /// How many positions were applied in all, by any node.
    pub applications: u64,
}

impl Invariants {
    /// Invariants of a cluster of `nodes` voters.
    pub fn new(nodes: usize) -> Self {
        Self {
            quorum: nodes / 2 + 1,
            ..Self::default()
        }
    }

    /// Positions known committed/chosen.
    pub fn decided(&self) -> usize {
        self.committed.len().max(self.chosen.len())
    }

    /// Checks what `node` just did; `Err` names the broken invariant.
    pub fn observe(&mut self, node: NodeId, replica: &Replica, out: &Output) -> Result<(), String> {
        match replica {
            Replica::Raft(raft) => self.raft(node, raft, out)?,
            Replica::Paxos { .. } => self.paxos(node, out)?,
        }
        for a in &out.applied {
            self.applications += 1;
            match self.applied.get(&a.index) {
                Some(prior) if *prior != a.command => {
                    return Err(format!(
                        "state machine safety: node {node} applied {:?} at {} where another node applied {prior:?}",
                        a.command, a.index
                    ))
                }
                Some(_) => {}
                None => {
                    self.applied.insert(a.index, a.command.clone());
                }
            }
        }
        Ok(())
    }

    fn raft(&mut self, node: NodeId, raft: &synod_raft::Raft, out: &Output) -> Result<(), String> {
        let term = raft.term();
        let log = raft.log();
        if raft.is_leader() {
            // Election safety: at most one leader per term.
            if let Some(&other) = self.leaders.get(&term) {
                if other != node {
                    return Err(format!(
                        "election safety: nodes {other} and {node} both lead term {term}"
                    ));
                }
            }
            let first_time = self.leaders.insert(term, node).is_none();
            // Leader append-only: a leader never removes entries from its log.
            let last = log.last_index();
            if let Some(&before) = self.leader_last.get(&(node, term)) {
                if last < before {
                    return Err(format!("leader append-only: leader {node} of term {term} shrank its log from {before} to {last}"));
                }
            }
            if out.raft_ops.iter().any(|op| {
                matches!(
                    op,
                    RaftPersist::TruncateFrom(_)
                        | RaftPersist::Snapshot {
                            retain_log: false,
                            ..
                        }
                )
            }) {
                return Err(format!(
                    "leader append-only: leader {node} of term {term} truncated its log"
                ));
            }
            self.leader_last.insert((node, term), last);
            // Leader completeness: a new leader holds every entry committed in an earlier term.
            // (A leader of an older term may still be elected late, on delayed votes.)
            if first_time {
                let earlier = self
                    .committed
                    .range(log.snapshot_index() + 1..)
                    .filter(|(_, (_, _, in_term))| *in_term < term);
                for (&index, (t, payload, _)) in earlier {
                    match log.get(index) {
                        Some(e) if e.term == *t && e.payload == *payload => {}
                        other => {
                            return Err(format!(
                                "leader completeness: leader {node} of term {term} lacks committed entry {index} (term {t}); it holds {other:?}"
                            ))
                        }
                    }
                }
            }
        }
        // Log matching: one (index, term) pair always names the same entry and the same
        // previous term, so two logs agreeing on an entry agree on everything before it.
        for op in &out.raft_ops {
            let RaftPersist::Append(entries) = op else {
                continue;
            };
            for e in entries {
                let prev = if e.index == 1 {
                    Some(0)
                } else {
                    log.term_at(e.index - 1)
                };
                let Some(prev) = prev else {
                    continue;
                };
                match self.entries.get(&(e.index, e.term)) {
                    Some((p, payload)) if *p != prev || *payload != e.payload => {
                        return Err(format!(
                            "log matching: node {node} stores entry ({}, term {}) with previous term {prev} and {:?}; another log has previous term {p} and {payload:?}",
                            e.index, e.term, e.payload
                        ))
                    }
                    Some(_) => {}
                    None => {
                        self.entries.insert((e.index, e.term), (prev, e.payload.clone()));
                    }
                }
            }
        }
        for a in &out.applied {
            if let Some(e) = log.get(a.index) {
                self.committed
                    .entry(a.index)
                    .or_insert((e.term, e.payload.clone(), raft.term()));
            }
        }
        Ok(())
    }

    fn paxos(&mut self, node: NodeId, out: &Output) -> Result<(), String> {
        for op in &out.acceptor_ops {
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
        for a in &out.applied {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::{Applied, Core};
    use synod_messages::{KvOp, RequestId};
    use synod_raft::{Raft, RaftConfig, RaftState};

    fn raft_leader(id: NodeId) -> Replica {
        let mut raft = Raft::new(RaftConfig::new(id, vec![id]), RaftState::default());
        while !raft.is_leader() {
            raft.on_tick();
        }
        Replica::Raft(Box::new(raft))
    }

    fn command(seq: u64) -> Command {
        Command {
            id: RequestId { client: 1, seq },
            op: KvOp::Delete { key: "k".into() },
        }
    }

    #[test]
    fn two_leaders_of_one_term_break_election_safety() {
        let mut inv = Invariants::new(3);
        inv.observe(1, &raft_leader(1), &Output::default()).unwrap();
        let err = inv
            .observe(2, &raft_leader(2), &Output::default())
            .unwrap_err();
        assert!(err.contains("election safety"), "{err}");
    }

    #[test]
    fn two_commands_applied_at_one_index_break_state_machine_safety() {
        let mut inv = Invariants::new(3);
        let out = |seq| Output {
            applied: vec![Applied {
                index: 4,
                command: Some(command(seq)),
            }],
            ..Output::default()
        };
        let follower = Replica::Raft(Box::new(Raft::new(
            RaftConfig::new(1, vec![1, 2, 3]),
            RaftState::default(),
        )));
        inv.observe(1, &follower, &out(1)).unwrap();
        inv.observe(2, &follower, &out(1)).unwrap();
        let err = inv.observe(3, &follower, &out(2)).unwrap_err();
        assert!(err.contains("state machine safety"), "{err}");
    }

    #[test]
    fn two_values_chosen_for_one_slot_are_caught() {
        let mut inv = Invariants::new(3);
        let paxos = Replica::start(
            1,
            &[1, 2, 3],
            0,
            0,
            &crate::replica::Disk::new(crate::replica::Protocol::Paxos),
        );
        let vote = |round, seq| Output {
            acceptor_ops: vec![AcceptorOp::Accept(
                Ballot::new(round, 1),
                vec![(1, Value::Command(command(seq)))],
            )],
            ..Output::default()
        };
        inv.observe(1, &paxos, &vote(1, 1)).unwrap();
        inv.observe(2, &paxos, &vote(1, 1)).unwrap();
        inv.observe(2, &paxos, &vote(2, 2)).unwrap();
        let err = inv.observe(3, &paxos, &vote(2, 2)).unwrap_err();
        assert!(err.contains("two values chosen"), "{err}");
    }
}
