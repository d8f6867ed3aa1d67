//! When the service snapshots its store.
//!
//! A snapshot costs time proportional to the store's size, so taking one every fixed number of
//! writes would cost a large store more per write than a small one. A snapshot is due once the
//! log grew by `every` positions *and* by half as many positions as the store holds keys: each
//! write then pays for at most two keys' worth of snapshot, and the in-memory log stays below
//! the size of the store. While a store only grows (every write a new key) this still snapshots
//! each time the store doubled; a rule of "as many positions as keys" would never fire then.
//!
//! The log since the last snapshot is held in memory (the Raft log, the Paxos learner's chosen
//! values and acceptor's votes), so a snapshot is also due, after `every` positions, once those
//! commands take `max_log_bytes`: a store of large values does not keep half of itself twice.
//! And whatever `every` says, the log never grows past [`HARD_CAP`] × `max_log_bytes`: 10,000
//! positions of 1 MiB values would be 10 GiB of memory.

use synod_messages::Command;

/// Memory an entry of the log takes besides its key and value: the entry and command
/// structs and the allocations of key and value (measured ~380 bytes for a 256-byte put),
/// with the 48 bytes [`Command::approx_bytes`] counts besides key and values.
const ENTRY_OVERHEAD: u64 = 80;

/// A snapshot is due once the log holds this many times `max_log_bytes`, however few positions
/// it holds.
pub const HARD_CAP: u64 = 8;

/// When to snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// At least this many positions between snapshots (0: never snapshot).
    pub every: u64,
    /// Snapshot once the log since the last one holds about this many bytes.
    pub max_log_bytes: u64,
    /// Keys of the image encoded per step of the service's thread, between which it applies
    /// what the protocol commits (see `service::snapshots`).
    pub keys_per_step: usize,
}

impl SnapshotPolicy {
    /// Whether a snapshot is due, `since` positions and about `log_bytes` bytes of log after
    /// the last one, with the store holding `keys` keys.
    pub(crate) fn due(&self, since: u64, log_bytes: u64, keys: u64) -> bool {
        self.every > 0
            && ((since >= self.every && (since >= keys / 2 || log_bytes >= self.max_log_bytes))
                || (self.max_log_bytes > 0
                    && log_bytes >= self.max_log_bytes.saturating_mul(HARD_CAP)))
    }
}

/// About the memory `command` takes in the log.
pub(crate) fn log_bytes(command: &Command) -> u64 {
    command.approx_bytes() as u64 + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_messages::KvOp;

    const NO_CAP: u64 = u64::MAX;

    /// Apply `writes` positions of `bytes` each, each creating a key when `inserts`, else
    /// overwriting one of `keys`; return the snapshot positions and the longest log seen.
    fn run(
        policy: SnapshotPolicy,
        writes: u64,
        bytes: u64,
        inserts: bool,
        mut keys: u64,
    ) -> (Vec<u64>, u64) {
        let (mut last, mut taken, mut longest) = (0, Vec::new(), 0);
        for applied in 1..=writes {
            if inserts {
                keys += 1;
            }
            let since = applied - last;
            longest = longest.max(since);
            if policy.due(since, since * bytes, keys) {
                last = applied;
                taken.push(applied);
            }
        }
        (taken, longest)
    }

    fn every(every: u64, max_log_bytes: u64) -> SnapshotPolicy {
        SnapshotPolicy {
            every,
            max_log_bytes,
            keys_per_step: 1,
        }
    }

    #[test]
    fn a_growing_store_is_snapshotted_each_time_it_doubles() {
        let (taken, longest) = run(every(10_000, NO_CAP), 1_000_000, 1, true, 0);
        assert_eq!(&taken[..3], &[10_000, 20_000, 39_999]);
        assert!(taken.len() >= 6, "{taken:?}");
        assert!(longest <= 1_000_000 / 2 + 1, "log grew to {longest}");
    }

    #[test]
    fn a_large_store_under_overwrites_keeps_the_log_at_half_its_keys() {
        let (taken, longest) = run(every(10_000, NO_CAP), 2_000_000, 1, false, 1_000_000);
        assert_eq!(taken, vec![500_000, 1_000_000, 1_500_000, 2_000_000]);
        assert_eq!(longest, 500_000);
    }

    #[test]
    fn a_log_of_large_values_is_cut_at_its_byte_budget_but_not_before_every_positions() {
        // 1 KiB commands, a 64 MiB budget: every 65,536 positions instead of 500,000.
        let (taken, longest) = run(every(10_000, 64 << 20), 200_000, 1024, false, 1_000_000);
        assert_eq!(taken, vec![65_536, 131_072, 196_608]);
        assert_eq!(longest, 65_536);
        // A budget smaller than `every` positions' worth waits for `every`...
        let (taken, _) = run(every(10_000, 4 << 20), 30_000, 1024, false, 1_000_000);
        assert_eq!(taken, vec![10_000, 20_000, 30_000]);
        // ...up to `HARD_CAP` times the budget. Found by review: with 1 MiB values the log
        // held 10 GiB in memory before its first snapshot.
        let (taken, longest) = run(every(10_000, 64 << 20), 30_000, 1 << 20, false, 100);
        assert_eq!(taken[..2], [512, 1024]);
        assert_eq!(longest, 512);
    }

    #[test]
    fn a_small_store_is_snapshotted_every_n_positions_and_zero_means_never() {
        assert_eq!(
            run(every(10_000, NO_CAP), 30_000, 1, false, 50).0,
            vec![10_000, 20_000, 30_000]
        );
        assert_eq!(run(every(0, 0), 30_000, 1, true, 0).0, Vec::<u64>::new());
    }

    #[test]
    fn a_put_costs_its_key_and_value_and_the_entry() {
        let put = Command {
            id: synod_messages::RequestId { client: 1, seq: 1 },
            op: KvOp::Put {
                key: "key-1".into(),
                value: vec![0; 256],
            },
        };
        assert_eq!(log_bytes(&put), 5 + 256 + 128);
    }
}
