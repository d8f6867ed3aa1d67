//! What the checker concludes, and the evidence when a history is not linearizable.

use crate::history::Operation;
use std::fmt;

/// The checker's conclusion about a whole history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's operations can be put in one order that respects real time and the KV model.
    Linearizable,
    /// Some key's operations cannot (the first such key, in key order).
    NotLinearizable(Violation),
    /// Undecided: the search for `key` visited more than its state limit (see
    /// [`crate::DEFAULT_STATE_LIMIT`]) without an answer. This is "too big to decide", not a
    /// violation; no other key was found violating.
    Unknown {
        /// The key whose search gave up.
        key: String,
        /// How many distinct search states it visited.
        explored: u64,
    },
}

impl Verdict {
    /// True only for [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// `linearizable`, the violation, or which key was left undecided.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => write!(f, "linearizable"),
            Verdict::NotLinearizable(v) => write!(f, "{v}"),
            Verdict::Unknown { key, explored } => write!(
                f,
                "undecided: the search for key {key:?} gave up after {explored} states"
            ),
        }
    }
}

/// Evidence that one key's history is not linearizable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key.
    pub key: String,
    /// The smallest prefix (in time) of the key's history that already cannot be linearized,
    /// sorted by call time: every operation invoked up to the answer that breaks it (dropped
    /// operations, i.e. failed ones and unanswered reads, are left out).
    pub ops: Vec<Operation>,
    /// Why, in words: the answer that breaks it and the longest consistent order found.
    pub explanation: String,
}

/// `key "a" is not linearizable: <why>`, then one line per operation of the window.
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {:?} is not linearizable: {}",
            self.key, self.explanation
        )?;
        writeln!(f, "operations ({}, by call time):", self.ops.len())?;
        for op in &self.ops {
            writeln!(f, "  {op}")?;
        }
        Ok(())
    }
}
