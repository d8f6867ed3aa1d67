//! Leader election (§5.2) with the election restriction (§5.4.1), and PreVote (dissertation
//! §9.6) before it when configured.
//!
//! ```text
//!   timeout ─► PreCandidate (term unchanged) ─ PreVote(term+1) ─► majority "would vote" ─┐
//!      ▲            │ AppendEntries of a leader, or a higher term                        │
//!      │            ▼                                                                    ▼
//!   Follower ◄── step down ◄──────────────────────────────── Candidate (term+1) ─ RequestVote
//! ```

use crate::progress::Progress;
use crate::raft::{Raft, RoleState};
use crate::state::HardState;
use std::collections::BTreeSet;
use synod_messages::raft::{Entry, EntryPayload, Index, RaftMessage, Term};
use synod_messages::NodeId;

impl Raft {
    /// Election timeout elapsed: become a candidate of a new term and ask for votes.
    pub(crate) fn campaign(&mut self) {
        self.hard = HardState {
            term: self.hard.term + 1,
            voted_for: Some(self.cfg.id),
        };
        self.persist_hard_state();
        self.leader = None;
        self.reset_election_timer();
        self.role = RoleState::Candidate {
            votes: BTreeSet::from([self.cfg.id]),
        };
        tracing::debug!(
            node = self.cfg.id,
            term = self.hard.term,
            "starting election"
        );
        if self.cfg.quorum() == 1 {
            self.become_leader();
            return;
        }
        self.send_to_peers(RaftMessage::RequestVote {
            term: self.hard.term,
            candidate_id: self.cfg.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        });
    }

    /// The election restriction (§5.4.1): a log ending at `(last_log_term, last_log_index)` is
    /// at least as up-to-date as ours.
    fn log_at_least_ours(&self, last_log_index: Index, last_log_term: Term) -> bool {
        (last_log_term, last_log_index) >= (self.log.last_term(), self.log.last_index())
    }

    /// Election timeout elapsed with PreVote on: ask whether a majority would vote for us in
    /// the next term, without raising ours.
    pub(crate) fn pre_campaign(&mut self) {
        if self.cfg.quorum() == 1 {
            self.campaign();
            return;
        }
        self.leader = None;
        self.reset_election_timer();
        self.role = RoleState::PreCandidate {
            votes: BTreeSet::from([self.cfg.id]),
        };
        self.send_to_peers(RaftMessage::PreVote {
            term: self.hard.term + 1,
            candidate_id: self.cfg.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        });
    }

    /// PreVote receiver: would we vote for `candidate_id` in `term`? Yes if that term is above
    /// ours, its log is at least as up-to-date as ours, and no leader was heard from within the
    /// minimum election timeout (a working leader keeps its followers). Nothing changes here.
    pub(crate) fn on_pre_vote(
        &mut self,
        from: NodeId,
        term: Term,
        candidate_id: NodeId,
        last_log_index: Index,
        last_log_term: Term,
    ) {
        let up_to_date = self.log_at_least_ours(last_log_index, last_log_term);
        let leader_alive = self.is_leader()
            || (self.leader.is_some() && self.election_elapsed < self.cfg.election_ticks.0);
        let granted = candidate_id == from && term > self.hard.term && up_to_date && !leader_alive;
        let reply = RaftMessage::PreVoteResponse {
            term: self.hard.term,
            asked: term,
            granted,
        };
        self.send(from, reply);
    }

    /// A pre-vote arrived; a majority starts the real election.
    pub(crate) fn on_pre_vote_response(&mut self, from: NodeId, asked: Term, granted: bool) {
        if !granted || asked != self.hard.term + 1 {
            return;
        }
        let quorum = self.cfg.quorum();
        let RoleState::PreCandidate { votes } = &mut self.role else {
            return;
        };
        votes.insert(from);
        if votes.len() >= quorum {
            self.campaign();
        }
    }

    /// RequestVote receiver implementation (Figure 2).
    pub(crate) fn on_request_vote(
        &mut self,
        from: NodeId,
        term: Term,
        candidate_id: NodeId,
        last_log_index: Index,
        last_log_term: Term,
    ) {
        // 1. Reply false if term < currentTerm; 2. grant if votedFor is null or candidateId and
        // the candidate's log is at least as up-to-date as ours (§5.4.1).
        let up_to_date = self.log_at_least_ours(last_log_index, last_log_term);
        let can_vote = self.hard.voted_for.is_none_or(|v| v == candidate_id);
        let grant = term == self.hard.term && candidate_id == from && can_vote && up_to_date;
        if grant {
            if self.hard.voted_for.is_none() {
                self.hard.voted_for = Some(candidate_id);
                self.persist_hard_state();
            }
            self.election_elapsed = 0;
        }
        let reply = RaftMessage::RequestVoteResponse {
            term: self.hard.term,
            vote_granted: grant,
        };
        self.send(from, reply);
    }

    /// A vote arrived; a majority makes us leader.
    pub(crate) fn on_vote_response(&mut self, from: NodeId, term: Term, granted: bool) {
        if term != self.hard.term || !granted {
            return;
        }
        let quorum = self.cfg.quorum();
        let RoleState::Candidate { votes } = &mut self.role else {
            return;
        };
        votes.insert(from);
        if votes.len() >= quorum {
            self.become_leader();
        }
    }

    /// Won the election: initialise progress, append a no-op of the new term (§8) so entries of
    /// earlier terms can commit, and announce ourselves.
    pub(crate) fn become_leader(&mut self) {
        tracing::debug!(node = self.cfg.id, term = self.hard.term, "became leader");
        let last = self.log.last_index();
        let progress = self.cfg.peers().map(|p| (p, Progress::new(last))).collect();
        self.role = RoleState::Leader { progress };
        self.leader = Some(self.cfg.id);
        self.heartbeat_elapsed = 0;
        self.election_elapsed = 0;
        let noop = Entry {
            term: self.hard.term,
            index: last + 1,
            payload: EntryPayload::Noop,
        };
        self.term_start = last + 1;
        self.append_local(vec![noop]);
        self.replicate();
    }
}
