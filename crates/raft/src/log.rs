//! The in-memory Raft log. Index 0 is the empty prefix, of term 0.

use synod_messages::raft::{Entry, Index, Term};

/// The entries, contiguous from index 1.
#[derive(Debug, Clone, Default)]
pub struct Log {
    entries: Vec<Entry>,
}

impl Log {
    /// A log holding `entries`, which must be contiguous from index 1.
    pub fn new(entries: Vec<Entry>) -> Self {
        debug_assert!(entries
            .iter()
            .enumerate()
            .all(|(i, e)| e.index == i as Index + 1));
        Self { entries }
    }

    /// Index of the last entry (0 if empty).
    pub fn last_index(&self) -> Index {
        self.entries.len() as Index
    }

    /// Term of the last entry (0 if empty).
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// Term of the entry at `index`; `Some(0)` for index 0, `None` past the end.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index`.
    pub fn get(&self, index: Index) -> Option<&Entry> {
        let pos = usize::try_from(index.checked_sub(1)?).ok()?;
        self.entries.get(pos)
    }

    /// Up to `max` entries starting at `from`.
    pub fn slice(&self, from: Index, max: usize) -> &[Entry] {
        let start = (from.max(1) - 1) as usize;
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
        self.entries.truncate(index.saturating_sub(1) as usize);
    }

    /// The first index of the run of entries of the same term that contains `index`.
    pub fn first_index_of_term_at(&self, index: Index) -> Index {
        let Some(term) = self.term_at(index) else {
            return index;
        };
        let mut first = index;
        while first > 1 && self.term_at(first - 1) == Some(term) {
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
    fn truncate() {
        let mut l = log(&[1, 1, 2]);
        l.truncate_from(2);
        assert_eq!(l.last_index(), 1);
    }
}
