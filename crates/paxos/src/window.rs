//! A leader's pipeline to one acceptor, as Raft's per-follower progress: at most
//! `max_inflight` Accept messages unanswered. Slots proposed meanwhile go out together in the
//! next message, one sync at the acceptor for all of them; slots chosen meanwhile by the
//! other acceptors are not sent to it at all, so a slower acceptor does less, not more.
//!
//! ```text
//!   pending slots   ─── 41 42 43 44 45 46 47 ───
//!   acceptor 2:     [41-43 in flight][44-45 in flight]   next = 46 (window full)
//!   acceptor 3:     [44-45 in flight]                    next = 46 → sends 46-47 now
//! ```
//!
//! An acceptor answers in order what reaches it in order, so once it answers a read barrier
//! sent after an Accept, that Accept will never be answered (lost, or all its slots compacted
//! there): its place is freed then, not `resend_ticks` later, and its slots not chosen yet go
//! to that acceptor again with its next Accept.

use std::collections::VecDeque;
use synod_messages::paxos::Slot;

/// The Accept messages out to one acceptor.
#[derive(Debug)]
pub(crate) struct Window {
    /// The first slot not yet sent.
    next: Slot,
    /// The unanswered messages, oldest first.
    inflight: VecDeque<Sent>,
}

/// One unanswered Accept message.
#[derive(Debug)]
struct Sent {
    /// Its first slot.
    first: Slot,
    /// Its last slot.
    last: Slot,
    /// The tick it left.
    at: u64,
    /// The last read barrier sent before it.
    after_barrier: u64,
}

impl Window {
    /// A window that sends from `next` on.
    pub(crate) fn new(next: Slot) -> Self {
        Self {
            next,
            inflight: VecDeque::new(),
        }
    }

    /// The first slot not yet sent.
    pub(crate) fn next(&self) -> Slot {
        self.next
    }

    /// The tick its oldest unanswered message left, if any.
    pub(crate) fn oldest_unanswered(&self) -> Option<u64> {
        self.inflight.front().map(|m| m.at)
    }

    /// Whether fewer than `max` messages are unanswered.
    pub(crate) fn has_room(&self, max: usize) -> bool {
        self.inflight.len() < max
    }

    /// A message carrying slots `first..=last` left at tick `now`, after read barrier
    /// `barrier` (barrier numbers only grow).
    pub(crate) fn sent(&mut self, first: Slot, last: Slot, now: u64, barrier: u64) {
        self.inflight.push_back(Sent {
            first,
            last,
            at: now,
            after_barrier: barrier,
        });
        self.next = self.next.max(last + 1);
    }

    /// The acceptor accepted slots up to `top`: the messages it answered are done (it
    /// answers in order).
    pub(crate) fn answered(&mut self, top: Slot) {
        while self.inflight.front().is_some_and(|m| m.last <= top) {
            self.inflight.pop_front();
        }
    }

    /// The acceptor answered read barrier `answered`: messages sent before it and still
    /// unanswered never will be. Once none is left in flight, what they carried is to be sent
    /// again (the caller sends only the slots still pending); with later messages still out,
    /// it waits for the leader's resend. True if that freed a place.
    pub(crate) fn barriers_answered(&mut self, answered: u64) -> bool {
        let mut first_lost = None;
        while let Some(first) = self
            .inflight
            .front()
            .filter(|m| m.after_barrier < answered)
            .map(|m| m.first)
        {
            self.inflight.pop_front();
            first_lost.get_or_insert(first);
        }
        if let Some(first) = first_lost.filter(|_| self.inflight.is_empty()) {
            self.next = self.next.min(first);
        }
        first_lost.is_some()
    }

    /// Forgets messages unanswered for `ticks` by `now`: lost, or every slot in them was
    /// compacted there (the acceptor then does not answer), and no barrier answered since told
    /// so. Slots of theirs still pending are sent again by the leader's resend.
    pub(crate) fn expire(&mut self, now: u64, ticks: u64) {
        while self.inflight.front().is_some_and(|m| now - m.at >= ticks) {
            self.inflight.pop_front();
        }
    }
}
