//! When the service snapshots its store.
//!
//! A snapshot costs time proportional to the store's size, so taking one every fixed number of
//! writes would cost a large store more per write than a small one. A snapshot is due once the
//! log grew by `every` positions *and* by half as many positions as the store holds keys: each
//! write then pays for at most two keys' worth of snapshot, and the in-memory log stays below
//! the size of the store. While a store only grows (every write a new key) this still snapshots
//! each time the store doubled; a rule of "as many positions as keys" would never fire then.

/// The applied position at which the next snapshot is due, after one at `last` (0: none yet),
/// with the store holding `keys` keys. `every` 0 means never.
pub(crate) fn next_snapshot(last: u64, every: u64, keys: u64) -> Option<u64> {
    (every > 0).then(|| last.saturating_add(every.max(keys / 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apply `writes` positions, each creating a key when `inserts`, else overwriting one of
    /// `keys`; return the snapshot positions and the longest log seen.
    fn run(writes: u64, every: u64, inserts: bool, mut keys: u64) -> (Vec<u64>, u64) {
        let (mut last, mut taken, mut longest) = (0, Vec::new(), 0);
        for applied in 1..=writes {
            if inserts {
                keys += 1;
            }
            longest = longest.max(applied - last);
            if next_snapshot(last, every, keys).is_some_and(|due| applied >= due) {
                last = applied;
                taken.push(applied);
            }
        }
        (taken, longest)
    }

    #[test]
    fn a_growing_store_is_snapshotted_each_time_it_doubles() {
        let (taken, longest) = run(1_000_000, 10_000, true, 0);
        assert_eq!(&taken[..3], &[10_000, 20_000, 39_999]);
        assert!(taken.len() >= 6, "{taken:?}");
        assert!(longest <= 1_000_000 / 2 + 1, "log grew to {longest}");
    }

    #[test]
    fn a_large_store_under_overwrites_keeps_the_log_at_half_its_keys() {
        let (taken, longest) = run(2_000_000, 10_000, false, 1_000_000);
        assert_eq!(taken, vec![500_000, 1_000_000, 1_500_000, 2_000_000]);
        assert_eq!(longest, 500_000);
    }

    #[test]
    fn a_small_store_is_snapshotted_every_n_positions_and_zero_means_never() {
        assert_eq!(
            run(30_000, 10_000, false, 50).0,
            vec![10_000, 20_000, 30_000]
        );
        assert_eq!(run(30_000, 0, true, 0).0, Vec::<u64>::new());
    }
}
