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

/// One change to Raft's durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RaftPersist {
    /// Record the term and vote.
    HardState(HardState),
    /// Append entries after the last one.
    Append(Vec<Entry>),
    /// Remove every entry at `index` and after.
    TruncateFrom(Index),
}

/// Everything Raft persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftState {
    /// Term and vote.
    pub hard_state: HardState,
    /// The log, entry `i` at position `i - 1`.
    pub entries: Vec<Entry>,
}

impl DurableState for RaftState {
    type Op = RaftPersist;

    fn apply(&mut self, op: &RaftPersist) {
        match op {
            RaftPersist::HardState(hs) => self.hard_state = *hs,
            RaftPersist::Append(entries) => self.entries.extend(entries.iter().cloned()),
            RaftPersist::TruncateFrom(index) => {
                let keep = index.saturating_sub(1) as usize;
                self.entries.truncate(keep);
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
        })
    }

    fn from_rows(rows: Rows) -> Result<Self, StorageError> {
        let Rows { meta, log } = rows;
        let hard_state = match meta.get("hard_state") {
            Some(bytes) => decode_row(bytes, "raft hard state")?,
            None => HardState::default(),
        };
        let mut entries = Vec::with_capacity(log.len());
        for (index, bytes) in log {
            let entry: Entry = decode_row(&bytes, &format!("raft log entry {index}"))?;
            let expected = entries.len() as Index + 1;
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
            entries,
        })
    }
}
