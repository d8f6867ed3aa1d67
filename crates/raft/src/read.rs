//! Linearizable reads without writing to the log: ReadIndex (Raft dissertation §6.4).
//!
//! ```text
//!   read(id) ──► read point = max(commit index, first index of this term)
//!            ──► one ReadIndexHeartbeat round to every follower (all reads registered in one
//!                step share it) ──► a majority answers "you still lead" ──► (id, read point)
//! ```
//!
//! The caller serves the read once its state machine has applied the read point. A leader
//! that steps down answers its pending reads with `None`.

use crate::raft::Raft;
use std::collections::{BTreeMap, VecDeque};
use synod_messages::raft::{Index, RaftMessage, Term};
use synod_messages::NodeId;

/// The leader's ReadIndex bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    /// The last round sent.
    seq: u64,
    /// Reads registered since the last round was sent.
    due: bool,
    /// Per follower, the highest round it confirmed in this term.
    acks: BTreeMap<NodeId, u64>,
    /// (read id, read point, round) in registration order.
    pending: VecDeque<(u64, Index, u64)>,
}

impl Raft {
    /// Registers read `id`; its round goes out with the next `take_ready`.
    pub(crate) fn register_read(&mut self, id: u64) {
        let index = self.commit_index.max(self.term_start);
        if self.cfg.quorum() == 1 {
            self.ready.reads.push((id, Some(index)));
            return;
        }
        let round = self.reads.seq + 1;
        self.reads.pending.push_back((id, index, round));
        self.reads.due = true;
    }

    /// Sends one confirmation round for every read registered since the last one.
    pub(crate) fn start_read_round(&mut self) {
        if !self.reads.due || !self.is_leader() {
            return;
        }
        self.reads.due = false;
        self.reads.seq += 1;
        let msg = RaftMessage::ReadIndexHeartbeat {
            term: self.hard.term,
            leader_id: self.cfg.id,
            seq: self.reads.seq,
        };
        let peers: Vec<NodeId> = self.cfg.peers().collect();
        for peer in peers {
            self.send(peer, msg.clone());
        }
    }

    /// Follower: the leader asks whether it still leads.
    pub(crate) fn on_read_heartbeat(
        &mut self,
        from: NodeId,
        term: Term,
        leader_id: NodeId,
        seq: u64,
    ) {
        if term == self.hard.term && leader_id == from {
            self.become_follower(term, Some(leader_id));
            self.election_elapsed = 0;
        }
        let reply = RaftMessage::ReadIndexHeartbeatResponse {
            term: self.hard.term,
            seq,
        };
        self.send(from, reply);
    }

    /// Leader: a follower confirmed round `seq`; releases every read a majority confirmed.
    pub(crate) fn on_read_heartbeat_response(&mut self, from: NodeId, term: Term, seq: u64) {
        if term != self.hard.term || !self.is_leader() {
            return;
        }
        let acked = self.reads.acks.entry(from).or_default();
        *acked = (*acked).max(seq);
        let quorum = self.cfg.quorum();
        while let Some(&(id, index, round)) = self.reads.pending.front() {
            let confirmed = 1 + self.reads.acks.values().filter(|&&s| s >= round).count();
            if confirmed < quorum {
                break;
            }
            self.reads.pending.pop_front();
            self.ready.reads.push((id, Some(index)));
        }
    }

    /// The leader steps down: its pending reads cannot be confirmed.
    pub(crate) fn fail_reads(&mut self) {
        for (id, _, _) in self.reads.pending.drain(..) {
            self.ready.reads.push((id, None));
        }
        self.reads.acks.clear();
        self.reads.due = false;
    }
}
