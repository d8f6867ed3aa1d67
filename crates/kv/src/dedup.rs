//! Remembers the result of each applied write by request id, for a window of log positions.
//!
//! ```text
//!   order:   (position, id) (position, id) … oldest first; expires from the front
//!   by_id:   id ──hash──► where it is in `order` (a count since the table began)
//!   results: id → result, only for results other than `Done` (compare-and-swaps)
//! ```
//!
//! A million remembered writes cost ~24 bytes each in `order` and ~18 in `by_id` (an index
//! of 8-byte positions rather than a map of ids to results): ~43 MiB instead of ~75 MiB for a
//! `HashMap<RequestId, _>` beside the queue.

use hashbrown::HashTable;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use synod_messages::{KvResult, RequestId};

/// `KvResult::Done`, to lend out for the entries that store nothing.
static DONE: KvResult = KvResult::Done;

#[derive(Default, Clone)]
pub(crate) struct Dedup {
    /// Remembered writes, oldest first: (log position, id).
    order: VecDeque<(u64, RequestId)>,
    /// How many entries have left `order` from the front: entry `n` is at `order[n - expired]`.
    expired: u64,
    /// For each remembered id, its `n`.
    by_id: HashTable<u64>,
    hasher: RandomState,
    /// The results that are not `Done`.
    results: HashMap<RequestId, KvResult>,
}

impl std::fmt::Debug for Dedup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries()).finish()
    }
}

impl PartialEq for Dedup {
    fn eq(&self, other: &Self) -> bool {
        self.entries().eq(other.entries())
    }
}

impl Eq for Dedup {}

impl Dedup {
    fn id_at(&self, n: u64) -> Option<&RequestId> {
        let i = usize::try_from(n.checked_sub(self.expired)?).ok()?;
        self.order.get(i).map(|(_, id)| id)
    }

    pub(crate) fn get(&self, id: &RequestId) -> Option<&KvResult> {
        let hash = self.hasher.hash_one(id);
        self.by_id
            .find(hash, |&n| self.id_at(n) == Some(id))
            .map(|_| self.results.get(id).unwrap_or(&DONE))
    }

    /// Remembers `id`'s result, applied at `index`, unless `id` is remembered already.
    pub(crate) fn insert(&mut self, index: u64, id: RequestId, result: KvResult) {
        if self.get(&id).is_none() {
            self.insert_new(index, id, result);
        }
    }

    /// [`Self::insert`] of an id the caller just found absent (one probe of the table less
    /// per write).
    pub(crate) fn insert_new(&mut self, index: u64, id: RequestId, result: KvResult) {
        debug_assert!(self.get(&id).is_none(), "{id:?} is remembered already");
        let n = self.expired + self.order.len() as u64;
        self.order.push_back((index, id));
        if result != KvResult::Done {
            self.results.insert(id, result);
        }
        let hash = self.hasher.hash_one(id);
        let (order, expired, hasher) = (&self.order, self.expired, &self.hasher);
        self.by_id.insert_unique(hash, n, |&m| {
            let at = usize::try_from(m - expired).unwrap_or(usize::MAX);
            order.get(at).map_or(0, |(_, id)| hasher.hash_one(id))
        });
    }

    /// The remembered ids with their positions and results, oldest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u64, RequestId, &KvResult)> + '_ {
        self.order
            .iter()
            .map(|(i, id)| (*i, *id, self.results.get(id).unwrap_or(&DONE)))
    }

    /// Forgets ids applied at or before `index`.
    pub(crate) fn expire(&mut self, index: u64) {
        while let Some(&(i, id)) = self.order.front() {
            if i > index {
                break;
            }
            let n = self.expired;
            let hash = self.hasher.hash_one(id);
            if let Ok(entry) = self.by_id.find_entry(hash, |&m| m == n) {
                entry.remove();
            }
            self.order.pop_front();
            self.expired += 1;
            if !self.results.is_empty() {
                self.results.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seq: u64) -> RequestId {
        RequestId { client: 9, seq }
    }

    #[test]
    fn done_and_other_results_come_back_as_stored_and_expire_by_position() {
        let mut d = Dedup::default();
        let cas = KvResult::Cas {
            succeeded: false,
            current: Some(b"v".to_vec()),
        };
        d.insert(1, id(1), KvResult::Done);
        d.insert(2, id(2), cas.clone());
        assert_eq!(d.get(&id(1)), Some(&KvResult::Done));
        assert_eq!(d.get(&id(2)), Some(&cas));
        assert_eq!(
            d.entries().collect::<Vec<_>>(),
            vec![(1, id(1), &KvResult::Done), (2, id(2), &cas)]
        );
        d.expire(1);
        assert_eq!(d.get(&id(1)), None);
        assert_eq!(d.get(&id(2)), Some(&cas));
    }

    #[test]
    fn the_index_follows_the_queue_through_growth_and_expiry() {
        let mut d = Dedup::default();
        let cas = |seq: u64| KvResult::Cas {
            succeeded: seq.is_multiple_of(2),
            current: None,
        };
        for seq in 1..=10_000u64 {
            let result = if seq.is_multiple_of(100) {
                cas(seq)
            } else {
                KvResult::Done
            };
            d.insert(seq, id(seq), result);
        }
        d.expire(5_000);
        for seq in 1..=5_000 {
            assert_eq!(d.get(&id(seq)), None, "{seq} expired");
        }
        for seq in 5_001..=10_000u64 {
            let expected = if seq.is_multiple_of(100) {
                cas(seq)
            } else {
                KvResult::Done
            };
            assert_eq!(d.get(&id(seq)), Some(&expected), "{seq} remembered");
        }
        assert_eq!(d.results.len(), 50);
        // Inserting after expiry keeps positions straight.
        d.insert(10_001, id(3), KvResult::Done);
        assert_eq!(d.get(&id(3)), Some(&KvResult::Done));
        d.expire(10_000);
        assert_eq!(d.entries().count(), 1);
        assert_eq!(d.get(&id(10_000)), None);
        assert_eq!(d.get(&id(3)), Some(&KvResult::Done));
    }
}
