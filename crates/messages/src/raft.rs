//! Raft's RPCs, named and shaped as in the paper (Figure 2), plus a fast back-off hint.

use crate::ids::NodeId;
use crate::kv::Command;
use serde::{Deserialize, Serialize};

/// A log position: 1-based; 0 means "before the first entry".
pub type Index = u64;
/// A Raft term.
pub type Term = u64;

/// What a log entry carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryPayload {
    /// The entry a new leader appends to commit its term (§8).
    Noop,
    /// A client command.
    Command(Command),
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The term in which the leader created the entry.
    pub term: Term,
    /// The entry's position in the log.
    pub index: Index,
    /// What it carries.
    pub payload: EntryPayload,
}

impl Entry {
    /// About the bytes it takes encoded (see [`Command::approx_bytes`]).
    pub fn approx_bytes(&self) -> usize {
        match &self.payload {
            EntryPayload::Noop => 24,
            EntryPayload::Command(c) => c.approx_bytes() + 24,
        }
    }
}

/// Where a follower's log diverges, so the leader can skip a whole term at a time (§5.3, the
/// optimisation the paper sketches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictHint {
    /// The term of the follower's entry at `prev_log_index`, `None` if its log is shorter.
    pub term: Option<Term>,
    /// The first index the follower holds for `term`, or its last index + 1 if shorter.
    pub index: Index,
}

/// The Raft messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftMessage {
    /// Invoked by candidates to gather votes (§5.2).
    RequestVote {
        /// Candidate's term.
        term: Term,
        /// Candidate requesting the vote.
        candidate_id: NodeId,
        /// Index of the candidate's last log entry (§5.4).
        last_log_index: Index,
        /// Term of the candidate's last log entry (§5.4).
        last_log_term: Term,
    },
    /// The answer to a RequestVote.
    RequestVoteResponse {
        /// Current term, for the candidate to update itself.
        term: Term,
        /// True means the candidate received the vote.
        vote_granted: bool,
    },
    /// Invoked by the leader to replicate log entries (§5.3); also used as heartbeat (§5.2).
    AppendEntries {
        /// Leader's term.
        term: Term,
        /// So followers can redirect clients.
        leader_id: NodeId,
        /// Index of the log entry immediately preceding the new ones.
        prev_log_index: Index,
        /// Term of the `prev_log_index` entry.
        prev_log_term: Term,
        /// Entries to store (empty for heartbeat).
        entries: Vec<Entry>,
        /// Leader's commit index.
        leader_commit: Index,
    },
    /// The answer to an AppendEntries.
    AppendEntriesResponse {
        /// Current term, for the leader to update itself.
        term: Term,
        /// True if the follower held an entry matching `prev_log_index`/`prev_log_term`.
        success: bool,
        /// On success: the last index known to match the leader's log.
        match_index: Index,
        /// On failure: where to retry from.
        conflict: Option<ConflictHint>,
    },
    /// ReadIndex (dissertation §6.4): the leader checks it still leads before serving reads;
    /// one round of these confirms every read registered before it.
    ReadIndexHeartbeat {
        /// Leader's term.
        term: Term,
        /// The leader.
        leader_id: NodeId,
        /// The leader's read round.
        seq: u64,
    },
    /// The answer to a ReadIndexHeartbeat: "you still lead my term".
    ReadIndexHeartbeatResponse {
        /// Current term.
        term: Term,
        /// The round answered.
        seq: u64,
    },
    /// Invoked by the leader to send chunks of a snapshot to a follower whose missing entries
    /// were compacted away (§7).
    InstallSnapshot {
        /// Leader's term.
        term: Term,
        /// So the follower can redirect clients.
        leader_id: NodeId,
        /// The snapshot replaces all entries up through and including this index.
        last_included_index: Index,
        /// Term of `last_included_index`.
        last_included_term: Term,
        /// Byte offset of this chunk in the snapshot.
        offset: u64,
        /// Raw bytes of the chunk, starting at `offset`.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        /// True if this is the last chunk.
        done: bool,
    },
    /// The answer to an InstallSnapshot.
    InstallSnapshotResponse {
        /// Current term, for the leader to update itself.
        term: Term,
        /// The snapshot being installed.
        last_included_index: Index,
        /// How many bytes of it the follower holds (where the next chunk starts).
        next_offset: u64,
        /// True once the follower installed the snapshot (or already had its entries).
        done: bool,
    },
    /// PreVote (dissertation §9.6): "would you vote for me in `term`?", asked before a server
    /// raises its own term. Changes nothing at the receiver.
    PreVote {
        /// The term the sender would stand in (its current term + 1).
        term: Term,
        /// The would-be candidate.
        candidate_id: NodeId,
        /// Index of the candidate's last log entry.
        last_log_index: Index,
        /// Term of the candidate's last log entry.
        last_log_term: Term,
    },
    /// The answer to a PreVote.
    PreVoteResponse {
        /// The receiver's current term (never above the asked term when granted).
        term: Term,
        /// The term the PreVote asked about.
        asked: Term,
        /// True if the receiver would vote for the sender in `asked`.
        granted: bool,
    },
}

impl RaftMessage {
    /// The term the message carries.
    pub fn term(&self) -> Term {
        match self {
            RaftMessage::RequestVote { term, .. }
            | RaftMessage::RequestVoteResponse { term, .. }
            | RaftMessage::AppendEntries { term, .. }
            | RaftMessage::AppendEntriesResponse { term, .. }
            | RaftMessage::InstallSnapshot { term, .. }
            | RaftMessage::ReadIndexHeartbeat { term, .. }
            | RaftMessage::ReadIndexHeartbeatResponse { term, .. }
            | RaftMessage::InstallSnapshotResponse { term, .. }
            | RaftMessage::PreVote { term, .. }
            | RaftMessage::PreVoteResponse { term, .. } => *term,
        }
    }
}
