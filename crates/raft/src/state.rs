//! What Raft must not forget: `currentTerm`, `votedFor` and the log (Figure 2, "persistent
//! state on all servers"), and the ops that change them.

use serde::{Deserialize, Serialize};
use synod_core::{decode_row, encode_row, DurableState, Row, Rows, Schema, StorageError};
use synod_messages::raft::{Entry, Index, Term};
use synod_messages::NodeId;

/// `currentTerm` and `votedFor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    /// Latest term this server has seen.
    pub term: Term,
    /// Candidate that received this server's vote in `term`.
    pub voted_for: Option<NodeId>,
}

/// The state machine image that replaces the log up to `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    /// Last index the snapshot covers.
    pub index: Index,
    /// Term of that entry.
    pub term: Term,
    /// The state machine image.
    pub data: bytes::Bytes,
}

/// One change to Raft's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RaftPersist {
    /// Record the term and vote.
    HardState(HardState),
    /// Append entries after the last one.
    Append(Vec<Entry>),
    /// Remove every entry at `index` and after.
    TruncateFrom(Index),
    /// Store a snapshot and drop the entries it covers; with `retain_log` false (a snapshot
    /// from the leader that the log does not match) drop every entry.
    Snapshot {
        /// The snapshot.
        snapshot: SnapshotRecord,
        /// Keep the entries after the snapshot.
        retain_log: bool,
    },
}

/// Everything Raft persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftState {
    /// Term and vote.
    pub hard_state: HardState,
    /// The latest snapshot, if any.
    pub snapshot: Option<SnapshotRecord>,
    /// The log after the snapshot, contiguous.
    pub entries: Vec<Entry>,
}

impl DurableState for RaftState {
    type Op = RaftPersist;

    fn snapshot_index(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.index)
    }

    fn apply(&mut self, op: &RaftPersist) {
        match op {
            RaftPersist::HardState(hs) => self.hard_state = *hs,
            RaftPersist::Append(entries) => self.entries.extend(entries.iter().cloned()),
            RaftPersist::TruncateFrom(index) => self.entries.retain(|e| e.index < *index),
            RaftPersist::Snapshot {
                snapshot,
                retain_log,
            } => {
                if *retain_log {
                    self.entries.retain(|e| e.index > snapshot.index);
                } else {
                    self.entries.clear();
                }
                self.snapshot = Some(snapshot.clone());
            }
        }
    }
}

impl Schema for RaftState {
    fn rows(op: &RaftPersist) -> Result<Vec<Row>, StorageError> {
        Ok(match op {
            RaftPersist::HardState(hs) => vec![Row::Meta {
                key: "hard_state",
                value: encode_row(hs)?,
            }],
            RaftPersist::Append(entries) => entries
                .iter()
                .map(|e| {
                    Ok(Row::Put {
                        index: e.index,
                        value: encode_row(e)?,
                    })
                })
                .collect::<Result<_, StorageError>>()?,
            RaftPersist::TruncateFrom(index) => vec![Row::RemoveFrom(*index)],
            RaftPersist::Snapshot {
                snapshot,
                retain_log,
            } => vec![
                Row::Blob {
                    key: synod_core::SNAPSHOT_BLOB,
                    data: snapshot.data.clone(),
                },
                Row::Meta {
                    key: "snapshot_at",
                    value: encode_row(&(snapshot.index, snapshot.term))?,
                },
                if *retain_log {
                    Row::RemoveThrough(snapshot.index)
                } else {
                    Row::RemoveFrom(0)
                },
            ],
        })
    }

    fn from_rows(rows: Rows) -> Result<Self, StorageError> {
        let Rows { meta, log, blobs } = rows;
        if meta.contains_key("snapshot") {
            return Err(StorageError::Corrupt(
                "raft: a snapshot in the format of an older Synod (inside the database); start this node from an empty data directory".into(),
            ));
        }
        let hard_state = match meta.get("hard_state") {
            Some(bytes) => decode_row(bytes, "raft hard state")?,
            None => HardState::default(),
        };
        let snapshot = match meta.get("snapshot_at") {
            Some(bytes) => {
                let (index, term): (Index, Term) = decode_row(bytes, "raft snapshot position")?;
                let data = blobs
                    .get(synod_core::SNAPSHOT_BLOB)
                    .cloned()
                    .ok_or_else(|| {
                        StorageError::Corrupt(format!("raft snapshot {index}: its data is missing"))
                    })?;
                Some(SnapshotRecord { index, term, data })
            }
            None => None,
        };
        let first = snapshot.as_ref().map_or(0, |s| s.index) + 1;
        let mut entries = Vec::with_capacity(log.len());
        for (index, bytes) in log {
            let entry: Entry = decode_row(&bytes, &format!("raft log entry {index}"))?;
            let expected = first + entries.len() as Index;
            if entry.index != index || index != expected {
                return Err(StorageError::Corrupt(format!(
                    "raft log: expected entry {expected}, found key {index} holding entry {}",
                    entry.index
                )));
            }
            entries.push(entry);
        }
        Ok(Self {
            hard_state,
            snapshot,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_in_an_older_format_is_refused_not_ignored() {
        let mut rows = Rows::default();
        rows.meta.insert("snapshot".into(), vec![1, 2, 3]);
        let err = RaftState::from_rows(rows).unwrap_err().to_string();
        assert!(err.contains("older Synod"), "{err}");
    }
}
