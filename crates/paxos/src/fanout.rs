//! Which acceptors a leader sends its Accepts to: its own, and just enough others for a
//! majority, plus `spare_acceptors` spares ("thrifty" phase 2). A value is chosen once a
//! majority accepted it, whichever majority: the acceptors left out do not write every batch
//! to their disks, and their nodes' learners get the chosen values from the leader
//! (`Chosen`), as every learner does. Spares keep a slow or dead acceptor from holding up
//! every write: with one spare, a majority answers without any single one of the others.
//!
//! ```text
//!   5 acceptors, node 1 leads, spare_acceptors = 1 (its own + 2 for a majority + 1 spare):
//!     order [2, 3, 4 | 5]    fed: 1, 2, 3, 4    not fed: 5
//!   3 leaves an Accept unanswered for `suspect_ticks`: to the back, 5 is fed from then on
//!     order [2, 4, 5 | 3]
//! ```
//!
//! Only the slots not chosen yet go to an acceptor that starts being fed (its window opens
//! where it stopped, and chosen slots leave the leader's pending set). Every acceptor still
//! gets the leader's read barriers (check-quorum, reads) and its resends (an Accept not chosen
//! after `resend_ticks` goes to all of them), so liveness never depends on this choice.

use synod_messages::NodeId;

/// The leader's order of preference among the other acceptors.
#[derive(Debug)]
pub(crate) struct Fanout {
    /// This node: its own acceptor, if any, is always fed.
    me: NodeId,
    /// The other acceptors it has a window for, the first `width` of them fed.
    order: Vec<NodeId>,
    /// How many of `order` are fed.
    width: usize,
}

impl Fanout {
    /// Feeds `width` acceptors besides `me`'s own.
    pub(crate) fn new(me: NodeId, width: usize) -> Self {
        Self {
            me,
            order: Vec::new(),
            width,
        }
    }

    /// Acceptor `a` can be fed (the leader opened a window for it): last in the order.
    pub(crate) fn add(&mut self, a: NodeId) {
        if a != self.me && !self.order.contains(&a) {
            self.order.push(a);
        }
    }

    /// Whether the leader sends `a` its Accepts.
    pub(crate) fn feeds(&self, a: NodeId) -> bool {
        a == self.me || self.fed().any(|x| x == a)
    }

    /// The other acceptors fed now.
    pub(crate) fn fed(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.order.iter().copied().take(self.width)
    }

    /// `a` is suspected slow or gone: the first acceptor not fed takes its place, and `a`
    /// goes to the back. True if that changed who is fed.
    pub(crate) fn demote(&mut self, a: NodeId) -> bool {
        let Some(at) = self.order.iter().position(|&x| x == a) else {
            return false;
        };
        if at >= self.width || self.order.len() <= self.width {
            return false;
        }
        self.order.remove(at);
        self.order.push(a);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(f: &Fanout) -> Vec<NodeId> {
        f.fed().collect()
    }

    #[test]
    fn feeds_its_own_acceptor_and_the_first_width_others() {
        let mut f = Fanout::new(1, 3);
        for a in [1, 2, 3, 4, 5] {
            f.add(a);
        }
        assert_eq!(fed(&f), vec![2, 3, 4]);
        assert!(f.feeds(1) && f.feeds(4) && !f.feeds(5));
    }

    #[test]
    fn a_demoted_acceptor_goes_last_and_the_first_spare_takes_its_place() {
        let mut f = Fanout::new(1, 3);
        for a in [2, 3, 4, 5] {
            f.add(a);
        }
        assert!(f.demote(3));
        assert_eq!(fed(&f), vec![2, 4, 5]);
        assert!(!f.feeds(3));
        // One not fed, or with no one to take its place, stays where it is.
        assert!(!f.demote(3));
        let mut all = Fanout::new(1, 4);
        for a in [2, 3, 4, 5] {
            all.add(a);
        }
        assert!(!all.demote(2));
        assert_eq!(fed(&all), vec![2, 3, 4, 5]);
    }

    #[test]
    fn acceptors_added_twice_or_itself_count_once() {
        let mut f = Fanout::new(2, 1);
        for a in [2, 3, 3, 1] {
            f.add(a);
        }
        assert_eq!(fed(&f), vec![3]);
        assert_eq!(f.order, vec![3, 1]);
    }
}
