//! Linearizable reads through the protocol's read index instead of the log.
//!
//! ```text
//!  Get ──► Unsent ──(leader here: Read; else ReadIndex to the leader's service)──► Sent
//!                                        Sent ──(read point i)──► Confirmed(i)
//!                  Confirmed(i) ──(state machine applied ≥ i)──► answered from the local store
//! ```
//!
//! A read the leader could not confirm goes back to `Unsent` and is tried again until its
//! deadline; reads have no effects, so a read that timed out simply failed.

use std::collections::HashMap;
use std::time::Instant;
use synod_messages::NodeId;

/// Where a read came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A client of this node.
    Local,
    /// Another node's service, for its read `id`.
    Remote { node: NodeId, id: u64 },
}

/// How far a read got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Waiting to be sent to the leader.
    Unsent,
    /// Sent to this node's protocol or to another node, at this time.
    Sent(NodeId, Instant),
    /// Safe to serve once the state machine applied this position.
    Confirmed(u64),
}

/// One read in flight.
#[derive(Debug)]
pub(crate) struct Read<W> {
    pub(crate) key: String,
    pub(crate) origin: Origin,
    pub(crate) state: State,
    pub(crate) deadline: Instant,
    pub(crate) waiters: Vec<W>,
}

/// The reads of one node, by id.
#[derive(Debug)]
pub(crate) struct Reads<W> {
    next: u64,
    pub(crate) all: HashMap<u64, Read<W>>,
}

impl<W> Reads<W> {
    /// No reads yet; ids count up from a random point, so that a leader's late answer to a read
    /// of this node's previous life (before a restart) names no read of this one: taken as an
    /// answer to a new read, its older read point could serve a stale value.
    pub(crate) fn new() -> Self {
        Self::counting_from(rand::random::<u64>() >> 1)
    }

    /// No reads yet; the first id is `first + 1`.
    pub(crate) fn counting_from(first: u64) -> Self {
        Self {
            next: first,
            all: HashMap::new(),
        }
    }

    /// Registers a read; returns its id.
    pub(crate) fn add(
        &mut self,
        key: String,
        origin: Origin,
        deadline: Instant,
        waiters: Vec<W>,
        state: State,
    ) -> u64 {
        self.next += 1;
        self.all.insert(
            self.next,
            Read {
                key,
                origin,
                state,
                deadline,
                waiters,
            },
        );
        self.next
    }

    /// Ids of reads to (re)send to `leader`: unsent, or sent elsewhere, or sent long ago.
    pub(crate) fn due(
        &mut self,
        leader: NodeId,
        now: Instant,
        resend_after: std::time::Duration,
    ) -> Vec<u64> {
        let mut due = Vec::new();
        for (id, r) in &mut self.all {
            let send = match r.state {
                State::Unsent => true,
                State::Sent(to, at) => to != leader || now.duration_since(at) >= resend_after,
                State::Confirmed(_) => false,
            };
            if send && r.origin == Origin::Local {
                r.state = State::Sent(leader, now);
                due.push(*id);
            }
        }
        due.sort_unstable();
        due
    }

    /// The leader answered read `id`: confirmed at `index`, or not (`None`).
    pub(crate) fn answer(&mut self, id: u64, index: Option<u64>) {
        if let Some(r) = self.all.get_mut(&id) {
            r.state = match index {
                Some(i) => State::Confirmed(i),
                None => State::Unsent,
            };
        }
    }

    /// Removes and returns the local reads confirmed at or below `applied`.
    pub(crate) fn ready(&mut self, applied: u64) -> Vec<Read<W>> {
        let ids: Vec<u64> = self
            .all
            .iter()
            .filter(|(_, r)| {
                matches!(r.state, State::Confirmed(i) if i <= applied) && r.origin == Origin::Local
            })
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.all.remove(&id))
            .collect()
    }

    /// Removes and returns the reads past their deadline.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Read<W>> {
        let ids: Vec<u64> = self
            .all
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.all.remove(&id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_read_is_served_only_once_its_read_point_is_applied() {
        let now = Instant::now();
        let mut reads: Reads<u8> = Reads::counting_from(0);
        let id = reads.add(
            "k".into(),
            Origin::Local,
            now + Duration::from_secs(1),
            vec![1],
            State::Unsent,
        );
        assert_eq!(reads.due(1, now, Duration::from_secs(1)), vec![id]);
        assert!(
            reads.due(1, now, Duration::from_secs(1)).is_empty(),
            "sent once"
        );
        reads.answer(id, Some(10));
        assert!(reads.ready(9).is_empty());
        assert_eq!(reads.ready(10).len(), 1);
    }

    #[test]
    fn a_restarted_node_does_not_reuse_the_read_ids_of_its_previous_life() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut before: Reads<u8> = Reads::new();
        let old = before.add("k".into(), Origin::Local, deadline, vec![], State::Unsent);
        let mut after: Reads<u8> = Reads::new();
        let new = after.add("k".into(), Origin::Local, deadline, vec![], State::Unsent);
        assert_ne!(old, new);
        // The old life's answer finds nothing to confirm.
        after.answer(old, Some(1));
        assert_eq!(after.all[&new].state, State::Unsent);
    }

    #[test]
    fn an_unconfirmed_read_is_sent_again_and_expires() {
        let now = Instant::now();
        let mut reads: Reads<u8> = Reads::new();
        let id = reads.add(
            "k".into(),
            Origin::Local,
            now + Duration::from_millis(5),
            vec![],
            State::Unsent,
        );
        reads.due(1, now, Duration::from_secs(1));
        reads.answer(id, None);
        assert_eq!(
            reads.due(2, now, Duration::from_secs(1)),
            vec![id],
            "retried at the new leader"
        );
        assert_eq!(reads.expired(now + Duration::from_millis(10)).len(), 1);
        assert!(reads.all.is_empty());
    }
}
