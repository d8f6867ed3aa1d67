//! Remembers the result of each applied write by request id, for a window of log positions.

use std::collections::{HashMap, VecDeque};
use synod_messages::{KvResult, RequestId};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Dedup {
    results: HashMap<RequestId, KvResult>,
    by_index: VecDeque<(u64, RequestId)>,
}

impl Dedup {
    pub(crate) fn get(&self, id: &RequestId) -> Option<&KvResult> {
        self.results.get(id)
    }

    pub(crate) fn insert(&mut self, index: u64, id: RequestId, result: KvResult) {
        self.results.insert(id, result);
        self.by_index.push_back((index, id));
    }

    /// The remembered ids with their positions and results, oldest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u64, RequestId, &KvResult)> + '_ {
        self.by_index
            .iter()
            .filter_map(|(i, id)| self.results.get(id).map(|r| (*i, *id, r)))
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
