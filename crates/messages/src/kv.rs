//! Client commands of the replicated key-value store, their ids and results.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A client request's unique id. A retried request keeps its id, so the state machine applies it
/// once (the dedup window is described in `synod-kv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId {
    /// The client (or node service) that issued it.
    pub client: u64,
    /// Unique per client.
    pub seq: u64,
}

/// One operation on the store. (Its `Debug` shows at most the first bytes of a value: a log
/// line or a simulator's report does not print a megabyte.)
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvOp {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: String,
        /// The new value.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    /// Read `key` (linearizable when it goes through the log).
    Get {
        /// The key.
        key: String,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: String,
    },
    /// Compare-and-swap: if the current value equals `expected` (None = absent), set it to
    /// `value` (None = delete).
    Cas {
        /// The key.
        key: String,
        /// The value the key must hold, `None` for absent.
        #[serde(with = "serde_bytes")]
        expected: Option<Vec<u8>>,
        /// The value to store, `None` to delete.
        #[serde(with = "serde_bytes")]
        value: Option<Vec<u8>>,
    },
}

impl KvOp {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Put { key, .. }
            | KvOp::Get { key }
            | KvOp::Delete { key }
            | KvOp::Cas { key, .. } => key,
        }
    }

    /// True for operations that change the store.
    pub fn is_write(&self) -> bool {
        !matches!(self, KvOp::Get { .. })
    }
}

/// A command as it travels through the log: an operation with its request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The request's unique id.
    pub id: RequestId,
    /// What to do.
    pub op: KvOp,
}

impl Command {
    /// About the bytes it takes encoded: its key and values, plus room for the rest. Batches
    /// of commands are bounded by it ([`crate::batch`]).
    pub fn approx_bytes(&self) -> usize {
        let data = match &self.op {
            KvOp::Put { key, value } => key.len() + value.len(),
            KvOp::Get { key } | KvOp::Delete { key } => key.len(),
            KvOp::Cas {
                key,
                expected,
                value,
            } => {
                key.len()
                    + expected.as_ref().map_or(0, Vec::len)
                    + value.as_ref().map_or(0, Vec::len)
            }
        };
        data + 48
    }
}

/// The outcome of applying a command (its `Debug` shortens values, as [`KvOp`]'s does).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvResult {
    /// A put or delete was applied.
    Done,
    /// The value read (`None` = absent).
    Value(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    /// A compare-and-swap: whether it succeeded and the value found.
    Cas {
        /// Whether the swap happened.
        succeeded: bool,
        /// The value held before the command.
        #[serde(with = "serde_bytes")]
        current: Option<Vec<u8>>,
    },
}

/// A value in `Debug` output: its first [`Shown::HEAD`] bytes, escaped, and its length when
/// there is more.
struct Shown<'a>(&'a [u8]);

impl Shown<'_> {
    const HEAD: usize = 32;
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = &self.0[..self.0.len().min(Self::HEAD)];
        write!(f, "b\"{}\"", head.escape_ascii())?;
        if self.0.len() > Self::HEAD {
            write!(f, "…({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

fn shown(value: &Option<Vec<u8>>) -> Option<Shown<'_>> {
    value.as_deref().map(Shown)
}

impl fmt::Debug for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Put { key, value } => f
                .debug_struct("Put")
                .field("key", key)
                .field("value", &Shown(value))
                .finish(),
            KvOp::Get { key } => f.debug_struct("Get").field("key", key).finish(),
            KvOp::Delete { key } => f.debug_struct("Delete").field("key", key).finish(),
            KvOp::Cas {
                key,
                expected,
                value,
            } => f
                .debug_struct("Cas")
                .field("key", key)
                .field("expected", &shown(expected))
                .field("value", &shown(value))
                .finish(),
        }
    }
}

impl fmt::Debug for KvResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvResult::Done => f.write_str("Done"),
            KvResult::Value(value) => f.debug_tuple("Value").field(&shown(value)).finish(),
            KvResult::Cas { succeeded, current } => f
                .debug_struct("Cas")
                .field("succeeded", succeeded)
                .field("current", &shown(current))
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_the_head_of_a_large_value_and_its_length() {
        let put = KvOp::Put {
            key: "k".into(),
            value: vec![b'x'; 1100],
        };
        let shown = format!("{put:?}");
        assert!(shown.len() < 100, "{shown}");
        assert!(
            shown.contains(&format!("b\"{}\"…(1100 bytes)", "x".repeat(32))),
            "{shown}"
        );
        let cas = KvResult::Cas {
            succeeded: false,
            current: Some(vec![0xff, b'a']),
        };
        assert_eq!(
            format!("{cas:?}"),
            "Cas { succeeded: false, current: Some(b\"\\xffa\") }"
        );
    }
}
