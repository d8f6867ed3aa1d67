//! Shrinking one key's search before it starts, without changing its answer.
//!
//! An operation with no answer (a write that timed out) may take effect at any time after its
//! call, or never, so every such write doubles what the search may have to try. Two facts about
//! the values later answers report remove most of them:
//!
//! - **Nobody could have seen it: drop it.** If no other operation that may come after the
//!   unanswered write needs the register to hold the value it writes, some linearization leaves
//!   it out: in any linearization that has it, what follows it up to the next write only reads
//!   that value, and nothing does, so taking it out changes no answer. Dropping one write can
//!   leave another unseen, so this repeats until nothing changes.
//! - **Somebody saw it: it returned by then.** If the unanswered write is the only one that
//!   writes its value (and that value is not the initial absent one), every answered operation
//!   that reports the value comes after it in any linearization. So it took effect before the
//!   first of those answers returned, and is searched as if it had returned then: it must be
//!   linearized, before anything called later.
//!
//! Both keep the set of linearizations that matter: the history is linearizable exactly when
//! the shrunk one is (tests/random.rs compares the two searches on random small histories).

use crate::model::{State, Step, ABSENT};
use crate::search::Op;
use std::collections::HashMap;

/// The value an operation leaves in the register when it changes it, if it can change it.
fn writes(step: Step) -> Option<State> {
    match step {
        Step::Set(v) => Some(v),
        Step::Cas { current, then } => (then != current).then_some(then),
        Step::CasBlind { expected, value } => (value != expected).then_some(value),
        Step::Read(_) | Step::Impossible => None,
    }
}

/// The value the register must hold for an answered operation's answer.
fn reports(step: Step) -> Option<State> {
    match step {
        Step::Read(v) => Some(v),
        Step::Cas { current, .. } => Some(current),
        Step::Set(_) | Step::CasBlind { .. } | Step::Impossible => None,
    }
}

/// The value the register may have to hold for the operation to act as it does: what it
/// reports, or what an unanswered compare-and-swap expects in order to swap.
fn needs(step: Step) -> Option<State> {
    match step {
        Step::CasBlind { expected, .. } => Some(expected),
        other => reports(other),
    }
}

/// The operations of `ops` the search needs, each with its index in `ops`; unanswered writes
/// that an answer proves done get that answer's return time.
pub(crate) fn prune(ops: &[Op]) -> Vec<(usize, Op)> {
    let mut needers: HashMap<State, Vec<usize>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(v) = needs(op.step) {
            needers.entry(v).or_default().push(i);
        }
    }
    let mut kept = vec![true; ops.len()];
    let mut changed = true;
    while changed {
        changed = false;
        for (i, op) in ops.iter().enumerate() {
            if !kept[i] || op.ret.is_some() {
                continue;
            }
            // Could some kept operation that may follow this one need what it writes?
            let seen = writes(op.step).is_some_and(|v| {
                needers.get(&v).is_some_and(|js| {
                    js.iter()
                        .any(|&j| j != i && kept[j] && ops[j].ret.is_none_or(|r| r >= op.call))
                })
            });
            if !seen {
                kept[i] = false;
                changed = true;
            }
        }
    }

    let mut writers: HashMap<State, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(v) = writes(op.step).filter(|_| kept[i]) {
            *writers.entry(v).or_default() += 1;
        }
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        if !kept[i] {
            continue;
        }
        let mut op = *op;
        if op.ret.is_none() {
            if let Some(v) = writes(op.step) {
                if v != ABSENT && writers.get(&v) == Some(&1) {
                    op.ret = first_report(ops, &kept, &needers, v).map(|r| r.max(op.call));
                }
            }
        }
        out.push((i, op));
    }
    out
}

/// The earliest return of a kept, answered operation that reports `v`.
fn first_report(
    ops: &[Op],
    kept: &[bool],
    needers: &HashMap<State, Vec<usize>>,
    v: State,
) -> Option<u64> {
    needers
        .get(&v)?
        .iter()
        .filter(|&&j| kept[j] && reports(ops[j].step) == Some(v))
        .filter_map(|&j| ops[j].ret)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{search, Found};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn op(step: Step, call: u64, ret: Option<u64>) -> Op {
        Op { step, call, ret }
    }

    fn kept(ops: &[Op]) -> Vec<(usize, Option<u64>)> {
        prune(ops).into_iter().map(|(i, o)| (i, o.ret)).collect()
    }

    #[test]
    fn an_unseen_unknown_write_is_dropped() {
        let ops = [
            op(Step::Set(1), 0, None),
            op(Step::Read(ABSENT), 5, Some(6)),
        ];
        assert_eq!(kept(&ops), vec![(1, Some(6))]);
    }

    #[test]
    fn a_read_that_returned_before_the_call_does_not_see_it() {
        let ops = [op(Step::Read(1), 0, Some(1)), op(Step::Set(1), 5, None)];
        assert_eq!(kept(&ops), vec![(0, Some(1))]);
    }

    #[test]
    fn a_seen_unique_write_returns_by_the_first_answer_that_saw_it() {
        let ops = [
            op(Step::Set(1), 0, None),
            op(Step::Read(1), 7, Some(9)),
            op(Step::Read(1), 3, Some(8)),
        ];
        assert_eq!(kept(&ops), vec![(0, Some(8)), (1, Some(9)), (2, Some(8))]);
    }

    #[test]
    fn a_write_of_a_value_written_twice_stays_unanswered() {
        let ops = [
            op(Step::Set(1), 0, None),
            op(Step::Set(1), 1, Some(2)),
            op(Step::Read(1), 3, Some(4)),
        ];
        assert_eq!(kept(&ops)[0], (0, None));
    }

    #[test]
    fn dropping_one_write_can_leave_another_unseen() {
        // The blind cas expects 1, so it keeps the write of 1 alive until the cas itself goes:
        // nobody needs the 2 it would write.
        let ops = [
            op(Step::Set(1), 0, None),
            op(
                Step::CasBlind {
                    expected: 1,
                    value: 2,
                },
                1,
                None,
            ),
        ];
        assert_eq!(kept(&ops), vec![]);
    }

    /// A random history of one register over values `0..4` (0 = absent): operations take
    /// effect at a random point inside their span; unanswered writes took effect or not; and
    /// sometimes one answer is corrupted.
    fn random_history(rng: &mut StdRng) -> Vec<Op> {
        let n = rng.gen_range(1..11);
        let mut planned: Vec<(u64, Op, bool)> = Vec::new(); // (point, op, applied)
        for _ in 0..n {
            let call = rng.gen_range(0..40);
            let point = call + rng.gen_range(0..10);
            let ret = point + rng.gen_range(0..10);
            let step = match rng.gen_range(0..3) {
                0 => Step::Set(rng.gen_range(0..4)),
                1 => Step::Read(ABSENT),
                _ => Step::CasBlind {
                    expected: rng.gen_range(0..4),
                    value: rng.gen_range(0..4),
                },
            };
            let unknown = !matches!(step, Step::Read(_)) && rng.gen_bool(0.5);
            let applied = !unknown || rng.gen_bool(0.5);
            let ret = (!unknown).then_some(ret);
            planned.push((point, Op { step, call, ret }, applied));
        }
        planned.sort_by_key(|p| p.0);
        let mut state = ABSENT;
        let mut ops = Vec::new();
        for (_, mut op, applied) in planned {
            let before = state;
            if applied {
                state = op.step.apply(state).unwrap_or(state);
            }
            op.step = match op.step {
                Step::Read(_) => Step::Read(before),
                Step::CasBlind { .. } if op.ret.is_some() => Step::Cas {
                    current: before,
                    then: state,
                },
                other => other,
            };
            ops.push(op);
        }
        if rng.gen_bool(0.5) {
            let i = rng.gen_range(0..ops.len());
            ops[i].step = match ops[i].step {
                Step::Read(_) => Step::Read(rng.gen_range(0..4)),
                Step::Cas { then, .. } => Step::Cas {
                    current: rng.gen_range(0..4),
                    then,
                },
                other => other,
            };
        }
        ops
    }

    #[test]
    fn pruning_never_changes_the_verdict() {
        let (mut yes, mut no) = (0, 0);
        for seed in 0..20_000 {
            let ops = random_history(&mut StdRng::seed_from_u64(seed));
            let whole = search(&ops, u64::MAX).found == Found::Linearizable;
            let pruned: Vec<Op> = prune(&ops).into_iter().map(|(_, o)| o).collect();
            let shrunk = search(&pruned, u64::MAX).found == Found::Linearizable;
            assert_eq!(whole, shrunk, "seed {seed}: {ops:?} pruned to {pruned:?}");
            if whole {
                yes += 1;
            } else {
                no += 1;
            }
        }
        // Both verdicts must be well represented for the comparison to mean anything.
        assert!(yes > 2_000 && no > 2_000, "{yes} linearizable, {no} not");
    }

    #[test]
    fn an_unknown_delete_is_kept_while_absent_is_read() {
        let ops = [
            op(Step::Set(1), 0, Some(1)),
            op(Step::Set(ABSENT), 2, None),
            op(Step::Read(ABSENT), 3, Some(4)),
        ];
        assert_eq!(kept(&ops), vec![(0, Some(1)), (1, None), (2, Some(4))]);
    }
}
