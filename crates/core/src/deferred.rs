//! Holding back a compaction while a snapshot transfer is under way.
//!
//! ```text
//!   compact(new) ──► transfer moving, < MAX in a row? ──yes──► wait (only the newest waits)
//!                          │ no                                   │ tick: transfer over
//!                          ▼                                      ▼
//!                     compact now  ◄──────────────────────────────┘
//! ```
//!
//! A node sending its snapshot to a lagging peer keeps that snapshot (and the log after it)
//! until the peer has it: compacting would make the transfer start again from the newer
//! image, and a large image under a steady write rate might then never arrive.

use crate::Snapshot;

/// Snapshots deferred in a row before the next one compacts anyway: bounds the log a slow
/// transfer keeps.
pub const MAX_DEFERRALS: u32 = 3;

/// A compaction waiting for a transfer to end.
#[derive(Debug, Default)]
pub struct DeferredCompaction {
    waiting: Option<Snapshot>,
    in_a_row: u32,
}

impl DeferredCompaction {
    /// A new snapshot, while a transfer is `moving` or not: the snapshot to compact to now,
    /// or `None` if it waits.
    pub fn offer(&mut self, snapshot: Snapshot, moving: bool) -> Option<Snapshot> {
        if moving && self.in_a_row < MAX_DEFERRALS {
            self.in_a_row += 1;
            self.waiting = Some(snapshot);
            return None;
        }
        self.waiting = None;
        self.in_a_row = 0;
        Some(snapshot)
    }

    /// The snapshot that waited, once no transfer is `moving`.
    pub fn release(&mut self, moving: bool) -> Option<Snapshot> {
        if moving {
            return None;
        }
        self.in_a_row = 0;
        self.waiting.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(index: u64) -> Snapshot {
        Snapshot {
            index,
            data: bytes::Bytes::new(),
        }
    }

    fn index(s: Option<Snapshot>) -> Option<u64> {
        s.map(|s| s.index)
    }

    #[test]
    fn only_the_newest_waits_and_never_more_than_max_in_a_row() {
        let mut d = DeferredCompaction::default();
        assert_eq!(
            index(d.offer(snap(1), false)),
            Some(1),
            "no transfer: at once"
        );
        for i in 2..2 + u64::from(MAX_DEFERRALS) {
            assert_eq!(index(d.offer(snap(i), true)), None);
        }
        assert_eq!(index(d.release(true)), None, "still moving");
        let last = 2 + u64::from(MAX_DEFERRALS);
        assert_eq!(
            index(d.offer(snap(last), true)),
            Some(last),
            "too many in a row"
        );
        assert_eq!(index(d.release(false)), None, "the older ones are dropped");
        assert_eq!(index(d.offer(snap(10), true)), None);
        assert_eq!(
            index(d.release(false)),
            Some(10),
            "released once it stops moving"
        );
        assert_eq!(
            index(d.offer(snap(11), true)),
            None,
            "the count starts again"
        );
    }
}
