//! A fixed-size set of operation indices: which operations a search has linearized.

/// A set of indices below the size it was made with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Box<[u64]>,
}

impl Bitset {
    /// The empty set over `0..len`.
    pub(crate) fn new(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)].into_boxed_slice(),
        }
    }

    /// Adds `i`.
    pub(crate) fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Removes `i`.
    pub(crate) fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    /// Whether `i` is in the set.
    #[cfg(test)]
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::Bitset;

    #[test]
    fn insert_remove_across_words() {
        let mut s = Bitset::new(130);
        for i in [0, 63, 64, 129] {
            assert!(!s.contains(i));
            s.insert(i);
            assert!(s.contains(i));
        }
        s.remove(64);
        assert!(!s.contains(64) && s.contains(63) && s.contains(129));
        assert_ne!(s, Bitset::new(130));
    }
}
