//! Phase 2: the leader sends Accepts through each acceptor's window, counts the Accepted
//! answers until a majority chose a slot, and feeds the windows as they free up.

use super::{Phase, Proposer};
use crate::config::by_slot;
use synod_messages::batch::{into_batches, within_bytes};
use synod_messages::paxos::{Ballot, PaxosMessage, Slot, Value};
use synod_messages::NodeId;

impl Proposer {
    pub(super) fn send_accepts(&mut self, to: Vec<NodeId>, entries: Vec<(Slot, Value)>) {
        for chunk in self.cut(entries) {
            let msg = PaxosMessage::Accept {
                ballot: self.ballot,
                entries: chunk,
            };
            self.broadcast(&to, crate::ACCEPTOR, msg);
        }
    }

    pub(super) fn on_accepted(&mut self, from: NodeId, ballot: Ballot, slots: Vec<Slot>) {
        let quorum = self.cfg.quorum();
        let now = self.now;
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        if ballot != self.ballot {
            return;
        }
        l.hear(from, now);
        // An acceptor that missed phase 1 (down then) and answers a resent Accept gets a
        // window: it may be needed for a majority, and resends alone come every
        // `resend_ticks`.
        let w = l.window(from);
        if let Some(&top) = slots.iter().max() {
            w.answered(top);
            let upto = l.accepted_upto.entry(from).or_default();
            *upto = (*upto).max(top);
        }
        let mut chosen = Vec::new();
        for slot in slots {
            let Some(p) = l.pending.get_mut(&slot) else {
                continue;
            };
            p.acks.insert(from);
            if p.acks.len() >= quorum {
                if let Some(p) = l.pending.remove(&slot) {
                    chosen.push((slot, p.value));
                    l.chosen_above.insert(slot);
                }
            }
        }
        if chosen.is_empty() {
            self.feed_after_answer(from);
            return;
        }
        l.last_progress = now;
        while l.chosen_above.remove(&(l.chosen_upto + 1)) {
            l.chosen_upto += 1;
        }
        // Only for large values, and before the feed below moves the windows on past these
        // slots. This node's learner gets the values (no network between them), so that it
        // does not wait for this node's acceptor when the others were faster.
        let me = self.cfg.id;
        let sent_upto = chosen.iter().any(|(_, v)| by_slot(v)).then(|| {
            self.cfg
                .learners
                .iter()
                .map(|&n| {
                    let sent = l.windows.get(&n).filter(|_| n != me);
                    (n, sent.map_or(0, |w| w.next()))
                })
                .collect::<Vec<(NodeId, Slot)>>()
        });
        self.feed_after_answer(from);
        self.announce(chosen, sent_upto);
    }

    /// `entries` in messages of at most `max_batch` slots and `max_batch_bytes`.
    /// `entries` cut into messages of at most `max_batch` slots and `max_batch_bytes`.
    pub(super) fn cut(&self, entries: Vec<(Slot, Value)>) -> Vec<Vec<(Slot, Value)>> {
        into_batches(
            entries,
            self.cfg.max_batch,
            self.cfg.max_batch_bytes,
            |(_, v)| v.approx_bytes(),
        )
    }

    /// Acceptor `from` answered read barrier `seq` of this leader: the Accepts sent to it
    /// before that barrier and still unanswered were lost, and their places in its window are
    /// free.
    pub(crate) fn on_barrier_answered(&mut self, from: NodeId, seq: u64) {
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        let answered = l.barriers_answered.entry(from).or_default();
        *answered = (*answered).max(seq);
        let answered = *answered;
        if l.windows
            .get_mut(&from)
            .is_some_and(|w| w.barriers_answered(answered))
        {
            self.feed_after_answer(from);
        }
    }

    /// Sends acceptor `to` the pending slots it was not sent yet, while its window has room.
    /// True if it sent any.
    pub(super) fn feed(&mut self, to: NodeId) -> bool {
        let (max, batch, max_bytes, now, ballot, barrier) = (
            self.cfg.max_inflight,
            self.cfg.max_batch,
            self.cfg.max_batch_bytes,
            self.now,
            self.ballot,
            self.reads.last_round(),
        );
        let Phase::Leading(l) = &mut self.phase else {
            return false;
        };
        if !l.fanout.feeds(to) {
            return false;
        }
        let Some(w) = l.windows.get_mut(&to) else {
            return false;
        };
        let mut messages = Vec::new();
        while w.has_room(max) {
            // The resend timer of a slot runs from when it left, not from when it was proposed:
            // slots that waited for a window are not broadcast past the windows.
            let wanted = l.pending.range_mut(w.next()..).take(batch);
            let entries: Vec<(Slot, Value)> =
                within_bytes(wanted, max_bytes, |(_, p)| p.value.approx_bytes())
                    .map(|(s, p)| {
                        if !std::mem::replace(&mut p.sent, true) {
                            p.sent_at = now;
                        }
                        (*s, p.value.clone())
                    })
                    .collect();
            let (Some(&(first, _)), Some(&(last, _))) = (entries.first(), entries.last()) else {
                break;
            };
            w.sent(first, last, now, barrier);
            messages.push(PaxosMessage::Accept { ballot, entries });
        }
        let sent = !messages.is_empty();
        for msg in messages {
            self.send(to, crate::ACCEPTOR, msg);
        }
        sent
    }

    /// Whether this node's acceptor is the only one this leader has a window for.
    fn feeds_itself_only(&self) -> bool {
        match &self.phase {
            Phase::Leading(l) => l.windows.keys().all(|&a| a == self.cfg.id),
            _ => false,
        }
    }

    /// Feeds acceptor `to` after it answered (or promised). This node's own acceptor is fed
    /// along with the others, not on its own answers: it then writes the slots while they are
    /// on their way to another acceptor, in parallel with it, and not each burst of proposals
    /// by itself (as a Raft leader holds its entries).
    pub(super) fn feed_after_answer(&mut self, to: NodeId) {
        let me = self.cfg.id;
        let sent = to != me && self.feed(to);
        self.feed_own(sent || (to == me && self.own_acceptor_behind()));
    }

    /// Feeds this node's acceptor if `due` or if it is the only one.
    fn feed_own(&mut self, due: bool) {
        if due || self.feeds_itself_only() {
            let me = self.cfg.id;
            self.feed(me);
        }
    }

    /// Whether another acceptor was sent slots this node's acceptor was not (its window was
    /// full then): they must not wait for the next tick once it answers.
    fn own_acceptor_behind(&self) -> bool {
        let Phase::Leading(l) = &self.phase else {
            return false;
        };
        let Some(mine) = l.windows.get(&self.cfg.id) else {
            return false;
        };
        l.windows
            .iter()
            .any(|(&a, w)| a != self.cfg.id && w.next() > mine.next())
    }

    /// [`Self::feed`] every acceptor that promised, this node's own one last and only if
    /// another was sent something (see [`Self::feed_after_answer`]).
    pub(super) fn feed_all(&mut self) {
        let Phase::Leading(l) = &self.phase else {
            return;
        };
        let me = self.cfg.id;
        let others: Vec<NodeId> = l.windows.keys().copied().filter(|&a| a != me).collect();
        let mut sent = false;
        for a in others {
            sent |= self.feed(a);
        }
        self.feed_own(sent);
    }
}
