//! The Wing–Gong / Lowe linearizability search over the operations of one key.
//!
//! Walk the time-ordered events. At a call whose operation can take effect now (the model
//! accepts its recorded answer in the current state), linearize it: apply it, take its call
//! and return out of the list and restart from the first event. At a return whose operation is
//! not linearized yet, nothing can be linearized before that point any more: undo the last
//! choice and try the event after it. A `(linearized set, register state)` pair seen before is
//! not explored twice: the rest of the search only depends on that pair.
//!
//! Operations without a return (unknown outcome) have only a call event: the search may
//! linearize them anywhere after their call, or never. It succeeds as soon as every operation
//! that has a return is linearized.

use crate::bitset::Bitset;
use crate::events::{Events, END};
use crate::model::{State, Step, ABSENT};
use std::collections::HashSet;

/// One operation of the key, ready to search.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    /// Its effect and recorded answer.
    pub(crate) step: Step,
    /// Invocation time.
    pub(crate) call: u64,
    /// Answer time; `None` when it may happen at any time after `call`, or never.
    pub(crate) ret: Option<u64>,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// A linearization exists.
    Linearizable,
    /// None exists; `longest` is a longest order of operations (indices) the search could build
    /// that respects real time and the model.
    Stuck {
        /// Indices into the searched operations, in linearization order.
        longest: Vec<usize>,
    },
    /// The search explored `limit` states without deciding.
    TooBig,
}

/// The search result and how many distinct states it explored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Search {
    /// The verdict.
    pub(crate) found: Found,
    /// Distinct `(linearized set, state)` pairs visited.
    pub(crate) explored: u64,
}

/// Searches for a linearization of `ops`, visiting at most `limit` distinct states.
pub(crate) fn search(ops: &[Op], limit: u64) -> Search {
    let spans: Vec<(u64, Option<u64>)> = ops.iter().map(|o| (o.call, o.ret)).collect();
    let mut events = Events::new(&spans);
    let must = ops.iter().filter(|o| o.ret.is_some()).count();
    let mut done = 0; // linearized operations that have a return
    let mut linearized = Bitset::new(ops.len());
    let mut seen: HashSet<(Bitset, State)> = HashSet::new();
    let mut state = ABSENT;
    // (call event, state before it) of each linearized operation, in order.
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut longest: Vec<usize> = Vec::new();
    let mut explored = 0;

    let mut e = events.first();
    while done < must {
        if e != END && events.is_call(e) {
            let i = events.op(e);
            if let Some(next) = ops[i].step.apply(state) {
                linearized.insert(i);
                if seen.insert((linearized.clone(), next)) {
                    explored += 1;
                    if explored > limit {
                        return Search {
                            found: Found::TooBig,
                            explored,
                        };
                    }
                    stack.push((e, state));
                    state = next;
                    done += usize::from(ops[i].ret.is_some());
                    events.lift(e);
                    if stack.len() > longest.len() {
                        longest = stack.iter().map(|&(c, _)| events.op(c)).collect();
                    }
                    e = events.first();
                    continue;
                }
                linearized.remove(i);
            }
            e = events.next(e);
        } else {
            // A pending return (or the end): backtrack.
            let Some((c, before)) = stack.pop() else {
                return Search {
                    found: Found::Stuck { longest },
                    explored,
                };
            };
            let i = events.op(c);
            linearized.remove(i);
            state = before;
            done -= usize::from(ops[i].ret.is_some());
            events.unlift(c);
            e = events.next(c);
        }
    }
    Search {
        found: Found::Linearizable,
        explored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: State = 1;

    fn op(step: Step, call: u64, ret: Option<u64>) -> Op {
        Op { step, call, ret }
    }

    #[test]
    fn empty_and_unknown_only_are_linearizable() {
        assert_eq!(search(&[], 10).found, Found::Linearizable);
        let ops = [op(Step::Set(ONE), 0, None)];
        assert_eq!(search(&ops, 10).found, Found::Linearizable);
    }

    #[test]
    fn overlapping_read_may_go_first() {
        // put 1 [0, 10], read absent [5, 6]: the read linearizes before the put.
        let ops = [
            op(Step::Set(ONE), 0, Some(10)),
            op(Step::Read(ABSENT), 5, Some(6)),
        ];
        assert_eq!(search(&ops, 100).found, Found::Linearizable);
    }

    #[test]
    fn stale_read_is_stuck_with_the_longest_prefix() {
        let ops = [
            op(Step::Set(ONE), 0, Some(1)),
            op(Step::Read(ABSENT), 2, Some(3)),
        ];
        assert_eq!(search(&ops, 100).found, Found::Stuck { longest: vec![0] });
    }

    #[test]
    fn equal_times_overlap() {
        // The read is called exactly when the put returns: concurrent, so it may go first.
        let ops = [
            op(Step::Set(ONE), 0, Some(5)),
            op(Step::Read(ABSENT), 5, Some(6)),
        ];
        assert_eq!(search(&ops, 100).found, Found::Linearizable);
    }

    #[test]
    fn the_limit_stops_the_search() {
        let ops: Vec<Op> = (0..20).map(|_| op(Step::Set(ONE), 0, Some(1))).collect();
        let s = search(&ops, 5);
        assert_eq!(s.found, Found::TooBig);
        assert_eq!(s.explored, 6);
    }
}
