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

use std::collections::VecDeque;
use synod_messages::paxos::Slot;

/// The Accept messages out to one acceptor.
#[derive(Debug)]
pub(crate) struct Window {
    /// The first slot not yet sent.
    next: Slot,
    /// The last slot of each unanswered message and the tick it left, oldest first.
    inflight: VecDeque<(Slot, u64)>,
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

    /// Whether fewer than `max` messages are unanswered.
    pub(crate) fn has_room(&self, max: usize) -> bool {
        self.inflight.len() < max
    }

    /// A message carrying slots up to `last` left at tick `now`.
    pub(crate) fn sent(&mut self, last: Slot, now: u64) {
        self.inflight.push_back((last, now));
        self.next = self.next.max(last + 1);
    }

    /// The acceptor accepted slots up to `top`: the messages it answered are done (it
    /// answers in order).
    pub(crate) fn answered(&mut self, top: Slot) {
        while self.inflight.front().is_some_and(|&(last, _)| last <= top) {
            self.inflight.pop_front();
        }
    }

    /// Forgets messages unanswered for `ticks` by `now`: lost, or every slot in them was
    /// compacted there (the acceptor then does not answer). Slots of theirs still pending are
    /// sent again by the leader's resend.
    pub(crate) fn expire(&mut self, now: u64, ticks: u64) {
        while self
            .inflight
            .front()
            .is_some_and(|&(_, at)| now - at >= ticks)
        {
            self.inflight.pop_front();
        }
    }
}
