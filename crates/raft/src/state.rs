//! What Raft must not forget: `currentTerm`, `votedFor` and the log (Figure 2, "persistent
//! state on all servers"), and the ops that change them.

use synod_core::DurableState;
use synod_messages::raft::{Entry, Index, Term};
use synod_messages::NodeId;

/// `currentTerm` and `votedFor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HardState {
    /// Latest term this server has seen.
    pub term: Term,
    /// Candidate that received this server's vote in `term`.
    pub voted_for: Option<NodeId>,
}

/// One change to Raft's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RaftPersist {
    /// Record the term and vote.
    HardState(HardState),
    /// Append entries after the last one.
    Append(Vec<Entry>),
    /// Remove every entry at `index` and after.
    TruncateFrom(Index),
}

/// Everything Raft persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftState {
    /// Term and vote.
    pub hard_state: HardState,
    /// The log, entry `i` at position `i - 1`.
    pub entries: Vec<Entry>,
}

impl DurableState for RaftState {
    type Op = RaftPersist;

    fn apply(&mut self, op: &RaftPersist) {
        match op {
            RaftPersist::HardState(hs) => self.hard_state = *hs,
            RaftPersist::Append(entries) => self.entries.extend(entries.iter().cloned()),
            RaftPersist::TruncateFrom(index) => {
                let keep = index.saturating_sub(1) as usize;
                self.entries.truncate(keep);
            }
        }
    }
}
