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
//!   a slot waits a heartbeat round for a majority, and 2 and 3 left an Accept unanswered
//!   as long: they go to the back, behind the others, and 5 is fed from then on
//!     order [1, 4, 5, 2 | 3]
//! ```
//!
//! Only the slots not chosen yet go to an acceptor that starts being fed (its window opens
//! where it stopped, and chosen slots leave the leader's pending set). Every acceptor still
//! gets the leader's read barriers (check-quorum, reads) and its resends (an Accept not chosen
//! after `resend_ticks` goes to all of them), so liveness never depends on this choice.

use std::collections::BTreeSet;
use synod_messages::NodeId;

/// The leader's order of preference among the acceptors it has a window for.
#[derive(Debug)]
pub(crate) struct Fanout {
    /// The acceptors, the first `width` of them fed.
    order: Vec<NodeId>,
    /// How many of `order` are fed.
    width: usize,
}

impl Fanout {
    /// Feeds `width` acceptors.
    pub(crate) fn new(width: usize) -> Self {
        Self {
            order: Vec::new(),
            width,
        }
    }

    /// Acceptor `a` can be fed (the leader opened a window for it): last in the order.
    pub(crate) fn add(&mut self, a: NodeId) {
        if !self.order.contains(&a) {
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

    /// `silent` are suspected slow or gone: they go to the back (in their order), behind every
    /// other acceptor, so the first ones left out take their places. True if that changed who
    /// is fed.
    pub(crate) fn demote(&mut self, silent: &[NodeId]) -> bool {
        let fed = |f: &Self| f.fed().collect::<BTreeSet<NodeId>>();
        let before = fed(self);
        let (mut order, back): (Vec<NodeId>, Vec<NodeId>) =
            self.order.iter().partition(|a| !silent.contains(a));
        order.extend(back);
        self.order = order;
        fed(self) != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fanout(width: usize, order: &[NodeId]) -> Fanout {
        let mut f = Fanout::new(width);
        for &a in order {
            f.add(a);
        }
        f
    }

    fn fed(f: &Fanout) -> Vec<NodeId> {
        f.fed().collect()
    }

    #[test]
    fn feeds_the_first_width_acceptors_added_each_once() {
        let f = fanout(4, &[1, 2, 3, 3, 4, 5]);
        assert_eq!(f.order, vec![1, 2, 3, 4, 5]);
        assert_eq!(fed(&f), vec![1, 2, 3, 4]);
        assert!(f.feeds(1) && f.feeds(4) && !f.feeds(5));
    }

    #[test]
    fn silent_acceptors_go_behind_every_other_so_the_left_out_take_their_places() {
        let mut f = fanout(3, &[2, 3, 4, 5]);
        assert!(f.demote(&[3, 4]));
        assert_eq!(f.order, vec![2, 5, 3, 4]);
        assert_eq!(
            fed(&f),
            vec![2, 5, 3],
            "5 fed; 3 only because no one else is left"
        );
        // Its own acceptor is demoted as any other.
        let mut own = fanout(3, &[1, 2, 3, 4, 5]);
        assert!(own.demote(&[1]));
        assert_eq!(fed(&own), vec![2, 3, 4]);
    }

    #[test]
    fn with_no_one_left_out_a_demotion_changes_nothing() {
        let mut all = fanout(4, &[2, 3, 4, 5]);
        assert!(!all.demote(&[2]));
        assert_eq!(fed(&all), vec![3, 4, 5, 2]);
        let mut f = fanout(3, &[2, 3, 4, 5]);
        assert!(!f.demote(&[5]), "5 was not fed");
    }
}
