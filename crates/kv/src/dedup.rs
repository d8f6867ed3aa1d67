//! Remembers the result of each applied write by request id, for a window of log positions.
//!
//! Most writes answer `Done`, so that result is stored as nothing at all and any other one
//! (a compare-and-swap's) is boxed: an entry of the table is the id and one pointer, which
//! halves the table of a million remembered writes.

use std::collections::{HashMap, VecDeque};
use synod_messages::{KvResult, RequestId};

/// `KvResult::Done`, to lend out for the entries that store nothing.
static DONE: KvResult = KvResult::Done;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Dedup {
    /// `None` stands for `KvResult::Done`.
    results: HashMap<RequestId, Option<Box<KvResult>>>,
    by_index: VecDeque<(u64, RequestId)>,
}

fn lend(stored: &Option<Box<KvResult>>) -> &KvResult {
    stored.as_deref().unwrap_or(&DONE)
}

impl Dedup {
    pub(crate) fn get(&self, id: &RequestId) -> Option<&KvResult> {
        self.results.get(id).map(lend)
    }

    pub(crate) fn insert(&mut self, index: u64, id: RequestId, result: KvResult) {
        let stored = match result {
            KvResult::Done => None,
            other => Some(Box::new(other)),
        };
        self.results.insert(id, stored);
        self.by_index.push_back((index, id));
    }

    /// The remembered ids with their positions and results, oldest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u64, RequestId, &KvResult)> + '_ {
        self.by_index
            .iter()
            .filter_map(|(i, id)| self.results.get(id).map(|r| (*i, *id, lend(r))))
    }

    /// Forgets ids applied at or before `index`.
    pub(crate) fn expire(&mut self, index: u64) {
        while let Some(&(i, id)) = self.by_index.front() {
            if i > index {
                break;
            }
            self.by_index.pop_front();
            self.results.remove(&id);
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
}
