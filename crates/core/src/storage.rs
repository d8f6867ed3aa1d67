//! Storage behind a trait: a protocol describes its durable state and the ops that change it;
//! a backend makes a batch of ops durable at once (group commit) and gives the state back after a
//! restart.
//!
//! ```text
//!   core ──Ready.persist: [op, op, op]──► Storage::persist (one sync) ──► state'
//!   restart: Storage::load() ──► state ──► core::recover(state)
//! ```

use std::sync::{Arc, Mutex, PoisonError};

/// A protocol's durable state, rebuilt by applying its ops in order.
pub trait DurableState: Default + Clone + Send + 'static {
    /// One change to the state.
    type Op: std::fmt::Debug + Send;
    /// Applies one op.
    fn apply(&mut self, op: &Self::Op);
    /// The last log position the stored snapshot covers (0: none, or a state without
    /// snapshots).
    fn snapshot_index(&self) -> u64 {
        0
    }
}

/// The durable state of a role that keeps none (a Paxos proposer: a restarted proposer can
/// never lead again with a ballot it led with, because a majority promised it already and
/// acceptors refuse a `Prepare` that is not above their promise).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stateless;

impl DurableState for Stateless {
    type Op = std::convert::Infallible;
    fn apply(&mut self, op: &Self::Op) {
        match *op {}
    }
}

/// Why storage failed. The caller must not act as if the ops were durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// Writing or syncing failed (full disk, I/O error).
    #[error("storage write failed: {0}")]
    Write(String),
    /// The stored data is damaged; names what is wrong and where.
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
}

/// One change a durable backend makes, derived from an op by [`Schema::rows`]. Every state is
/// stored as a small metadata map plus one log keyed by `u64` (Raft index, Paxos slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// Set metadata `key` to `value`.
    Meta {
        /// The key.
        key: &'static str,
        /// The encoded value.
        value: Vec<u8>,
    },
    /// Set log position `index` to `value`.
    Put {
        /// The position.
        index: u64,
        /// The encoded value.
        value: Vec<u8>,
    },
    /// Remove every log position at or after this one.
    RemoveFrom(u64),
    /// Remove every log position at or before this one (compaction).
    RemoveThrough(u64),
    /// Set blob `key` to `data`: a large value (a snapshot) that a backend may keep outside
    /// its pages, in a file of its own, and that the node may have written
    /// ahead so the protocol's actor does not stall on it.
    Blob {
        /// The key.
        key: &'static str,
        /// The bytes.
        data: bytes::Bytes,
    },
}

/// Everything a backend stored for one state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// The metadata map.
    pub meta: std::collections::BTreeMap<String, Vec<u8>>,
    /// The log, in increasing position order.
    pub log: Vec<(u64, Vec<u8>)>,
    /// The blobs by key.
    pub blobs: std::collections::BTreeMap<String, bytes::Bytes>,
}

/// How a durable state maps onto rows, so one durable backend serves every protocol.
pub trait Schema: DurableState {
    /// The rows one op changes.
    fn rows(op: &Self::Op) -> Result<Vec<Row>, StorageError>;
    /// The state from its stored rows.
    fn from_rows(rows: Rows) -> Result<Self, StorageError>;
}

/// Encodes a value for a [`Row`].
pub fn encode_row<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    synod_messages::codec::encode(value).map_err(|e| StorageError::Write(e.to_string()))
}

/// Decodes a stored row; `what` names it in the error.
pub fn decode_row<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, StorageError> {
    synod_messages::codec::decode(bytes).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

impl Schema for Stateless {
    fn rows(op: &Self::Op) -> Result<Vec<Row>, StorageError> {
        match *op {}
    }
    fn from_rows(_: Rows) -> Result<Self, StorageError> {
        Ok(Stateless)
    }
}

/// A backend for one protocol state.
pub trait Storage<S: DurableState>: Send {
    /// The state as last persisted.
    fn load(&mut self) -> Result<S, StorageError>;
    /// Makes all `ops` durable, in order, before returning.
    fn persist(&mut self, ops: &[S::Op]) -> Result<(), StorageError>;
    /// Blob `key` as the last persist stored it, read-only from its file, if that persist wrote
    /// it from memory: whoever holds the copy in memory can keep this instead. Given once.
    fn take_stored_blob(&mut self, _key: &str) -> Option<bytes::Bytes> {
        None
    }
}

/// Keeps the state in memory, shared through an `Arc` so a test can "restart" a node from
/// exactly what it had persisted (and nothing it had not).
#[derive(Debug, Default, Clone)]
pub struct MemoryStorage<S> {
    state: Arc<Mutex<S>>,
}

impl<S: DurableState> MemoryStorage<S> {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(S::default())),
        }
    }

    /// A copy of what has been persisted so far.
    pub fn snapshot(&self) -> S {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<S: DurableState> Storage<S> for MemoryStorage<S> {
    fn load(&mut self) -> Result<S, StorageError> {
        Ok(self.snapshot())
    }

    fn persist(&mut self, ops: &[S::Op]) -> Result<(), StorageError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for op in ops {
            state.apply(op);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Clone, PartialEq)]
    struct Counter(Vec<u32>);
    impl DurableState for Counter {
        type Op = u32;
        fn apply(&mut self, op: &u32) {
            self.0.push(*op);
        }
    }

    #[test]
    fn memory_storage_keeps_ops_in_order_across_clones() {
        let mut store = MemoryStorage::<Counter>::new();
        let mut restarted = store.clone();
        store.persist(&[1, 2]).unwrap();
        store.persist(&[3]).unwrap();
        assert_eq!(restarted.load().unwrap(), Counter(vec![1, 2, 3]));
    }
}
