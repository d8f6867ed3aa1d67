//! Raft's safety properties (Figure 3 of the paper), checked by the simulator after every
//! step of a node: election safety, leader append-only, log matching, leader completeness.
//! (State machine safety, the same command applied at each index everywhere, the simulator
//! checks for every protocol.)
//!
//! ```text
//!   StepView ──► the node's Raft core (term, role, log) + its RaftPersist ops + what it applied
//!            ──► leaders per term, each leader's log length, every (index, term) stored,
//!                every committed entry ──► Err("election safety: ...") on the first break
//! ```

use crate::{Raft, RaftPersist};
use std::collections::{BTreeMap, HashMap};
use synod_core::{Invariants, StepView};
use synod_messages::raft::{EntryPayload, Index, Term};
use synod_messages::NodeId;

/// What the invariants remember of a whole run.
#[derive(Default)]
pub struct RaftInvariants {
    /// The leader of each term.
    leaders: BTreeMap<Term, NodeId>,
    /// Last index of each leader's log while it led, per (node, term).
    leader_last: HashMap<(NodeId, Term), Index>,
    /// Every (index, term) ever stored: the previous entry's term and the payload.
    entries: HashMap<(Index, Term), (Term, EntryPayload)>,
    /// Committed entries: index → (term, payload, term of the node that first applied it —
    /// the entry was committed in that term or earlier).
    committed: BTreeMap<Index, (Term, EntryPayload, Term)>,
}

impl Invariants for RaftInvariants {
    fn observe(&mut self, step: &StepView<'_>) -> Result<(), String> {
        let Some(raft) = step.core::<Raft>(crate::RAFT) else {
            return Ok(());
        };
        let node = step.node;
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
            if step.persisted::<RaftPersist>(crate::RAFT).any(|op| {
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
        for op in step.persisted::<RaftPersist>(crate::RAFT) {
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
        for a in step.applied {
            if let Some(e) = log.get(a.index) {
                self.committed
                    .entry(a.index)
                    .or_insert((e.term, e.payload.clone(), term));
            }
        }
        Ok(())
    }

    fn decided(&self) -> usize {
        self.committed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RaftConfig, RaftState};
    use synod_core::Core;
    use synod_messages::Role;

    fn leader(id: NodeId) -> Raft {
        let mut raft = Raft::new(RaftConfig::new(id, vec![id]), RaftState::default());
        while !raft.is_leader() {
            raft.on_tick();
        }
        raft
    }

    fn view<'a>(node: NodeId, cores: &'a [(Role, &'a dyn std::any::Any)]) -> StepView<'a> {
        StepView {
            node,
            cores,
            persisted: &[],
            applied: &[],
        }
    }

    #[test]
    fn two_leaders_of_one_term_break_election_safety() {
        let mut inv = RaftInvariants::default();
        let (one, two) = (leader(1), leader(2));
        inv.observe(&view(1, &[(crate::RAFT, &one)])).unwrap();
        let err = inv.observe(&view(2, &[(crate::RAFT, &two)])).unwrap_err();
        assert!(err.contains("election safety"), "{err}");
    }

    #[test]
    fn a_leader_that_truncates_its_log_breaks_append_only() {
        let mut inv = RaftInvariants::default();
        let one = leader(1);
        let persisted: Vec<(Role, Box<dyn std::any::Any>)> =
            vec![(crate::RAFT, Box::new(vec![RaftPersist::TruncateFrom(1)]))];
        let cores: [(Role, &dyn std::any::Any); 1] = [(crate::RAFT, &one)];
        let step = StepView {
            persisted: &persisted,
            ..view(1, &cores)
        };
        let err = inv.observe(&step).unwrap_err();
        assert!(err.contains("leader append-only"), "{err}");
    }
}
