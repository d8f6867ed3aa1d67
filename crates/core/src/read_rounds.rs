//! The bookkeeping shared by Raft's ReadIndex and the Paxos leader's read barrier: reads wait
//! for one confirmation round, every read registered in one step shares the next round, and a
//! round is confirmed once a quorum answered it.
//!
//! ```text
//!   register(id, read point) ─► next round ─► start_round() = seq to broadcast
//!   ack(peer, seq) ─► rounds confirmed by a quorum ─► (id, read point) released in order
//!   fail() ─► every pending id (the leader stepped down)
//! ```

use std::collections::{BTreeMap, VecDeque};
use synod_messages::NodeId;

/// Reads waiting for a quorum to confirm the leader.
#[derive(Debug, Default)]
pub struct ReadRounds {
    seq: u64,
    due: bool,
    acks: BTreeMap<NodeId, u64>,
    pending: VecDeque<(u64, u64, u64)>,
}

impl ReadRounds {
    /// Read `id` with read point `index` waits for the next round.
    pub fn register(&mut self, id: u64, index: u64) {
        self.pending.push_back((id, index, self.seq + 1));
        self.due = true;
    }

    /// The round to broadcast now, if reads were registered since the last one.
    pub fn start_round(&mut self) -> Option<u64> {
        if !std::mem::take(&mut self.due) {
            return None;
        }
        self.seq += 1;
        Some(self.seq)
    }

    /// Starts a round whether or not reads wait for it (a Paxos leader's heartbeat): every
    /// barrier then has its own number, and reads registered before it are carried by it.
    pub fn next_round(&mut self) -> u64 {
        self.due = false;
        self.seq += 1;
        self.seq
    }

    /// The last round started (0 before the first): a later confirmation of it is still a
    /// confirmation of every read it carries.
    pub fn last_round(&self) -> u64 {
        self.seq
    }

    /// `from` confirmed round `seq`. Returns the reads now confirmed by `quorum` answers
    /// (`counted_self` is 1 when the caller counts itself, as a Raft leader does).
    pub fn ack(
        &mut self,
        from: NodeId,
        seq: u64,
        quorum: usize,
        counted_self: usize,
    ) -> Vec<(u64, u64)> {
        let acked = self.acks.entry(from).or_default();
        *acked = (*acked).max(seq);
        let mut released = Vec::new();
        while let Some(&(id, index, round)) = self.pending.front() {
            let confirmed = counted_self + self.acks.values().filter(|&&s| s >= round).count();
            if confirmed < quorum {
                break;
            }
            self.pending.pop_front();
            released.push((id, index));
        }
        released
    }

    /// The leader stepped down: every pending read fails.
    pub fn fail(&mut self) -> Vec<u64> {
        self.acks.clear();
        self.due = false;
        self.pending.drain(..).map(|(id, _, _)| id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_of_one_step_share_a_round_and_release_in_order_on_a_quorum() {
        let mut r = ReadRounds::default();
        r.register(1, 10);
        r.register(2, 10);
        assert_eq!(r.start_round(), Some(1));
        assert_eq!(r.start_round(), None, "nothing new since");
        r.register(3, 12);
        assert_eq!(r.start_round(), Some(2));
        assert!(r.ack(7, 1, 2, 0).is_empty(), "one of two");
        assert_eq!(r.ack(8, 1, 2, 0), vec![(1, 10), (2, 10)]);
        assert_eq!(r.ack(8, 2, 2, 1), vec![(3, 12)], "the caller counts itself");
        r.register(4, 13);
        assert_eq!(r.fail(), vec![4]);
    }

    #[test]
    fn a_round_started_for_its_own_sake_carries_the_reads_registered_before_it() {
        let mut r = ReadRounds::default();
        assert_eq!(r.next_round(), 1, "no read waits: a round all the same");
        r.register(1, 10);
        assert_eq!(r.next_round(), 2);
        assert_eq!(r.start_round(), None, "read 1 goes with round 2");
        assert_eq!(r.ack(7, 2, 1, 0), vec![(1, 10)]);
    }
}
