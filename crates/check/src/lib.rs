//! A linearizability checker for client histories of Synod's key-value store.
//!
//! ```text
//!   History: ops with call time, answer, return time
//!       │ drop failed ops and unanswered reads
//!       ▼
//!   split by key ─┬─► "a": ops ─► prune ─► search ─┐
//!                 ├─► "b": ops ─► prune ─► search ─┼─► Verdict (first failing key)
//!                 └─► ...                          ┘
//!
//!   search:  Wing–Gong/Lowe DFS over call/return events, memo of
//!            (linearized set, register value), at most a state cap
//!   failure: bisect prefixes by answer time ─► Violation { key, window ops, why }
//! ```
//!
//! Each key is an independent register (`Option<Vec<u8>>`, starting absent) with the semantics
//! of `synod-kv`: put and delete answer `Done`, get answers the value, and cas answers whether
//! it swapped together with the value it found. Linearizability is compositional, so checking
//! each key on its own decides the whole history.
//!
//! Timing: operation `a` precedes `b` in real time only when `a.ret < b.call`; equal times
//! overlap. An operation with [`Outcome::Unknown`] is treated as returning at +infinity: a
//! write may take effect once at any time after its call, or never; a read is dropped.
//! [`Outcome::Failed`] operations never happened and are dropped. Before searching, unknown
//! writes whose value nothing later reports are left out, and an unknown write that alone
//! writes a value some answer reports is taken to have returned by that answer (`prune.rs`):
//! neither changes the verdict, both keep the search small when many writes time out.
//!
//! The search is exponential in the worst case (many overlapping operations), so each key's
//! search stops after [`DEFAULT_STATE_LIMIT`] distinct states (or the limit given to
//! [`check_with_limit`]) with [`Verdict::Unknown`]. The checker is deterministic.
//!
//! ```
//! use synod_check::{check, History, Operation, Verdict};
//! use synod_messages::{KvOp, KvResult};
//!
//! let mut h = History::new();
//! let put = KvOp::Put { key: "a".into(), value: b"1".to_vec() };
//! h.push(Operation::ok(1, put, 0, KvResult::Done, 1));
//! h.push(Operation::ok(2, KvOp::Get { key: "a".into() }, 2, KvResult::Value(None), 3));
//! let Verdict::NotLinearizable(v) = check(&h) else { panic!("a stale read") };
//! assert_eq!(v.key, "a");
//! ```

mod bitset;
mod events;
mod history;
mod key;
mod model;
mod prune;
mod render;
mod search;
mod verdict;

pub use history::{ClientId, History, Operation, Outcome};
pub use verdict::{Verdict, Violation};

use key::KeyVerdict;
use std::collections::BTreeMap;

/// How many distinct search states (linearized set × register value) one key's search may
/// visit before [`check`] gives up on it with [`Verdict::Unknown`].
pub const DEFAULT_STATE_LIMIT: u64 = 1_000_000;

/// Decides whether `history` is linearizable, with [`DEFAULT_STATE_LIMIT`] per key.
pub fn check(history: &History) -> Verdict {
    check_with_limit(history, DEFAULT_STATE_LIMIT)
}

/// Like [`check`], with at most `limit` explored states per key (and per search while
/// narrowing a violation down).
///
/// Keys are checked in key order. The first violation found is returned; otherwise, if some
/// key's search gave up, the first such key as [`Verdict::Unknown`].
pub fn check_with_limit(history: &History, limit: u64) -> Verdict {
    let mut by_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in history.ops() {
        by_key.entry(op.op.key()).or_default().push(op);
    }
    let mut undecided = None;
    for (key, ops) in by_key {
        match key::check_key(key, &ops, limit) {
            KeyVerdict::Linearizable => {}
            KeyVerdict::Violation(v) => return Verdict::NotLinearizable(v),
            KeyVerdict::TooBig(explored) => {
                undecided.get_or_insert(Verdict::Unknown {
                    key: key.to_string(),
                    explored,
                });
            }
        }
    }
    undecided.unwrap_or(Verdict::Linearizable)
}
