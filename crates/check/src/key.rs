//! Checking the history of one key, and narrowing a failure down to its smallest prefix.
//!
//! The prefix of the history at time `t` holds the operations called up to `t`; those still
//! running at `t` are cut: a write becomes "outcome unknown", a read is dropped. Any
//! linearization of the whole history, restricted to the operations linearized by `t`, is one
//! of the prefix, so once a prefix fails every longer one fails too. A prefix can only start
//! failing when an answer arrives, so the window is found by bisecting over answer times.

use crate::history::{Operation, Outcome};
use crate::model::{Interner, Step};
use crate::prune;
use crate::render;
use crate::search::{self, Found, Op};
use crate::verdict::Violation;

/// The conclusion for one key.
#[derive(Debug)]
pub(crate) enum KeyVerdict {
    /// Linearizable.
    Linearizable,
    /// Not linearizable.
    Violation(Violation),
    /// The search gave up after this many states.
    TooBig(u64),
}

/// Checks the operations of `key`, visiting at most `limit` states per search.
pub(crate) fn check_key(key: &str, ops: &[&Operation], limit: u64) -> KeyVerdict {
    let mut checked: Vec<&Operation> = ops.iter().copied().filter(|o| counts(o)).collect();
    checked.sort_by_key(|o| o.call); // stable: ties keep the recorded order
    let mut times: Vec<u64> = checked
        .iter()
        .filter_map(|o| o.ret().map(|r| r.max(o.call)))
        .collect();
    times.sort_unstable();
    times.dedup();
    let Some(&last) = times.last() else {
        return KeyVerdict::Linearizable; // nothing was answered: nothing to explain
    };
    let whole = Prefix::at(&checked, last);
    let first = search::search(&whole.ops, limit);
    let longest = match first.found {
        Found::Linearizable => return KeyVerdict::Linearizable,
        Found::TooBig => return KeyVerdict::TooBig(first.explored),
        Found::Stuck { longest } => longest,
    };
    // Bisect for the first answer time whose prefix fails; the last one is known to.
    let (mut lo, mut hi) = (0, times.len() - 1);
    let mut failing = (whole, longest);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let prefix = Prefix::at(&checked, times[mid]);
        match search::search(&prefix.ops, limit).found {
            // Undecided counts as "not shown to fail": the window stays correct, maybe larger.
            Found::Linearizable | Found::TooBig => lo = mid + 1,
            Found::Stuck { longest } => {
                hi = mid;
                failing = (prefix, longest);
            }
        }
    }
    KeyVerdict::Violation(violation(key, &checked, times[hi], &failing.0, &failing.1))
}

/// Whether an operation takes part in the check: failed ones never happened and unanswered
/// reads constrain nothing.
fn counts(o: &Operation) -> bool {
    match o.outcome {
        Outcome::Ok { .. } => true,
        Outcome::Failed => false,
        Outcome::Unknown => o.op.is_write(),
    }
}

/// The operations of a prefix, ready to search, with where each came from.
struct Prefix {
    /// Index in the checked operations of every operation of the prefix, as reported.
    window: Vec<usize>,
    /// Index in the checked operations of each searched operation (those the prefix needs).
    sources: Vec<usize>,
    ops: Vec<Op>,
}

impl Prefix {
    /// The prefix at time `t` of `checked` (sorted by call).
    fn at(checked: &[&Operation], t: u64) -> Self {
        let mut values = Interner::default();
        let mut prefix = Prefix {
            window: Vec::new(),
            sources: Vec::new(),
            ops: Vec::new(),
        };
        for (i, o) in checked.iter().enumerate() {
            if o.call > t {
                break;
            }
            let (result, ret) = match &o.outcome {
                Outcome::Ok { result, ret } if (*ret).max(o.call) <= t => {
                    (Some(result), Some((*ret).max(o.call)))
                }
                _ if o.op.is_write() => (None, None),
                _ => continue,
            };
            prefix.sources.push(i);
            prefix.ops.push(Op {
                step: Step::compile(&o.op, result, &mut values),
                call: o.call,
                ret,
            });
        }
        let (sources, ops) = prune::prune(&prefix.ops)
            .into_iter()
            .map(|(j, op)| (prefix.sources[j], op))
            .unzip();
        Prefix {
            window: prefix.sources,
            sources,
            ops,
        }
    }
}

/// The report for a failing prefix at time `t`, whose longest consistent order is `longest`.
fn violation(
    key: &str,
    checked: &[&Operation],
    t: u64,
    prefix: &Prefix,
    longest: &[usize],
) -> Violation {
    let ops: Vec<Operation> = prefix.window.iter().map(|&i| checked[i].clone()).collect();
    let breakers: Vec<String> = checked
        .iter()
        .filter(|o| o.ret().map(|r| r.max(o.call)) == Some(t))
        .map(|o| render::short(o))
        .collect();
    let mut explanation = format!(
        "no order of these {} operations respects both real time and the answers; the history \
         first breaks when [{}] returns at {t}",
        ops.len(),
        breakers.join(", ")
    );
    let impossible: Vec<String> = prefix
        .ops
        .iter()
        .zip(&prefix.sources)
        .filter(|(op, _)| op.step == Step::Impossible)
        .map(|(_, &i)| render::short(checked[i]))
        .collect();
    if !impossible.is_empty() {
        explanation += &format!(
            "; no state can give the answer of [{}]",
            impossible.join(", ")
        );
    }
    if longest.is_empty() {
        explanation += "; no operation can even go first";
    } else {
        let order: Vec<String> = longest
            .iter()
            .map(|&j| render::short(checked[prefix.sources[j]]))
            .collect();
        explanation += &format!(
            "; a longest consistent order covers {} of them: {}",
            longest.len(),
            order.join("; ")
        );
    }
    Violation {
        key: key.to_string(),
        ops,
        explanation,
    }
}
