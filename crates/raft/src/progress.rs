//! The leader's view of one follower: `nextIndex`, `matchIndex` (Figure 2) and the batches in
//! flight, which lets the leader pipeline without waiting for each acknowledgement.

use std::collections::VecDeque;
use synod_messages::raft::Index;

/// Replication progress of one follower.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Index of the next entry to send.
    pub next_index: Index,
    /// Highest index known to be replicated on the follower.
    pub match_index: Index,
    /// Last index of each batch sent and not yet acknowledged.
    pub inflight: VecDeque<Index>,
    /// The oldest batch in flight at the last heartbeat round: if it is still the oldest a
    /// round later, the pipeline is assumed lost.
    pub oldest_at_last_round: Option<Index>,
    /// Whether the follower answered since the last check-quorum round.
    pub active: bool,
    /// The follower left a batch unanswered for a whole heartbeat round: until it answers,
    /// it gets only empty AppendEntries, not the batch again and again (a follower that is
    /// stopped or cut off would otherwise be sent a full batch every round, for nothing).
    pub probing: bool,
    /// A snapshot being sent because the entries the follower needs were compacted away.
    pub snapshot: Option<SnapshotSend>,
    /// The highest commit index the follower was told (as far as the messages sent imply).
    pub commit_told: Index,
}

/// The leader's transfer of a snapshot to one follower, one chunk at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotSend {
    /// The snapshot's last index.
    pub index: Index,
    /// Bytes the follower confirmed; the next chunk starts here.
    pub offset: u64,
    /// `offset` at the last heartbeat round: unchanged a round later means the chunk was lost.
    pub offset_at_last_round: Option<u64>,
    /// Heartbeat rounds in a row without a chunk confirmed.
    pub quiet_rounds: u32,
}

/// Heartbeat rounds without a chunk confirmed after which a transfer no longer holds back
/// the leader's compaction (see `Raft::compact`).
pub const QUIET_ROUNDS: u32 = 3;

/// A chunk left unanswered is sent again after 1, 2, 4, 8 and 16 quiet rounds, then every 16
/// (an empty chunk goes in the rounds between, as the follower's heartbeat).
const RESEND_BACKOFF_CAP: u32 = 16;

impl SnapshotSend {
    /// Whether the follower is still taking chunks.
    pub fn moving(&self) -> bool {
        self.quiet_rounds < QUIET_ROUNDS
    }

    /// Whether the chunk in flight, unanswered for `quiet_rounds` rounds, is sent again now:
    /// backing off, so that a follower that stopped taking chunks costs little.
    pub fn resend_due(&self) -> bool {
        let q = self.quiet_rounds;
        q > 0
            && (q.is_power_of_two() && q <= RESEND_BACKOFF_CAP
                || q.is_multiple_of(RESEND_BACKOFF_CAP))
    }
}

impl Progress {
    /// A fresh follower, for a leader whose last index is `last_index`.
    pub fn new(last_index: Index) -> Self {
        Self {
            next_index: last_index + 1,
            ..Self::default()
        }
    }

    /// The follower confirmed it matches up to `index`.
    pub fn acknowledge(&mut self, index: Index) {
        self.match_index = self.match_index.max(index);
        self.next_index = self.next_index.max(self.match_index + 1);
        while self
            .inflight
            .front()
            .is_some_and(|&i| i <= self.match_index)
        {
            self.inflight.pop_front();
        }
    }

    /// Heartbeat round: restarts the pipeline from `match + 1` if its oldest batch has gone
    /// unanswered for a whole round. Returns whether it did.
    pub fn restart_if_stalled(&mut self) -> bool {
        if let Some(s) = &mut self.snapshot {
            let stalled = s.offset_at_last_round == Some(s.offset);
            s.quiet_rounds = if stalled { s.quiet_rounds + 1 } else { 0 };
            s.offset_at_last_round = Some(s.offset);
            return stalled;
        }
        let oldest = self.inflight.front().copied();
        let stalled = oldest.is_some() && oldest == self.oldest_at_last_round;
        if stalled {
            self.rewind(self.match_index + 1);
            self.probing = true;
        }
        self.oldest_at_last_round = self.inflight.front().copied();
        stalled
    }

    /// The follower refused; resume from `next` (never below what it already matched).
    pub fn rewind(&mut self, next: Index) {
        self.next_index = next.max(self.match_index + 1);
        self.inflight.clear();
    }
}
