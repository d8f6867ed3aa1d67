//! The time-ordered list of call and return events the search walks, with O(1) removal and
//! re-insertion of an operation's two events (dancing links), as in Lowe's algorithm.

/// One event: an operation's call or return.
#[derive(Debug, Clone, Copy)]
struct Event {
    op: usize,
    is_call: bool,
    prev: usize,
    next: usize,
}

/// The end of the list (no event).
pub(crate) const END: usize = usize::MAX;

/// Index of the sentinel that precedes the first event.
const HEAD: usize = 0;

/// A doubly linked list of events sorted by time, calls before returns at equal times.
#[derive(Debug)]
pub(crate) struct Events {
    events: Vec<Event>,
    /// For each operation: its return event, if it has one.
    ret_of: Vec<Option<usize>>,
}

impl Events {
    /// The events of operations `0..spans.len()`, each given as `(call, ret)` (`None` = never
    /// returns).
    pub(crate) fn new(spans: &[(u64, Option<u64>)]) -> Self {
        // (time, returns-after-calls, op)
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(spans.len() * 2);
        for (op, &(call, ret)) in spans.iter().enumerate() {
            order.push((call, false, op));
            if let Some(ret) = ret {
                order.push((ret.max(call), true, op));
            }
        }
        order.sort_unstable();
        let sentinel = Event {
            op: usize::MAX,
            is_call: false,
            prev: END,
            next: if order.is_empty() { END } else { 1 },
        };
        let mut events = vec![sentinel];
        let mut ret_of = vec![None; spans.len()];
        let n = order.len();
        for (i, &(_, is_return, op)) in order.iter().enumerate() {
            let index = i + 1;
            if is_return {
                ret_of[op] = Some(index);
            }
            events.push(Event {
                op,
                is_call: !is_return,
                prev: index - 1,
                next: if index == n { END } else { index + 1 },
            });
        }
        Self { events, ret_of }
    }

    /// The first event still in the list.
    pub(crate) fn first(&self) -> usize {
        self.events[HEAD].next
    }

    /// The event after `e`.
    pub(crate) fn next(&self, e: usize) -> usize {
        self.events[e].next
    }

    /// The operation of event `e`.
    pub(crate) fn op(&self, e: usize) -> usize {
        self.events[e].op
    }

    /// Whether `e` is a call (else a return).
    pub(crate) fn is_call(&self, e: usize) -> bool {
        self.events[e].is_call
    }

    /// Takes the call event `e` and its operation's return event out of the list.
    pub(crate) fn lift(&mut self, e: usize) {
        self.unlink(e);
        if let Some(r) = self.ret_of[self.events[e].op] {
            self.unlink(r);
        }
    }

    /// Undoes the matching [`Self::lift`]; lifts must be undone in reverse order.
    pub(crate) fn unlift(&mut self, e: usize) {
        if let Some(r) = self.ret_of[self.events[e].op] {
            self.relink(r);
        }
        self.relink(e);
    }

    fn unlink(&mut self, e: usize) {
        let Event { prev, next, .. } = self.events[e];
        self.events[prev].next = next;
        if next != END {
            self.events[next].prev = prev;
        }
    }

    fn relink(&mut self, e: usize) {
        let Event { prev, next, .. } = self.events[e];
        self.events[prev].next = e;
        if next != END {
            self.events[next].prev = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(ev: &Events) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        let mut e = ev.first();
        while e != END {
            out.push((ev.op(e), ev.is_call(e)));
            e = ev.next(e);
        }
        out
    }

    #[test]
    fn sorted_with_calls_first_on_ties_and_lift_is_undone() {
        // op 0: [0, 5], op 1: [5, 7], op 2: [1, never]
        let mut ev = Events::new(&[(0, Some(5)), (5, Some(7)), (1, None)]);
        let all = vec![(0, true), (2, true), (1, true), (0, false), (1, false)];
        assert_eq!(walk(&ev), all);
        let c0 = ev.first();
        ev.lift(c0);
        assert_eq!(walk(&ev), vec![(2, true), (1, true), (1, false)]);
        let c2 = ev.first();
        ev.lift(c2);
        assert_eq!(walk(&ev), vec![(1, true), (1, false)]);
        ev.unlift(c2);
        ev.unlift(c0);
        assert_eq!(walk(&ev), all);
    }
}
