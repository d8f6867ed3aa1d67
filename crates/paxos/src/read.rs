//! Linearizable reads without a log slot: a read barrier, Paxos's counterpart of Raft's
//! ReadIndex.
//!
//! ```text
//!   read(id) ──► read point = max(last slot this leader saw chosen, last slot recovered)
//!            ──► one ReadBarrier(ballot) round to every acceptor (shared by all reads of a step)
//!            ──► a majority answers "no promise above your ballot" ──► (id, read point)
//! ```
//!
//! Why it is safe: a value chosen by another leader before the read started needed a majority
//! to promise that leader's higher ballot first; that majority meets the barrier's majority,
//! and that acceptor would have answered `Rejected`. So every value chosen before the read is
//! this leader's (or was recovered by its phase 1) and lies at or below the read point.
//!
//! The read point counts every slot this leader saw chosen, not only its chosen prefix: while a
//! recovered slot waits for its Accepted (a lost message), later slots can be chosen above it,
//! and learners that had the recovered slot from the previous leader apply them at once. A
//! read point at the prefix would let such a node acknowledge a write that a read elsewhere
//! then misses (found by the nemesis; `tests/read_barrier.rs` keeps the interleaving).

use crate::proposer::Proposer;
use synod_messages::paxos::Ballot;
use synod_messages::NodeId;

impl Proposer {
    /// Registers read `id`; its round goes out with the next `take_ready`.
    pub(crate) fn register_read(&mut self, id: u64) {
        let index = self.highest_chosen().max(self.recovered_upto);
        self.reads.register(id, index);
    }

    /// Sends one barrier round for every read registered since the last one.
    pub(crate) fn start_read_round(&mut self) {
        if !self.is_leader() {
            return;
        }
        let Some(seq) = self.reads.start_round() else {
            return;
        };
        self.send_barrier(seq);
    }

    /// An acceptor confirmed a round; releases every read a majority confirmed.
    pub(crate) fn on_barrier_ack(&mut self, from: NodeId, ballot: Ballot, seq: u64) {
        if ballot != self.ballot {
            return;
        }
        if !self.heard_from(from) {
            return;
        }
        let quorum = self.cfg.quorum();
        for (id, index) in self.reads.ack(from, seq, quorum, 0) {
            self.ready.reads.push((id, Some(index)));
        }
        self.on_barrier_answered(from, seq);
    }

    /// The leader steps down: its pending reads cannot be confirmed.
    pub(crate) fn fail_reads(&mut self) {
        for id in self.reads.fail() {
            self.ready.reads.push((id, None));
        }
    }
}
