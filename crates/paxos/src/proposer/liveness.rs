//! Liveness: the leader's heartbeats and read barriers, stepping down on a higher ballot,
//! and the leader's tick (stall and check-quorum, slow acceptors, resends, feeding).

use super::{Phase, Proposer};
use crate::window::Window;
use synod_messages::paxos::{Ballot, PaxosMessage};
use synod_messages::NodeId;

impl Proposer {
    pub(super) fn on_rejected(&mut self, ballot: Ballot, promised: Ballot) {
        self.highest_seen = self.highest_seen.max(promised);
        if ballot == self.ballot && promised > self.ballot && !matches!(self.phase, Phase::Follower)
        {
            self.step_down(Some(promised.node));
        }
    }

    pub(super) fn on_heartbeat(&mut self, ballot: Ballot) {
        if ballot < self.highest_seen || ballot.node == self.cfg.id {
            return;
        }
        self.highest_seen = ballot;
        if ballot > self.ballot || matches!(self.phase, Phase::Follower) {
            self.step_down(Some(ballot.node));
        }
    }

    pub(super) fn heartbeat(&mut self) {
        self.heartbeat_elapsed = 0;
        let msg = PaxosMessage::Heartbeat {
            ballot: self.ballot,
            chosen_upto: self.chosen_upto(),
        };
        let proposers: Vec<NodeId> = self
            .cfg
            .proposers
            .iter()
            .copied()
            .filter(|&p| p != self.cfg.id)
            .collect();
        self.broadcast(&proposers, crate::PROPOSER, msg.clone());
        let learners = self.cfg.learners.clone();
        self.broadcast(&learners, crate::LEARNER, msg);
        // The acceptors answer a barrier even when no write is in flight: that is how an idle
        // leader knows a majority still hears it (check-quorum in `tick_leader`). A later
        // confirmation of the last read round is still a confirmation of its reads.
        // Each barrier is a round of its own, so an answer names the barrier it answers.
        let seq = self.reads.next_round();
        self.send_barrier(seq);
    }

    /// Sends every acceptor read barrier `seq` (numbers only grow).
    pub(crate) fn send_barrier(&mut self, seq: u64) {
        let msg = PaxosMessage::ReadBarrier {
            ballot: self.ballot,
            seq,
        };
        let acceptors = self.cfg.acceptors.clone();
        self.broadcast(&acceptors, crate::ACCEPTOR, msg);
    }

    /// A leader's tick: a heartbeat when due, the checks that make it step down, then slow
    /// acceptors replaced, timed-out Accepts sent again and every window fed.
    pub(super) fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat();
        }
        if !self.check_progress() {
            return;
        }
        if !self.check_quorum() {
            return;
        }
        self.replace_silent_acceptors();
        self.resend_timed_out();
        self.feed_all();
        // A tick also feeds this node's acceptor on its own, should the others' windows stay
        // full (their Accepts lost): what it was not sent does not wait for them.
        let me = self.cfg.id;
        self.feed(me);
    }

    /// Steps down if slots wait and none was chosen for a whole election timeout. False if it
    /// does not lead (any more).
    fn check_progress(&mut self) -> bool {
        let (now, stall) = (self.now, u64::from(self.cfg.election_ticks.1));
        let Phase::Leading(l) = &mut self.phase else {
            return false;
        };
        if !l.pending.is_empty() && now - l.last_progress > stall {
            // No slot was chosen for a whole election timeout: no majority is listening.
            self.step_down(None);
            return false;
        }
        true
    }

    /// Once every election timeout: steps down if no majority of acceptors answered, and runs
    /// phase 1 again if the slots its phase 1 skipped are out of reach. False if it does not
    /// lead (any more).
    fn check_quorum(&mut self) -> bool {
        let (now, stall) = (self.now, u64::from(self.cfg.election_ticks.1));
        let Phase::Leading(l) = &mut self.phase else {
            return false;
        };
        if now - l.checked_at >= stall {
            // Check-quorum: a leader no majority of acceptors answered for a whole election
            // timeout steps down, so a leader cut off with nothing to write stops saying it
            // leads (and its reads fail at once instead of waiting for their deadline).
            let heard = l.heard();
            if heard.len() < self.cfg.quorum() {
                self.step_down(None);
                return false;
            }
            if l.skipped
                .as_ref()
                .is_some_and(|s| self.learned_upto >= s.through)
            {
                l.skipped = None;
            }
            let learned = self.learned_upto;
            if l.skipped
                .as_ref()
                .is_some_and(|s| !s.reachable(learned, &heard))
            {
                // This node's learner still lacks slots only the holders' snapshots had when
                // this leadership began, and none that has the next of them answered for an
                // election timeout:
                // phase 1 again from what it learned, with the acceptors still here, whose
                // votes recover those slots (a majority accepted each one).
                self.step_down(None);
                self.campaign();
                return false;
            }
            l.checked_at = now;
        }
        true
    }

    /// Takes the acceptors fed Accepts that hold up a slot out of phase 2, for acceptors left
    /// out that answer (see [`crate::fanout`]).
    fn replace_silent_acceptors(&mut self) {
        let now = self.now;
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        // A slot that waited a heartbeat round for a majority, while an acceptor fed Accepts
        // left one unanswered as long: that acceptor is slow or gone, and one left out that
        // answered within two heartbeat rounds takes its place (see `fanout`). Checked before
        // the expiry below forgets that Accept; at least two ticks, as a tick is coarse.
        let suspect = u64::from(self.cfg.heartbeat_ticks.min(self.cfg.resend_ticks).max(2));
        let recent = 2 * u64::from(self.cfg.heartbeat_ticks);
        if l.pending
            .values()
            .any(|p| p.sent && now - p.sent_at >= suspect)
        {
            let stale = |a: &NodeId| {
                l.windows
                    .get(a)
                    .and_then(Window::oldest_unanswered)
                    .is_some_and(|at| now - at >= suspect)
            };
            let silent: Vec<NodeId> = l.fanout.fed().filter(stale).collect();
            let healthy =
                |a: NodeId| !stale(&a) && l.heard_at.get(&a).is_some_and(|&at| now - at <= recent);
            l.fanout.replace(&silent, healthy);
        }
    }

    /// Accepts unanswered for `resend_ticks`: the windows forget them, and the slots that left
    /// and are still not chosen go again to every acceptor.
    fn resend_timed_out(&mut self) {
        let (now, resend) = (self.now, u64::from(self.cfg.resend_ticks));
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        for w in l.windows.values_mut() {
            w.expire(now, resend);
        }
        let mut again = Vec::new();
        for (slot, p) in l.pending.iter_mut() {
            // Only what left: a slot still waiting for a window goes through it.
            if p.sent && now - p.sent_at >= resend {
                p.sent_at = now;
                p.sent = true;
                again.push((*slot, p.value.clone()));
            }
        }
        if !again.is_empty() {
            let acceptors = self.cfg.acceptors.clone();
            self.send_accepts(acceptors, again);
        }
    }
}
