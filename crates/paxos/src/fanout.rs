//! Which acceptors a leader sends its Accepts to: a majority of them, its own first, plus
//! `spare_acceptors` spares ("thrifty" phase 2). A value is chosen once a majority accepted
//! it, whichever majority: the acceptors left out do not write every batch to their disks, and
//! their nodes' learners get the chosen values from the leader (`Chosen`), as every learner
//! does. Spares keep a slow or dead acceptor from holding up every write: with one spare, a
//! majority answers without any single one of them.
//!
//! ```text
//!   5 acceptors, node 1 leads, spare_acceptors = 1 (a majority of 3, and 1 spare):
//!     order [1, 2, 3, 4 | 5]    fed: 1, 2, 3, 4    left out: 5
//!   a slot waits a heartbeat round for a majority, 2 and 3 left an Accept unanswered as
//!   long, and 5 answered within two heartbeat rounds: 5 takes 2's place, 2 goes last
//!     order [1, 5, 3, 4 | 2]    (3 stays: no one else left out is known to be up)
//! ```
//!
//! The leader replaces nothing while the spares cover for a silent acceptor (no slot waits),
//! and feeds no acceptor left out that it has not heard from lately: a slow acceptor is still
//! better fed than a dead one. (The wait is `heartbeat_ticks`, or `resend_ticks` if shorter, at
//! least two ticks, as ticks are coarse.)
//!
//! Only the slots not chosen yet go to an acceptor that starts being fed (its window opens
//! where it stopped, and chosen slots leave the leader's pending set). Every acceptor still
//! gets the leader's read barriers (check-quorum, reads) and its resends (an Accept not chosen
//! after `resend_ticks` goes to all of them), so liveness never depends on this choice.

use synod_messages::NodeId;

/// The leader's order of preference among the acceptors it has a window for.
#[derive(Debug)]
pub(crate) struct Fanout {
    /// This node: its own acceptor goes first.
    me: NodeId,
    /// The acceptors, the first `width` of them fed.
    order: Vec<NodeId>,
    /// How many of `order` are fed.
    width: usize,
}

impl Fanout {
    /// Feeds `width` acceptors, `me`'s own first.
    pub(crate) fn new(me: NodeId, width: usize) -> Self {
        Self {
            me,
            order: Vec::new(),
            width,
        }
    }

    /// Acceptor `a` can be fed (the leader opened a window for it): last in the order, or
    /// first if it is this node's own (whose promise may come after a majority's).
    pub(crate) fn add(&mut self, a: NodeId) {
        if self.order.contains(&a) {
            return;
        }
        if a == self.me {
            self.order.insert(0, a);
        } else {
            self.order.push(a);
        }
    }

    /// Whether the leader sends `a` its Accepts.
    pub(crate) fn feeds(&self, a: NodeId) -> bool {
        self.fed().any(|x| x == a)
    }

    /// The acceptors fed now.
    pub(crate) fn fed(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.order.iter().copied().take(self.width)
    }

    /// Each of `silent` that is fed trades its place with the first acceptor left out that
    /// is `healthy`, while there is one, and goes to the back. True if any did. (With no
    /// healthy one left out, a slow acceptor is still better fed than a dead one.)
    pub(crate) fn replace(&mut self, silent: &[NodeId], healthy: impl Fn(NodeId) -> bool) -> bool {
        let mut changed = false;
        for &s in silent {
            let Some(at) = self.fed().position(|a| a == s) else {
                continue;
            };
            let Some(sub) = (self.width..self.order.len()).find(|&i| healthy(self.order[i])) else {
                break;
            };
            let sub = self.order.remove(sub);
            let out = std::mem::replace(&mut self.order[at], sub);
            self.order.push(out);
            changed = true;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fanout(me: NodeId, width: usize, added: &[NodeId]) -> Fanout {
        let mut f = Fanout::new(me, width);
        for &a in added {
            f.add(a);
        }
        f
    }

    fn fed(f: &Fanout) -> Vec<NodeId> {
        f.fed().collect()
    }

    #[test]
    fn feeds_the_first_width_acceptors_added_each_once_its_own_first() {
        let f = fanout(1, 4, &[1, 2, 3, 3, 4, 5]);
        assert_eq!(f.order, vec![1, 2, 3, 4, 5]);
        assert_eq!(fed(&f), vec![1, 2, 3, 4]);
        assert!(f.feeds(1) && f.feeds(4) && !f.feeds(5));
        // Its own acceptor's promise came after a majority's: it still goes first.
        let late = fanout(3, 3, &[1, 2, 4, 3]);
        assert_eq!(fed(&late), vec![3, 1, 2]);
    }

    #[test]
    fn a_silent_acceptor_trades_places_with_the_first_healthy_one_left_out() {
        let mut f = fanout(1, 3, &[1, 2, 3, 4, 5]);
        assert!(f.replace(&[2, 3], |a| a == 5));
        assert_eq!(f.order, vec![1, 5, 3, 4, 2], "only 5 is healthy: 3 stays");
        assert!(f.replace(&[1], |a| a != 2));
        assert_eq!(fed(&f), vec![4, 5, 3], "its own acceptor too");
    }

    #[test]
    fn with_no_healthy_one_left_out_nothing_changes() {
        let mut f = fanout(1, 3, &[1, 2, 3, 4, 5]);
        assert!(!f.replace(&[2], |_| false));
        assert!(!f.replace(&[4], |_| true), "4 was not fed");
        let mut all = fanout(1, 5, &[1, 2, 3, 4, 5]);
        assert!(!all.replace(&[2], |_| true));
        assert_eq!(fed(&all), vec![1, 2, 3, 4, 5]);
    }
}
