//! Linearizable reads without a log slot: a read barrier, Paxos's counterpart of Raft's
//! ReadIndex.
//!
//! ```text
//!   read(id) ──► read point = max(chosen prefix, last slot recovered by phase 1)
//!            ──► one ReadBarrier(ballot) round to every acceptor (shared by all reads of a step)
//!            ──► a majority answers "no promise above your ballot" ──► (id, read point)
//! ```
//!
//! Why it is safe: a value chosen by another leader before the read started needed a majority
//! to promise that leader's higher ballot first; that majority meets the barrier's majority,
//! and that acceptor would have answered `Rejected`. So every value chosen before the read is
//! this leader's (or was recovered by its phase 1) and lies at or below the read point.

use crate::proposer::Proposer;
use std::collections::{BTreeMap, VecDeque};
use synod_messages::paxos::{Ballot, PaxosMessage, Slot};
use synod_messages::{ActorAddr, NodeId, Role};

/// The leader's read barrier bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    seq: u64,
    due: bool,
    acks: BTreeMap<NodeId, u64>,
    pending: VecDeque<(u64, Slot, u64)>,
}

impl Proposer {
    /// Registers read `id`; its round goes out with the next `take_ready`.
    pub(crate) fn register_read(&mut self, id: u64) {
        let index = self.chosen_upto().max(self.recovered_upto);
        self.reads
            .pending
            .push_back((id, index, self.reads.seq + 1));
        self.reads.due = true;
    }

    /// Sends one barrier round for every read registered since the last one.
    pub(crate) fn start_read_round(&mut self) {
        if !self.reads.due || !self.is_leader() {
            return;
        }
        self.reads.due = false;
        self.reads.seq += 1;
        let msg = PaxosMessage::ReadBarrier {
            ballot: self.ballot,
            seq: self.reads.seq,
        };
        for &acceptor in &self.cfg.acceptors {
            self.ready
                .messages
                .push((ActorAddr::new(acceptor, Role::Acceptor), msg.clone()));
        }
    }

    /// An acceptor confirmed a round; releases every read a majority confirmed.
    pub(crate) fn on_barrier_ack(&mut self, from: NodeId, ballot: Ballot, seq: u64) {
        if ballot != self.ballot || !self.is_leader() {
            return;
        }
        let acked = self.reads.acks.entry(from).or_default();
        *acked = (*acked).max(seq);
        let quorum = self.cfg.quorum();
        while let Some(&(id, index, round)) = self.reads.pending.front() {
            if self.reads.acks.values().filter(|&&s| s >= round).count() < quorum {
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
