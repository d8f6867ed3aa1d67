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
use synod_messages::raft::{RaftMessage, Term};
use synod_messages::NodeId;

impl Raft {
    /// Registers read `id`; its round goes out with the next `take_ready`.
    pub(crate) fn register_read(&mut self, id: u64) {
        let index = self.commit_index.max(self.term_start);
        if self.cfg.quorum() == 1 {
            self.ready.reads.push((id, Some(index)));
            return;
        }
        self.reads.register(id, index);
    }

    /// Sends one confirmation round for every read registered since the last one.
    pub(crate) fn start_read_round(&mut self) {
        if !self.is_leader() {
            return;
        }
        let Some(seq) = self.reads.start_round() else {
            return;
        };
        self.send_to_peers(RaftMessage::ReadIndexHeartbeat {
            term: self.hard.term,
            leader_id: self.cfg.id,
            seq,
        });
    }

    /// Follower: the leader asks whether it still leads.
    pub(crate) fn on_read_heartbeat(
        &mut self,
        from: NodeId,
        term: Term,
        leader_id: NodeId,
        seq: u64,
    ) {
        let confirmed = term == self.hard.term && leader_id == from;
        if confirmed {
            self.become_follower(term, Some(leader_id));
            self.election_elapsed = 0;
        }
        // A refusal confirms no round (rounds count from 1): answering a heartbeat of an older
        // term with our term and its round could confirm a round of that node's restarted life
        // in our term, which is numbered from 1 again.
        let reply = RaftMessage::ReadIndexHeartbeatResponse {
            term: self.hard.term,
            seq: if confirmed { seq } else { 0 },
        };
        self.send(from, reply);
    }

    /// Leader: a follower confirmed round `seq`; releases every read a majority confirmed.
    pub(crate) fn on_read_heartbeat_response(&mut self, from: NodeId, term: Term, seq: u64) {
        if term != self.hard.term || !self.is_leader() {
            return;
        }
        let quorum = self.cfg.quorum();
        for (id, index) in self.reads.ack(from, seq, quorum, 1) {
            self.ready.reads.push((id, Some(index)));
        }
    }

    /// The leader steps down: its pending reads cannot be confirmed.
    pub(crate) fn fail_reads(&mut self) {
        for id in self.reads.fail() {
            self.ready.reads.push((id, None));
        }
    }
}
