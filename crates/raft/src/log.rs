//! The in-memory Raft log: a compacted prefix (the snapshot's last index and term), then the
//! entries after it. Index 0 is the empty prefix, of term 0.
//!
//! ```text
//!   [ snapshot ≤ snapshot_index ][ entries snapshot_index+1 ..= last_index ]
//! ```

use synod_messages::raft::{Entry, Index, Term};

/// The entries after the compacted prefix.
#[derive(Debug, Clone, Default)]
pub struct Log {
    snapshot_index: Index,
    snapshot_term: Term,
    entries: Vec<Entry>,
}

impl Log {
    /// A log holding `entries`, which must be contiguous from `snapshot_index + 1`.
    pub fn new(snapshot_index: Index, snapshot_term: Term, entries: Vec<Entry>) -> Self {
        debug_assert!(entries
            .iter()
            .enumerate()
            .all(|(i, e)| e.index == snapshot_index + i as Index + 1));
        Self {
            snapshot_index,
            snapshot_term,
            entries,
        }
    }

    /// The last index covered by the snapshot (0 if none).
    pub fn snapshot_index(&self) -> Index {
        self.snapshot_index
    }

    /// The term of the snapshot's last entry.
    pub fn last_term_at_base(&self) -> Term {
        self.snapshot_term
    }

    /// Index of the last entry (the snapshot's if no entry follows it).
    pub fn last_index(&self) -> Index {
        self.snapshot_index + self.entries.len() as Index
    }

    /// Term of the last entry.
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// Term of the entry at `index`: known for the snapshot's last index and the entries
    /// after it; `None` inside the compacted prefix or past the end.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index`, if it is held.
    pub fn get(&self, index: Index) -> Option<&Entry> {
        let pos = usize::try_from(index.checked_sub(self.snapshot_index + 1)?).ok()?;
        self.entries.get(pos)
    }

    /// Up to `max` entries starting at `from` (which must follow the snapshot).
    pub fn slice(&self, from: Index, max: usize) -> &[Entry] {
        let start = from.saturating_sub(self.snapshot_index + 1) as usize;
        let start = start.min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// Appends entries that follow the last one.
    pub fn append(&mut self, entries: &[Entry]) {
        debug_assert!(entries
            .first()
            .is_none_or(|e| e.index == self.last_index() + 1));
        self.entries.extend_from_slice(entries);
    }

    /// Removes the entry at `index` and all after it.
    pub fn truncate_from(&mut self, index: Index) {
        let keep = index.saturating_sub(self.snapshot_index + 1) as usize;
        self.entries.truncate(keep);
    }

    /// Drops every entry up to `index` (which must be held), whose term is `term`.
    pub fn compact_through(&mut self, index: Index, term: Term) {
        let drop = (index.saturating_sub(self.snapshot_index) as usize).min(self.entries.len());
        self.entries.drain(..drop);
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// Replaces the prefix up to `index` by a snapshot; keeps the entries after it only when
    /// `retain` (the log held the snapshot's last entry with the same term).
    pub fn install(&mut self, index: Index, term: Term, retain: bool) {
        if retain {
            self.compact_through(index, term);
        } else {
            self.entries.clear();
            self.snapshot_index = index;
            self.snapshot_term = term;
        }
    }

    /// The first index of the run of entries of the same term that contains `index`
    /// (not looking into the snapshot).
    pub fn first_index_of_term_at(&self, index: Index) -> Index {
        let Some(term) = self.term_at(index) else {
            return index;
        };
        let mut first = index;
        while first > self.snapshot_index + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last index holding an entry of `term`, if any.
    pub fn last_index_of_term(&self, term: Term) -> Option<Index> {
        self.entries
            .iter()
            .rev()
            .skip_while(|e| e.term > term)
            .find(|e| e.term == term)
            .map(|e| e.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_messages::raft::EntryPayload;

    fn log(terms: &[Term]) -> Log {
        Log::new(
            0,
            0,
            terms
                .iter()
                .enumerate()
                .map(|(i, &term)| Entry {
                    term,
                    index: i as Index + 1,
                    payload: EntryPayload::Noop,
                })
                .collect(),
        )
    }

    #[test]
    fn terms_and_bounds() {
        let l = log(&[1, 1, 2, 3, 3]);
        assert_eq!(l.last_index(), 5);
        assert_eq!(l.last_term(), 3);
        assert_eq!(l.term_at(0), Some(0));
        assert_eq!(l.term_at(3), Some(2));
        assert_eq!(l.term_at(6), None);
        assert_eq!(l.slice(2, 2).len(), 2);
        assert_eq!(l.slice(5, 10).len(), 1);
        assert!(l.slice(6, 10).is_empty());
    }

    #[test]
    fn term_runs() {
        let l = log(&[1, 1, 2, 3, 3]);
        assert_eq!(l.first_index_of_term_at(5), 4);
        assert_eq!(l.first_index_of_term_at(2), 1);
        assert_eq!(l.last_index_of_term(1), Some(2));
        assert_eq!(l.last_index_of_term(2), Some(3));
        assert_eq!(l.last_index_of_term(4), None);
    }

    #[test]
    fn compaction_keeps_terms_and_indexes() {
        let mut l = log(&[1, 1, 2, 3, 3]);
        l.compact_through(3, 2);
        assert_eq!(
            (l.snapshot_index(), l.last_index(), l.last_term()),
            (3, 5, 3)
        );
        assert_eq!(l.term_at(3), Some(2));
        assert_eq!(l.term_at(2), None, "compacted");
        assert_eq!(l.get(4).map(|e| e.index), Some(4));
        assert_eq!(l.slice(4, 10).len(), 2);
        assert_eq!(l.first_index_of_term_at(5), 4);
        l.install(9, 4, false);
        assert_eq!(
            (l.snapshot_index(), l.last_index(), l.last_term()),
            (9, 9, 4)
        );
    }

    #[test]
    fn truncate() {
        let mut l = log(&[1, 1, 2]);
        l.truncate_from(2);
        assert_eq!(l.last_index(), 1);
    }
}
