//! What the clients saw: operations with their invocation time, answer and answer time.

use serde::{Deserialize, Serialize};
use synod_messages::{KvOp, KvResult};

/// Identifies the client that issued an operation (only used in reports).
pub type ClientId = u64;

/// One operation as a client saw it: invoked at `call`, answered at `ret` (logical or
/// wall-clock time, any monotone `u64` units).
///
/// Two operations are ordered in real time only when one returned strictly before the other was
/// called (`a.ret < b.call`); equal times count as overlapping. A `ret` smaller than `call` is
/// treated as equal to `call`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Who issued it.
    pub client: ClientId,
    /// What was asked.
    pub op: KvOp,
    /// When it was invoked.
    pub call: u64,
    /// How (and when) it ended.
    pub outcome: Outcome,
}

/// How an operation ended, as far as the client knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Answered with this result at time `ret`.
    Ok {
        /// The answer.
        result: KvResult,
        /// When the answer arrived.
        ret: u64,
    },
    /// Failed definitely (e.g. HTTP 503 "not executed"): it did not happen. The checker drops it.
    Failed,
    /// Timed out / outcome unknown (e.g. 504): it may or may not have happened, at any time after
    /// `call`. A write may take effect (once, at any point after `call`) or never; an unknown
    /// read constrains nothing and is dropped.
    Unknown,
}

impl Operation {
    /// An operation answered with `result` at `ret`.
    pub fn ok(client: ClientId, op: KvOp, call: u64, result: KvResult, ret: u64) -> Self {
        Self {
            client,
            op,
            call,
            outcome: Outcome::Ok { result, ret },
        }
    }

    /// An operation that definitely did not happen.
    pub fn failed(client: ClientId, op: KvOp, call: u64) -> Self {
        Self {
            client,
            op,
            call,
            outcome: Outcome::Failed,
        }
    }

    /// An operation whose outcome is unknown (it may take effect at any time after `call`).
    pub fn unknown(client: ClientId, op: KvOp, call: u64) -> Self {
        Self {
            client,
            op,
            call,
            outcome: Outcome::Unknown,
        }
    }

    /// The answer time, `None` unless the operation was answered.
    pub fn ret(&self) -> Option<u64> {
        match &self.outcome {
            Outcome::Ok { ret, .. } => Some(*ret),
            Outcome::Failed | Outcome::Unknown => None,
        }
    }
}

/// A set of operations on the store, in any order.
/// It serializes (e.g. to JSON) so that a failing test can keep it for a later look.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct History {
    ops: Vec<Operation>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one operation.
    pub fn push(&mut self, op: Operation) {
        self.ops.push(op);
    }

    /// Number of operations recorded.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations, in the order they were recorded.
    pub fn ops(&self) -> &[Operation] {
        &self.ops
    }
}

impl FromIterator<Operation> for History {
    fn from_iter<I: IntoIterator<Item = Operation>>(iter: I) -> Self {
        Self {
            ops: iter.into_iter().collect(),
        }
    }
}

impl Extend<Operation> for History {
    fn extend<I: IntoIterator<Item = Operation>>(&mut self, iter: I) {
        self.ops.extend(iter);
    }
}
